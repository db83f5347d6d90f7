"""A national company's year of integration events, for the read-model benchmarks.

``python -m bench.dataset --events 1000000 --seed 7 --end-date 2026-11-20`` publishes, into
the topics of the configured namespace (``Settings()`` from the environment), what the
orders, inventory and finance relays would have published over about a year of business:
dealers in 49 branch offices of 7 regions, a baijiu catalogue, a central and branch
warehouses, and the order-to-cash saga (orders placed, credit and stock reserved, approved,
shipped in parts, invoiced at the order's prices, delivered, paid on time, late or never,
credit notes, rebates, cancellations, credit holds, stock shortages).

The streams are generated, deterministically from the seed, by a small simulation that keeps
the same books the services keep (stock per warehouse and SKU with its value at cost, each
dealer's credit exposure and open invoices, each policy's rebate) and builds every event with
its contract class and every envelope with the relay's own ``build_envelope``: ids, subjects
(aggregate ids), sequences (numbering each subject's events 1, 2, 3, ...), invoice numbers
and due dates look like the services'. Each origin's positions run 1..N, each envelope
naming the previous one. Goods come in at each SKU's unit cost (a little different from one
receipt to the next) and ship at the warehouse's moving weighted average cost, as
``StockItem`` values them.

While it generates, a ``Ledger`` that reads nothing but the published events computes the
``Truth`` a benchmark compares the read models against, to the fen, and checks the books'
invariants (stock never negative, receipts valued at quantity x unit cost, shipments at the
moving average cost, invoices match their shipments at the order's prices, allocations
within open balances, unbroken position chains).

Publish into a fresh namespace: positions start at 1 and the read models de-duplicate by
origin position, so a second dataset in the same topics would be skipped as duplicates.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import pickle
import random
import resource
import struct
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from contracts import finance as fin
from contracts import inventory as inv
from contracts import orders as ords
from contracts.envelope import Envelope, IntegrationEvent
from contracts.types import Line, OrderLine
from runtime.eventstore import Provenance
from runtime.relay import build_envelope
from services.finance.domain import DealerAccount, Invoice, RebatePolicyBook
from services.inventory.domain import OrderReservation, StockItem, Warehouse
from services.kernel.dates import BUSINESS_TIMEZONE
from services.kernel.money import cny, line_amount
from services.orders.domain import Dealer, Product

REPOSITORY = Path(__file__).resolve().parent.parent
ZERO = Decimal("0.00")
SERVICES = ("orders", "inventory", "finance")
AGING_BUCKETS = ("not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90")

# -- the company ------------------------------------------------------------------------------
# Branch offices (分公司) by region (大区): code, city, relative size of the market.
REGIONS: dict[str, tuple[tuple[str, str, float], ...]] = {
    "SOUTHWEST": (
        ("CD", "Chengdu", 3.0),
        ("CQ", "Chongqing", 2.2),
        ("KM", "Kunming", 1.2),
        ("GY", "Guiyang", 1.1),
        ("YB", "Yibin", 1.0),
        ("LZ", "Luzhou", 0.8),
        ("MY", "Mianyang", 0.7),
    ),
    "NORTH": (
        ("BJ", "Beijing", 2.6),
        ("TJ", "Tianjin", 1.4),
        ("SJZ", "Shijiazhuang", 1.0),
        ("TY", "Taiyuan", 0.9),
        ("TS", "Tangshan", 0.7),
        ("BD", "Baoding", 0.6),
        ("HHT", "Hohhot", 0.6),
    ),
    "NORTHEAST": (
        ("SY", "Shenyang", 1.2),
        ("DL", "Dalian", 1.0),
        ("HRB", "Harbin", 1.0),
        ("CC", "Changchun", 0.9),
        ("JL", "Jilin", 0.5),
        ("DQ", "Daqing", 0.5),
        ("AS", "Anshan", 0.4),
    ),
    "EAST": (
        ("SH", "Shanghai", 2.6),
        ("NJ", "Nanjing", 1.6),
        ("HZ", "Hangzhou", 1.6),
        ("SZ", "Suzhou", 1.3),
        ("HF", "Hefei", 1.2),
        ("JN", "Jinan", 1.2),
        ("QD", "Qingdao", 1.1),
        ("NB", "Ningbo", 0.9),
        ("WX", "Wuxi", 0.8),
    ),
    "SOUTH": (
        ("GZ", "Guangzhou", 2.0),
        ("SZX", "Shenzhen", 1.8),
        ("FZ", "Fuzhou", 1.0),
        ("DG", "Dongguan", 0.9),
        ("XM", "Xiamen", 0.9),
        ("FS", "Foshan", 0.8),
        ("NN", "Nanning", 0.8),
        ("HAK", "Haikou", 0.5),
    ),
    "CENTRAL": (
        ("WUH", "Wuhan", 1.7),
        ("ZZ", "Zhengzhou", 1.6),
        ("CS", "Changsha", 1.4),
        ("NCH", "Nanchang", 1.0),
        ("LY", "Luoyang", 0.6),
        ("YC", "Yichang", 0.5),
    ),
    "NORTHWEST": (
        ("XA", "Xi'an", 1.4),
        ("LZH", "Lanzhou", 0.7),
        ("URC", "Urumqi", 0.7),
        ("YCH", "Yinchuan", 0.5),
        ("XN", "Xining", 0.4),
    ),
}
TRADE_NAMES = (
    "Hongxing", "Fuyuan", "Jinding", "Longteng", "Ruifeng", "Xinglong", "Hengtai", "Taihe",
    "Yongsheng", "Huamei", "Jiahe", "Shunda", "Dingsheng", "Hongyun", "Baofeng", "Tianyi",
    "Wanjia", "Xiangyun", "Mingyuan", "Kaiyuan", "Huifeng", "Changxing", "Dafu", "Jinyu",
    "Yufeng", "Qianjin", "Rongsheng", "Tongda", "Xinyuan", "Zhongxin", "Fulin", "Guangda",
)  # fmt: skip
SURNAMES = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu")
GIVEN = ("Wei", "Fang", "Min", "Jing", "Lei", "Qiang", "Yan", "Jun", "Hui", "Ping", "Tao")


@dataclass(frozen=True)
class Grade:
    """What a dealer grade (channel tier) buys, its credit and its rebate policy."""

    share: float  # of the dealers
    activity: float  # orders per dealer, relative
    lines: tuple[int, int]
    cases: tuple[int, int]  # per line, 6 bottles a case
    credit_floor: int  # the least credit limit of the grade
    terms: tuple[int, ...]  # payment terms, days
    discount: Decimal  # off list price (the grade's price list)
    policy: str  # rebate policy code prefix
    rebate_rate: Decimal
    trades: tuple[str, ...]


GRADES: dict[str, Grade] = {
    "tier1_distributor": Grade(
        0.10, 4.0, (2, 6), (3, 25), 500_000, (45, 60, 60, 90), Decimal("0.08"), "TIER1",
        Decimal("0.0200"), ("Liquor Distribution Co.", "Wine & Spirits Trading"),
    ),
    "tier2_distributor": Grade(
        0.45, 1.0, (1, 4), (2, 15), 100_000, (30, 30, 45), Decimal("0.04"), "TIER2",
        Decimal("0.0150"), ("Liquor Wholesale", "Tobacco & Liquor Store", "Wine Shop"),
    ),
    "exclusive_dealer": Grade(
        0.15, 1.8, (1, 5), (2, 20), 200_000, (30, 45), Decimal("0.06"), "EXCL",
        Decimal("0.0250"), ("Brand Flagship Store", "Fine Spirits House"),
    ),
    "group_buy": Grade(
        0.30, 0.6, (1, 3), (1, 8), 50_000, (15, 30), Decimal("0.00"), "GROUP",
        Decimal("0.0080"), ("Corporate Gifts", "Group Purchasing", "Banquet Supplies"),
    ),
}  # fmt: skip

# The catalogue's series: SKU prefix, name, category, list price of 500 ml, strengths (% vol).
# Categories are business codes as the orders API accepts them (capitals, digits, dashes).
SERIES = (
    ("WULIANGYE", "Wuliangye", "BAIJIU-STRONG-AROMA", 1299, (52, 45, 39)),
    ("WULIANGCHUN", "Wuliangchun", "BAIJIU-STRONG-AROMA", 299, (45, 52)),
    ("WULIANGTEQU", "Wuliang Tequ", "BAIJIU-STRONG-AROMA", 168, (42, 52)),
    ("JIANNANCHUN", "Jiannanchun", "BAIJIU-STRONG-AROMA", 458, (52, 46)),
    ("GUOJIAO1573", "Guojiao 1573", "BAIJIU-STRONG-AROMA", 1099, (52, 38)),
    ("LUZHOULAOJIAO", "Luzhou Laojiao Tequ", "BAIJIU-STRONG-AROMA", 238, (52, 42)),
    ("YANGHE", "Yanghe Dream Blue", "BAIJIU-STRONG-AROMA", 629, (52, 45, 42)),
    ("GUJING", "Gujing Gongjiu", "BAIJIU-STRONG-AROMA", 358, (52, 50)),
    ("MAOTAI", "Kweichow Moutai", "BAIJIU-SAUCE-AROMA", 1499, (53,)),
    ("LANGJIU", "Langjiu Qinghualang", "BAIJIU-SAUCE-AROMA", 1098, (53,)),
    ("XIJIU", "Xijiu Junpin", "BAIJIU-SAUCE-AROMA", 898, (53,)),
    ("FENJIU", "Fenjiu Qinghua", "BAIJIU-LIGHT-AROMA", 799, (53, 48, 42)),
    ("NIULANSHAN", "Niulanshan Erguotou", "BAIJIU-LIGHT-AROMA", 38, (56, 52, 42)),
    ("XIFENG", "Xifeng", "BAIJIU-FENG-AROMA", 268, (55, 52, 45)),
    ("SANHUA", "Guilin Sanhua", "BAIJIU-RICE-AROMA", 88, (52, 45)),
    ("BAIYUNBIAN", "Baiyunbian", "BAIJIU-MIXED-AROMA", 198, (53, 42)),
    ("JIUGUI", "Jiugui", "BAIJIU-FUYU-AROMA", 588, (52, 54)),
    ("DONGJIU", "Dongjiu", "BAIJIU-DONG-AROMA", 398, (54, 52)),
)
VOLUMES = (  # code, ml, share of the catalogue
    ("500ML", 500, 0.52), ("375ML", 375, 0.08), ("250ML", 250, 0.10), ("750ML", 750, 0.05),
    ("1000ML", 1000, 0.10), ("100ML", 100, 0.07), ("1500ML", 1500, 0.05), ("2500ML", 2500, 0.03),
)  # fmt: skip
EDITIONS = (  # name, price factor
    ("Classic", 1.0), ("Gift Box", 1.15), ("Banquet", 1.05), ("Zodiac Edition", 1.4),
    ("Collector's", 1.8), ("Aged 10 Years", 1.3), ("Aged 15 Years", 1.6), ("Business", 1.1),
    ("Export", 1.05), ("Limited", 1.5),
)  # fmt: skip

# Orders per day through the year: Spring Festival and Mid-Autumn / National Day peaks.
MONTH_SEASON = (0, 1.5, 1.3, 0.7, 0.8, 0.9, 0.9, 0.8, 1.0, 1.4, 1.2, 0.9, 1.2)
SUNDAY_SEASON = 0.35

# How dealers pay (回款): share of dealers, and their habits (see ``_plan_payments``).
PAYMENT_PROFILES = (("prompt", 0.55), ("slow", 0.25), ("late", 0.13), ("bad", 0.07))
CREDIT_NOTE_REASONS = (
    "breakage in transit",
    "price adjustment",
    "short delivery",
    "promotion settlement",
)
CANCEL_REASONS = ("dealer changed the delivery plan", "duplicate order", "wrong SKU ordered")


class DatasetError(RuntimeError):
    """The generated streams broke a business invariant (a bug in the generator)."""


# -- specification and results ----------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSpec:
    events: int = 1_000_000
    seed: int = 7
    end_date: date = date(2026, 11, 20)
    dealers: int = 5_000
    skus: int = 2_000
    warehouses: int = 50  # one central, the rest branch warehouses
    days: int = 365
    # Orders above this total wait for a branch manager (Settings.order_approval_threshold).
    approval_threshold: Decimal = Decimal("500000.00")

    @property
    def start_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    def check(self) -> None:
        branches = sum(len(b) for b in REGIONS.values())
        if not 1 <= self.warehouses <= branches + 1:
            raise ValueError(f"warehouses: 1 (central) to {branches + 1} (one per branch)")
        if self.dealers < 1 or self.skus < 1 or self.days < 30:
            raise ValueError("at least 1 dealer, 1 SKU and 30 days")


@dataclass
class PublishStats:
    events: int
    bytes: int
    seconds: float
    events_per_s: float
    peak_rss_mb: float  # the generator's process
    sender_peak_rss_mb: float  # the process that runs the Kafka producer
    producer: dict[str, Any]


@dataclass
class Truth:
    """What the read models must show after the dataset, to the fen, as of ``end_date``."""

    seed: int
    start_date: date
    end_date: date
    events: int
    events_by_type: dict[str, int]
    events_by_origin: dict[str, int]
    events_by_topic: dict[str, int]
    last_position: dict[str, int]  # per origin: the watermark every projection must reach
    dealers: int
    products: int
    warehouses: int
    orders_placed: int
    orders_approved: int
    orders_rejected: int
    orders_cancelled: int
    shipments: int
    shipments_not_delivered: int
    invoices: int
    receipts: int
    credit_notes: int
    stock_on_hand: int  # national, in bottles
    stock_reserved: int
    stock_value: Decimal  # national, at cost: received value - shipped cost
    stock_received_value: Decimal  # GoodsReceived values
    stock_shipped_cost: Decimal  # ShipmentDispatched costs (cost of goods shipped)
    ordered_amount: Decimal  # OrderPlaced totals
    invoiced: Decimal
    received: Decimal  # cash, allocated or not
    allocated: Decimal
    unapplied: Decimal
    credited: Decimal  # credit notes
    net_sales: Decimal  # invoiced - credit notes
    open_invoices: Decimal  # invoiced - allocated receipts - credit notes
    receivables: Decimal  # open invoices - unapplied cash = invoiced - received - credited
    aging: dict[str, Decimal]  # open invoices by days past due as of end_date
    credit_reserved_open: Decimal  # reserved for orders, not yet invoiced nor released
    rebate_accrued: Decimal
    rebate_base: Decimal
    rebates_by_policy: dict[str, dict[str, Decimal]]  # code -> net_sales, accrued
    publish: PublishStats | None = None

    def as_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Decimal):
                return f"{value:.2f}"
            if isinstance(value, date):
                return value.isoformat()
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        return {name: plain(value) for name, value in asdict(self).items()}


# -- the truth, from the published events alone ---------------------------------------------
class Ledger:
    """Reads each published event (nothing of the generator's own state) and keeps the
    figures of the ``Truth``, checking the invariants as it goes."""

    def __init__(self, as_of: date) -> None:
        self.as_of = as_of
        self.count = 0
        self.by_type: Counter[str] = Counter()
        self.by_origin: Counter[str] = Counter()
        self.last_position: dict[str, int] = {}
        self.stock: dict[tuple[str, str], list] = {}  # on hand, reserved, value at cost
        self.order_prices: dict[str, dict[str, Decimal]] = {}
        # shipment -> order, lines, whether it completed the order
        self.uninvoiced: dict[str, tuple[str, dict[str, int], bool]] = {}
        self.undelivered: set[str] = set()
        self.open: dict[str, list] = {}  # invoice id -> [due date, open amount]
        self.credit_reserved: dict[str, Decimal] = {}  # order id -> still reserved
        self.rebates: dict[str, list[Decimal]] = {}  # policy -> [base, accrued]
        self.money: Counter[str] = Counter()
        self._handlers: dict[type, Callable[[Any], None]] = {}

    def _fail(self, what: str) -> None:
        raise DatasetError(what)

    def record(self, envelope: Envelope, data: IntegrationEvent) -> None:
        origin = envelope.source
        if envelope.previousposition != self.last_position.get(origin, 0):
            self._fail(f"{origin}:{envelope.position} breaks the position chain")
        if envelope.position <= envelope.previousposition:
            self._fail(f"{origin}:{envelope.position} is not after its previous position")
        self.last_position[origin] = envelope.position
        self.count += 1
        kind = type(data)
        self.by_type[kind.event_name] += 1
        self.by_origin[origin] += 1
        handler = self._handlers.get(kind)
        if handler is None:
            handler = self._handlers[kind] = getattr(self, f"_{kind.event_name}", _ignore)
        handler(data)

    def _move(self, warehouse: str, lines: list[Line], on_hand: int, reserved: int) -> None:
        for line in lines:
            item = self.stock.setdefault((warehouse, line.sku), [0, 0, ZERO])
            item[0] += on_hand * line.quantity
            item[1] += reserved * line.quantity
            if item[0] < 0 or item[1] < 0 or item[1] > item[0]:
                self._fail(f"stock of {line.sku} at {warehouse} went to {item}")

    def _OrderPlaced(self, e: ords.OrderPlaced) -> None:  # noqa: N802 - named after the event
        if sum(line.amount for line in e.lines) != e.total:
            self._fail(f"order {e.order_id}: lines do not add up to its total")
        for line in e.lines:
            if cny(line.unit_price * line.quantity) != line.amount:
                self._fail(f"order {e.order_id}: {line.sku} amount is not quantity x price")
        self.order_prices[e.order_id] = {line.sku: line.unit_price for line in e.lines}
        self.money["ordered"] += e.total

    def _GoodsReceived(self, e: inv.GoodsReceived) -> None:  # noqa: N802
        stock, warehouse = self.stock, e.warehouse_code
        total = ZERO
        for line in e.lines:
            value = line.value
            if line.unit_cost is None or value != line_amount(line.quantity, line.unit_cost):
                self._fail(f"receipt {e.receipt_id}: {line.sku} is not quantity x unit cost")
            item = stock.get((warehouse, line.sku))
            if item is None:
                item = stock[(warehouse, line.sku)] = [0, 0, ZERO]
            item[0] += line.quantity
            item[2] += value
            total += value
        if e.value != total:
            self._fail(f"receipt {e.receipt_id}: lines do not add up to its value")
        self.money["stock_received"] += total

    def _StockReserved(self, e: inv.StockReserved) -> None:  # noqa: N802
        self._move(e.warehouse_code, e.lines, 0, 1)

    def _StockReleased(self, e: inv.StockReleased) -> None:  # noqa: N802
        self._move(e.warehouse_code, e.lines, 0, -1)

    def _ShipmentDispatched(self, e: inv.ShipmentDispatched) -> None:  # noqa: N802
        stock, warehouse = self.stock, e.warehouse_code
        total = ZERO
        for line in e.lines:
            quantity = line.quantity
            item = stock.get((warehouse, line.sku))
            if item is None:
                item = stock[(warehouse, line.sku)] = [0, 0, ZERO]
            on_hand, value = item[0], item[2]
            # The moving weighted average cost (StockItem.cost_of).
            cost = value if quantity >= on_hand else cny(value * quantity / on_hand)
            if line.cost != cost:
                self._fail(f"shipment {e.shipment_id}: {line.sku} is not at the average cost")
            item[0] = on_hand - quantity
            item[1] -= quantity
            item[2] = value - cost
            if item[0] < 0 or item[1] < 0 or item[1] > item[0] or item[2] < 0:
                self._fail(f"stock of {line.sku} at {warehouse} went to {item}")
            total += cost
        if e.cost != total:
            self._fail(f"shipment {e.shipment_id}: lines do not add up to its cost")
        self.money["stock_shipped"] += total
        lines = {line.sku: line.quantity for line in e.lines}
        self.uninvoiced[e.shipment_id] = (e.order_id, lines, e.order_complete)
        self.undelivered.add(e.shipment_id)

    def _DeliveryConfirmed(self, e: inv.DeliveryConfirmed) -> None:  # noqa: N802
        self.undelivered.remove(e.shipment_id)

    def _CreditReserved(self, e: fin.CreditReserved) -> None:  # noqa: N802
        self.credit_reserved[e.order_id] = e.amount

    def _CreditReleased(self, e: fin.CreditReleased) -> None:  # noqa: N802
        if self.credit_reserved.pop(e.order_id) != e.amount:
            self._fail(f"order {e.order_id}: released credit is not what remained reserved")

    def _InvoiceIssued(self, e: fin.InvoiceIssued) -> None:  # noqa: N802
        order_id, shipped, complete = self.uninvoiced.pop(e.shipment_id)
        prices = self.order_prices[e.order_id]
        if order_id != e.order_id or {line.sku: line.quantity for line in e.lines} != shipped:
            self._fail(f"invoice {e.invoice_id} does not match shipment {e.shipment_id}")
        for line in e.lines:
            if line.unit_price != prices[line.sku] or line.amount != cny(
                line.unit_price * line.quantity
            ):
                self._fail(f"invoice {e.invoice_id}: {line.sku} is not at the order's price")
        if sum(line.amount for line in e.lines) != e.total:
            self._fail(f"invoice {e.invoice_id}: lines do not add up to its total")
        self.open[e.invoice_id] = [e.due_date, e.total]
        reserved = self.credit_reserved.pop(e.order_id)
        if reserved > e.total:
            self.credit_reserved[e.order_id] = reserved - e.total
        if complete:  # nothing more of the order will be invoiced
            del self.order_prices[e.order_id]
        self.money["invoiced"] += e.total

    def _OrderRejected(self, e: ords.OrderRejected) -> None:  # noqa: N802
        del self.order_prices[e.order_id]

    def _OrderCancelled(self, e: ords.OrderCancelled) -> None:  # noqa: N802
        del self.order_prices[e.order_id]

    def _ReceiptRecorded(self, e: fin.ReceiptRecorded) -> None:  # noqa: N802
        allocated = sum((a.amount for a in e.allocations), ZERO)
        if allocated + e.unapplied != e.amount or e.unapplied < 0:
            self._fail(f"receipt {e.receipt_id}: allocations + unapplied != amount")
        for allocation in e.allocations:
            self._settle(allocation.invoice_id, allocation.amount)
        self.money["received"] += e.amount
        self.money["allocated"] += allocated
        self.money["unapplied"] += e.unapplied

    def _CreditNoteIssued(self, e: fin.CreditNoteIssued) -> None:  # noqa: N802
        self._settle(e.invoice_id, e.amount)
        self.money["credited"] += e.amount

    def _settle(self, invoice_id: str, amount: Decimal) -> None:
        item = self.open[invoice_id]
        if not ZERO < amount <= item[1]:
            self._fail(f"invoice {invoice_id}: {amount} settled, {item[1]} open")
        item[1] -= amount
        if item[1] == 0:
            del self.open[invoice_id]

    def _RebateAccrued(self, e: fin.RebateAccrued) -> None:  # noqa: N802
        policy = self.rebates.setdefault(e.policy_code, [ZERO, ZERO])
        policy[0] += e.base
        policy[1] += e.amount

    def truth(self, spec: DatasetSpec, topic_of: Callable[[str], str]) -> Truth:
        aging = dict.fromkeys(AGING_BUCKETS, ZERO)
        for due_date, amount in self.open.values():
            days = (self.as_of - due_date).days
            bucket = (
                "not_yet_due"
                if days <= 0
                else "days_1_30"
                if days <= 30
                else "days_31_60"
                if days <= 60
                else "days_61_90"
                if days <= 90
                else "over_90"
            )
            aging[bucket] += amount
        m = self.money
        open_invoices = sum(aging.values(), ZERO)
        if open_invoices != m["invoiced"] - m["allocated"] - m["credited"]:
            self._fail("open invoices do not add up")
        stock_value = sum((item[2] for item in self.stock.values()), ZERO)
        if stock_value != m["stock_received"] - m["stock_shipped"]:
            self._fail("stock at cost does not add up")
        counts = self.by_type
        return Truth(
            seed=spec.seed,
            start_date=spec.start_date,
            end_date=spec.end_date,
            events=self.count,
            events_by_type=dict(sorted(counts.items())),
            events_by_origin={o: self.by_origin[o] for o in SERVICES},
            events_by_topic={topic_of(o): self.by_origin[o] for o in SERVICES},
            last_position={o: self.last_position.get(o, 0) for o in SERVICES},
            dealers=counts["DealerRegistered"],
            products=counts["ProductRegistered"],
            warehouses=counts["WarehouseRegistered"],
            orders_placed=counts["OrderPlaced"],
            orders_approved=counts["OrderApproved"],
            orders_rejected=counts["OrderRejected"],
            orders_cancelled=counts["OrderCancelled"],
            shipments=counts["ShipmentDispatched"],
            shipments_not_delivered=len(self.undelivered),
            invoices=counts["InvoiceIssued"],
            receipts=counts["ReceiptRecorded"],
            credit_notes=counts["CreditNoteIssued"],
            stock_on_hand=sum(item[0] for item in self.stock.values()),
            stock_reserved=sum(item[1] for item in self.stock.values()),
            stock_value=stock_value,
            stock_received_value=m["stock_received"] + ZERO,
            stock_shipped_cost=m["stock_shipped"] + ZERO,
            ordered_amount=m["ordered"] + ZERO,
            invoiced=m["invoiced"] + ZERO,
            received=m["received"] + ZERO,
            allocated=m["allocated"] + ZERO,
            unapplied=m["unapplied"] + ZERO,
            credited=m["credited"] + ZERO,
            net_sales=m["invoiced"] - m["credited"] + ZERO,
            open_invoices=open_invoices,
            receivables=m["invoiced"] - m["received"] - m["credited"] + ZERO,
            aging=aging,
            credit_reserved_open=sum(self.credit_reserved.values(), ZERO),
            rebate_accrued=sum((p[1] for p in self.rebates.values()), ZERO),
            rebate_base=sum((p[0] for p in self.rebates.values()), ZERO),
            rebates_by_policy={
                code: {"net_sales": p[0], "accrued": p[1]}
                for code, p in sorted(self.rebates.items())
            },
        )


# -- the simulation's books -------------------------------------------------------------------
class _DomainEvent:
    """What ``build_envelope`` reads of a stored domain event (it takes ``str`` of the id)."""

    __slots__ = ("by", "originator_id", "timestamp")

    def __init__(self, originator_id: str, at: datetime, by: Provenance | None):
        self.originator_id = originator_id
        self.timestamp = at
        self.by = by


@dataclass(frozen=True)
class _Branch:
    code: str
    city: str
    region: str
    weight: float
    warehouse: str  # the warehouse serving its orders (its own, else the central one)


@dataclass(eq=False)
class _Dealer:
    code: str
    name: str
    branch: _Branch
    grade: str
    weight: float
    join_day: int
    profile: str
    terms: int
    limit: Decimal
    dealer_id: str
    account_id: str
    receivables: Decimal = ZERO  # invoiced - received - credited
    reserved: dict[str, Decimal] = field(default_factory=dict)  # order id -> reserved credit
    reserved_total: Decimal = ZERO
    held: dict[str, Decimal] = field(default_factory=dict)  # credit refused, on hold
    open_invoices: dict[str, _Invoice] = field(default_factory=dict)
    invoices_posted: int = 0
    rebate_base: dict[str, Decimal] = field(default_factory=dict)
    rebate_accrued: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class _Product:
    sku: str
    name: str
    category: str
    list_price: Decimal
    prices: dict[str, Decimal]  # per grade
    unit_cost: Decimal  # what a bottle usually costs at goods receipt


@dataclass(eq=False)
class _Order:
    order_id: str
    reservation_id: str
    dealer: _Dealer
    warehouse: str
    lines: list[ords.PlacedLine]
    total: Decimal
    credit: str = ""  # reserved | refused
    stock: str = ""  # reserved | short | released
    remaining: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class _Invoice:
    invoice_id: str
    dealer: _Dealer
    unit_prices: tuple[Decimal, ...]  # the order's (a credit note for breakage uses one)
    issue_date: date
    due_date: date
    total: Decimal
    open: Decimal
    sequence: int
    policies: list[tuple[str, Decimal]]  # code, rate


@dataclass(frozen=True)
class _Policy:
    code: str
    grade: str | None
    dealer_code: str | None
    rate: Decimal
    valid_from: date
    valid_to: date


# Estimated events a scheduled action will still publish (the event budget's controller).
_COST = {
    "decide": 1.2,
    "hold": 1.8,
    "cancel": 3.0,
    "ship": 3.1,
    "deliver": 1.0,
    "pay": 1.0,
    "credit_note": 2.0,
    "safety": 1.0,
    "join": 2.0,
}
_MORNING = frozenset({"join", "decide", "hold", "cancel"})
# A receipt's unit cost is the SKU's own, give or take up to 3 % (the purchase price moves).
_COST_DRIFT = tuple(Decimal(n) / 1000 for n in range(970, 1031))
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (4 << 76) | (0x8000 << 48)


class Dataset:
    """The event streams of ``spec``: iterate ``records()`` once; ``truth`` is complete after
    the last record."""

    def __init__(self, spec: DatasetSpec, *, topic_of: Callable[[str], str] | None = None):
        spec.check()
        self.spec = spec
        self.topic_of = topic_of or (lambda service: f"dist.{service}.events")
        self.rng = random.Random(spec.seed)
        # Unit costs draw from their own generator: the business stays what ``rng`` makes it.
        self._cost_rng = random.Random(f"unit costs {spec.seed}")
        self.ledger = Ledger(spec.end_date)
        self.truth: Truth | None = None
        self._out: list[tuple[str, Envelope]] = []
        self._positions = dict.fromkeys(SERVICES, 0)
        self._sequences: dict[str, int] = {}  # per subject: events published so far
        self._now = datetime(2000, 1, 1, tzinfo=UTC)
        self._step = timedelta(milliseconds=150)
        self._day_end = self._now
        self._agenda: dict[int, list[list[tuple]]] = {}
        self._pending = 0.0
        self._today = -1
        self._immediate = [0, 0]  # events published for new orders (with their receipts), orders
        self._covering: dict[tuple[str, int], list[tuple[str, Decimal]]] = {}

    # -- output ------------------------------------------------------------------------------
    def records(self) -> Iterator[tuple[str, Envelope]]:
        """(topic, envelope) in publication order."""
        for _ in self._run():
            out, self._out = self._out, []
            for service, envelope in out:
                yield self.topic_of(service), envelope
        self.truth = self.ledger.truth(self.spec, self.topic_of)

    def _emit(
        self,
        service: str,
        subject: str,
        data: IntegrationEvent,
        by: Provenance | None = None,
    ) -> None:
        previous = self._positions[service]
        position = previous + 1
        self._positions[service] = position
        at = self._now if self._now < self._day_end else self._day_end
        self._now += self._step
        sequence = self._sequences[subject] = self._sequences.get(subject, 0) + 1
        envelope = build_envelope(
            service,
            position,
            previous,
            _DomainEvent(subject, at, by),
            data,
            sequence=sequence,
        )
        self.ledger.record(envelope, data)
        self._out.append((service, envelope))

    def _uuid(self) -> str:
        """``str(uuid.UUID(int=<128 random bits>, version=4))``, without the UUID object."""
        bits = self.rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _by(self, actor: tuple[str, str, str | None]) -> Provenance:
        name, role, branch = actor
        return Provenance(name, role, branch, correlation_id=self._uuid())

    # -- the company -------------------------------------------------------------------------
    def _build_company(self) -> None:
        spec, rng = self.spec, self.rng
        branches = [
            (code, city, region, weight)
            for region, offices in REGIONS.items()
            for code, city, weight in offices
        ]
        by_size = sorted(branches, key=lambda b: -b[3])
        with_warehouse = {b[0] for b in by_size[: spec.warehouses - 1]}
        self.warehouses = [("WH-CENTRAL", "Yibin Central Warehouse", "central", None, None)]
        self.warehouses += [
            (f"WH-{code}", f"{city} Branch Warehouse", "branch", code, region)
            for code, city, region, _ in by_size
            if code in with_warehouse
        ]
        self.branches = [
            _Branch(
                code, city, region, weight, f"WH-{code}" if code in with_warehouse else "WH-CENTRAL"
            )
            for code, city, region, weight in branches
        ]
        self.staff: dict[str, dict[str, tuple[str, str, str | None]]] = {}
        for branch in self.branches:
            clerk, manager, keeper = (
                f"{rng.choice(SURNAMES)} {rng.choice(GIVEN)} ({branch.city} {what})"
                for what in ("clerk", "manager", "warehouse")
            )
            self.staff[branch.code] = {
                "clerk": (clerk, "branch_clerk", branch.code),
                "manager": (manager, "branch_manager", branch.code),
                "warehouse": (keeper, "warehouse_clerk", None),
            }
        self.hq = ("Wang Min (HQ admin)", "hq_admin", None)
        self.controller = ("Sun Li (credit control)", "credit_controller", None)
        self.central_clerk = ("Zhou Tao (Yibin warehouse)", "warehouse_clerk", None)
        self.warehouse_clerk = {
            code: self.central_clerk if branch is None else self.staff[branch]["warehouse"]
            for code, _, _, branch, _ in self.warehouses
        }
        self._build_products()
        self._build_dealers()
        self._build_policies()

    def _build_products(self) -> None:
        rng, cost_rng = self.rng, self._cost_rng
        volume_weights = [v[2] for v in VOLUMES]
        self.products: list[_Product] = []
        for index in range(self.spec.skus):
            prefix, series, category, base, strengths = SERIES[index % len(SERIES)]
            abv = strengths[(index // len(SERIES)) % len(strengths)]
            volume, ml, _ = rng.choices(VOLUMES, volume_weights)[0]
            edition, factor = rng.choice(EDITIONS)
            price = base * (ml / 500) ** 0.9 * factor * (abv / 52) ** 0.5 * rng.uniform(0.9, 1.1)
            list_price = cny(round(price) if price >= 100 else round(price * 2) / 2)
            prices = {
                grade: cny(list_price * (1 - profile.discount)) for grade, profile in GRADES.items()
            }
            self.products.append(
                _Product(
                    sku=f"{prefix}-{abv}-{volume}-{index + 1:04d}",
                    name=f"{series} {abv}% {ml}ml {edition}",
                    category=category,
                    list_price=list_price,
                    prices=prices,
                    # 60-65 % of the list price, to the fen.
                    unit_cost=cny(list_price * cost_rng.randint(600, 650) / 1000),
                )
            )
        # Popularity: a long tail over the shuffled catalogue, most popular first.
        self.popular = list(self.products)
        rng.shuffle(self.popular)
        self.popularity = [1 / (rank + 1) ** 0.9 for rank in range(len(self.popular))]
        self.catalogue = {p.sku: p for p in self.products}
        self._sku_cum = list(_cumulative(self.popularity))

    def _build_dealers(self) -> None:
        spec, rng = self.spec, self.rng
        grades = list(GRADES)
        grade_weights = [GRADES[g].share for g in grades]
        profiles = [p for p, _ in PAYMENT_PROFILES]
        profile_weights = [w for _, w in PAYMENT_PROFILES]
        branch_weights = [b.weight for b in self.branches]
        numbers: Counter[str] = Counter()
        dealers = []
        for _ in range(spec.dealers):
            branch = rng.choices(self.branches, branch_weights)[0]
            grade = rng.choices(grades, grade_weights)[0]
            profile = GRADES[grade]
            numbers[branch.code] += 1
            code = f"{branch.code}-{numbers[branch.code]:03d}"
            name = f"{branch.city} {rng.choice(TRADE_NAMES)} {rng.choice(profile.trades)}"
            # Most dealers were in the channel before the year began; some join during it.
            joins = dealers and rng.random() >= 0.85
            join_day = rng.randrange(1, spec.days - 14) if joins else 0
            dealers.append(
                _Dealer(
                    code=code,
                    name=name,
                    branch=branch,
                    grade=grade,
                    weight=profile.activity * rng.lognormvariate(0, 0.5),
                    join_day=join_day,
                    profile=rng.choices(profiles, profile_weights)[0],
                    terms=rng.choice(profile.terms),
                    limit=ZERO,  # see _set_credit_limits
                    dealer_id=str(Dealer.create_id(code)),
                    account_id=str(DealerAccount.create_id(code)),
                )
            )
        dealers.sort(key=lambda d: d.join_day)  # stable: codes stay in order within a day
        self.dealers = dealers
        self._set_credit_limits()
        self._dealer_cum = list(_cumulative([d.weight for d in dealers]))
        self._join_days = [d.join_day for d in dealers]

    def _set_credit_limits(self) -> None:
        """信用额度 from what each dealer is expected to buy: its payment terms and a month
        and a half on top, and room for a few large orders, so that prompt payers stay within
        it and late payers run into it."""
        spec, rng = self.spec, self.rng
        popularity = self.popularity
        bottle = sum(
            p.list_price * Decimal(w) for p, w in zip(self.popular, popularity, strict=True)
        )
        bottle /= Decimal(sum(popularity))
        orders = max(1.0, (spec.events - 2 * spec.dealers - spec.skus) / 9.5)  # ~9.5 events each
        per_weight_month = orders / sum(d.weight for d in self.dealers) / (spec.days / 30)
        for dealer in self.dealers:
            grade = GRADES[dealer.grade]
            lines = min(sum(grade.lines) / 2, len(self.products))
            order_value = float(bottle * (1 - grade.discount)) * lines * sum(grade.cases) / 2 * 6
            monthly = dealer.weight * per_weight_month * order_value
            limit = (monthly * (dealer.terms / 30 + 1.5) + 3 * order_value) * rng.uniform(0.9, 1.5)
            dealer.limit = cny(max(round(limit, -4), grade.credit_floor))

    def _build_policies(self) -> None:
        spec = self.spec
        self.policies: list[_Policy] = []
        for year in range(spec.start_date.year, spec.end_date.year + 1):
            first, last = date(year, 1, 1), date(year, 12, 31)
            for grade, profile in GRADES.items():
                self.policies.append(
                    _Policy(
                        f"{profile.policy}-{year}", grade, None, profile.rebate_rate, first, last
                    )
                )
            # Key accounts: a few large distributors get 1 % on top.
            key_accounts = [d for d in self.dealers if d.grade == "tier1_distributor"][::25]
            for dealer in key_accounts:
                self.policies.append(
                    _Policy(
                        f"KA-{dealer.code}-{year}",
                        None,
                        dealer.code,
                        Decimal("0.0100"),
                        first,
                        last,
                    )
                )
        self.policies.sort(key=lambda p: p.code)  # the policy book lists them by code

    # -- the run -----------------------------------------------------------------------------
    def _run(self) -> Iterator[None]:
        spec = self.spec
        self._build_company()
        self.stock: dict[tuple[str, str], list] = {}  # on hand, reserved, value at cost
        self._season = [
            self._season_of(spec.start_date + timedelta(days=i)) for i in range(spec.days)
        ]
        yield from self._setup()
        for day_index in range(spec.days):
            yield from self._business_day(day_index)
        yield from self._top_up()

    @staticmethod
    def _season_of(day: date) -> float:
        return MONTH_SEASON[day.month] * (SUNDAY_SEASON if day.weekday() == 6 else 1.0)

    def _start_phase(self, day: date, start_hour: float, hours: float, activities: int) -> None:
        """Spread the next ``activities`` over ``hours`` from ``start_hour`` (CST) of ``day``."""
        start = datetime(day.year, day.month, day.day, tzinfo=BUSINESS_TIMEZONE)
        self._now = max(self._now, (start + timedelta(hours=start_hour)).astimezone(UTC))
        self._day_end = (start + timedelta(hours=23, minutes=59, seconds=59)).astimezone(UTC)
        self._activity_step = timedelta(hours=hours) / max(1, activities)

    def _setup(self) -> Iterator[None]:
        """The first morning: the catalogue, the warehouses, the dealers already in the channel
        with their credit terms, the rebate policies, opening stock and safety stock."""
        spec, rng = self.spec, self.rng
        day = spec.start_date
        initial = [d for d in self.dealers if d.join_day == 0]
        self._start_phase(day, 6.0, 2.0, 1)
        self._step = timedelta(milliseconds=50)
        for product in self.products:
            product_id = str(Product.create_id(product.sku))
            data = ords.ProductRegistered(
                product_id=product_id,
                sku=product.sku,
                name=product.name,
                category=product.category,
                unit="bottle",
                list_price=product.list_price,
            )
            self._emit("orders", product_id, data, self._by(self.hq))
        yield
        for code, name, kind, branch, region in self.warehouses:
            warehouse_id = str(Warehouse.create_id(code))
            data = inv.WarehouseRegistered(
                warehouse_id=warehouse_id,
                code=code,
                name=name,
                kind=kind,
                branch=branch,
                region=region,
            )
            self._emit("inventory", warehouse_id, data, self._by(self.hq))
        yield
        for dealer in initial:
            self._register(dealer)
            yield
        for policy in self.policies:
            data = fin.RebatePolicyDefined(
                policy_code=policy.code,
                grade=policy.grade,
                dealer_code=policy.dealer_code,
                rate=policy.rate,
                valid_from=policy.valid_from,
                valid_to=policy.valid_to,
            )
            self._emit("finance", str(RebatePolicyBook.ID), data, self._by(self.hq))
        yield
        # Opening stock: the central warehouse holds the catalogue's head, branches the top.
        for code, _, kind, _, _ in self.warehouses:
            count = min(len(self.popular), 300 if kind == "central" else 80)
            lines = {}
            for product in self.popular[:count]:
                cases = rng.randint(40, 200) if kind == "central" else rng.randint(10, 60)
                lines[product.sku] = 6 * cases
            self._receive(code, day, lines, self.warehouse_clerk[code])
            yield
        # Safety stock (安全库存) at branch warehouses; reviewed at the start of each quarter.
        for code, _, kind, _, _ in self.warehouses:
            if kind != "branch":
                continue
            for product in self.popular[: min(20, len(self.popular))]:
                self._safety(code, product.sku, 6 * rng.randint(5, 30))
            for day_index in range(1, spec.days):
                review = spec.start_date + timedelta(days=day_index)
                if review.day == 1 and review.month in (1, 4, 7, 10):
                    for product in rng.sample(self.popular[:20], min(5, len(self.popular))):
                        qty = 6 * rng.randint(5, 40)
                        self._schedule(day_index, ("safety", code, product.sku, qty))
            yield
        for dealer in self.dealers:
            if dealer.join_day > 0:
                self._schedule(dealer.join_day, ("join", dealer))
        self._step = timedelta(milliseconds=150)

    def _register(self, dealer: _Dealer) -> None:
        """DealerRegistered; finance opens the account and HQ sets its credit terms."""
        dealer_id = dealer.dealer_id
        data = ords.DealerRegistered(
            dealer_id=dealer_id,
            dealer_code=dealer.code,
            name=dealer.name,
            branch=dealer.branch.code,
            region=dealer.branch.region,
            grade=dealer.grade,
        )
        self._emit("orders", dealer_id, data, self._by(self.hq))
        terms = fin.CreditTermsSet(
            dealer_code=dealer.code, credit_limit=dealer.limit, payment_terms_days=dealer.terms
        )
        self._emit("finance", dealer.account_id, terms, self._by(self.controller))

    # -- a business day ----------------------------------------------------------------------
    def _schedule(self, day_index: int, action: tuple) -> None:
        if day_index >= self.spec.days:
            return  # after the end date: it does not happen (yet)
        # The day being worked through takes new actions in its afternoon.
        morning = action[0] in _MORNING and day_index != self._today
        lists = self._agenda.setdefault(day_index, [[], []])
        lists[0 if morning else 1].append(action)
        self._pending += _COST[action[0]]

    def _new_orders_today(self, day_index: int) -> int:
        """How many orders to place today so that the year publishes ``spec.events``: the
        budget left after what is already scheduled, spread over the remaining days by
        season, each order costing what it will still publish before the end date."""
        spec = self.spec
        immediate = (self._immediate[0] + 40) / (self._immediate[1] + 10)  # prior: 4 per order
        # About a quarter of a day's events stays for the last evening's top-up
        # (``_top_up``), so that estimation errors end as a few more late orders rather
        # than an overshoot.
        daily = spec.events / spec.days
        margin = 0.25 * daily + 3 * math.sqrt(daily)
        left = spec.events - margin - self.ledger.count - self._pending
        weight = 0.0
        for j in range(day_index, spec.days):
            days_after = spec.days - 1 - j
            follow = 4.3 * min(1.0, (days_after + 1) / 5) + 0.95 * min(1.0, days_after / 75)
            weight += self._season[j] * (immediate + follow)
        wanted = max(0.0, left) / weight * self._season[day_index] if weight else 0.0
        whole = int(wanted)
        return whole + (1 if self.rng.random() < wanted - whole else 0)

    def _business_day(self, day_index: int) -> Iterator[None]:
        spec = self.spec
        day = spec.start_date + timedelta(days=day_index)
        self._today = day_index
        morning, afternoon = self._agenda.pop(day_index, [[], []])
        planned = [self._plan_order() for _ in range(self._new_orders_today(day_index))]
        placed_before = self.ledger.count
        # 07:30-08:30 goods in for the day's orders; 08:30-10:00 decisions; 10:00-16:00
        # orders; 16:00-19:00 shipments, deliveries, cash, credit notes.
        self._start_phase(day, 7.5, 1.0, 1)
        self._replenish(day, planned)
        receipts = self.ledger.count - placed_before
        yield
        self._start_phase(day, 8.5, 1.5, len(morning))
        for action in morning:
            start = self._now
            self._do(action, day_index, day)
            self._now = max(self._now, start + self._activity_step)
            yield
        self._start_phase(day, 10.0, 6.0, len(planned))
        placed_before = self.ledger.count
        for dealer, lines in planned:
            start = self._now
            self._place(dealer, lines, day_index, day)
            self._now = max(self._now, start + self._activity_step)
            yield
        if planned:
            self._immediate[0] += self.ledger.count - placed_before + receipts
            self._immediate[1] += len(planned)
        afternoon += self._agenda.pop(day_index, [[], []])[1]  # scheduled for today meanwhile
        self._start_phase(day, 16.0, 3.0, len(afternoon) + 1)
        index = 0
        while index < len(afternoon):
            start = self._now
            self._do(afternoon[index], day_index, day)
            self._now = max(self._now, start + self._activity_step)
            index += 1
            if day_index in self._agenda:  # a same-day follow-up (e.g. a shipment)
                afternoon += self._agenda.pop(day_index)[1]
            yield

    def _do(self, action: tuple, day_index: int, day: date) -> None:
        self._pending -= _COST[action[0]]
        getattr(self, f"_on_{action[0]}")(day_index, day, *action[1:])

    def _top_up(self) -> Iterator[None]:
        """The last afternoon's late orders fill what is left of the budget exactly; the very
        last few events are goods receipts at the central warehouse."""
        spec = self.spec
        day_index = spec.days - 1
        day = spec.end_date
        self._start_phase(day, 19.0, 4.0, max(1, (spec.events - self.ledger.count) // 4))
        while spec.events - self.ledger.count >= 6:
            dealer, lines = self._plan_order()
            start = self._now
            self._place(dealer, lines, day_index, day)
            self._now = max(self._now, start + self._activity_step)
            yield
        while self.ledger.count < spec.events:
            product = self.rng.choice(self.popular[:50])
            lines = {product.sku: 6 * self.rng.randint(20, 100)}
            self._receive("WH-CENTRAL", day, lines, self.central_clerk)
            yield

    # -- orders ------------------------------------------------------------------------------
    def _plan_order(self) -> tuple[_Dealer, dict[str, int]]:
        rng = self.rng
        eligible = bisect.bisect_right(self._join_days, self._today)
        total = self._dealer_cum[eligible - 1]
        dealer = self.dealers[
            bisect.bisect_right(self._dealer_cum, rng.random() * total, 0, eligible - 1)
        ]
        grade = GRADES[dealer.grade]
        wanted = min(rng.randint(*grade.lines), len(self.products))
        lines: dict[str, int] = {}
        top = self._sku_cum[-1]
        while len(lines) < wanted:
            index = bisect.bisect_right(self._sku_cum, rng.random() * top)
            product = self.popular[min(index, len(self.popular) - 1)]
            if product.sku not in lines:
                lines[product.sku] = 6 * rng.randint(*grade.cases)
        return dealer, lines

    def _place(self, dealer: _Dealer, requested: dict[str, int], day_index: int, day: date) -> None:
        rng = self.rng
        catalogue = self.catalogue
        lines = []
        for sku, quantity in requested.items():
            product = catalogue[sku]
            price = product.prices[dealer.grade]
            lines.append(
                ords.PlacedLine.at(
                    sku=sku, category=product.category, quantity=quantity, unit_price=price
                )
            )
        total = cny(sum((line.amount for line in lines), ZERO))
        order_id = self._uuid()
        order = _Order(
            order_id=order_id,
            reservation_id=str(OrderReservation.create_id(order_id)),
            dealer=dealer,
            warehouse=dealer.branch.warehouse,
            lines=lines,
            total=total,
            remaining=dict(requested),
        )
        staff = self.staff[dealer.branch.code]
        placer = (
            staff["clerk"] if rng.random() < 0.7 else (f"{dealer.name} (dealer)", "dealer", None)
        )
        data = ords.OrderPlaced(
            order_id=order.order_id,
            dealer_id=dealer.dealer_id,
            dealer_code=dealer.code,
            branch=dealer.branch.code,
            region=dealer.branch.region,
            business_date=day,
            lines=lines,
            total=total,
        )
        self._emit("orders", order_id, data, self._by(placer))
        # The orders process manager hears finance first, then inventory.
        self._reserve_credit(order)
        shortages = self._reserve_stock(order)
        if shortages:
            detail = f"{order.warehouse}: " + ", ".join(
                f"{s.sku}: {s.requested} requested, {s.available} available" for s in shortages
            )
            rejected = ords.OrderRejected(
                order_id=order.order_id,
                dealer_code=dealer.code,
                reason="insufficient_stock",
                detail=detail,
            )
            self._emit("orders", order.order_id, rejected)
            self._release_credit(order)
            return
        if order.credit == "reserved":
            self._decide(order, day_index)
        else:
            self._schedule(day_index + rng.randint(1, 3), ("hold", order))

    def _reserve_credit(self, order: _Order) -> None:
        dealer = order.dealer
        exposure = dealer.receivables + dealer.reserved_total
        if exposure + order.total <= dealer.limit:
            data = fin.CreditReserved(
                order_id=order.order_id,
                dealer_code=dealer.code,
                amount=order.total,
                exposure=exposure + order.total,
                credit_limit=dealer.limit,
                override=False,
            )
            dealer.reserved[order.order_id] = order.total
            dealer.reserved_total += order.total
            order.credit = "reserved"
            self._emit("finance", dealer.account_id, data)
        else:
            data = fin.CreditRefused(
                order_id=order.order_id,
                dealer_code=dealer.code,
                amount=order.total,
                exposure=exposure,
                credit_limit=dealer.limit,
                shortfall=exposure + order.total - dealer.limit,
            )
            dealer.held[order.order_id] = order.total
            order.credit = "refused"
            self._emit("finance", dealer.account_id, data)

    def _reserve_stock(self, order: _Order) -> list[inv.Shortage]:
        """Every line at the warehouse serving the dealer's branch, or nothing."""
        warehouse = order.warehouse
        shortages = []
        for sku, quantity in order.remaining.items():
            item = self.stock.get((warehouse, sku))
            available = item[0] - item[1] if item else 0
            if quantity > available:
                shortages.append(inv.Shortage(sku=sku, requested=quantity, available=available))
        reservation_id = order.reservation_id
        if shortages:
            order.stock = "short"
            data = inv.StockShortage(
                order_id=order.order_id, warehouse_code=warehouse, shortages=shortages
            )
            self._emit("inventory", reservation_id, data)
            return shortages
        for sku, quantity in order.remaining.items():
            self.stock[(warehouse, sku)][1] += quantity
        order.stock = "reserved"
        data = inv.StockReserved(
            order_id=order.order_id, warehouse_code=warehouse, lines=_lines(order.remaining)
        )
        self._emit("inventory", reservation_id, data)
        return []

    def _decide(self, order: _Order, day_index: int) -> None:
        """Credit and stock reserved: approved, or above the threshold a manager decides."""
        if order.total > self.spec.approval_threshold:
            self._schedule(day_index + self.rng.choice((0, 1, 1, 2)), ("decide", order))
        else:
            self._approve(order, day_index, None)

    def _approve(self, order: _Order, day_index: int, manager: Provenance | None) -> None:
        rng = self.rng
        data = ords.OrderApproved(
            order_id=order.order_id,
            dealer_code=order.dealer.code,
            branch=order.dealer.branch.code,
            total=order.total,
            manager_approval=manager is not None,
        )
        self._emit("orders", order.order_id, data, manager)
        if rng.random() < 0.008:
            self._schedule(day_index + rng.randint(0, 1), ("cancel", order))
            return
        ship_day = day_index + rng.choices((0, 1, 2, 3), (2, 5, 2, 1))[0]
        if rng.random() < 0.15 and any(q > 6 for q in order.remaining.values()):
            first = {sku: q // 2 for sku, q in order.remaining.items() if q // 2 > 0}
            self._schedule(ship_day, ("ship", order, first))
            self._schedule(ship_day + rng.randint(2, 10), ("ship", order, None))
        else:
            self._schedule(ship_day, ("ship", order, None))

    def _on_decide(self, day_index: int, day: date, order: _Order) -> None:
        manager = self._by(self.staff[order.dealer.branch.code]["manager"])
        if self.rng.random() < 0.9:
            self._approve(order, day_index, manager)
        else:
            self._end(order, "rejected_by_manager", "above the dealer's usual volume", manager)

    def _on_hold(self, day_index: int, day: date, order: _Order) -> None:
        """Credit hold: a credit controller overrides, a manager rejects, or it waits."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.6:
            dealer = order.dealer
            amount = dealer.held.pop(order.order_id)
            exposure = dealer.receivables + dealer.reserved_total
            dealer.reserved[order.order_id] = amount
            dealer.reserved_total += amount
            order.credit = "reserved"
            data = fin.CreditReserved(
                order_id=order.order_id,
                dealer_code=dealer.code,
                amount=amount,
                exposure=exposure + amount,
                credit_limit=dealer.limit,
                override=True,
            )
            controller = self._by(self.controller)
            self._emit("finance", dealer.account_id, data, controller)
            self._decide(order, day_index)
        elif draw < 0.9:
            manager = self._by(self.staff[order.dealer.branch.code]["manager"])
            self._end(order, "rejected_by_manager", "overdue receivables to settle first", manager)
        # else: it stays on credit hold past the end date, its stock still reserved

    def _on_cancel(self, day_index: int, day: date, order: _Order) -> None:
        staff = self.staff[order.dealer.branch.code]
        self._end(order, "", self.rng.choice(CANCEL_REASONS), self._by(staff["clerk"]))

    def _end(self, order: _Order, reason: str, detail: str, by: Provenance) -> None:
        """Rejected (``reason``) or, without one, cancelled (``detail`` the clerk's reason);
        inventory releases the stock, finance the credit (or drops the hold)."""
        if reason:
            data: IntegrationEvent = ords.OrderRejected(
                order_id=order.order_id, dealer_code=order.dealer.code, reason=reason, detail=detail
            )
        else:
            data = ords.OrderCancelled(
                order_id=order.order_id, dealer_code=order.dealer.code, reason=detail
            )
        self._emit("orders", order.order_id, data, by)
        if order.stock == "reserved":
            released = {}
            for sku, quantity in order.remaining.items():
                self.stock[(order.warehouse, sku)][1] -= quantity
                released[sku] = quantity
            order.stock = "released"
            data = inv.StockReleased(
                order_id=order.order_id,
                warehouse_code=order.warehouse,
                lines=_lines(released),
                reason=reason or detail,
            )
            self._emit("inventory", order.reservation_id, data)
        self._release_credit(order)

    def _release_credit(self, order: _Order) -> None:
        dealer = order.dealer
        if order.order_id in dealer.reserved:
            amount = dealer.reserved.pop(order.order_id)
            dealer.reserved_total -= amount
            data = fin.CreditReleased(
                order_id=order.order_id, dealer_code=dealer.code, amount=amount
            )
            self._emit("finance", dealer.account_id, data)
        else:
            dealer.held.pop(order.order_id, None)  # HoldDropped: stays inside finance

    # -- stock -------------------------------------------------------------------------------
    def _replenish(self, day: date, planned: list[tuple[_Dealer, dict[str, int]]]) -> None:
        """入库 before the day's orders: each warehouse receives what its orders will need,
        with a lot on top; now and then a SKU does not come in time (a shortage)."""
        rng = self.rng
        needs: dict[str, dict[str, int]] = {}
        for dealer, lines in planned:
            wanted = needs.setdefault(dealer.branch.warehouse, {})
            for sku, quantity in lines.items():
                wanted[sku] = wanted.get(sku, 0) + quantity
        for warehouse, wanted in needs.items():
            lines = {}
            for sku, quantity in wanted.items():
                item = self.stock.get((warehouse, sku))
                available = item[0] - item[1] if item else 0
                if available < quantity and rng.random() < 0.985:
                    lines[sku] = quantity - available + 6 * rng.randint(10, 80)
            if lines:
                self._receive(warehouse, day, lines, self.warehouse_clerk[warehouse])

    def _receive(self, warehouse: str, day: date, lines: dict[str, int], clerk) -> None:
        """入库 at cost: each line at its SKU's unit cost, a little off from one receipt to
        the next (a drawing of its own, so the business stays what the seed makes it)."""
        stock, catalogue, drift = self.stock, self.catalogue, self._cost_rng.choice
        items = sorted(lines.items())
        for start in range(0, len(items), 60):
            received = []
            total = ZERO
            for sku, quantity in items[start : start + 60]:
                unit_cost = cny(catalogue[sku].unit_cost * drift(_COST_DRIFT))
                value = line_amount(quantity, unit_cost)
                item = stock.get((warehouse, sku))
                if item is None:
                    item = stock[(warehouse, sku)] = [0, 0, ZERO]  # opened
                item[0] += quantity
                item[2] += value
                total += value
                received.append(
                    inv.ReceivedLine(sku=sku, quantity=quantity, unit_cost=unit_cost, value=value)
                )
            receipt_id = self._uuid()
            data = inv.GoodsReceived(
                receipt_id=receipt_id,
                warehouse_code=warehouse,
                business_date=day,
                lines=received,
                value=total,
            )
            self._emit("inventory", receipt_id, data, self._by(clerk))

    def _safety(self, warehouse: str, sku: str, quantity: int) -> None:
        data = inv.SafetyStockSet(warehouse_code=warehouse, sku=sku, quantity=quantity)
        subject = str(StockItem.create_id(warehouse, sku))
        self._emit("inventory", subject, data, self._by(self.hq))

    def _on_safety(self, day_index: int, day: date, warehouse: str, sku: str, qty: int) -> None:
        self._safety(warehouse, sku, qty)

    def _on_join(self, day_index: int, day: date, dealer: _Dealer) -> None:
        self._register(dealer)

    # -- fulfilment and cash -----------------------------------------------------------------
    def _on_ship(self, day_index: int, day: date, order: _Order, part: dict | None) -> None:
        rng = self.rng
        whole = part is None and order.remaining == {
            line.sku: line.quantity for line in order.lines
        }
        stock, warehouse, remaining = self.stock, order.warehouse, order.remaining
        lines = remaining if part is None else part  # sorted below, before it changes
        shipped = []
        total = ZERO
        for sku, quantity in sorted(lines.items()):
            if quantity <= 0:
                continue
            item = stock[(warehouse, sku)]
            on_hand, value = item[0], item[2]
            # At the moving weighted average cost (StockItem.cost_of); the last ones out
            # take what value is left.
            cost = value if quantity >= on_hand else cny(value * quantity / on_hand)
            item[0] = on_hand - quantity
            item[1] -= quantity
            item[2] = value - cost
            remaining[sku] -= quantity
            total += cost
            shipped.append(inv.ShippedLine(sku=sku, quantity=quantity, cost=cost))
        shipment = self._uuid()
        staff = self.staff[order.dealer.branch.code]
        clerk = self.warehouse_clerk[order.warehouse]
        data = inv.ShipmentDispatched(
            shipment_id=shipment,
            order_id=order.order_id,
            dealer_code=order.dealer.code,
            warehouse_code=order.warehouse,
            ship_date=day,
            lines=shipped,
            cost=total,
            order_complete=not any(remaining.values()),
        )
        self._emit("inventory", shipment, data, self._by(clerk))
        invoice = self._invoice(order, shipment, data.lines, day, whole)
        # The dealer confirms delivery within days; a few never do.
        if rng.random() < 0.97:
            deliverer = (
                (f"{order.dealer.name} (dealer)", "dealer", None)
                if rng.random() < 0.6
                else staff["clerk"]
            )
            delivery = ("deliver", order.order_id, order.dealer.code, shipment, deliverer)
            self._schedule(day_index + rng.randint(1, 6), delivery)
        self._plan_payments(invoice, day_index)
        if rng.random() < 0.015:
            self._schedule(day_index + rng.randint(2, 45), ("credit_note", invoice))

    def _invoice(
        self,
        order: _Order,
        shipment_id: str,
        shipped: list[inv.ShippedLine],
        day: date,
        whole: bool,
    ) -> _Invoice:
        """Finance invoices what shipped at the order's prices, due after the dealer's terms;
        the receivable replaces that much reserved credit; rebate accrues."""
        dealer = order.dealer
        invoice_id = str(Invoice.create_id(shipment_id))
        if whole:  # the whole order at once: its own lines, in the shipment's (SKU) order
            lines = [
                OrderLine(**line.model_dump(include=set(OrderLine.model_fields)))
                for line in sorted(order.lines, key=lambda line: line.sku)
            ]
        else:
            prices = {line.sku: line for line in order.lines}
            lines = []
            for line in shipped:
                priced = prices[line.sku]
                lines.append(
                    OrderLine(
                        sku=line.sku,
                        category=priced.category,
                        quantity=line.quantity,
                        unit_price=priced.unit_price,
                        amount=cny(priced.unit_price * line.quantity),
                    )
                )
        total = cny(sum((line.amount for line in lines), ZERO))
        due = day + timedelta(days=dealer.terms)
        data = fin.InvoiceIssued(
            invoice_id=invoice_id,
            invoice_number=f"INV-{day:%Y%m%d}-{invoice_id[:8].upper()}",
            dealer_code=dealer.code,
            order_id=order.order_id,
            shipment_id=shipment_id,
            issue_date=day,
            due_date=due,
            lines=lines,
            total=total,
        )
        self._emit("finance", invoice_id, data)
        policies = self._policies_of(dealer, day)
        invoice = _Invoice(
            invoice_id=invoice_id,
            dealer=dealer,
            unit_prices=tuple(line.unit_price for line in order.lines),
            issue_date=day,
            due_date=due,
            total=total,
            open=total,
            sequence=dealer.invoices_posted,
            policies=policies,
        )
        # The account: the receivable replaces that much reserved credit.
        reserved = dealer.reserved.get(order.order_id)
        if reserved is not None:
            used = min(reserved, total)
            dealer.reserved_total -= used
            if reserved - used > 0:
                dealer.reserved[order.order_id] = reserved - used
            else:
                del dealer.reserved[order.order_id]
        dealer.open_invoices[invoice.invoice_id] = invoice
        dealer.invoices_posted += 1
        dealer.receivables += total
        for code, rate in policies:
            self._accrue(dealer, code, rate, invoice.invoice_id, day, total)
        return invoice

    def _policies_of(self, dealer: _Dealer, day: date) -> list[tuple[str, Decimal]]:
        """The rebate policies covering the dealer on ``day``, by code (the policy book's
        order); policies run by calendar year."""
        key = (dealer.code, day.year)
        found = self._covering.get(key)
        if found is None:
            found = self._covering[key] = [
                (p.code, p.rate)
                for p in self.policies
                if p.valid_from <= day <= p.valid_to
                and (p.dealer_code == dealer.code if p.dealer_code else p.grade == dealer.grade)
            ]
        return found

    def _accrue(
        self, dealer: _Dealer, code: str, rate: Decimal, document: str, day: date, base: Decimal
    ) -> None:
        """Rebate so that a policy's accrual is always rate x its net sales, to the fen."""
        covered = dealer.rebate_base.get(code, ZERO) + base
        amount = cny(covered * rate) - dealer.rebate_accrued.get(code, ZERO)
        dealer.rebate_base[code] = covered
        dealer.rebate_accrued[code] = dealer.rebate_accrued.get(code, ZERO) + amount
        data = fin.RebateAccrued(
            dealer_code=dealer.code,
            policy_code=code,
            document_id=document,
            business_date=day,
            base=base,
            amount=amount,
        )
        self._emit("finance", dealer.account_id, data)

    def _on_deliver(
        self, day_index: int, day: date, order_id: str, dealer_code: str, shipment: str, by
    ) -> None:
        data = inv.DeliveryConfirmed(
            shipment_id=shipment, order_id=order_id, dealer_code=dealer_code, delivered_on=day
        )
        self._emit("inventory", shipment, data, self._by(by))

    def _plan_payments(self, invoice: _Invoice, issued: int) -> None:
        """When the dealer will pay (回款), by its habits: prompt payers before the due date,
        slow ones within a month after it, late ones months after (often in two parts),
        bad ones often never; now and then an invoice is disputed and stays open."""
        rng = self.rng
        terms = invoice.dealer.terms
        due = issued + terms
        profile = invoice.dealer.profile
        if rng.random() < 0.02:
            return
        if profile == "prompt":
            day = max(issued + 1, due - rng.randint(0, min(10, max(terms - 1, 0))))
            parts = [(day, None)]
        elif profile == "slow":
            parts = [(due + rng.randint(1, 30), None)]
        elif profile == "late":
            day = due + rng.randint(20, 110)
            parts = [(day, None)]
            if rng.random() < 0.3:
                parts = [(due + rng.randint(0, 19), Decimal("0.5")), (day, None)]
        else:
            if rng.random() < 0.45:
                return
            parts = [(due + rng.randint(60, 200), None)]
        for day, share in parts:
            self._schedule(day, ("pay", invoice, share))

    def _on_pay(self, day_index: int, day: date, invoice: _Invoice, share: Decimal | None) -> None:
        rng = self.rng
        dealer = invoice.dealer
        if invoice.open <= 0:
            return  # settled meanwhile (another receipt, a credit note)
        due = invoice.open if share is None else min(invoice.open, cny(invoice.total * share))
        if dealer.profile in ("prompt", "slow") and rng.random() < 0.4:
            # A round sum, allocated by finance to the oldest open invoices first; what is
            # left over stays on account (unapplied).
            step = Decimal(1000) if rng.random() < 0.5 else Decimal(100)
            amount = cny(math.ceil(due / step) * step)
            allocations = {}
            left = amount
            for item in sorted(
                dealer.open_invoices.values(), key=lambda i: (i.due_date, i.issue_date, i.sequence)
            ):
                if left <= 0:
                    break
                part = min(left, item.open)
                allocations[item.invoice_id] = part
                left -= part
        else:
            amount = due
            if rng.random() < 0.08:
                amount = cny(math.ceil(due / 1000) * 1000)  # rounded up: the rest on account
            allocations = {invoice.invoice_id: due}
        unapplied = amount - sum(allocations.values(), ZERO)
        receipt = self._uuid()
        staff = self.staff[dealer.branch.code]
        data = fin.ReceiptRecorded(
            receipt_id=receipt,
            dealer_code=dealer.code,
            amount=amount,
            received_on=day,
            allocations=[fin.Allocation(invoice_id=i, amount=a) for i, a in allocations.items()],
            unapplied=unapplied,
        )
        self._emit("finance", receipt, data, self._by(staff["clerk"]))
        for invoice_id, part in allocations.items():
            self._reduce(dealer, invoice_id, part)
        dealer.receivables -= amount

    def _reduce(self, dealer: _Dealer, invoice_id: str, amount: Decimal) -> None:
        item = dealer.open_invoices[invoice_id]
        item.open -= amount
        if item.open <= 0:
            del dealer.open_invoices[invoice_id]

    def _on_credit_note(self, day_index: int, day: date, invoice: _Invoice) -> None:
        rng = self.rng
        if invoice.open <= 0:
            return
        reason = rng.choice(CREDIT_NOTE_REASONS)
        if reason in ("breakage in transit", "short delivery"):
            amount = rng.choice(invoice.unit_prices) * rng.randint(1, 6)
        else:
            amount = cny(invoice.total * rng.choice((Decimal("0.02"), Decimal("0.05"))))
        amount = min(amount, invoice.open)
        if amount <= 0:
            return
        dealer = invoice.dealer
        note = self._uuid()
        data = fin.CreditNoteIssued(
            credit_note_id=note,
            dealer_code=dealer.code,
            invoice_id=invoice.invoice_id,
            amount=amount,
            issued_on=day,
            reason=reason,
            return_id=None,
            lines=[],
            allocations=[fin.Allocation(invoice_id=invoice.invoice_id, amount=amount)],
            unapplied=ZERO,
        )
        self._emit("finance", note, data, self._by(self.controller))
        self._reduce(dealer, invoice.invoice_id, amount)
        dealer.receivables -= amount
        # The credit note gives back its share of what the invoice accrued.
        for code, rate in invoice.policies:
            self._accrue(dealer, code, rate, note, day, -amount)


def _ignore(data: Any) -> None:
    pass


def _lines(quantities: dict[str, int]) -> list[Line]:
    return [Line(sku=sku, quantity=q) for sku, q in sorted(quantities.items())]


def _cumulative(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


# -- publishing -------------------------------------------------------------------------------
# Bulk load: large batches and a little linger. One request in flight per connection keeps
# each partition's (each aggregate's) order under retries. acks stays "all" (the platform's
# default): on the embedded broker acks=1 measured no faster.
BULK_PRODUCER: dict[str, Any] = {
    "acks": "all",
    "linger_ms": 20,
    "batch_size": 512 * 1024,
    "max_request_size": 4 * 1024 * 1024,
    "max_in_flight_requests_per_connection": 1,
    "client_id": "dist-dataset",
}
CHUNK = 2_000  # records per hand-over to the sender process
CHECK_EVERY = 1_000  # after the first CHECK_EVERY records, one in CHECK_EVERY


def encode(envelope: Envelope, index: int) -> bytes:
    """The envelope's Kafka value: the bytes the relay sends (``envelope.model_dump_json()``),
    byte for byte the same as ``kafka.encode(envelope.model_dump(mode="json"))`` and four
    times cheaper; checked against that on a sample."""
    value = envelope.model_dump_json().encode()
    if index < CHECK_EVERY or index % CHECK_EVERY == 0:
        from runtime import kafka

        if value != kafka.encode(envelope.model_dump(mode="json")):
            raise DatasetError(f"{envelope.type} encodes differently from the relay's bytes")
    return value


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _sender_main() -> None:
    """The sender process (``python -c``, argv: producer config as JSON, bootstrap servers):
    ``producer.send`` of the length-prefixed pickled chunks on stdin, in order, until an
    empty one; then one JSON line on stdout: records sent, the first error, its peak RSS."""
    from runtime import kafka
    from runtime.settings import Settings

    config, bootstrap_servers = json.loads(sys.argv[1]), sys.argv[2]
    stdin = sys.stdin.buffer
    failures: list[BaseException] = []
    sent = 0
    try:
        producer = kafka.producer(Settings(kafka_bootstrap_servers=bootstrap_servers), **config)
        try:
            while not failures:
                header = stdin.read(4)
                size = struct.unpack("<I", header)[0] if len(header) == 4 else 0
                if size == 0:
                    break
                chunk = pickle.loads(stdin.read(size))  # noqa: S301 - from our parent
                for topic, key, value in chunk:
                    producer.send(topic, key=key, value=value).add_errback(failures.append)
                sent += len(chunk)
            producer.flush()
        finally:
            producer.close()
    except BaseException as error:  # noqa: BLE001 - reported to the parent, which raises
        failures.append(error)
    answer = {
        "sent": sent,
        "error": repr(failures[0]) if failures else None,
        "peak_rss_mb": peak_rss_mb(),
    }
    print(json.dumps(answer), flush=True)


def _start_sender(bootstrap_servers: str, config: dict[str, Any]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bench.dataset import _sender_main; _sender_main()",
            json.dumps(config),
            bootstrap_servers,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPOSITORY,
    )


def publish_dataset(
    settings,
    *,
    events: int = 1_000_000,
    seed: int = 7,
    end_date: date = date(2026, 11, 20),
    dealers: int = 5_000,
    skus: int = 2_000,
    warehouses: int = 50,
    days: int = 365,
    progress: bool = True,
    producer_overrides: dict[str, Any] | None = None,
) -> Truth:
    """Generate the dataset and publish it to ``settings.topic(service)`` of each service,
    as the relays would (key = the subject, value = the envelope's JSON); return the
    ``Truth`` with ``publish`` filled in (throughput, peak RSS).

    The generator runs here; ``producer.send`` (as costly as generating) runs in a sender
    process fed through a pipe, in order, so the two share the work of two cores.
    ``producer_overrides`` (JSON values) go over ``BULK_PRODUCER``."""
    from runtime import kafka

    spec = DatasetSpec(
        events=events,
        seed=seed,
        end_date=end_date,
        dealers=dealers,
        skus=skus,
        warehouses=warehouses,
        days=days,
        approval_threshold=settings.order_approval_threshold,
    )
    dataset = Dataset(spec, topic_of=settings.topic)
    admin = kafka.admin(settings)
    try:
        for service in SERVICES:
            kafka.ensure_topic(admin, settings.topic(service), settings)
    finally:
        admin.close()
    config = {**BULK_PRODUCER, **(producer_overrides or {})}
    started = time.perf_counter()
    sender = _start_sender(settings.bootstrap_servers(), config)
    assert sender.stdin is not None and sender.stdout is not None
    bar = _progress_bar(events, progress)
    count = size = 0
    chunk: list[tuple[str, bytes, bytes]] = []

    def hand_over(records: list[tuple[str, bytes, bytes]]) -> None:
        data = pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
        sender.stdin.write(struct.pack("<I", len(data)))
        sender.stdin.write(data)

    try:
        try:
            for topic, envelope in dataset.records():
                value = encode(envelope, count)
                chunk.append((topic, envelope.subject.encode(), value))
                count += 1
                size += len(value)
                if len(chunk) == CHUNK:
                    hand_over(chunk)
                    chunk = []
                    if bar is not None:
                        bar.update(CHUNK)
            if chunk:
                hand_over(chunk)
            sender.stdin.write(struct.pack("<I", 0))
            sender.stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender stopped early; its answer says why
        lines = sender.stdout.read().decode().strip().splitlines()
        sender.wait(timeout=60)
    finally:
        if bar is not None:
            bar.update(count - bar.n)
            bar.close()
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    answer = json.loads(lines[-1]) if lines else {"sent": 0, "error": None, "peak_rss_mb": 0}
    if answer["error"] is not None or answer["sent"] != count:
        raise RuntimeError(
            f"publishing failed after {answer['sent']:,} of {count:,} events: "
            f"{answer['error'] or f'the sender exited with {sender.returncode}'}"
        )
    seconds = time.perf_counter() - started
    truth = dataset.truth
    assert truth is not None
    truth.publish = PublishStats(
        events=count,
        bytes=size,
        seconds=round(seconds, 2),
        events_per_s=round(count / seconds, 1),
        peak_rss_mb=round(peak_rss_mb(), 1),
        sender_peak_rss_mb=round(answer["peak_rss_mb"], 1),
        producer={k: v for k, v in config.items() if k != "client_id"},
    )
    return truth


def generate(spec: DatasetSpec, *, progress: bool = False) -> Truth:
    """Generate and encode (as publishing would), without a broker: the truth alone."""
    dataset = Dataset(spec)
    bar = _progress_bar(spec.events, progress)
    count = 0
    for _topic, envelope in dataset.records():
        encode(envelope, count)
        count += 1
        if bar is not None and count % CHUNK == 0:
            bar.update(CHUNK)
    if bar is not None:
        bar.update(count - bar.n)
        bar.close()
    assert dataset.truth is not None
    return dataset.truth


def _progress_bar(total: int, wanted: bool) -> Any:
    if not wanted:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # no progress bar without tqdm
        return None
    return tqdm(total=total, unit="ev", unit_scale=True, desc="dataset", smoothing=0.1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.dataset",
        description="Publish a national company's year of integration events (read-model "
        "benchmarks) into the configured namespace's topics; print the truth.",
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 11, 20))
    parser.add_argument("--dealers", type=int, default=5_000)
    parser.add_argument("--skus", type=int, default=2_000)
    parser.add_argument("--warehouses", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--dry-run", action="store_true", help="generate and encode only, publish nothing"
    )
    parser.add_argument(
        "--producer",
        type=json.loads,
        default=None,
        help='producer overrides as JSON, e.g. \'{"acks": 1, "linger_ms": 5}\'',
    )
    args = parser.parse_args(argv)
    common = {
        "events": args.events,
        "seed": args.seed,
        "end_date": args.end_date,
        "dealers": args.dealers,
        "skus": args.skus,
        "warehouses": args.warehouses,
        "days": args.days,
    }
    started = time.perf_counter()
    if args.dry_run:
        truth = generate(DatasetSpec(**common), progress=not args.no_progress)
        seconds = time.perf_counter() - started
        print(
            f"generated {truth.events:,} events in {seconds:.1f} s "
            f"({truth.events / seconds:,.0f} events/s), peak RSS {peak_rss_mb():.0f} MB"
        )
    else:
        from runtime.settings import Settings

        settings = Settings()
        truth = publish_dataset(
            settings, progress=not args.no_progress, producer_overrides=args.producer, **common
        )
        stats = truth.publish
        assert stats is not None
        print(
            f"published {stats.events:,} events ({stats.bytes / 1e6:,.0f} MB) to "
            f"{settings.kafka_namespace}.*.events in {stats.seconds:.1f} s: "
            f"{stats.events_per_s:,.0f} events/s; peak RSS {stats.peak_rss_mb:.0f} MB "
            f"(generator), {stats.sender_peak_rss_mb:.0f} MB (sender)"
        )
    print(json.dumps(truth.as_dict(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
