"""Queries over the receivables read model: receivables, exposure and utilisation per dealer,
and AR aging, as of any business date, by dealer, branch, region or the nation.

As-of rule: an invoice counts from its issue date, a receipt, a credit note and a rebate
credited from their own business dates. A document posted late with an earlier business
date therefore restates the figures as of every date from its business date on: "as of D"
answers what is known now about D, not what was known on D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    Select,
    String,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.sql.elements import BindParameter

from projections.dates import days_before
from projections.receivables.projection import (
    aging_monthly,
    aging_snapshot_months,
    aging_snapshots,
    cash_applications,
    credit_notes,
    dealer_totals,
    dealers,
    invoice_balances,
    invoices,
    rebate_claims,
    rebate_settlements,
    rebate_totals,
    rebates,
    receipts,
    reservations,
    settlements,
)
from projections.sales.queries import InvalidCursor, decode_cursor, encode_cursor

ZERO = Decimal("0.00")
BUCKETS = ("not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90")


class Level(StrEnum):
    DEALER = "dealer"
    BRANCH = "branch"
    REGION = "region"
    NATION = "nation"


@dataclass(frozen=True)
class DealerFilter:
    dealer: str | None = None
    branch: str | None = None
    region: str | None = None

    def shape(self) -> tuple[bool, ...]:
        """Which of dealer, branch and region are given: a cached statement's shape."""
        return tuple(bool(value) for value in (self.dealer, self.branch, self.region))

    def values(self) -> dict[str, Any]:
        """The values for the parameters of :meth:`bound`."""
        given = (("dealer", self.dealer), ("branch", self.branch), ("region", self.region))
        return {name: value for name, value in given if value}

    @staticmethod
    def bound(shape: tuple[bool, ...]) -> DealerFilter:
        """A filter of that shape whose values are parameters, bound at execution."""
        return DealerFilter(
            *(
                bindparam(name, type_=String) if present else None
                for name, present in zip(("dealer", "branch", "region"), shape, strict=True)
            )
        )


def _money(value: Any) -> str:
    return f"{Decimal(value or 0):.2f}"


def dealer_conditions(where: DealerFilter, columns=dealers.c) -> list:
    """The filter on ``columns`` (``dealer_code``, ``branch`` and ``region``); a value may
    be a parameter bound later."""
    conditions = []
    for value, column in (
        (where.dealer, columns.dealer_code),
        (where.branch, columns.branch),
        (where.region, columns.region),
    ):
        if value is not None and (isinstance(value, BindParameter) or value):
            conditions.append(column == value)
    return conditions


def _key(level: Level):
    return {
        Level.DEALER: dealers.c.dealer_code,
        Level.BRANCH: func.coalesce(dealers.c.branch, ""),
        Level.REGION: func.coalesce(dealers.c.region, ""),
        Level.NATION: literal("CN"),
    }[level]


def _after(cursor: str | None) -> str | None:
    """The key a page's cursor says to continue after."""
    if not cursor:
        return None
    values = decode_cursor(cursor)
    if values[0] != "k" or not isinstance(values[1], str):
        raise InvalidCursor("cursor is not one this API issued")
    return values[1]


def _page(query, key, level: Level, limit: int, cursor: str | None):
    after = _after(cursor)
    if after is not None:
        query = query.having(key > literal(after))
    if level != Level.NATION:  # a constant may not stand in GROUP BY / ORDER BY
        query = query.group_by(key).order_by(key)
    return query.limit(limit + 1)


def _next(rows: list, limit: int) -> str | None:
    return encode_cursor(["k", rows[limit - 1].key]) if len(rows) > limit else None


def is_current(conn: Connection, as_of: date) -> bool:
    """Whether ``as_of`` is on or after every document's business date: then the figures
    as they stand now are the figures as of that date."""
    latest = conn.execute(
        select(
            func.greatest(
                select(func.max(invoices.c.issue_date)).scalar_subquery(),
                select(func.max(receipts.c.received_on)).scalar_subquery(),
                select(func.max(settlements.c.business_date)).scalar_subquery(),
                select(func.max(rebate_claims.c.credited_on)).scalar_subquery(),
                select(func.max(credit_notes.c.issued_on)).scalar_subquery(),
            )
        )
    ).scalar()
    return latest is None or as_of >= latest


def _open_reservations():
    return (
        select(
            reservations.c.dealer_code,
            func.sum(reservations.c.reserved - reservations.c.invoiced).label("amount"),
        )
        .where(~reservations.c.released, reservations.c.reserved > reservations.c.invoiced)
        .group_by(reservations.c.dealer_code)
        .subquery()
    )


def _rebates_credited(as_of: date | None):
    """Per dealer, rebate credited against receivables (up to ``as_of``, if given). From the
    claims, which are few: no running total is needed."""
    query = select(
        rebate_claims.c.dealer_code, func.sum(rebate_claims.c.credited).label("amount")
    ).where(rebate_claims.c.credited_on.is_not(None))
    if as_of is not None:
        query = query.where(rebate_claims.c.credited_on <= as_of)
    return query.group_by(rebate_claims.c.dealer_code).subquery()


@dataclass(frozen=True)
class Balances:
    """Per dealer: ``amounts`` (invoiced, received, credited, rebate_credited, reserved: columns of
    ``sources``, NULL for a dealer with none), and the subqueries (each with a
    ``dealer_code``) to outer-join them from."""

    amounts: dict[str, Any]
    sources: tuple[Any, ...]

    def joined_to(self, base, dealer_code):
        for source in self.sources:
            base = base.outerjoin(source, source.c.dealer_code == dealer_code)
        return base


def dealer_balances(as_of: date, *, current: bool = False) -> Balances:
    """Invoiced, received and credited up to ``as_of``, and credit reserved for unbilled
    orders as it stands now. ``current`` (see :func:`is_current`) reads the running totals,
    one row per dealer, instead of every document."""
    reserved = _open_reservations()
    rebated = _rebates_credited(None if current else as_of)
    if current:
        totals = select(
            dealer_totals.c.dealer_code,
            dealer_totals.c.invoiced,
            dealer_totals.c.received,
            dealer_totals.c.credited,
        ).subquery()
        amounts = {name: totals.c[name] for name in ("invoiced", "received", "credited")}
        return Balances(
            {**amounts, "rebate_credited": rebated.c.amount, "reserved": reserved.c.amount},
            (totals, rebated, reserved),
        )
    invoiced = (
        select(invoices.c.dealer_code, func.sum(invoices.c.total).label("amount"))
        .where(invoices.c.issue_date <= as_of)
        .group_by(invoices.c.dealer_code)
        .subquery()
    )
    received = (
        select(receipts.c.dealer_code, func.sum(receipts.c.amount).label("amount"))
        .where(receipts.c.received_on <= as_of)
        .group_by(receipts.c.dealer_code)
        .subquery()
    )
    credited = (
        select(credit_notes.c.dealer_code, func.sum(credit_notes.c.amount).label("amount"))
        .where(credit_notes.c.issued_on <= as_of)
        .group_by(credit_notes.c.dealer_code)
        .subquery()
    )
    sources = (invoiced, received, credited, rebated, reserved)
    names = ("invoiced", "received", "credited", "rebate_credited", "reserved")
    return Balances(
        {name: source.c.amount for name, source in zip(names, sources, strict=True)}, sources
    )


def receivables_summary(
    conn: Connection,
    *,
    by: Level,
    where: DealerFilter,
    as_of: date,
    limit: int,
    cursor: str | None,
    current: bool | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Per ``by``: credit limit, invoiced, received, credited, receivables, credit reserved
    for unbilled orders (as it stands now), exposure and utilisation."""
    if current is None:
        current = is_current(conn, as_of)
    balances = dealer_balances(as_of, current=current)
    key = _key(by)
    # Coalesced twice: the nation's one row exists even when no dealer matches the filter.
    amount = {
        name: func.coalesce(func.sum(func.coalesce(c, 0)), 0)
        for name, c in balances.amounts.items()
    }
    query = (
        select(
            key.label("key"),
            func.sum(dealers.c.credit_limit).label("credit_limit"),
            *(value.label(name) for name, value in amount.items()),
        )
        .select_from(balances.joined_to(dealers, dealers.c.dealer_code))
        .where(*dealer_conditions(where))
    )
    rows = conn.execute(_page(query, key, by, limit, cursor)).all()
    page = []
    for row in rows[:limit]:
        receivable = row.invoiced - row.received - row.credited - row.rebate_credited
        exposure = receivable + row.reserved
        limit_ = Decimal(row.credit_limit or 0)
        page.append(
            {
                by.value: row.key or None,
                "credit_limit": _money(limit_),
                "invoiced": _money(row.invoiced),
                "received": _money(row.received),
                "credited": _money(row.credited),
                "rebate_credited": _money(row.rebate_credited),
                "receivables": _money(receivable),
                "reserved": _money(row.reserved),
                "exposure": _money(exposure),
                "utilisation": f"{exposure / limit_:.4f}" if limit_ > 0 else None,
            }
        )
    return page, _next(rows, limit)


def open_items(as_of: Any, *, current: bool = False, due_before: Any = None):
    """What is open on invoices as of ``as_of`` (``dealer_code``, ``open``, ``due_date``),
    those due before ``due_before`` only if given (each a date, or a parameter bound later).
    ``current``: from the open invoices' running balances. As of a past date: invoices
    issued by then, less what settled them by then; both carry the invoice's due date, so
    the two are summed without a join."""
    if current:
        query = select(
            invoice_balances.c.dealer_code,
            (invoice_balances.c.total - invoice_balances.c.settled).label("open"),
            invoice_balances.c.due_date,
        ).where(
            invoice_balances.c.open,
        )
        if due_before is not None:
            query = query.where(invoice_balances.c.due_date < due_before)
        return query.subquery()
    issued = select(
        invoices.c.dealer_code, invoices.c.total.label("open"), invoices.c.due_date
    ).where(invoices.c.issue_date <= as_of)
    settled = select(
        settlements.c.dealer_code,
        (-settlements.c.amount).label("open"),
        settlements.c.invoice_due_date.label("due_date"),
    ).where(settlements.c.business_date <= as_of, settlements.c.invoice_issue_date <= as_of)
    if due_before is not None:
        issued = issued.where(invoices.c.due_date < due_before)
        settled = settled.where(settlements.c.invoice_due_date < due_before)
    return union_all(issued, settled).subquery()


def open_items_by_branch(as_of: date, month: Any = None):
    """What is open as of a past ``as_of`` (``branch``, ``region``, ``due_date``, ``open``),
    the same sums as :func:`open_items` per branch: the months before the as-of date's month
    from the last month-end snapshot before it and the monthly roll-up's months after that
    snapshot, that month's documents up to the date, and the documents of dealers not
    registered yet (not rolled up: branch unknown). ``month``: the as-of date's month's
    first day, if ``as_of`` is a parameter bound later."""
    if month is None:
        month = as_of.replace(day=1)
    branch, region = dealers.c.branch, dealers.c.region
    snapshot_month = (
        select(func.max(aging_snapshot_months.c.month))
        .where(aging_snapshot_months.c.month < month)
        .scalar_subquery()
    )
    snapshot = select(
        aging_snapshots.c.branch,
        aging_snapshots.c.region,
        aging_snapshots.c.due_date,
        aging_snapshots.c.amount.label("open"),
    ).where(aging_snapshots.c.month == snapshot_month)
    after_snapshot = select(
        aging_monthly.c.branch,
        aging_monthly.c.region,
        aging_monthly.c.due_date,
        aging_monthly.c.amount.label("open"),
    ).where(
        aging_monthly.c.month < month,
        aging_monthly.c.month > func.coalesce(snapshot_month, literal_column("'-infinity'::date")),
    )
    # Each part reads its own index: this month's documents by date, the few not rolled
    # up yet by their partial index (an OR of the two would scan every earlier date).
    parts = [snapshot, after_snapshot]
    for table, day, due, amount in (
        (invoices, invoices.c.issue_date, invoices.c.due_date, invoices.c.total),
        (
            settlements,
            settlements.c.effective_date,
            settlements.c.invoice_due_date,
            -settlements.c.amount,
        ),
    ):
        by_dealer = table.join(dealers, dealers.c.dealer_code == table.c.dealer_code)
        columns = (branch, region, due.label("due_date"), amount.label("open"))
        parts.append(
            select(*columns)
            .select_from(by_dealer)
            .where(table.c.rolled_up, day >= month, day <= as_of)
        )
        parts.append(
            select(*columns).select_from(by_dealer).where(~table.c.rolled_up, day <= as_of)
        )
    return union_all(*parts).subquery()


def over_90_per_dealer(as_of: date, *, current: bool = False, due_before: Any = None):
    """Per dealer (``dealer_code``, ``over_90``): what is open more than 90 days past due
    (due before ``due_before``: 90 days before ``as_of`` unless given, as a parameter)."""
    if due_before is None:
        due_before = days_before(as_of, 90)
    items = open_items(as_of, current=current, due_before=due_before)
    return (
        select(items.c.dealer_code, func.sum(items.c.open).label("over_90"))
        .group_by(items.c.dealer_code)
        .subquery()
    )


def aging(
    conn: Connection,
    *,
    by: Level,
    where: DealerFilter,
    as_of: date,
    limit: int,
    cursor: str | None,
    current: bool | None = None,
    roll_up: bool = True,
) -> tuple[list[dict[str, Any]], str | None]:
    """账龄: what is open on invoices as of ``as_of``, by days past due (as-of date minus due
    date; due on the as-of date is not yet due), and unapplied cash on account. ``current``
    and ``roll_up`` (tests compare the paths) say which tables answer."""
    if current is None:
        current = is_current(conn, as_of)
    after = _after(cursor)
    roll_up = roll_up and not (current or by == Level.DEALER or where.dealer)
    statement = _aging_statement(by, current, roll_up, where.shape(), after is not None)
    params: dict[str, Any] = {"as_of": as_of, "month": as_of.replace(day=1), "limit": limit + 1}
    params.update(where.values())
    if after is not None:  # "" too: the key of dealers in no region yet
        params["after"] = after
    rows = conn.execute(statement, params).all()
    page = []
    for row in rows[:limit]:
        buckets = {name: Decimal(getattr(row, name)) for name in BUCKETS}
        open_total = sum(buckets.values(), ZERO)
        page.append(
            {
                by.value: row.key or None,
                **{name: _money(value) for name, value in buckets.items()},
                "open_invoices": _money(open_total),
                "unapplied_cash": _money(row.unapplied),
                # No dealers yet (an empty read model): nothing on account either.
                "receivables": _money(open_total - Decimal(row.unapplied or 0)),
            }
        )
    return page, _next(rows, limit)


@lru_cache(maxsize=256)
def _aging_statement(
    by: Level, current: bool, roll_up: bool, filters: tuple[bool, ...], after: bool
) -> Select:
    """The aging query of one shape, its values bound at execution (``as_of``, ``month``,
    ``dealer``, ``branch``, ``region``, ``after``, ``limit``). Built once per shape: building
    it with SQLAlchemy costs a quarter of what PostgreSQL takes to answer it."""
    as_of = bindparam("as_of", type_=Date)
    where = DealerFilter.bound(filters)
    if current:
        unapplied = select(
            dealer_totals.c.dealer_code, dealer_totals.c.unapplied.label("amount")
        ).subquery()
    else:
        # Cash, rebate credit and returns' credit on account, each from its own date, less
        # what was applied to invoices from the application's date.
        on_account = union_all(
            select(receipts.c.dealer_code, receipts.c.unapplied.label("amount")).where(
                receipts.c.unapplied != 0, receipts.c.received_on <= as_of
            ),
            select(rebate_claims.c.dealer_code, rebate_claims.c.unapplied.label("amount")).where(
                rebate_claims.c.unapplied != 0, rebate_claims.c.credited_on <= as_of
            ),
            select(credit_notes.c.dealer_code, credit_notes.c.unapplied.label("amount")).where(
                credit_notes.c.unapplied != 0, credit_notes.c.issued_on <= as_of
            ),
            # 核销: what was applied to invoices by then is no longer on account.
            select(
                cash_applications.c.dealer_code, (-cash_applications.c.amount).label("amount")
            ).where(cash_applications.c.applied_on <= as_of),
        ).subquery()
        unapplied = (
            select(on_account.c.dealer_code, func.sum(on_account.c.amount).label("amount"))
            .group_by(on_account.c.dealer_code)
            .subquery()
        )
    key = _key(by)
    if not roll_up:
        items = open_items(as_of, current=current)
        source = items.join(dealers, dealers.c.dealer_code == items.c.dealer_code)
        item_key, conditions = key, dealer_conditions(where)
    else:  # a past date, by branch, region or nation: the monthly roll-up answers
        items = source = open_items_by_branch(as_of, month=bindparam("month", type_=Date))
        item_key = {
            Level.BRANCH: func.coalesce(items.c.branch, ""),
            Level.REGION: func.coalesce(items.c.region, ""),
            Level.NATION: literal("CN"),
        }[by]
        conditions = [
            column == value
            for column, value in ((items.c.branch, where.branch), (items.c.region, where.region))
            if value is not None
        ]
    # What is open is summed per (key, due date), and each sum gets its bucket.
    by_due_date = (
        select(
            item_key.label("key"),
            items.c.due_date.label("due_date"),
            func.sum(items.c.open).label("amount"),
        )
        .select_from(source)
        .where(*conditions)
        .group_by(*([items.c.due_date] if by == Level.NATION else [item_key, items.c.due_date]))
        .subquery()
    )
    days = as_of - by_due_date.c.due_date
    bucket = case((days <= 0, 0), (days <= 30, 1), (days <= 60, 2), (days <= 90, 3), else_=4)
    pivot = select(
        by_due_date.c.key,
        *(
            func.coalesce(func.sum(by_due_date.c.amount).filter(bucket == index), 0).label(name)
            for index, name in enumerate(BUCKETS)
        ),
    )
    pivot = pivot.group_by(by_due_date.c.key).subquery()
    # Every key with dealers has a row, with or without anything open.
    cash = select(
        key.label("key"), func.sum(func.coalesce(unapplied.c.amount, 0)).label("unapplied")
    )
    cash = (
        cash.select_from(
            dealers.outerjoin(unapplied, unapplied.c.dealer_code == dealers.c.dealer_code)
        )
        .where(*dealer_conditions(where))
        .group_by(*([] if by == Level.NATION else [key]))
        .subquery()
    )
    query = select(
        cash.c.key,
        *(func.coalesce(func.max(pivot.c[name]), 0).label(name) for name in BUCKETS),
        func.max(cash.c.unapplied).label("unapplied"),
    ).select_from(cash.outerjoin(pivot, pivot.c.key == cash.c.key))
    key = cash.c.key
    if after:
        query = query.having(key > bindparam("after", type_=String))
    if by == Level.NATION:  # one row; a constant may not stand in GROUP BY / ORDER BY
        query = query.group_by(key)
    else:
        query = query.group_by(key).order_by(key)
    return query.limit(bindparam("limit", type_=Integer))


def rebates_accrued(
    conn: Connection,
    *,
    by: Level,
    where: DealerFilter,
    as_of: date,
    limit: int,
    cursor: str | None,
    policy: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """返利: per ``by`` and policy, the net sales rebate was accrued on, the rebate accrued
    (net of credit notes' reversals) and settled at period ends (claw-backs negative), up to
    ``as_of`` (accruals from the running totals per dealer and policy when ``as_of`` is on or
    after the latest accrual). Claims and credits are per dealer, not per policy: see
    :func:`rebate_pools`."""
    latest = conn.execute(select(func.max(rebates.c.business_date))).scalar()
    source = rebate_totals if latest is None or as_of >= latest else rebates
    accrued = select(
        source.c.dealer_code,
        source.c.policy_code,
        source.c.base,
        source.c.amount.label("accrued"),
        literal(0).label("settled"),
    )
    if source is rebates:
        accrued = accrued.where(rebates.c.business_date <= as_of)
    settled = select(
        rebate_settlements.c.dealer_code,
        rebate_settlements.c.policy_code,
        literal(0).label("base"),
        literal(0).label("accrued"),
        rebate_settlements.c.amount.label("settled"),
    ).where(rebate_settlements.c.settled_on <= as_of)
    if policy:
        accrued = accrued.where(source.c.policy_code == policy)
        settled = settled.where(rebate_settlements.c.policy_code == policy)
    parts = union_all(accrued, settled).subquery()
    key = _key(by)
    query = (
        select(
            key.label("key"),
            parts.c.policy_code.label("policy_code"),
            func.sum(parts.c.base).label("base"),
            func.sum(parts.c.accrued).label("accrued"),
            func.sum(parts.c.settled).label("settled"),
        )
        .select_from(
            parts.join(dealers, dealers.c.dealer_code == parts.c.dealer_code, isouter=True)
        )
        .where(*dealer_conditions(where))
    )
    if cursor:
        values = decode_cursor(cursor)
        if values[0] is None or not all(isinstance(v, str) for v in values):
            raise InvalidCursor("cursor is not one this API issued")
        query = query.having(
            tuple_(key, parts.c.policy_code) > tuple_(literal(values[0]), literal(values[1]))
        )
    ordering = [parts.c.policy_code] if by == Level.NATION else [key, parts.c.policy_code]
    rows = conn.execute(query.group_by(*ordering).order_by(*ordering).limit(limit + 1)).all()
    page = [
        {
            by.value: row.key or None,
            "policy_code": row.policy_code,
            "net_sales": _money(row.base),
            "accrued": _money(row.accrued),
            "settled": _money(row.settled),
        }
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.key, last.policy_code])
    return page, next_cursor


POOL_FIGURES = ("accrued", "settled", "claimed", "credited")


def rebate_pools(
    conn: Connection,
    *,
    by: Level,
    where: DealerFilter,
    as_of: date,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """返利池 per ``by`` as of a date: rebate accrued (all policies, by the documents' dates),
    settled (by settlement date), claimed (filed by then, neither rejected nor credited by
    then), credited against receivables (by the credit's date), and available to claim =
    settled - claimed - credited (negative after a claw-back that took back more than was
    left). Dealers with no rebate at all have no row."""
    c = rebate_claims.c
    pending = (
        (c.filed_on <= as_of)
        & (c.rejected_on.is_(None) | (c.rejected_on > as_of))
        & (c.credited_on.is_(None) | (c.credited_on > as_of))
    )
    zero = literal(0)

    def part(dealer_code, **amounts):
        return select(
            dealer_code.label("dealer_code"),
            *(amounts.get(name, zero).label(name) for name in POOL_FIGURES),
        )

    latest = conn.execute(select(func.max(rebates.c.business_date))).scalar()
    if latest is None or as_of >= latest:  # as it stands: the running totals
        accrued = part(rebate_totals.c.dealer_code, accrued=rebate_totals.c.amount)
    else:
        accrued = part(rebates.c.dealer_code, accrued=rebates.c.amount).where(
            rebates.c.business_date <= as_of
        )
    parts = union_all(
        accrued,
        part(rebate_settlements.c.dealer_code, settled=rebate_settlements.c.amount).where(
            rebate_settlements.c.settled_on <= as_of
        ),
        part(c.dealer_code, claimed=c.amount).where(pending, c.amount.is_not(None)),
        part(c.dealer_code, credited=c.credited).where(c.credited_on <= as_of),
    ).subquery()
    key = _key(by)
    query = (
        select(key.label("key"), *(func.sum(parts.c[n]).label(n) for n in POOL_FIGURES))
        .select_from(
            parts.join(dealers, dealers.c.dealer_code == parts.c.dealer_code, isouter=True)
        )
        .where(*dealer_conditions(where))
    )
    rows = conn.execute(_page(query, key, by, limit, cursor)).all()
    page = []
    for row in rows[:limit]:
        figures = {name: Decimal(getattr(row, name) or 0) for name in POOL_FIGURES}
        available = figures["settled"] - figures["claimed"] - figures["credited"]
        page.append(
            {
                by.value: row.key or None,
                **{name: _money(value) for name, value in figures.items()},
                "available": _money(available),
            }
        )
    return page, _next(rows, limit)


def open_invoices(conn: Connection, *, dealer: str, as_of: date) -> list[dict[str, Any]]:
    """A dealer's invoices with something open as of ``as_of``, oldest due first."""
    settled = (
        select(settlements.c.invoice_id, func.sum(settlements.c.amount).label("amount"))
        .where(settlements.c.business_date <= as_of, settlements.c.dealer_code == dealer)
        .group_by(settlements.c.invoice_id)
        .subquery()
    )
    open_amount = invoices.c.total - func.coalesce(settled.c.amount, 0)
    rows = conn.execute(
        select(
            invoices.c.invoice_id,
            invoices.c.number,
            invoices.c.order_id,
            invoices.c.issue_date,
            invoices.c.due_date,
            invoices.c.total,
            open_amount.label("open"),
        )
        .select_from(invoices.outerjoin(settled, settled.c.invoice_id == invoices.c.invoice_id))
        .where(invoices.c.dealer_code == dealer, invoices.c.issue_date <= as_of, open_amount > 0)
        .order_by(invoices.c.due_date, invoices.c.issue_date, invoices.c.number)
    ).all()
    return [
        {
            "invoice_id": row.invoice_id,
            "number": row.number,
            "order_id": row.order_id,
            "issue_date": row.issue_date.isoformat(),
            "due_date": row.due_date.isoformat(),
            "days_past_due": max((as_of - row.due_date).days, 0),
            "total": _money(row.total),
            "open": _money(row.open),
        }
        for row in rows
    ]


def dealer_branch(conn: Connection, dealer: str) -> str | None:
    return conn.execute(select(dealers.c.branch).where(dealers.c.dealer_code == dealer)).scalar()
