"""The demo company: a few regions and branches, dealers of every grade, SKUs, warehouses and
some orders, posted through the HTTP APIs like any client would (re-running replays)."""

from __future__ import annotations

import httpx
from tqdm import tqdm

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


def _post(client: httpx.Client, path: str, body: dict, key: str, api_key: str) -> None:
    response = client.post(
        path, json=body, headers={"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
    )
    # 409 "already registered": the company was seeded by an earlier run with other keys.
    if response.status_code not in (200, 201, 409):
        raise RuntimeError(f"seeding {path} failed: {response.status_code} {response.text}")


def seed_demo_company(*, orders_url: str, inventory_url: str, api_key: str) -> dict[str, int]:
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
    for sku, name, category, price in PRODUCTS:
        product = {"sku": sku, "name": name, "category": category, "list_price": price}
        steps.append(("orders", "/products", product, f"seed-product-{sku}"))
    for code, name, kind, branch, region in WAREHOUSES:
        warehouse = {"code": code, "name": name, "kind": kind, "branch": branch, "region": region}
        steps.append(("inventory", "/warehouses", warehouse, f"seed-warehouse-{code}"))
    for number, (dealer, lines) in enumerate(DEMO_ORDERS):
        order = {
            "dealer_code": dealer,
            "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines],
        }
        steps.append(("orders", "/orders", order, f"seed-order-{number}"))
    urls = {"orders": orders_url, "inventory": inventory_url}
    with httpx.Client(timeout=30) as orders, httpx.Client(timeout=30) as inventory:
        clients = {"orders": orders, "inventory": inventory}
        for service, path, body, key in tqdm(steps, desc="seeding demo company", unit="cmd"):
            _post(clients[service], urls[service] + path, body, key, api_key)
    return {
        "dealers": sum(len(b) for b in REGIONS.values()) * len(GRADES),
        "products": len(PRODUCTS),
        "warehouses": len(WAREHOUSES),
        "orders": len(DEMO_ORDERS),
    }
