"""The demo company: regions and branches (registered first), dealers of every grade with credit, a
category tree, SKUs, a tier-1 price list with next month's price, this season's promotions,
a rebate policy, warehouses with opening stock, some orders, and one of them driven all the
way to cash; then stock moved without an order: a transfer that arrives short and damaged,
consignment stock at a dealer with its sell-through, a stocktake with a variance and damaged
stock written off; last month's rebates for CD-001 driven from policy to credit; and the
month's demand plans and sales targets. Posted through the HTTP APIs like any client would
(re-running replays)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import httpx
from tqdm import tqdm

from services.finance.domain import Invoice
from services.kernel.dates import business_today
from services.masterdata.domain import NOT_KNOWN_YET

REGIONS = {
    "SOUTHWEST": {"CD": "Chengdu", "CQ": "Chongqing"},
    "EAST": {"SH": "Shanghai", "HZ": "Hangzhou"},
    "NORTH": {"BJ": "Beijing"},
}
# The organisation (组织架构): each region's name and manager, each branch's manager.
REGION_NAMES = {
    "SOUTHWEST": ("Southwest Region", "Li Na"),
    "EAST": ("East Region", "Chen Jie"),
    "NORTH": ("North Region", "Sun Hao"),
}
BRANCH_MANAGERS = {
    "CD": "Zhao Lei",
    "CQ": "Huang Min",
    "SH": "Zhou Ying",
    "HZ": "Wu Gang",
    "BJ": "Zheng Yu",
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
# The category tree (品类), parents first: a promotion on a category reaches its children.
CATEGORIES = [
    ("BAIJIU", "Baijiu", None),
    ("BAIJIU-NONGXIANG", "Strong-aroma baijiu", "BAIJIU"),
    ("BAIJIU-MIANROU", "Soft baijiu", "BAIJIU"),
    ("WINE", "Wine", None),
    ("BEER", "Beer", None),
]
PRODUCTS = [
    ("WULIANGYE-52-500ML", "Wuliangye 52% 500ml", "BAIJIU-NONGXIANG", "1299.00"),
    ("WULIANGYE-52-1L", "Wuliangye 52% 1L", "BAIJIU-NONGXIANG", "2499.00"),
    ("JIANNANCHUN-52-500ML", "Jiannanchun 52% 500ml", "BAIJIU-NONGXIANG", "458.50"),
    ("LUZHOU-1573-500ML", "Guojiao 1573 52% 500ml", "BAIJIU-NONGXIANG", "1099.00"),
    ("YANGHE-M6-500ML", "Yanghe Dream Blue M6 52% 500ml", "BAIJIU-MIANROU", "629.00"),
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
# From the first of next month, tier-1 Wuliangye goes up (placed orders keep their price).
TIER1_NEXT_MONTH = [("WULIANGYE-52-500ML", "1249.00")]
# Promotions in force for 60 days from the day the demo is seeded.
PROMOTIONS = [
    {
        "kind": "buy_get",
        "code": "SPRING-WLY-10-1",
        "name": "Spring Festival: buy 10 Wuliangye 500ml, get 1 free",
        "grades": ["tier1_distributor"],
        "buy_sku": "WULIANGYE-52-500ML",
        "buy_quantity": 10,
        "gift_sku": "WULIANGYE-52-500ML",
        "gift_quantity": 1,
    },
    {
        "kind": "category_discount",
        "code": "NONGXIANG-3PCT",
        "name": "3 % off strong-aroma baijiu",
        "category": "BAIJIU-NONGXIANG",
        "discount_rate": "0.03",
    },
]
REBATE_POLICY = {"policy_code": "TIER1-REBATE", "grade": "tier1_distributor", "rate": "0.0200"}
# The order that goes all the way to cash when the platform starts.
CYCLE_ORDER = 0


class Seeder:
    """Posts commands like any client; each has a fixed Idempotency-Key, so a second run on
    the same data answers with the first run's answers and changes nothing."""

    def __init__(self, urls: dict[str, str], api_key: str, *, catch_up_s: float = 30) -> None:
        self.urls = urls
        self.catch_up_s = catch_up_s
        self.headers = {"Authorization": f"Bearer {api_key}"}
        self.client = httpx.Client(timeout=30)
        # The furthest position each service's answers named (e.g. {"orders": 212}): what a
        # reader waits for before the read models show the whole company.
        self.positions: dict[str, int] = {}

    def post(
        self, service: str, path: str, body: dict, key: str, *, api_key: str | None = None
    ) -> dict:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else self.headers
        deadline = time.monotonic() + self.catch_up_s
        while True:
            response = self.client.post(
                self.urls[service] + path, json=body, headers={**headers, "Idempotency-Key": key}
            )
            # A dealer or SKU registered in orders a moment ago: inventory and finance know it
            # once the registration has come through the orders topic. Retry, same key.
            if not _not_known_yet(response) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        # 409 "already registered": the company was seeded by an earlier run with other keys.
        if response.status_code not in (200, 201, 409):
            raise RuntimeError(f"seeding {path} failed: {response.status_code} {response.text}")
        answer = response.json()
        position = answer.get("position") if isinstance(answer, dict) else None
        if isinstance(position, str) and ":" in position:
            origin, _, number = position.partition(":")
            self.positions[origin] = max(self.positions.get(origin, 0), int(number))
        return answer

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


def _not_known_yet(response: httpx.Response) -> bool:
    return response.status_code == 404 and response.json().get("code") in NOT_KNOWN_YET


def seed_demo_company(
    *,
    orders_url: str,
    inventory_url: str,
    finance_url: str,
    api_key: str,
    warnings_url: str | None = None,
    positions: dict[str, int] | None = None,
) -> dict[str, int]:
    """Seeds the demo company; ``positions``, when given, receives the furthest position of
    each service's answers (for a reader to wait on with ``min_position``)."""
    urls = {"orders": orders_url, "inventory": inventory_url, "finance": finance_url}
    if warnings_url:
        urls["warnings"] = warnings_url
    seeder = Seeder(urls, api_key)
    steps = organisation()
    # Orders' registrations come first: inventory and finance refuse dealers and SKUs they
    # have not heard of from orders yet, so what names them follows.
    credit: list[tuple[str, str, dict, str]] = []
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
                credit.append(("finance", path, terms, f"seed-credit-{code}"))
    for code, name, parent in CATEGORIES:
        category = {"code": code, "name": name, "parent": parent}
        steps.append(("orders", "/products/categories", category, f"seed-category-{code}"))
    for sku, name, category, price in PRODUCTS:
        product = {"sku": sku, "name": name, "category": category, "list_price": price}
        steps.append(("orders", "/products", product, f"seed-product-{sku}"))
    for sku, price in TIER1_PRICES:
        path = "/price-lists/tier1_distributor/prices"
        steps.append(("orders", path, {"sku": sku, "unit_price": price}, f"seed-price-{sku}"))
    steps.extend(commercial_terms(business_today()))
    steps.extend(credit)
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
    if warnings_url:  # first: the demo's short allowances are in force when orders arrive
        steps[:0] = demo_warning_rules()
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
        cycle.update(dealer_return(seeder, orders[CYCLE_ORDER]))
        cycle.update(stock_without_orders(seeder))
        cycle.update(rebates_cycle(seeder))
        planned = seed_planning(seeder, business_today().strftime("%Y-%m"))
        if warnings_url:
            cycle.update(live_warnings(seeder))
    finally:
        seeder.close()
        if positions is not None:
            positions.update(seeder.positions)
    return {
        "dealers": sum(len(b) for b in REGIONS.values()) * len(GRADES),
        "products": len(PRODUCTS),
        "warehouses": len(WAREHOUSES),
        "orders": len(DEMO_ORDERS),
        **cycle,
        **planned,
    }


# 预警 in the demo: allowances of a minute or two, so that a warning escalates while you
# watch (the banner says so). Production defaults are a day or two per level.
DEMO_WARNING_RULES = {
    "credit_hold": ("0", {"branch_manager": 1, "region": 2, "hq_admin": 2}),
    "credit_override": ("0.00", {"branch_manager": 2, "region": 2, "hq_admin": 60}),
    "stock_shortage": ("1", {"branch_manager": 3, "region": 5, "hq_admin": 60}),
    "approval_waiting": ("0", {"branch_manager": 5, "region": 10, "hq_admin": 60}),
}
# Orders that trip them: two group-buy customers over their 100,000.00 limit (one of them
# let through by a credit controller's override), Beijing asking for more Tsingtao than its
# warehouse holds, and a Shanghai order above the approval threshold (500,000.00 by
# default) that nobody approves. Their allowances differ, so that within a few minutes the
# warnings sit at different levels.
DEMO_WARNING_ORDERS = {
    "hold": ("CD-004", [("WULIANGYE-52-500ML", 100)]),
    "override": ("CQ-004", [("WULIANGYE-52-500ML", 90)]),
    "shortage": ("BJ-001", [("TSINGTAO-1903-330ML", 1000)]),
    "approval": ("SH-001", [("WULIANGYE-52-1L", 220)]),
}


def demo_warning_rules() -> list[tuple[str, str, dict, str]]:
    return [
        (
            "warnings",
            f"/warning-rules/{code}",
            {"threshold": threshold, "allowances_minutes": allowances},
            f"seed-warning-rule-{code}",
        )
        for code, (threshold, allowances) in DEMO_WARNING_RULES.items()
    ]


def live_warnings(seeder: Seeder) -> dict[str, int]:
    """Orders that raise warnings: one left on credit hold (it escalates within minutes),
    one overridden by credit control (its hold resolves itself, the override is warned
    of), one short of stock, one waiting for a branch manager's approval."""
    placed = {}
    for name, (dealer, lines) in DEMO_WARNING_ORDERS.items():
        order = {"dealer_code": dealer, "lines": [{"sku": s, "quantity": q} for s, q in lines]}
        placed[name] = seeder.post("orders", "/orders", order, f"seed-warning-order-{name}")
    held = placed["override"]
    seeder.wait_for("orders", f"/orders/{held['order_id']}", "status", {"credit_hold", "approved"})
    seeder.post(
        "finance",
        f"/accounts/{held['dealer_code']}/credit-overrides",
        {"order_id": held["order_id"]},
        f"seed-warning-override-{held['order_id']}",
        api_key="demo-credit-controller",
    )
    return {"warning orders": len(placed)}


def organisation() -> list[tuple[str, str, dict, str]]:
    """Regions, then their branches: everything else names them."""
    steps: list[tuple[str, str, dict, str]] = []
    for region, (name, manager) in REGION_NAMES.items():
        body = {"code": region, "name": name, "manager": manager}
        steps.append(("orders", "/organisation/regions", body, f"seed-region-{region}"))
    for region, branches in REGIONS.items():
        for branch, city in branches.items():
            body = {
                "code": branch,
                "name": f"{city} Branch",
                "region": region,
                "manager": BRANCH_MANAGERS[branch],
            }
            steps.append(("orders", "/organisation/branches", body, f"seed-branch-{branch}"))
    return steps


def commercial_terms(today: date) -> list[tuple[str, str, dict, str]]:
    """Next month's tier-1 price and this season's promotions."""
    steps = []
    first_of_next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    for sku, price in TIER1_NEXT_MONTH:
        path = "/price-lists/tier1_distributor/prices"
        body = {"sku": sku, "unit_price": price, "effective_from": first_of_next_month.isoformat()}
        steps.append(("orders", path, body, f"seed-price-{sku}-{first_of_next_month}"))
    for promotion in PROMOTIONS:
        body = {
            **promotion,
            "valid_from": today.isoformat(),
            "valid_to": (today + timedelta(days=60)).isoformat(),
        }
        steps.append(("orders", "/promotions", body, f"seed-promotion-{promotion['code']}"))
    return steps


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


# 寄售: Jinjiang Wine Trading (CD-001) holds consignment stock at its own store.
CONSIGNMENT_WAREHOUSE = {
    "code": "WH-CSG-CD-001",
    "name": "Jinjiang Wine Trading consignment store",
    "kind": "consignment",
    "branch": "CD",
    "region": "SOUTHWEST",
    "dealer_code": "CD-001",
}


def stock_without_orders(seeder: Seeder) -> dict[str, int]:
    """调拨, 寄售, 盘点 and 残损: central replenishes Chengdu (two bottles arrive broken, one
    never arrives: a transit loss), Chengdu stocks CD-001's consignment store and CD-001
    reports what it sold this month, Shanghai counts its wine (three bottles fewer than the
    book), and Beijing writes off damaged Yanghe."""
    today = business_today()
    inventory = "inventory"
    seeder.post(inventory, "/warehouses", CONSIGNMENT_WAREHOUSE, "seed-warehouse-WH-CSG-CD-001")
    replenish = {
        "from_warehouse": "WH-CENTRAL",
        "to_warehouse": "WH-CD",
        "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 48}],
        "note": "monthly replenishment",
    }
    sent = seeder.post(inventory, "/transfers", replenish, "seed-transfer-central-cd")
    arrival = {
        "lines": [
            {
                "sku": "WULIANGYE-52-500ML",
                "received": 45,
                "damaged": 2,
                "reason": "damaged_in_transit",
                "note": "two bottles broken in the case, one missing",
            }
        ]
    }
    path = f"/transfers/{sent['transfer_id']}/receipt"
    seeder.post(inventory, path, arrival, "seed-transfer-central-cd-receipt")

    consign = {
        "from_warehouse": "WH-CD",
        "to_warehouse": CONSIGNMENT_WAREHOUSE["code"],
        "lines": [
            {"sku": "WULIANGYE-52-500ML", "quantity": 24},
            {"sku": "JIANNANCHUN-52-500ML", "quantity": 36},
        ],
    }
    sent = seeder.post(inventory, "/transfers", consign, "seed-transfer-cd-consignment")
    arrival = {
        "lines": [
            {"sku": "WULIANGYE-52-500ML", "received": 24},
            {"sku": "JIANNANCHUN-52-500ML", "received": 36},
        ]
    }
    path = f"/transfers/{sent['transfer_id']}/receipt"
    seeder.post(inventory, path, arrival, "seed-transfer-cd-consignment-receipt")
    sold = {
        "period_from": today.replace(day=1).isoformat(),
        "period_to": today.isoformat(),
        "lines": [
            {"sku": "WULIANGYE-52-500ML", "quantity": 10},
            {"sku": "JIANNANCHUN-52-500ML", "quantity": 12},
        ],
    }
    path = f"/warehouses/{CONSIGNMENT_WAREHOUSE['code']}/sell-through"
    seeder.post(inventory, path, sold, f"seed-sell-through-{today:%Y-%m}")

    sheet = {"warehouse_code": "WH-SH", "skus": ["GREATWALL-CAB-750ML", "TSINGTAO-1903-330ML"]}
    sheet = seeder.post(inventory, "/stocktakes", sheet, "seed-stocktake-sh")
    book = {line["sku"]: line["book"] for line in sheet["lines"]}
    counts = {
        "lines": [
            {
                "sku": "GREATWALL-CAB-750ML",
                "counted": book["GREATWALL-CAB-750ML"] - 3,
                "reason": "breakage",
            },
            {"sku": "TSINGTAO-1903-330ML", "counted": book["TSINGTAO-1903-330ML"]},
        ]
    }
    path = f"/stocktakes/{sheet['stocktake_id']}"
    seeder.post(inventory, f"{path}/counts", counts, "seed-stocktake-sh-counts")
    seeder.post(inventory, f"{path}/posting", {}, "seed-stocktake-sh-posting")

    damaged = {"quantity": 5, "reason": "cartons crushed by a forklift"}
    path = "/stock/WH-BJ/YANGHE-M6-500ML"
    seeder.post(inventory, f"{path}/damage", damaged, "seed-damage-bj-yanghe")
    seeder.post(inventory, f"{path}/write-off", damaged, "seed-write-off-bj-yanghe")
    return {"transfers": 2, "sell_through_reports": 1, "stocktakes": 1, "write_offs": 1}


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


def dealer_return(seeder: Seeder, order: dict) -> dict[str, int]:
    """退货: CD-001 sends back 3 bottles of the delivered demo order (seals broken); the
    Chengdu manager approves, the warehouse counts 2 good and 1 damaged in, and finance
    credits them at the order's price after discount."""
    body = {
        "order_id": order["order_id"],
        "lines": [{"sku": "WULIANGYE-52-500ML", "quantity": 3}],
        "reason": "seals broken on arrival",
    }
    asked = seeder.post("orders", "/returns", body, f"seed-return-{order['order_id']}")
    return_id = asked["return_id"]
    seeder.post(
        "orders",
        f"/returns/{return_id}/approval",
        {},
        f"seed-return-approval-{return_id}",
        api_key=MANAGER_KEY,
    )
    path = f"/goods-receipts/returns/{return_id}"
    seeder.wait_for("inventory", path, "status", {"expected", "received"})
    count = {"lines": [{"sku": "WULIANGYE-52-500ML", "good": 2, "damaged": 1}]}
    seeder.post("inventory", path, count, f"seed-return-receipt-{return_id}")
    seeder.wait_for("orders", f"/returns/{return_id}", "status", {"credited"})
    return {"returns": 1}


def _halves(lines: list[dict]) -> list[list[dict]]:
    """Two shipments: half of every SKU of more than one unit (gifts included), then the
    rest."""
    ordered: dict[str, int] = {}
    for line in lines:
        ordered[line["sku"]] = ordered.get(line["sku"], 0) + line["quantity"]
    first, rest = [], []
    for sku, quantity in ordered.items():
        half = quantity // 2
        if half:
            first.append({"sku": sku, "quantity": half})
        rest.append({"sku": sku, "quantity": quantity - half})
    return [part for part in (first, rest) if part]


# Planning of the demo month (要货计划, 销售目标): dealers' plans, salespeople and their
# dealers, the national target decomposed to branches and salespeople (CNY, net invoiced).
DEMAND_PLANS = [
    ("CD-001", [("WULIANGYE-52-500ML", 60), ("JIANNANCHUN-52-500ML", 120)], True),
    ("CD-002", [("WULIANGYE-52-1L", 12)], True),
    ("SH-001", [("LUZHOU-1573-500ML", 48), ("GREATWALL-CAB-750ML", 200)], False),
]
SALESPEOPLE = [
    ("SP-CD-01", "Zhang Wei", "CD", ["CD-001", "CD-003"]),
    ("SP-CD-02", "Liu Fang", "CD", ["CD-002", "CD-004"]),
    ("SP-SH-01", "Zhou Min", "SH", ["SH-001", "SH-002"]),
]
NATIONAL_TARGET = ("300000.00", "400000.00", "500000.00")
BRANCH_TARGETS = {
    "CD": ("40000.00", "50000.00", "80000.00"),
    "SH": ("60000.00", "80000.00", "100000.00"),
}
SALESPERSON_TARGETS = {
    "SP-CD-01": ("30000.00", "40000.00", "60000.00"),
    "SP-CD-02": ("10000.00", "10000.00", "20000.00"),
    "SP-SH-01": ("40000.00", "50000.00", "60000.00"),
}


def seed_planning(seeder: Seeder, month: str) -> dict[str, int]:
    """Demand plans of the month (Chengdu's approved, Shanghai's awaiting review), the
    salesperson registry and who covers which dealer from the 1st, and the month's national
    target decomposed to two branches and their salespeople."""

    def levels(values: tuple[str, str, str]) -> dict[str, str]:
        return dict(zip(("floor", "target", "stretch"), values, strict=True))

    for dealer, lines, approve in DEMAND_PLANS:
        plan = {
            "dealer_code": dealer,
            "month": month,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        }
        seeder.post("orders", "/demand-plans", plan, f"seed-plan-{dealer}-{month}")
        if approve:
            path = f"/demand-plans/{dealer}/{month}/approval"
            seeder.post("orders", path, {}, f"seed-plan-approval-{dealer}-{month}")
    for code, name, branch, dealers in SALESPEOPLE:
        body = {"code": code, "name": name, "branch": branch}
        seeder.post("orders", "/targets/salespeople", body, f"seed-salesperson-{code}")
        for dealer in dealers:
            assignment = {"salesperson_code": code, "effective_from": f"{month}-01"}
            path = f"/dealers/{dealer}/salesperson"
            seeder.post("orders", path, assignment, f"seed-assign-{dealer}-{month}")
    seeder.post("orders", f"/targets/{month}", levels(NATIONAL_TARGET), f"seed-target-{month}")
    for branch, values in BRANCH_TARGETS.items():
        path = f"/targets/{month}/branches/{branch}"
        seeder.post("orders", path, levels(values), f"seed-target-{month}-{branch}")
    for code, values in SALESPERSON_TARGETS.items():
        path = f"/targets/{month}/salespeople/{code}"
        seeder.post("orders", path, levels(values), f"seed-target-{month}-{code}")
    return {"demand_plans": len(DEMAND_PLANS), "salespeople": len(SALESPEOPLE)}
