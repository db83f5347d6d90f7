"""Queries over the inventory read model: stock per warehouse and SKU, rolled up by branch,
region or the nation, now or as of a past business date, keyset-paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, literal, select, tuple_

from projections.inventory.projection import movements, stock, warehouses
from projections.sales.queries import InvalidCursor, decode_cursor, encode_cursor


class StockLevel(StrEnum):
    WAREHOUSE = "warehouse"
    BRANCH = "branch"
    REGION = "region"
    NATION = "nation"


@dataclass(frozen=True)
class StockFilter:
    warehouse: str | None = None
    sku: str | None = None
    branch: str | None = None
    region: str | None = None
    below_safety: bool = False


def stock_levels(
    conn: Connection,
    *,
    by: StockLevel,
    where: StockFilter,
    as_of: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """On hand, reserved, available and safety stock per ``by`` and SKU. ``as_of``: summed
    from the movements up to that business date (safety stock as set now)."""
    if as_of is None:
        return _current_levels(conn, by=by, where=where, limit=limit, cursor=cursor)
    moved = (
        select(
            movements.c.warehouse_code,
            movements.c.sku,
            func.sum(movements.c.on_hand_delta).label("on_hand"),
            func.sum(movements.c.reserved_delta).label("reserved"),
        )
        .where(movements.c.business_date <= as_of)
        .group_by(movements.c.warehouse_code, movements.c.sku)
        .subquery()
    )
    levels = (
        select(
            moved.c.warehouse_code,
            moved.c.sku,
            moved.c.on_hand,
            moved.c.reserved,
            func.coalesce(stock.c.safety_stock, 0).label("safety_stock"),
        )
        .select_from(
            moved.outerjoin(
                stock,
                (stock.c.warehouse_code == moved.c.warehouse_code) & (stock.c.sku == moved.c.sku),
            )
        )
        .subquery()
    )
    key = {
        StockLevel.WAREHOUSE: levels.c.warehouse_code,
        StockLevel.BRANCH: func.coalesce(warehouses.c.branch, ""),
        StockLevel.REGION: func.coalesce(warehouses.c.region, ""),
        StockLevel.NATION: literal("CN"),
    }[by]
    on_hand = func.sum(levels.c.on_hand)
    reserved = func.sum(levels.c.reserved)
    safety = func.sum(levels.c.safety_stock)
    query = select(
        key.label("key"),
        levels.c.sku,
        on_hand.label("on_hand"),
        reserved.label("reserved"),
        safety.label("safety_stock"),
    ).select_from(levels.outerjoin(warehouses, warehouses.c.code == levels.c.warehouse_code))
    for value, column in (
        (where.warehouse, levels.c.warehouse_code),
        (where.sku, levels.c.sku),
        (where.branch, warehouses.c.branch),
        (where.region, warehouses.c.region),
    ):
        if value:
            query = query.where(column == value)
    # A constant key (the nation) may not stand in GROUP BY or ORDER BY.
    ordering = [levels.c.sku] if by == StockLevel.NATION else [key, levels.c.sku]
    query = query.group_by(*ordering)
    if where.below_safety:
        query = query.having(on_hand - reserved < safety)
    if cursor:
        last_key, last_sku = decode_cursor(cursor)
        if not isinstance(last_key, str) or not isinstance(last_sku, str):
            raise InvalidCursor("cursor is not one this API issued")
        query = query.having(
            tuple_(key, levels.c.sku) > tuple_(literal(last_key), literal(last_sku))
        )
    rows = conn.execute(query.order_by(*ordering).limit(limit + 1)).all()
    return _page(rows, by, limit)


def _page(rows: list, by: StockLevel, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    page = [
        {
            by.value: row.key or None,
            "sku": row.sku,
            "on_hand": int(row.on_hand),
            "reserved": int(row.reserved),
            "available": int(row.on_hand - row.reserved),
            "safety_stock": int(row.safety_stock),
            "below_safety": row.on_hand - row.reserved < row.safety_stock,
        }
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.key, last.sku])
    return page, next_cursor


def _current_levels(
    conn: Connection, *, by: StockLevel, where: StockFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """As things stand: straight from the stock rows, which carry their warehouse's branch
    and region, grouped in index order so a page reads only its own SKUs' rows."""
    key = {
        StockLevel.WAREHOUSE: stock.c.warehouse_code,
        StockLevel.BRANCH: stock.c.branch,
        StockLevel.REGION: stock.c.region,
        StockLevel.NATION: literal("CN"),
    }[by]
    on_hand = func.sum(stock.c.on_hand)
    reserved = func.sum(stock.c.reserved)
    safety = func.sum(stock.c.safety_stock)
    query = select(
        key.label("key"),
        stock.c.sku,
        on_hand.label("on_hand"),
        reserved.label("reserved"),
        safety.label("safety_stock"),
    )
    for value, column in (
        (where.warehouse, stock.c.warehouse_code),
        (where.sku, stock.c.sku),
        (where.branch, stock.c.branch),
        (where.region, stock.c.region),
    ):
        if value:
            query = query.where(column == value)
    ordering = [stock.c.sku] if by == StockLevel.NATION else [key, stock.c.sku]
    if cursor:
        last_key, last_sku = decode_cursor(cursor)
        if not isinstance(last_key, str) or not isinstance(last_sku, str):
            raise InvalidCursor("cursor is not one this API issued")
        # On the grouping columns themselves (not on the groups), so the index scan starts
        # after the last page.
        if by == StockLevel.NATION:
            query = query.where(stock.c.sku > last_sku)
        else:
            query = query.where(
                tuple_(key, stock.c.sku) > tuple_(literal(last_key), literal(last_sku))
            )
    query = query.group_by(*ordering)
    if where.below_safety:
        query = query.having(on_hand - reserved < safety)
    rows = conn.execute(query.order_by(*ordering).limit(limit + 1)).all()
    return _page(rows, by, limit)
