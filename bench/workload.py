"""What the benchmark posts: a small Chengdu company (dealers, SKUs, a branch warehouse with
opening stock, credit terms) and random dealer orders of 1-3 lines."""

from __future__ import annotations

import random
from decimal import Decimal

from runtime.demo import DEALER_NAMES, GRADES, UNIT_COSTS
from runtime.demo import PRODUCTS as DEMO_PRODUCTS

HQ = {"Authorization": "Bearer demo-hq-admin"}
CLERK = {"Authorization": "Bearer demo-chengdu-clerk"}

DEALERS = [
    {
        "code": f"CD-{number:03d}",
        "name": name,
        "branch": "CD",
        "region": "SOUTHWEST",
        "grade": grade,
    }
    for number, (name, grade) in enumerate(zip(DEALER_NAMES["CD"], GRADES, strict=True), start=1)
]

PRODUCTS = [
    {"sku": sku, "name": name, "category": category, "list_price": price}
    for sku, name, category, price in DEMO_PRODUCTS
    if category.startswith("BAIJIU")  # the baijiu of every aroma in the category tree
]
assert any(p["sku"] == "WULIANGYE-52-500ML" and p["list_price"] == "1299.00" for p in PRODUCTS)

# The warehouse serving the dealers' branch (inventory reserves an order's stock there), and
# credit terms no run comes near (finance reserves an order's total against them).
WAREHOUSE = {
    "code": "WH-CD",
    "name": "Chengdu DC",
    "kind": "branch",
    "branch": "CD",
    "region": "SOUTHWEST",
}
OPENING_STOCK = 1_000_000  # of every SKU: an order takes 60 on average per line
CREDIT_TERMS = {"credit_limit": "9000000000.00", "payment_terms_days": 30}
_LIST_PRICES = {p["sku"]: Decimal(p["list_price"]) for p in PRODUCTS}


def opening_stock() -> dict:
    return {
        "warehouse_code": WAREHOUSE["code"],
        "lines": [
            {"sku": p["sku"], "quantity": OPENING_STOCK, "unit_cost": UNIT_COSTS[p["sku"]]}
            for p in PRODUCTS
        ],
    }


def new_order(rng: random.Random | None = None) -> dict:
    """A Chengdu dealer's order of 1-3 distinct SKUs (business date: today, server side)."""
    rng = rng or random.Random()
    skus = rng.sample([p["sku"] for p in PRODUCTS], k=rng.randint(1, 3))
    return {
        "dealer_code": rng.choice(DEALERS)["code"],
        "lines": [{"sku": sku, "quantity": rng.randint(1, 120)} for sku in skus],
    }


def saga_order(threshold: Decimal, rng: random.Random | None = None) -> dict:
    """An order the saga approves on its own: drawn like ``new_order`` until its total (at
    list price: the benchmark sets no grade price list) is within the approval threshold
    (ORDER_APPROVAL_THRESHOLD). Above it, an order would wait for a branch manager; at the
    default 500,000.00, about 1 order in 1,300 would."""
    rng = rng or random.Random()
    while True:
        order = new_order(rng)
        total = sum(_LIST_PRICES[line["sku"]] * line["quantity"] for line in order["lines"])
        if total <= threshold:
            return order
