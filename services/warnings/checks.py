"""The routine rules' conditions (issue 16), each one set-based query over the read models
(projections/*): every subject that meets the rule's threshold on a day, with the figures
that say why and the branch responsible. No query walks subjects one by one, so one
evaluation of every rule for thousands of dealers is a handful of statements.

A check reads only; raising and clearing are services/warnings/routine.py's. Money stays
``Decimal``; percentages are shown to one place.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, and_, case, func, literal, or_, select

from projections.channel_health.projection import shipments as health_shipments
from projections.channel_health.queries import RULES as HEALTH_RULES
from projections.channel_health.queries import dealer_figures
from projections.dates import days_before
from projections.demand_plans.projection import (
    demand_order_lines,
    demand_plan_lines,
    demand_plans,
    demand_voided_orders,
)
from projections.inventory.projection import movements, stock, warehouses
from projections.lists.projection import list_orders
from projections.receivables.projection import dealers
from projections.receivables.queries import is_current, open_items
from projections.sales.projection import sales_branch_monthly, sales_daily
from projections.targets.projection import target_levels

HUNDRED = Decimal(100)
TOP_N = 10  # the seed systems' "TOP10 line"
AVERAGE_MONTHS = 3  # a top dealer's month is held against its average of the months before
REGULAR_ORDERS = 3  # orders in REGULAR_WINDOW_DAYS up to its last that make a dealer regular
REGULAR_WINDOW_DAYS = 180


@dataclass(frozen=True)
class Finding:
    """A subject that meets a rule, where it belongs, and why (text with figures)."""

    subject: str
    branch: str | None
    region: str | None
    dealer: str | None
    reasons: list[dict[str, Any]]

    @classmethod
    def at(
        cls, subject: str, row: Any, dealer: str | None, reasons: list[dict[str, Any]]
    ) -> Finding:
        """Where the read-model row says the subject belongs (its branch and region)."""
        return cls(subject, row.branch or None, row.region or None, dealer, reasons)


Check = Callable[[Connection, Decimal, date], Iterable[Finding]]


def reason(text: str, **figures: Any) -> dict[str, Any]:
    return {"text": text, "figures": {name: str(value) for name, value in figures.items()}}


def percent(part: Decimal, whole: Decimal) -> Decimal:
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)


def money(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"), ROUND_HALF_UP)


def month_start(day: date, back: int = 0) -> date:
    """The first day of ``day``'s month, ``back`` months earlier."""
    months = day.year * 12 + day.month - 1 - back
    return date(months // 12, months % 12 + 1, 1)


# -- dealers: credit, receivables, channel health ------------------------------------------
def credit_utilisation(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    figures, _ = dealer_figures(conn, as_of=today)
    limit = figures.c.credit_limit
    query = select(figures).where(limit > 0, figures.c.exposure >= limit * threshold / HUNDRED)
    for row in conn.execute(query):
        used = percent(row.exposure, row.credit_limit)
        yield Finding.at(
            f"dealer:{row.dealer_code}",
            row,
            row.dealer_code,
            [
                reason(
                    f"dealer {row.dealer_code} uses {used} % of its credit limit: exposure "
                    f"{money(row.exposure)} of {money(row.credit_limit)} (warned from "
                    f"{threshold} %)",
                    exposure=money(row.exposure),
                    credit_limit=money(row.credit_limit),
                    utilisation_percent=used,
                    threshold_percent=threshold,
                )
            ],
        )


def receivables_overdue(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    days = int(threshold)
    items = open_items(today, current=is_current(conn, today), due_before=days_before(today, days))
    overdue = (
        select(
            items.c.dealer_code,
            func.sum(items.c.open).label("overdue"),
            func.min(items.c.due_date).label("oldest_due"),
        )
        .group_by(items.c.dealer_code)
        .having(func.sum(items.c.open) > 0)
        .subquery()
    )
    query = select(overdue, dealers.c.branch, dealers.c.region).select_from(
        overdue.outerjoin(dealers, dealers.c.dealer_code == overdue.c.dealer_code)
    )
    for row in conn.execute(query):
        yield Finding.at(
            f"dealer:{row.dealer_code}",
            row,
            row.dealer_code,
            [
                reason(
                    f"dealer {row.dealer_code} owes {money(row.overdue)} more than {days} "
                    f"days past due (oldest due {row.oldest_due})",
                    overdue=money(row.overdue),
                    days_past_due_over=days,
                    oldest_due_date=row.oldest_due,
                )
            ],
        )


def dealer_red(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    figures, rules = dealer_figures(conn, as_of=today)
    reds = sum((case((figures.c[rule] == 2, 1), else_=0) for rule in HEALTH_RULES), literal(0))
    query = select(figures).where(reds >= int(threshold))
    for row in conn.execute(query):
        details = {
            "credit_utilisation": lambda r: reason(
                f"credit utilisation {percent(r.exposure, r.credit_limit)} % is red "
                f"(red from {rules.utilisation_red * HUNDRED:.0f} %)",
                exposure=money(r.exposure),
                credit_limit=money(r.credit_limit),
            ),
            "over_90_days": lambda r: reason(
                f"{money(r.over_90)} more than 90 days past due is red "
                f"(red from {money(rules.over_90_red)})",
                over_90=money(r.over_90),
            ),
            "undelivered_shipments": lambda r: reason(
                f"{r.undelivered} shipment(s) not confirmed delivered "
                f"{rules.undelivered_after_days} days after shipping is red "
                f"(red from {rules.undelivered_red})",
                undelivered_shipments=r.undelivered,
            ),
        }
        yield Finding.at(
            f"dealer:{row.dealer_code}",
            row,
            row.dealer_code,
            [details[rule](row) for rule in HEALTH_RULES if getattr(row, rule) == 2],
        )


def shipment_not_delivered(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    days = int(threshold)
    late = days_before(today, days)
    ship = health_shipments
    query = (
        select(ship, dealers.c.branch, dealers.c.region)
        .select_from(ship.outerjoin(dealers, dealers.c.dealer_code == ship.c.dealer_code))
        .where(
            ship.c.ship_date <= late,
            or_(ship.c.delivered_on.is_(None), ship.c.delivered_on > today),
        )
    )
    for row in conn.execute(query):
        waited = (today - row.ship_date).days
        yield Finding.at(
            f"shipment:{row.shipment_id}",
            row,
            row.dealer_code,
            [
                reason(
                    f"shipment {row.shipment_id} of order {row.order_id} to dealer "
                    f"{row.dealer_code} shipped {row.ship_date}, not confirmed delivered "
                    f"after {waited} days (warned after {days})",
                    ship_date=row.ship_date,
                    days_since_shipping=waited,
                    order_id=row.order_id,
                )
            ],
        )


def dealer_churn(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    days = int(threshold)
    orders = list_orders
    last = (
        select(
            orders.c.dealer_code,
            func.max(orders.c.business_date).label("last_order"),
        )
        .where(orders.c.business_date.is_not(None), orders.c.dealer_code.is_not(None))
        .group_by(orders.c.dealer_code)
        .having(func.max(orders.c.business_date) <= days_before(today, days))
        .subquery()
    )
    window = last.c.last_order - REGULAR_WINDOW_DAYS
    query = (
        select(
            last.c.dealer_code,
            last.c.last_order,
            func.count().label("orders"),
            func.max(orders.c.branch).label("branch"),
            func.max(orders.c.region).label("region"),
        )
        .select_from(
            last.join(
                orders,
                and_(
                    orders.c.dealer_code == last.c.dealer_code,
                    orders.c.business_date > window,
                ),
            )
        )
        .group_by(last.c.dealer_code, last.c.last_order)
        .having(func.count() >= REGULAR_ORDERS)
    )
    for row in conn.execute(query):
        silent = (today - row.last_order).days
        yield Finding.at(
            f"dealer:{row.dealer_code}",
            row,
            row.dealer_code,
            [
                reason(
                    f"dealer {row.dealer_code} ordered {row.orders} times in the "
                    f"{REGULAR_WINDOW_DAYS} days up to {row.last_order} and has not ordered "
                    f"for {silent} days (warned after {days})",
                    last_order=row.last_order,
                    days_without_order=silent,
                    orders_before=row.orders,
                )
            ],
        )


def top_dealer_drop(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    """The month before today's against the average of the AVERAGE_MONTHS before it, for
    the TOP_N dealers by net sales over those months."""
    month = month_start(today, 1)
    first = month_start(today, 1 + AVERAGE_MONTHS)
    net = sales_daily.c.invoiced_amount - sales_daily.c.credited_amount
    in_month = sales_daily.c.day >= month
    per_dealer = (
        select(
            sales_daily.c.dealer_code,
            func.max(sales_daily.c.branch).label("branch"),
            func.max(sales_daily.c.region).label("region"),
            func.coalesce(func.sum(net).filter(in_month), 0).label("month_net"),
            func.coalesce(func.sum(net).filter(~in_month), 0).label("before_net"),
        )
        .where(sales_daily.c.day >= first, sales_daily.c.day < month_start(today))
        .group_by(sales_daily.c.dealer_code)
        .subquery()
    )
    top = (
        select(per_dealer)
        .where(per_dealer.c.before_net > 0)
        .order_by(per_dealer.c.before_net.desc(), per_dealer.c.dealer_code)
        .limit(TOP_N)
    )
    label = f"{month:%Y-%m}"
    for row in conn.execute(top):
        average = money(Decimal(row.before_net) / AVERAGE_MONTHS)
        fall = percent(average - Decimal(row.month_net), average)
        if fall <= threshold:
            continue
        yield Finding.at(
            f"dealer:{row.dealer_code}",
            row,
            row.dealer_code,
            [
                reason(
                    f"top-{TOP_N} dealer {row.dealer_code}: net sales of {label} "
                    f"{money(row.month_net)} are {fall} % below its {AVERAGE_MONTHS}-month "
                    f"average {average} (warned beyond {threshold} %)",
                    month=label,
                    month_net_sales=money(row.month_net),
                    average_net_sales=average,
                    fall_percent=fall,
                )
            ],
        )


# -- branches and plans ---------------------------------------------------------------------
def branch_pace_below_floor(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    if today.day < int(threshold):
        return
    month = month_start(today)
    label = f"{month:%Y-%m}"
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    rolled = sales_branch_monthly
    sold = (
        select(
            rolled.c.branch,
            func.max(rolled.c.region).label("region"),
            func.sum(rolled.c.invoiced_amount - rolled.c.credited_amount).label("net"),
        )
        .where(rolled.c.month == month)
        .group_by(rolled.c.branch)
        .subquery()
    )
    levels = target_levels
    query = (
        select(levels.c.key.label("branch"), levels.c.floor, sold.c.region, sold.c.net)
        .select_from(levels.outerjoin(sold, sold.c.branch == levels.c.key))
        .where(levels.c.month == label, levels.c.scope == "branch", levels.c.floor > 0)
    )
    for row in conn.execute(query):
        net = money(row.net)
        pace = money(net * days_in_month / today.day)
        if pace >= Decimal(row.floor):
            continue
        yield Finding.at(
            f"branch:{row.branch}",
            row,
            None,
            [
                reason(
                    f"branch {row.branch}: {net} net sales in {today.day} days of {label} "
                    f"run at {pace} for the month, below its floor {money(row.floor)}",
                    month=label,
                    month_to_date_net_sales=net,
                    pace=pace,
                    floor=money(row.floor),
                    day=today.day,
                )
            ],
        )


def demand_plan_deviation(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    """The month that ended last: each approved plan against what its dealer ordered."""
    label = f"{month_start(today, 1):%Y-%m}"
    plan, line = demand_plans, demand_plan_lines
    approved = (
        select(
            plan.c.dealer_code,
            plan.c.branch,
            plan.c.region,
            func.sum(line.c.quantity).label("approved"),
        )
        .select_from(
            plan.join(
                line, and_(line.c.dealer_code == plan.c.dealer_code, line.c.month == plan.c.month)
            )
        )
        .where(plan.c.month == label, plan.c.status == "approved")
        .group_by(plan.c.dealer_code, plan.c.branch, plan.c.region)
        .subquery()
    )
    order, voided = demand_order_lines, demand_voided_orders
    ordered = (
        select(order.c.dealer_code, func.sum(order.c.quantity).label("ordered"))
        .select_from(order.outerjoin(voided, voided.c.order_id == order.c.order_id))
        .where(order.c.month == label, voided.c.order_id.is_(None))
        .group_by(order.c.dealer_code)
        .subquery()
    )
    query = select(approved, func.coalesce(ordered.c.ordered, 0).label("ordered")).select_from(
        approved.outerjoin(ordered, ordered.c.dealer_code == approved.c.dealer_code)
    )
    for row in conn.execute(query):
        if not row.approved:
            continue
        off = percent(abs(int(row.ordered) - int(row.approved)), row.approved)
        if off <= threshold:
            continue
        yield Finding.at(
            f"demand_plan:{row.dealer_code}:{label}",
            row,
            row.dealer_code,
            [
                reason(
                    f"dealer {row.dealer_code} ordered {row.ordered} units in {label} "
                    f"against an approved plan of {row.approved}: {off} % off "
                    f"(warned beyond {threshold} %)",
                    month=label,
                    approved_quantity=row.approved,
                    ordered_quantity=row.ordered,
                    deviation_percent=off,
                )
            ],
        )


# -- stock ------------------------------------------------------------------------------------
def stock_below_safety(conn: Connection, threshold: Decimal, today: date) -> Iterable[Finding]:
    available = stock.c.on_hand - stock.c.reserved - stock.c.damaged
    query = select(stock, available.label("available")).where(
        stock.c.safety_stock > 0, available * HUNDRED < stock.c.safety_stock * threshold
    )
    for row in conn.execute(query):
        yield Finding.at(
            f"stock:{row.warehouse_code}:{row.sku}",
            row,
            None,
            [
                reason(
                    f"{row.sku} at {row.warehouse_code}: {row.available} available "
                    f"(on hand {row.on_hand}, reserved {row.reserved}, damaged "
                    f"{row.damaged}) below safety stock {row.safety_stock}",
                    sku=row.sku,
                    warehouse=row.warehouse_code,
                    available=row.available,
                    safety_stock=row.safety_stock,
                    short=row.safety_stock - row.available,
                )
            ],
        )


def consignment_slow_turnover(
    conn: Connection, threshold: Decimal, today: date
) -> Iterable[Finding]:
    """Units in a dealer's consignment stock older than N days, oldest out first: what is
    on hand beyond the units received in the last N days."""
    days = int(threshold)
    since = days_before(today, days)
    recent = (
        select(
            movements.c.warehouse_code,
            movements.c.sku,
            func.sum(movements.c.on_hand_delta).label("received"),
        )
        .select_from(movements.join(warehouses, warehouses.c.code == movements.c.warehouse_code))
        .where(
            warehouses.c.kind == "consignment",
            movements.c.on_hand_delta > 0,
            movements.c.business_date > since,
        )
        .group_by(movements.c.warehouse_code, movements.c.sku)
        .subquery()
    )
    received = func.coalesce(recent.c.received, 0)
    query = (
        select(
            stock.c.warehouse_code,
            stock.c.sku,
            stock.c.on_hand,
            received.label("received"),
            warehouses.c.dealer_code,
            warehouses.c.branch,
            warehouses.c.region,
        )
        .select_from(
            stock.join(warehouses, warehouses.c.code == stock.c.warehouse_code).outerjoin(
                recent,
                and_(
                    recent.c.warehouse_code == stock.c.warehouse_code,
                    recent.c.sku == stock.c.sku,
                ),
            )
        )
        .where(warehouses.c.kind == "consignment", stock.c.on_hand > received)
    )
    for row in conn.execute(query):
        old = int(row.on_hand) - int(row.received)
        yield Finding.at(
            f"stock:{row.warehouse_code}:{row.sku}",
            row,
            row.dealer_code,
            [
                reason(
                    f"{old} of {row.on_hand} units of {row.sku} in dealer "
                    f"{row.dealer_code}'s consignment stock at {row.warehouse_code} are "
                    f"older than {days} days",
                    sku=row.sku,
                    warehouse=row.warehouse_code,
                    older_units=old,
                    on_hand=row.on_hand,
                    days=days,
                )
            ],
        )


CHECKS: dict[str, Check] = {
    "credit_utilisation": credit_utilisation,
    "receivables_overdue": receivables_overdue,
    "stock_below_safety": stock_below_safety,
    "consignment_slow_turnover": consignment_slow_turnover,
    "shipment_not_delivered": shipment_not_delivered,
    "dealer_red": dealer_red,
    "dealer_churn": dealer_churn,
    "top_dealer_drop": top_dealer_drop,
    "branch_pace_below_floor": branch_pace_below_floor,
    "demand_plan_deviation": demand_plan_deviation,
}
