"""Queries over the receivables read model: receivables, exposure and utilisation per dealer,
and AR aging, as of any business date, by dealer, branch, region or the nation.

As-of rule: an invoice counts from its issue date, a receipt and a credit note from their own
business dates. A document posted late with an earlier business date therefore restates the
figures as of every date from its business date on: "as of D" answers what is known now about
D, not what was known on D.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, tuple_

from projections.receivables.projection import (
    dealer_totals,
    dealers,
    invoice_balances,
    invoices,
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


def _money(value: Any) -> str:
    return f"{Decimal(value or 0):.2f}"


def dealer_conditions(where: DealerFilter, columns=dealers.c) -> list:
    """The filter on ``columns`` (``dealer_code``, ``branch`` and ``region``)."""
    conditions = []
    for value, column in (
        (where.dealer, columns.dealer_code),
        (where.branch, columns.branch),
        (where.region, columns.region),
    ):
        if value:
            conditions.append(column == value)
    return conditions


def _key(level: Level):
    return {
        Level.DEALER: dealers.c.dealer_code,
        Level.BRANCH: func.coalesce(dealers.c.branch, ""),
        Level.REGION: func.coalesce(dealers.c.region, ""),
        Level.NATION: literal("CN"),
    }[level]


def _page(query, key, level: Level, limit: int, cursor: str | None):
    if cursor:
        values = decode_cursor(cursor)
        if values[0] != "k" or not isinstance(values[1], str):
            raise InvalidCursor("cursor is not one this API issued")
        query = query.having(key > literal(values[1]))
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


def dealer_balances(as_of: date, *, current: bool = False) -> dict[str, Any]:
    """Per dealer, one subquery each (``dealer_code``, ``amount``): invoiced, received and
    credited up to ``as_of``, and credit reserved for unbilled orders as it stands now.
    ``current`` (see :func:`is_current`) reads the running totals instead of every document."""
    if current:
        totals = {
            name: select(
                dealer_totals.c.dealer_code, dealer_totals.c[name].label("amount")
            ).subquery()
            for name in ("invoiced", "received", "credited")
        }
        return {**totals, "reserved": _open_reservations()}
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
        select(settlements.c.dealer_code, func.sum(settlements.c.amount).label("amount"))
        .where(settlements.c.kind == "credit_note", settlements.c.business_date <= as_of)
        .group_by(settlements.c.dealer_code)
        .subquery()
    )
    return {
        "invoiced": invoiced,
        "received": received,
        "credited": credited,
        "reserved": _open_reservations(),
    }


def with_balances(base, dealer_code, subqueries: dict[str, Any]):
    """``base`` outer-joined on its ``dealer_code`` column to each per-dealer subquery."""
    for sub in subqueries.values():
        base = base.outerjoin(sub, sub.c.dealer_code == dealer_code)
    return base


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
    amount = {name: func.sum(func.coalesce(sub.c.amount, 0)) for name, sub in balances.items()}
    query = (
        select(
            key.label("key"),
            func.sum(dealers.c.credit_limit).label("credit_limit"),
            *(value.label(name) for name, value in amount.items()),
        )
        .select_from(with_balances(dealers, dealers.c.dealer_code, balances))
        .where(*dealer_conditions(where))
    )
    rows = conn.execute(_page(query, key, by, limit, cursor)).all()
    page = []
    for row in rows[:limit]:
        receivable = row.invoiced - row.received - row.credited
        exposure = receivable + row.reserved
        limit_ = Decimal(row.credit_limit or 0)
        page.append(
            {
                by.value: row.key or None,
                "credit_limit": _money(limit_),
                "invoiced": _money(row.invoiced),
                "received": _money(row.received),
                "credited": _money(row.credited),
                "receivables": _money(receivable),
                "reserved": _money(row.reserved),
                "exposure": _money(exposure),
                "utilisation": f"{exposure / limit_:.4f}" if limit_ > 0 else None,
            }
        )
    return page, _next(rows, limit)


def aging_per_dealer(as_of: date, *, current: bool = False):
    """Per dealer (``dealer_code``): what is open on its invoices as of ``as_of`` in each
    bucket of :data:`BUCKETS`. ``current``: from the open invoices' running balances."""
    if current:
        open_items = (
            select(
                invoice_balances.c.dealer_code,
                (invoice_balances.c.total - invoice_balances.c.settled).label("open"),
                (literal(as_of) - invoice_balances.c.due_date).label("days_past_due"),
            )
            .where(
                invoice_balances.c.total.is_not(None),
                invoice_balances.c.total != invoice_balances.c.settled,
            )
            .subquery()
        )
        return _buckets(open_items)
    settled = (
        select(settlements.c.invoice_id, func.sum(settlements.c.amount).label("amount"))
        .where(settlements.c.business_date <= as_of)
        .group_by(settlements.c.invoice_id)
        .subquery()
    )
    open_items = (
        select(
            invoices.c.dealer_code,
            (invoices.c.total - func.coalesce(settled.c.amount, 0)).label("open"),
            (literal(as_of) - invoices.c.due_date).label("days_past_due"),
        )
        .select_from(invoices.outerjoin(settled, settled.c.invoice_id == invoices.c.invoice_id))
        .where(invoices.c.issue_date <= as_of)
        .subquery()
    )
    return _buckets(open_items)


def _buckets(open_items):
    days = open_items.c.days_past_due
    bucket_of = {
        "not_yet_due": days <= 0,
        "days_1_30": days.between(1, 30),
        "days_31_60": days.between(31, 60),
        "days_61_90": days.between(61, 90),
        "over_90": days > 90,
    }
    return (
        select(
            open_items.c.dealer_code,
            *(
                func.sum(case((condition, open_items.c.open), else_=0)).label(name)
                for name, condition in bucket_of.items()
            ),
        )
        .group_by(open_items.c.dealer_code)
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
) -> tuple[list[dict[str, Any]], str | None]:
    """账龄: what is open on invoices as of ``as_of``, by days past due (as-of date minus due
    date; due on the as-of date is not yet due), and unapplied cash on account."""
    if current is None:
        current = is_current(conn, as_of)
    per_dealer = aging_per_dealer(as_of, current=current)
    if current:
        unapplied = select(
            dealer_totals.c.dealer_code, dealer_totals.c.unapplied.label("amount")
        ).subquery()
    else:
        unapplied = (
            select(receipts.c.dealer_code, func.sum(receipts.c.unapplied).label("amount"))
            .where(receipts.c.received_on <= as_of)
            .group_by(receipts.c.dealer_code)
            .subquery()
        )
    key = _key(by)
    query = (
        select(
            key.label("key"),
            *(func.sum(func.coalesce(per_dealer.c[name], 0)).label(name) for name in BUCKETS),
            func.sum(func.coalesce(unapplied.c.amount, 0)).label("unapplied"),
        )
        .select_from(
            dealers.outerjoin(
                per_dealer, per_dealer.c.dealer_code == dealers.c.dealer_code
            ).outerjoin(unapplied, unapplied.c.dealer_code == dealers.c.dealer_code)
        )
        .where(*dealer_conditions(where))
    )
    rows = conn.execute(_page(query, key, by, limit, cursor)).all()
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
                "receivables": _money(open_total - Decimal(row.unapplied)),
            }
        )
    return page, _next(rows, limit)


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
    """返利: rebate accrued (net of credit notes' reversals) and the net sales it was accrued
    on, per ``by`` and policy, up to ``as_of``. Claimed and credited arrive with rebate
    settlement (a later issue) as further columns of the same rows."""
    key = _key(by)
    query = (
        select(
            key.label("key"),
            rebates.c.policy_code,
            func.sum(rebates.c.base).label("base"),
            func.sum(rebates.c.amount).label("accrued"),
        )
        .select_from(
            rebates.join(dealers, dealers.c.dealer_code == rebates.c.dealer_code, isouter=True)
        )
        .where(rebates.c.business_date <= as_of, *dealer_conditions(where))
    )
    if policy:
        query = query.where(rebates.c.policy_code == policy)
    if cursor:
        values = decode_cursor(cursor)
        if values[0] is None or not all(isinstance(v, str) for v in values):
            raise InvalidCursor("cursor is not one this API issued")
        query = query.having(
            tuple_(key, rebates.c.policy_code) > tuple_(literal(values[0]), literal(values[1]))
        )
    ordering = [rebates.c.policy_code] if by == Level.NATION else [key, rebates.c.policy_code]
    rows = conn.execute(query.group_by(*ordering).order_by(*ordering).limit(limit + 1)).all()
    page = [
        {
            by.value: row.key or None,
            "policy_code": row.policy_code,
            "net_sales": _money(row.base),
            "accrued": _money(row.accrued),
        }
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.key, last.policy_code])
    return page, next_cursor


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
