"""The demo company: a few regions and branches, dealers of every grade with credit, SKUs and
a tier-1 price list, a rebate policy, warehouses with opening stock, some orders, one of
them driven all the way to cash, and last month's rebates for CD-001 driven from policy to
credit. Posted through the HTTP APIs like any client would (re-running replays)."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import httpx
from tqdm import tqdm

from services.finance.domain import Invoice
from services.kernel.dates import business_today

REGIONS = {
    "SOUTHWEST": {"CD": "Chengdu", "CQ": "Chongqing"},
    "EAST": {"SH": "Shanghai", "HZ": "Hangzhou"},
    "NORTH": {"BJ": "Beijing"},
}
GRADES = ("tier1_distributor", "tier2_distributor", "exclusive_dealer", "group_buy")
DEALER_NAMES = {
    "CD": [
        "Jinjiang Wine Trading",
        "Wuhou Liquor Wholesale",
        "Qingyang Banquet Supplies",
        "Chenghua Group Purchasing",
    ],
    "CQ": [
        "Yuzhong Spirits Co.",
        "Jiangbei Drinks Distribution",
        "Nan'an Fine Wines",
        "Shapingba Corporate Gifts",
    ],
    "SH": [
        "Pudong Liquor Co.",
        "Huangpu Premium Spirits",
        "Xuhui Wine Cellar",
        "Minhang Business Gifts",
    ],
    "HZ": [
        "Xihu Spirits Trading",
        "Binjiang Beverage Supply",
        "Gongshu Wine House",
        "Xiaoshan Group Buying",
    ],
    "BJ": [
        "Chaoyang Baijiu Wholesale",
        "Haidian Fine Spirits",
        "Dongcheng Wine Store",
        "Fengtai Corporate Supply",
    ],
}
PRODUCTS = [
    ("WULIANGYE-52-500ML", "Wuliangye 52% 500ml", "BAIJIU", "1299.00"),
    ("WULIANGYE-52-1L", "Wuliangye 52% 1L", "BAIJIU", "2499.00"),
    ("JIANNANCHUN-52-500ML", "Jiannanchun 52% 500ml", "BAIJIU", "458.50"),
    ("LUZHOU-1573-500ML", "Guojiao 1573 52% 500ml", "BAIJIU", "1099.00"),
    ("YANGHE-M6-500ML", "Yanghe Dream Blue M6 52% 500ml", "BAIJIU", "629.00"),
    ("GREATWALL-CAB-750ML", "Great Wall Cabernet 750ml", "WINE", "168.00"),
    ("TSINGTAO-1903-330ML", "Tsingtao 1903 330ml", "BEER", "8.80"),
]
# What a bottle costs the brand's channel at goods receipt (CNY per unit, at cost).
UNIT_COSTS = {
    "WULIANGYE-52-500ML": "865.00",
    "WULIANGYE-52-1L": "1650.00",
    "JIANNANCHUN-52-500ML": "296.40",
    "LUZHOU-1573-500ML": "712.00",
    "YANGHE-M6-500ML": "401.50",
    "GREATWALL-CAB-750ML": "92.00",
    "TSINGTAO-1903-330ML": "4.35",
}
WAREHOUSES = [
    ("WH-CENTRAL", "Yibin Central Warehouse", "central", None, None),
    ("WH-CD", "Chengdu Branch Warehouse", "branch", "CD", "SOUTHWEST"),
    ("WH-SH", "Shanghai Branch Warehouse", "branch", "SH", "EAST"),
    ("WH-BJ", "Beijing Branch Warehouse", "branch", "BJ", "NORTH"),
]
DEMO_ORDERS = [
    ("CD-001", [("WULIANGYE-52-500ML", 24), ("JIANNANCHUN-52-500ML", 60)]),
    ("CD-002", [("WULIANGYE-52-1L", 6)]),
    ("SH-001", [("LUZHOU-1573-500ML", 36), ("GREATWALL-CAB-750ML", 120)]),
    ("BJ-003", [("YANGHE-M6-500ML", 48), ("TSINGTAO-1903-330ML", 480)]),
]


# Opening stock per warehouse (bottles / cases), credit per grade, the tier-1 price list and
# this year's tier-1 rebate.
OPENING_STOCK = {
    "WH-CENTRAL": 2000,
    "WH-CD": 600,
    "WH-SH": 400,
    "WH-BJ": 400,
}
CREDIT = {
    "tier1_distributor": ("2000000.00", 45),
    "tier2_distributor": ("500000.00", 30),
    "exclusive_dealer": ("1000000.00", 30),
    "group_buy": ("100000.00", 15),
}
TIER1_PRICES = [("WULIANGYE-52-500ML", "1199.00"), ("LUZHOU-1573-500ML", "1029.00")]
REBATE_POLICY = {"policy_code": "TIER1-REBATE", "grade": "tier1_distributor", "rate": "0.0200"}
# The order that goes all the way to cash when the platform starts.
CYCLE_ORDER = 0


class Seeder:
    """Posts commands like any client; each has a fixed Idempotency-Key, so a second run on
    the same data answers with the first run's answers and changes nothing."""

    def __init__(self, urls: dict[str, str], api_key: str) -> None:
        self.urls = urls
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.client = httpx.Client(timeout=30)

    def post(
        self, service: str, path: str, body: dict, key: str, *, api_key: str | None = None
    ) -> dict:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else self.headers
        response = self.client.post(
            self.urls[service] + path, json=body, headers={**headers, "Idempotency-Key": key}
        )
        # 409 "already registered": the company was seeded by an earlier run with other keys.
        if response.status_code not in (200, 201, 409):
            raise RuntimeError(f"seeding {path} failed: {response.status_code} {response.text}")
        return response.json()

    def get(self, service: str, path: str) -> httpx.Response:
        return self.client.get(self.urls[service] + path, headers=self.headers)

    def wait_for(self, service: str, path: str, field: str, wanted: set[str], timeout=30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            response = self.get(service, path)
            if response.status_code == 200 and response.json().get(field) in wanted:
                return response.json()
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path}: {field} did not become {wanted} in {timeout}s")
            time.sleep(0.1)

    def close(self) -> None:
        self.client.close()


def seed_demo_company(
    *, orders_url: str, inventory_url: str, finance_url: str, api_key: str
) -> dict[str, int]:
    seeder = Seeder(
        {"orders": orders_url, "inventory": inventory_url, "finance": finance_url}, api_key
    )
    steps: list[tuple[str, str, dict, str]] = []
    for region, branches in REGIONS.items():
        for branch in branches:
            for number, (grade, name) in enumerate(zip(GRADES, DEALER_NAMES[branch], strict=True)):
                code = f"{branch}-{number + 1:03d}"
                dealer = {
                    "code": code,
                    "name": name,
                    "branch": branch,
                    "region": region,
                    "grade": grade,
                }
                steps.append(("orders", "/dealers", dealer, f"seed-dealer-{code}"))
                limit, days = CREDIT[grade]
                terms = {"credit_limit": limit, "payment_terms_days": days}
                path = f"/accounts/{code}/credit-terms"
                steps.append(("finance", path, terms, f"seed-credit-{code}"))
    for sku, name, category, price in PRODUCTS:
        product = {"sku": sku, "name": name, "category": category, "list_price": price}
        steps.append(("orders", "/products", product, f"seed-product-{sku}"))
    for sku, price in TIER1_PRICES:
        path = "/price-lists/tier1_distributor/prices"
        steps.append(("orders", path, {"sku": sku, "unit_price": price}, f"seed-price-{sku}"))
    year = business_today().year
    policy = {**REBATE_POLICY, "valid_from": f"{year}-01-01", "valid_to": f"{year}-12-31"}
    steps.append(("finance", "/rebate-policies", policy, f"seed-rebate-{year}"))
    for code, name, kind, branch, region in WAREHOUSES:
        warehouse = {"code": code, "name": name, "kind": kind, "branch": branch, "region": region}
        steps.append(("inventory", "/warehouses", warehouse, f"seed-warehouse-{code}"))
        receipt = {
            "warehouse_code": code,
            "lines": [
                {"sku": sku, "quantity": OPENING_STOCK[code], "unit_cost": UNIT_COSTS[sku]}
                for sku, *_ in PRODUCTS
            ],
        }
        steps.append(("inventory", "/goods-receipts", receipt, f"seed-receipt-{code}"))
    try:
        for service, path, body, key in tqdm(steps, desc="seeding demo company", unit="cmd"):
            seeder.post(service, path, body, key)
        orders = []
        for number, (dealer, lines) in enumerate(DEMO_ORDERS):
            order = {
                "dealer_code": dealer,
                "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
            }
            orders.append(seeder.post("orders", "/orders", order, f"seed-order-{number}"))
        cycle = order_to_cash(seeder, orders[CYCLE_ORDER])
        cycle.update(rebates_cycle(seeder))
    finally:
        seeder.close()
    return {
        "dealers": sum(len(b) for b in REGIONS.values()) * len(GRADES),
        "products": len(PRODUCTS),
        "warehouses": len(WAREHOUSES),
        "orders": len(DEMO_ORDERS),
        **cycle,
    }


def order_to_cash(seeder: Seeder, order: dict) -> dict[str, int]:
    """Drive one order through the whole saga: approved by credit and stock, shipped in two
    parts, invoiced, delivered and partly paid."""
    order_id = order["order_id"]
    seeder.wait_for("orders", f"/orders/{order_id}", "status", {"approved", "delivered"})
    seeder.wait_for(
        "inventory", f"/stock/reservations/{order_id}", "status", {"approved", "shipped"}
    )
    shipments = []
    for part, lines in enumerate(_halves(order["lines"])):
        body = {"order_id": order_id, "lines": lines}
        shipments.append(
            seeder.post("inventory", "/shipments", body, f"seed-ship-{order_id}-{part}")
        )
    for shipment in shipments:
        path = f"/shipments/{shipment['shipment_id']}/delivery"
        seeder.post("inventory", path, {}, f"seed-delivery-{shipment['shipment_id']}")
    seeder.wait_for("orders", f"/orders/{order_id}", "status", {"delivered"})
    dealer = order["dealer_code"]
    deadline = time.monotonic() + 30
    while seeder.get("finance", f"/accounts/{dealer}").json()["invoices_posted"] < len(shipments):
        if time.monotonic() > deadline:
            raise RuntimeError("the demo order's invoices did not appear in time")
        time.sleep(0.1)
    receipt = {"dealer_code": dealer, "amount": "20000.00"}
    seeder.post("finance", "/receipts", receipt, f"seed-receipt-{order_id}")
    return {"shipments": len(shipments), "invoices": len(shipments), "receipts": 1}


# Last month's rebates for CD-001 (a tier-1 distributor in Chengdu): 3 % above 20,000.00 of
# net sales, and 5.00 a bottle of Wuliangye 500ml; a claim by the Chengdu clerk (the
# salesperson), approved by the Chengdu manager (demo keys: development mode only).
REBATE_DEALER = "CD-001"
REBATE_ORDER = [("WULIANGYE-52-500ML", 30)]
SALESPERSON_KEY, MANAGER_KEY = "demo-chengdu-clerk", "demo-chengdu-manager"


def rebates_cycle(seeder: Seeder) -> dict[str, int]:
    """Define a threshold policy and a per-unit policy over last month, invoice an order
    shipped in it, settle both policies (the month is over), file a claim for what was
    settled and approve it: credited against CD-001's receivables."""
    this_month = business_today().replace(day=1)
    end = this_month - timedelta(days=1)
    start = end.replace(day=1)
    month = f"{start:%Y-%m}"
    period = {"valid_from": start.isoformat(), "valid_to": end.isoformat()}
    growth = {
        "policy_code": f"CD001-GROWTH-{month}",
        "dealer_code": REBATE_DEALER,
        "rate": "0.0300",
        "threshold": "20000.00",
        **period,
    }
    per_bottle = {
        "policy_code": f"WLY-BOTTLE-{month}",
        "grade": "tier1_distributor",
        "unit_rebates": [{"sku": "WULIANGYE-52-500ML", "amount": "5.00"}],
        **period,
    }
    for policy in (growth, per_bottle):
        seeder.post("finance", "/rebate-policies", policy, f"seed-rebate-{policy['policy_code']}")
    shipped_on = start + timedelta(days=min(14, (end - start).days))
    order = seeder.post(
        "orders",
        "/orders",
        {
            "dealer_code": REBATE_DEALER,
            "business_date": shipped_on.isoformat(),
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in REBATE_ORDER],
        },
        f"seed-rebate-order-{month}",
    )
    order_id = order["order_id"]
    seeder.wait_for("orders", f"/orders/{order_id}", "status", {"approved", "shipped", "delivered"})
    seeder.wait_for(
        "inventory", f"/stock/reservations/{order_id}", "status", {"approved", "shipped"}
    )
    lines = [{"sku": sku, "quantity": qty} for sku, qty in REBATE_ORDER]
    shipment = seeder.post(
        "inventory",
        "/shipments",
        {"order_id": order_id, "ship_date": shipped_on.isoformat(), "lines": lines},
        f"seed-rebate-ship-{order_id}",
    )
    invoice_id = Invoice.create_id(shipment["shipment_id"])
    seeder.wait_for("finance", f"/invoices/{invoice_id}", "issue_date", {shipped_on.isoformat()})
    # A re-run replays each settlement's first answer (same key, same body).
    settled = Decimal("0.00")
    for policy in (growth, per_bottle):
        code = policy["policy_code"]
        answer = seeder.post(
            "finance", f"/rebate-policies/{code}/settlements", {}, f"seed-rebate-settle-{code}"
        )
        settled += Decimal(answer.get("total", "0.00"))
    if settled <= 0:
        return {"rebate_policies": 2, "rebate_claims": 0}
    claim = seeder.post(
        "finance",
        "/rebate-claims",
        {"dealer_code": REBATE_DEALER, "amount": f"{settled:.2f}", "note": f"rebates {month}"},
        f"seed-rebate-claim-{month}",
        api_key=SALESPERSON_KEY,
    )
    seeder.post(
        "finance",
        f"/rebate-claims/{claim['claim_id']}/approval",
        {},
        f"seed-rebate-approval-{claim['claim_id']}",
        api_key=MANAGER_KEY,
    )
    return {"rebate_policies": 2, "rebate_claims": 1}


def _halves(lines: list[dict]) -> list[list[dict]]:
    """Two shipments: half of every line of more than one unit, then the rest."""
    first, rest = [], []
    for line in lines:
        half = line["quantity"] // 2
        if half:
            first.append({"sku": line["sku"], "quantity": half})
        rest.append({"sku": line["sku"], "quantity": line["quantity"] - half})
    return [part for part in (first, rest) if part]
