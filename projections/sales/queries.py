"""Queries over the sales read model. Pure SQL building; the API layer only calls these."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, literal, select, tuple_

from projections.sales.projection import (
    MEASURES,
    sales_branch_daily,
    sales_branch_monthly,
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


def _source(by: SalesDimension, period: Period, where: SalesFilter):
    """The smallest table that answers: the branch roll-ups when neither SKU nor dealer is
    asked for, by month when the dates cover whole months; else day x SKU x dealer."""
    if by not in _ROLLED_UP | {SalesDimension.NATION} or where.dealer or where.sku:
        return sales_daily, sales_daily.c.day
    whole_months = (where.date_from is None or where.date_from.day == 1) and (
        where.date_to is None or (where.date_to + timedelta(days=1)).day == 1
    )
    if period == Period.MONTH and whole_months:
        return sales_branch_monthly, sales_branch_monthly.c.month
    return sales_branch_daily, sales_branch_daily.c.day


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
    table, day = _source(by, period, where)
    bucket = func.date_trunc(period.value, day).cast(day.type)
    key = table.c[_DIMENSION_COLUMN[by]] if by in _DIMENSION_COLUMN else literal("CN")
    query = select(
        bucket.label("period_start"),
        key.label("key"),
        *(func.sum(table.c[name]).label(name) for name in MEASURES),
    )
    conditions = []
    if where.date_from:
        conditions.append(day >= where.date_from)
    if where.date_to:
        conditions.append(day <= where.date_to)
    for value, column in (
        (where.branch, "branch"),
        (where.region, "region"),
        (where.dealer, "dealer_code"),
        (where.sku, "sku"),
        (where.category, "category"),
    ):
        if value:
            conditions.append(table.c[column] == value)
    # A constant key (the nation) may not stand in GROUP BY or ORDER BY.
    ordering = [bucket] if by == SalesDimension.NATION else [bucket, key]
    query = query.where(*conditions).group_by(*ordering)
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
