"""Queries over the inventory read model: stock per warehouse and SKU, rolled up by branch,
region or the nation, now or as of a past business date, keyset-paginated; and consignment
stock at dealers with their reported sell-through per period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, literal, select, tuple_

from projections.inventory.projection import movements, sell_through, stock, warehouses
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
            func.sum(movements.c.damaged_delta).label("damaged"),
            func.sum(movements.c.in_transit_delta).label("in_transit"),
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
            moved.c.damaged,
            moved.c.in_transit,
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
    damaged = func.sum(levels.c.damaged)
    safety = func.sum(levels.c.safety_stock)
    query = select(
        key.label("key"),
        levels.c.sku,
        on_hand.label("on_hand"),
        reserved.label("reserved"),
        damaged.label("damaged"),
        func.sum(levels.c.in_transit).label("in_transit"),
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
        query = query.having(on_hand - reserved - damaged < safety)
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
            "damaged": int(row.damaged),
            "available": int(row.on_hand - row.reserved - row.damaged),
            "in_transit": int(row.in_transit),
            "safety_stock": int(row.safety_stock),
            "below_safety": row.on_hand - row.reserved - row.damaged < row.safety_stock,
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
    damaged = func.sum(stock.c.damaged)
    safety = func.sum(stock.c.safety_stock)
    query = select(
        key.label("key"),
        stock.c.sku,
        on_hand.label("on_hand"),
        reserved.label("reserved"),
        damaged.label("damaged"),
        func.sum(stock.c.in_transit).label("in_transit"),
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
        query = query.having(on_hand - reserved - damaged < safety)
    rows = conn.execute(query.order_by(*ordering).limit(limit + 1)).all()
    return _page(rows, by, limit)


@dataclass(frozen=True)
class ConsignmentFilter:
    dealer: str | None = None
    branch: str | None = None
    region: str | None = None
    warehouse: str | None = None
    sku: str | None = None
    period_from: date | None = None  # sell-through of periods ending on or after
    period_to: date | None = None  # ... and starting on or before


def consignment_stock(
    conn: Connection, *, where: ConsignmentFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """寄售: per consignment warehouse (a dealer's location) and SKU, the stock the dealer
    holds for the brand, and what it reported sold per period (periods overlapping the
    filter's). A warehouse's stock shows once its registration is in."""
    query = (
        select(
            stock.c.warehouse_code,
            stock.c.sku,
            warehouses.c.dealer_code,
            warehouses.c.branch,
            warehouses.c.region,
            stock.c.on_hand,
            stock.c.damaged,
            stock.c.in_transit,
        )
        .select_from(stock.join(warehouses, warehouses.c.code == stock.c.warehouse_code))
        .where(warehouses.c.kind == "consignment")
    )
    for value, column in (
        (where.dealer, warehouses.c.dealer_code),
        (where.branch, warehouses.c.branch),
        (where.region, warehouses.c.region),
        (where.warehouse, stock.c.warehouse_code),
        (where.sku, stock.c.sku),
    ):
        if value:
            query = query.where(column == value)
    if cursor:
        last_warehouse, last_sku = decode_cursor(cursor)
        if not isinstance(last_warehouse, str) or not isinstance(last_sku, str):
            raise InvalidCursor("cursor is not one this API issued")
        query = query.where(
            tuple_(stock.c.warehouse_code, stock.c.sku)
            > tuple_(literal(last_warehouse), literal(last_sku))
        )
    rows = conn.execute(query.order_by(stock.c.warehouse_code, stock.c.sku).limit(limit + 1)).all()
    page = rows[:limit]
    sold: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if page:
        periods = (
            select(
                sell_through.c.warehouse_code,
                sell_through.c.sku,
                sell_through.c.period_from,
                sell_through.c.period_to,
                func.sum(sell_through.c.quantity).label("quantity"),
                func.sum(sell_through.c.cost).label("cost"),
            )
            .where(
                tuple_(sell_through.c.warehouse_code, sell_through.c.sku).in_(
                    [(r.warehouse_code, r.sku) for r in page]
                )
            )
            .group_by(
                sell_through.c.warehouse_code,
                sell_through.c.sku,
                sell_through.c.period_from,
                sell_through.c.period_to,
            )
            .order_by(sell_through.c.period_from, sell_through.c.period_to)
        )
        if where.period_from:
            periods = periods.where(sell_through.c.period_to >= where.period_from)
        if where.period_to:
            periods = periods.where(sell_through.c.period_from <= where.period_to)
        for period in conn.execute(periods):
            sold.setdefault((period.warehouse_code, period.sku), []).append(
                {
                    "period_from": period.period_from.isoformat(),
                    "period_to": period.period_to.isoformat(),
                    "quantity": int(period.quantity),
                    "cost": f"{period.cost:.2f}",
                }
            )
    items = [
        {
            "warehouse": row.warehouse_code,
            "dealer": row.dealer_code,
            "branch": row.branch,
            "region": row.region,
            "sku": row.sku,
            "on_hand": int(row.on_hand),
            "damaged": int(row.damaged),
            "in_transit": int(row.in_transit),
            "sell_through": (periods := sold.get((row.warehouse_code, row.sku), [])),
            "sold": sum(p["quantity"] for p in periods),
        }
        for row in page
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.warehouse_code, last.sku])
    return items, next_cursor
