"""Queries over the demand-plan read model: plan against actually ordered, per month."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, union_all

from projections.demand_plans.projection import (
    demand_order_lines,
    demand_plan_lines,
    demand_plans,
    demand_voided_orders,
)

RATIO = Decimal("0.0001")


class PlanDimension(StrEnum):
    SKU = "sku"
    DEALER = "dealer"
    BRANCH = "branch"
    REGION = "region"
    NATION = "nation"


@dataclass(frozen=True)
class PlanFilter:
    month: str
    branch: str | None = None
    region: str | None = None
    dealer: str | None = None
    sku: str | None = None


def ratio(part: Decimal | int, whole: Decimal | int) -> str | None:
    if not whole:
        return None
    return str((Decimal(part) / Decimal(whole)).quantize(RATIO, rounding=ROUND_HALF_UP))


def _key(by: PlanDimension, dealer, branch, region, sku):
    return {
        PlanDimension.SKU: sku,
        PlanDimension.DEALER: dealer,
        PlanDimension.BRANCH: branch,
        PlanDimension.REGION: region,
        PlanDimension.NATION: literal("CN"),
    }[by]


def plan_vs_actual(
    conn: Connection, *, by: PlanDimension, where: PlanFilter, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Per SKU, dealer, branch, region or the nation in one month: approved plan quantity,
    quantity in plans awaiting review, actually ordered, ordered - approved, ordered /
    approved. Keyset-paginated by key."""
    plan, line = demand_plans, demand_plan_lines
    planned = (
        select(
            _key(by, plan.c.dealer_code, plan.c.branch, plan.c.region, line.c.sku).label("key"),
            case((plan.c.status == "approved", line.c.quantity), else_=0).label("approved"),
            case((plan.c.status == "submitted", line.c.quantity), else_=0).label("pending"),
            literal(0).label("ordered"),
        )
        .select_from(
            plan.join(
                line, (line.c.dealer_code == plan.c.dealer_code) & (line.c.month == plan.c.month)
            )
        )
        .where(plan.c.month == where.month, plan.c.status != "returned")
    )
    order, voided = demand_order_lines, demand_voided_orders
    ordered = (
        select(
            _key(by, order.c.dealer_code, order.c.branch, order.c.region, order.c.sku).label("key"),
            literal(0).label("approved"),
            literal(0).label("pending"),
            order.c.quantity.label("ordered"),
        )
        .select_from(order.outerjoin(voided, voided.c.order_id == order.c.order_id))
        .where(order.c.month == where.month, voided.c.order_id.is_(None))
    )
    for value, column in (
        (where.branch, "branch"),
        (where.region, "region"),
        (where.dealer, "dealer_code"),
    ):
        if value:
            planned = planned.where(plan.c[column] == value)
            ordered = ordered.where(order.c[column] == value)
    if where.sku:
        planned = planned.where(line.c.sku == where.sku)
        ordered = ordered.where(order.c.sku == where.sku)
    both = union_all(planned, ordered).subquery()
    query = select(
        both.c.key,
        func.coalesce(func.sum(both.c.approved), 0).label("approved"),
        func.coalesce(func.sum(both.c.pending), 0).label("pending"),
        func.coalesce(func.sum(both.c.ordered), 0).label("ordered"),
    ).group_by(both.c.key)
    if cursor:
        query = query.having(both.c.key > cursor)
    rows = conn.execute(query.order_by(both.c.key).limit(limit + 1)).all()
    page = [
        {
            "key": row.key,
            "approved_quantity": int(row.approved),
            "pending_quantity": int(row.pending),
            "ordered_quantity": int(row.ordered),
            "variance": int(row.ordered) - int(row.approved),
            "ordered_to_plan": ratio(row.ordered, row.approved),
        }
        for row in rows[:limit]
    ]
    next_cursor = rows[limit - 1].key if len(rows) > limit else None
    return page, next_cursor


def dealer_branch(conn: Connection, dealer_code: str) -> str | None:
    """The dealer's branch as its plans or orders name it (None: none seen yet)."""
    for table in (demand_plans, demand_order_lines):
        branch = conn.execute(
            select(table.c.branch).where(table.c.dealer_code == dealer_code).limit(1)
        ).scalar()
        if branch is not None:
            return branch
    return None
