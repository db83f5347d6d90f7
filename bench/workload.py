"""What the benchmark posts: a small Chengdu company and random dealer orders of 1-3 lines."""

from __future__ import annotations

import random

from runtime.demo import DEALER_NAMES, GRADES
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
    if category == "BAIJIU"
]
assert any(p["sku"] == "WULIANGYE-52-500ML" and p["list_price"] == "1299.00" for p in PRODUCTS)


def new_order(rng: random.Random | None = None) -> dict:
    """A Chengdu dealer's order of 1-3 distinct SKUs (business date: today, server side)."""
    rng = rng or random.Random()
    skus = rng.sample([p["sku"] for p in PRODUCTS], k=rng.randint(1, 3))
    return {
        "dealer_code": rng.choice(DEALERS)["code"],
        "lines": [{"sku": sku, "quantity": rng.randint(1, 120)} for sku in skus],
    }
