"""Queries over the sales read model. Pure SQL building; the API layer only calls these."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Date, func, literal, select, tuple_, union_all

from projections.sales.projection import (
    MEASURES,
    sales_branch_daily,
    sales_branch_monthly,
    sales_branch_weekly,
    sales_daily,
)


class SalesDimension(StrEnum):
    SKU = "sku"
    CATEGORY = "category"
    DEALER = "dealer"
    BRANCH = "branch"
    REGION = "region"
    NATION = "nation"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class SalesFilter:
    date_from: date | None = None
    date_to: date | None = None
    branch: str | None = None
    region: str | None = None
    dealer: str | None = None
    sku: str | None = None
    category: str | None = None


_DIMENSION_COLUMN = {
    SalesDimension.SKU: "sku",
    SalesDimension.CATEGORY: "category",
    SalesDimension.DEALER: "dealer_code",
    SalesDimension.BRANCH: "branch",
    SalesDimension.REGION: "region",
}
_ROLLED_UP = {SalesDimension.CATEGORY, SalesDimension.BRANCH, SalesDimension.REGION}


# Near either end of the calendar the period before or after may not exist: a range
# reaching there is answered from the daily table alone (no arithmetic past its ends).
_FIRST_PERIODS = date.min + timedelta(days=40)
_LAST_PERIODS = date.max - timedelta(days=40)


def _period_start(period: Period, day: date) -> date:
    if period == Period.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _next_period(period: Period, start: date) -> date:
    if period == Period.WEEK:
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def _sources(by: SalesDimension, period: Period, where: SalesFilter) -> list[tuple]:
    """The smallest tables that answer, each with the dates it covers: (table, its date
    column, first, last) with ``None`` for open ends. Without SKU or dealer, the branch
    roll-ups: whole weeks or months from the weekly or monthly roll-up and the partial ones
    at either end of the range from the daily one; else day x SKU x dealer."""
    if by not in _ROLLED_UP | {SalesDimension.NATION} or where.dealer or where.sku:
        return [(sales_daily, sales_daily.c.day, where.date_from, where.date_to)]
    daily = sales_branch_daily, sales_branch_daily.c.day
    ends = [d for d in (where.date_from, where.date_to) if d is not None]
    if period == Period.DAY or any(not _FIRST_PERIODS < d < _LAST_PERIODS for d in ends):
        return [(*daily, where.date_from, where.date_to)]
    whole = sales_branch_weekly if period == Period.WEEK else sales_branch_monthly
    lo, hi = where.date_from, where.date_to
    first = lo if lo is None or _period_start(period, lo) == lo else _next_period(period, lo)
    end = None  # the first day after the whole periods
    if hi is not None:
        after = hi + timedelta(days=1)
        end = after if _period_start(period, after) == after else _period_start(period, hi)
    if first is not None and end is not None and first >= end:
        return [(*daily, lo, hi)]
    sources = [(whole, whole.c[period.value], first, end - timedelta(days=1) if end else None)]
    if lo is not None and first != lo:
        sources.append((*daily, lo, first - timedelta(days=1)))
    if hi is not None and end is not None and end <= hi:
        sources.append((*daily, end, hi))
    return sources


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as error:
        raise InvalidCursor("cursor is not one this API issued") from error
    if not isinstance(values, list) or len(values) != 2:
        raise InvalidCursor("cursor is not one this API issued")
    return values


def _money(value) -> str:
    return f"{Decimal(value):.2f}"


def sales_summary(
    conn: Connection,
    *,
    by: SalesDimension,
    period: Period,
    where: SalesFilter,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Per period and dimension value: ordered, invoiced, credited and net sales (invoiced
    less credit notes), keyset-paginated."""
    parts = []
    for table, day, first, last in _sources(by, period, where):
        key = table.c[_DIMENSION_COLUMN[by]] if by in _DIMENSION_COLUMN else literal("CN")
        conditions = []
        if first:
            conditions.append(day >= first)
        if last:
            conditions.append(day <= last)
        for value, column in (
            (where.branch, "branch"),
            (where.region, "region"),
            (where.dealer, "dealer_code"),
            (where.sku, "sku"),
            (where.category, "category"),
        ):
            if value:
                conditions.append(table.c[column] == value)
        bucket = day if day.name == period.value else func.date_trunc(period.value, day)
        parts.append(
            select(
                bucket.cast(Date).label("period_start"),
                key.label("key"),
                *(table.c[name].label(name) for name in MEASURES),
            ).where(*conditions)
        )
    rows_in = parts[0].subquery() if len(parts) == 1 else union_all(*parts).subquery()
    bucket, key = rows_in.c.period_start, rows_in.c.key
    query = select(
        bucket.label("period_start"),
        key.label("key"),
        *(func.sum(rows_in.c[name]).label(name) for name in MEASURES),
    )
    ordering = [bucket, key]  # the nation's constant key is a column of the subquery here
    query = query.group_by(*ordering)
    if cursor:
        last_period, last_key = decode_cursor(cursor)
        try:
            last_period = date.fromisoformat(last_period)
        except (TypeError, ValueError) as error:
            raise InvalidCursor("cursor is not one this API issued") from error
        query = query.having(tuple_(bucket, key) > tuple_(literal(last_period), literal(last_key)))
    query = query.order_by(*ordering).limit(limit + 1)
    rows = conn.execute(query).all()
    page = [
        {
            "period_start": row.period_start.isoformat(),
            "key": row.key,
            "order_lines": int(row.order_lines),
            "ordered_quantity": int(row.ordered_quantity),
            "ordered_amount": _money(row.ordered_amount),
            "invoiced_quantity": int(row.invoiced_quantity),
            "invoiced_amount": _money(row.invoiced_amount),
            "credited_amount": _money(row.credited_amount),
            "net_sales": _money(row.invoiced_amount - row.credited_amount),
        }
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.period_start.isoformat(), last.key])
    return page, next_cursor
