"""The fixed monthly reports, from the read models, for a month and a scope (the nation, a
region, a branch or a dealer): 进销存 (stock in, out and on hand per warehouse and SKU, in
units and at cost), receivables (the dealer statement of account and AR aging), sales against
target, and rebate pools. Each figure is the query API's for the same scope and date: the
reports call the same queries (as of the day before the month and as of its last day) or,
for the stock movements the query API does not break down by kind and value, sum the
inventory read model's valued movements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select

from projections.inventory.projection import valued_movements, warehouses
from projections.receivables.projection import dealers
from projections.receivables.queries import (
    BUCKETS,
    DealerFilter,
    Level,
    aging,
    rebate_pools,
    receivables_summary,
)
from projections.sales.queries import Period, SalesDimension, SalesFilter, sales_summary
from projections.targets.queries import LEVELS, branch_attainment, month_range
from services.kernel.money import cny

ZERO = Decimal("0.00")
PAGE = 1000


class ReportKind(StrEnum):
    INVENTORY = "inventory"  # 进销存月报
    RECEIVABLES = "receivables"  # 对账单 and 账龄
    SALES = "sales"  # 销售月报 against target
    REBATES = "rebates"  # 返利池


# The read models each report reads (for read-your-writes waits).
READ_MODELS = {
    ReportKind.INVENTORY: ("inventory",),
    ReportKind.RECEIVABLES: ("receivables",),
    ReportKind.SALES: ("sales", "targets"),
    ReportKind.REBATES: ("receivables",),
}


class ColumnType(StrEnum):
    TEXT = "text"
    QUANTITY = "quantity"
    MONEY = "money"
    UNIT_COST = "unit_cost"  # money per unit, not summed
    RATIO = "ratio"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType = ColumnType.MONEY

    @property
    def summed(self) -> bool:
        return self.type in (ColumnType.QUANTITY, ColumnType.MONEY)


@dataclass(frozen=True)
class Scope:
    """Whose figures: all of them (HQ), a region's, a branch's or a dealer's."""

    branch: str | None = None
    region: str | None = None
    dealer: str | None = None

    @property
    def label(self) -> str:
        return self.dealer or self.branch or self.region or "CN"

    def dealer_filter(self) -> DealerFilter:
        return DealerFilter(self.dealer, self.branch, self.region)


@dataclass
class Report:
    kind: ReportKind
    month: str
    scope: Scope
    columns: list[Column]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.totals = {
            c.name: sum((row[c.name] for row in self.rows if row[c.name] is not None), ZERO)
            if c.type == ColumnType.MONEY
            else sum(row[c.name] or 0 for row in self.rows)
            for c in self.columns
            if c.summed
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "month": self.month,
            "scope": {
                "branch": self.scope.branch,
                "region": self.scope.region,
                "dealer": self.scope.dealer,
            },
            "columns": [{"name": c.name, "type": c.type.value} for c in self.columns],
            "items": [{c.name: shown(c, row[c.name]) for c in self.columns} for row in self.rows],
            "totals": {name: shown(self._column(name), v) for name, v in self.totals.items()},
        }

    def _column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def shown(column: Column, value: Any) -> Any:
    """A cell as the query API answers it: money a decimal string with two places."""
    if value is None:
        return None
    if column.type in (ColumnType.MONEY, ColumnType.UNIT_COST):
        return f"{Decimal(value):.2f}"
    return value


def _month(month: str) -> tuple[date | None, date]:
    """The day before the month (None before 0001-01-01) and its last day."""
    first, last = month_range(month)
    return (None if first == date.min else first - timedelta(days=1)), last


def _every(query: Callable, conn: Connection, **params) -> Iterator[dict[str, Any]]:
    """Every row of a paginated query."""
    cursor = None
    while True:
        rows, cursor = query(conn, limit=PAGE, cursor=cursor, **params)
        yield from rows
        if cursor is None:
            return


def _per_dealer(query: Callable, conn: Connection, scope: Scope, as_of: date | None) -> dict:
    if as_of is None:
        return {}
    rows = _every(query, conn, by=Level.DEALER, where=scope.dealer_filter(), as_of=as_of)
    return {row["dealer"]: row for row in rows}


# -- 进销存 --------------------------------------------------------------------------------

# Report column: the movement kinds it sums, and the sign that shows it positive.
_FLOWS = {
    "received": (("receipt", "opening"), 1),
    "shipped": (("shipment", "sell_through"), -1),
    "transfer_in": (("transfer_in",), 1),
    "transfer_out": (("transfer_out",), -1),
    "returned": (("return",), 1),
    "written_off": (("write_off",), -1),
    "adjusted": (("stocktake",), 1),  # 盘点 variances, gains positive
}


def inventory_report(conn: Connection, *, month: str, scope: Scope) -> Report:
    """进销存月报 per warehouse and SKU: opening quantity and value, what came in and went
    out by kind (units and value at cost), units newly damaged, and closing quantity and value
    with its moving average unit cost. closing = opening + received - shipped + transfer_in -
    transfer_out + returned - written_off + adjusted, in units and in value. Shipped counts
    consignment stock a dealer reported sold; received counts opening stock at a cut-over."""
    first, last = month_range(month)
    m = valued_movements.c
    in_month = m.business_date >= first

    def total(column, *conditions):
        return func.coalesce(func.sum(column).filter(*conditions), 0)

    figures = [
        total(m.quantity, m.business_date < first).label("opening_quantity"),
        total(m.value, m.business_date < first).label("opening_value"),
    ]
    for name, (kinds, sign) in _FLOWS.items():
        flow = and_(in_month, m.kind.in_(kinds))
        figures.append((sign * total(m.quantity, flow)).label(f"{name}_quantity"))
        figures.append((sign * total(m.value, flow)).label(f"{name}_value"))
    figures += [
        total(m.damaged, in_month, m.damaged > 0).label("damaged_quantity"),
        total(m.quantity).label("closing_quantity"),
        total(m.value).label("closing_value"),
    ]
    conditions = [m.business_date <= last]
    for value, column in (
        (scope.branch, warehouses.c.branch),
        (scope.region, warehouses.c.region),
        (scope.dealer, warehouses.c.dealer_code),
    ):
        if value:
            conditions.append(column == value)
    query = (
        select(m.warehouse_code, m.sku, *figures)
        .select_from(valued_movements.outerjoin(warehouses, warehouses.c.code == m.warehouse_code))
        .where(*conditions)
        .group_by(m.warehouse_code, m.sku)
        .having(
            or_(
                func.count().filter(in_month) > 0,
                func.sum(m.quantity) != 0,
                func.coalesce(func.sum(m.value), 0) != 0,
            )
        )
        .order_by(m.warehouse_code, m.sku)
    )
    columns = [Column("warehouse", ColumnType.TEXT), Column("sku", ColumnType.TEXT)]
    for name in ("opening", *_FLOWS):
        columns += [Column(f"{name}_quantity", ColumnType.QUANTITY), Column(f"{name}_value")]
    columns.insert(
        columns.index(Column("written_off_quantity", ColumnType.QUANTITY)),
        Column("damaged_quantity", ColumnType.QUANTITY),
    )
    columns += [
        Column("closing_quantity", ColumnType.QUANTITY),
        Column("closing_value"),
        Column("average_cost", ColumnType.UNIT_COST),
    ]
    rows = []
    for row in conn.execute(query).mappings():
        values = {
            c.name: (Decimal(row[c.name]) if c.type == ColumnType.MONEY else int(row[c.name]))
            for c in columns
            if c.summed
        }
        quantity, value = values["closing_quantity"], values["closing_value"]
        rows.append(
            {
                "warehouse": row["warehouse_code"],
                "sku": row["sku"],
                **values,
                "average_cost": cny(value / quantity) if quantity > 0 else None,
            }
        )
    return Report(ReportKind.INVENTORY, month, scope, columns, rows)


# -- 对账单 and 账龄 -------------------------------------------------------------------------

_STATEMENT_FLOWS = ("invoiced", "received", "credited", "rebate_credited")


def receivables_report(conn: Connection, *, month: str, scope: Scope) -> Report:
    """Per dealer, its statement of account for the month (receivables at the start, invoiced,
    cash received, credit notes, rebate credited, receivables at the end: the query API's
    receivables as of the day before the month and as of its last day) and AR aging as of the
    month's last day (the open invoices by days past due, less unapplied cash)."""
    before, last = _month(month)
    opening = _per_dealer(receivables_summary, conn, scope, before)
    closing = _per_dealer(receivables_summary, conn, scope, last)
    aged = _per_dealer(aging, conn, scope, last)
    columns = [
        Column("dealer", ColumnType.TEXT),
        Column("opening_receivables"),
        *(Column(name) for name in _STATEMENT_FLOWS),
        Column("closing_receivables"),
        *(Column(name) for name in BUCKETS),
        Column("open_invoices"),
        Column("unapplied_cash"),
    ]
    rows = []
    for dealer in sorted(closing):
        start, end = opening.get(dealer, {}), closing[dealer]

        def change(name: str, start=start, end=end) -> Decimal:
            return Decimal(end[name]) - Decimal(start.get(name, ZERO))

        rows.append(
            {
                "dealer": dealer,
                "opening_receivables": Decimal(start.get("receivables", ZERO)),
                **{name: change(name) for name in _STATEMENT_FLOWS},
                "closing_receivables": Decimal(end["receivables"]),
                **{
                    name: Decimal(aged[dealer][name])
                    for name in (*BUCKETS, "open_invoices", "unapplied_cash")
                },
            }
        )
    return Report(ReportKind.RECEIVABLES, month, scope, columns, rows)


# -- sales against target -------------------------------------------------------------------

SALES_DIMENSIONS = (
    SalesDimension.BRANCH,
    SalesDimension.DEALER,
    SalesDimension.CATEGORY,
    SalesDimension.SKU,
)
_SALES_FIGURES = (
    ("invoiced_quantity", ColumnType.QUANTITY),
    ("invoiced_amount", ColumnType.MONEY),
    ("credited_amount", ColumnType.MONEY),
    ("net_sales", ColumnType.MONEY),
)


def sales_report(
    conn: Connection, *, month: str, scope: Scope, by: SalesDimension = SalesDimension.BRANCH
) -> Report:
    """Sales of the month per branch, dealer, category or SKU: invoiced (units and amount),
    credited and net (the query API's monthly sales); per branch, against the branch's
    floor, target and stretch for the month (the query API's target attainment)."""
    first, last = month_range(month)
    where = SalesFilter(first, last, scope.branch, scope.region, scope.dealer)
    sold = {
        row["key"]: row
        for row in _every(sales_summary, conn, by=by, period=Period.MONTH, where=where)
    }
    columns = [Column(by.value, ColumnType.TEXT), *(Column(n, t) for n, t in _SALES_FIGURES)]
    targets: dict[str, dict] = {}
    if by == SalesDimension.BRANCH and not scope.dealer:
        attainment = branch_attainment(conn, month=month, branch=scope.branch, region=scope.region)
        targets = {row["branch"] or "": row for row in attainment}
        columns += [Column(name) for name in LEVELS]
        columns += [Column("target_ratio", ColumnType.RATIO), Column("reached", ColumnType.TEXT)]
    rows = []
    for key in sorted(set(sold) | set(targets)):
        row = sold.get(key, {})
        figures = {
            name: (
                int(row.get(name, 0))
                if kind == ColumnType.QUANTITY
                else Decimal(row.get(name, ZERO))
            )
            for name, kind in _SALES_FIGURES
        }
        rows.append({by.value: key or None, **figures})
        if by == SalesDimension.BRANCH and not scope.dealer:
            target = targets.get(key)
            levels = {
                name: Decimal(target[name]) if target and target[name] else None for name in LEVELS
            }
            rows[-1].update(levels)
            rows[-1]["target_ratio"] = target["target_ratio"] if target else None
            rows[-1]["reached"] = target["reached"] if target else "no_target"
    return Report(ReportKind.SALES, month, scope, columns, rows)


# -- 返利池 ----------------------------------------------------------------------------------

_POOL_FLOWS = ("accrued", "settled", "claimed", "credited")


def rebates_report(conn: Connection, *, month: str, scope: Scope) -> Report:
    """Per dealer, its rebate pool over the month: available at the start (settled - claims
    awaiting a decision - credited, the query API's pool as of the day before the month),
    rebate accrued, settled at period ends, claimed (the change in claims awaiting a
    decision: filed less decided), credited against receivables, and available at the end.
    closing = opening + settled - claimed - credited; accrual reaches the pool when settled."""
    before, last = _month(month)
    opening = _per_dealer(rebate_pools, conn, scope, before)
    closing = _per_dealer(rebate_pools, conn, scope, last)
    columns = [
        Column("dealer", ColumnType.TEXT),
        Column("opening"),
        *(Column(name) for name in _POOL_FLOWS),
        Column("closing"),
    ]
    rows = []
    for dealer in sorted(closing):
        start, end = opening.get(dealer, {}), closing[dealer]
        rows.append(
            {
                "dealer": dealer,
                "opening": Decimal(start.get("available", ZERO)),
                **{
                    name: Decimal(end[name]) - Decimal(start.get(name, ZERO))
                    for name in _POOL_FLOWS
                },
                "closing": Decimal(end["available"]),
            }
        )
    return Report(ReportKind.REBATES, month, scope, columns, rows)


BUILDERS: dict[ReportKind, Callable[..., Report]] = {
    ReportKind.INVENTORY: inventory_report,
    ReportKind.RECEIVABLES: receivables_report,
    ReportKind.SALES: sales_report,
    ReportKind.REBATES: rebates_report,
}


# -- who is there to report on ----------------------------------------------------------------


def known_branch(conn: Connection, branch: str) -> bool:
    """A branch the read side knows: it has dealers or warehouses."""
    return conn.execute(
        select(
            or_(
                exists().where(dealers.c.branch == branch),
                exists().where(warehouses.c.branch == branch),
            )
        )
    ).scalar_one()


def known_region(conn: Connection, region: str) -> bool:
    return conn.execute(
        select(
            or_(
                exists().where(dealers.c.region == region),
                exists().where(warehouses.c.region == region),
            )
        )
    ).scalar_one()


def known_dealer(conn: Connection, dealer: str) -> bool:
    return conn.execute(select(exists().where(dealers.c.dealer_code == dealer))).scalar_one()


__all__ = [
    "BUILDERS",
    "READ_MODELS",
    "SALES_DIMENSIONS",
    "Column",
    "ColumnType",
    "Report",
    "ReportKind",
    "Scope",
    "known_branch",
    "known_dealer",
    "known_region",
]
