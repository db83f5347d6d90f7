"""Target attainment: invoiced net sales of a month (invoiced less credit notes, each on its
own business date: the sales read model's ``net_sales``) against floor, target and stretch,
per branch or per salesperson."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, select

from projections.dates import first_of_next_month
from projections.demand_plans.queries import ratio
from projections.sales.projection import sales_branch_monthly, sales_daily, sales_dealers
from projections.targets.projection import target_assignments, target_levels, target_salespeople

LEVELS = ("floor", "target", "stretch")


class TargetDimension(StrEnum):
    BRANCH = "branch"
    SALESPERSON = "salesperson"


def month_range(month: str) -> tuple[date, date]:
    first = date.fromisoformat(f"{month}-01")
    after = first_of_next_month(first)
    return first, after - timedelta(days=1) if after else date.max


def reached(net: Decimal, levels: dict[str, Decimal] | None) -> str:
    """The highest level the net sales reached: stretch, target, floor, below_floor; or
    no_target when none was set."""
    if levels is None:
        return "no_target"
    for name in reversed(LEVELS):
        if net >= levels[name]:
            return name
    return "below_floor"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{Decimal(value):.2f}"


def _row(key: dict[str, Any], net: Decimal, levels: dict[str, Decimal] | None) -> dict:
    return {
        **key,
        "net_sales": _money(net),
        **{name: _money(levels[name]) if levels else None for name in LEVELS},
        **{f"{name}_ratio": ratio(net, levels[name]) if levels else None for name in LEVELS},
        "reached": reached(net, levels),
    }


def _levels(conn: Connection, month: str, scope: str) -> dict[str, tuple[str | None, dict]]:
    rows = conn.execute(
        select(target_levels).where(target_levels.c.month == month, target_levels.c.scope == scope)
    ).all()
    return {r.key: (r.branch, {n: r._mapping[n] for n in LEVELS}) for r in rows}


def national(conn: Connection, *, month: str) -> dict[str, Any]:
    """The nation's levels, what the branches were allocated, the rest, and net sales."""
    first, _ = month_range(month)
    nation = _levels(conn, month, "nation").get("CN")
    branches = _levels(conn, month, "branch")
    net = conn.execute(
        select(
            func.coalesce(
                func.sum(sales_branch_monthly.c.invoiced_amount)
                - func.sum(sales_branch_monthly.c.credited_amount),
                0,
            )
        ).where(sales_branch_monthly.c.month == first)
    ).scalar_one()
    allocated = {n: sum((lv[n] for _, lv in branches.values()), Decimal("0")) for n in LEVELS}
    levels = nation[1] if nation else None
    return {
        **_row({"key": "CN"}, Decimal(net), levels),
        "allocated": {n: _money(allocated[n]) for n in LEVELS},
        "unallocated": {n: _money(levels[n] - allocated[n]) for n in LEVELS} if levels else None,
    }


def branches_of_region(conn: Connection, region: str) -> set[str]:
    """The branches of a region, as the dealers' registrations name them."""
    query = select(sales_dealers.c.branch).where(sales_dealers.c.region == region).distinct()
    return set(conn.execute(query).scalars())


def _within(conn: Connection, branch: str | None, region: str | None):
    """Whether a branch is inside the filter (a branch, a region's branches, or all)."""
    in_region = branches_of_region(conn, region) if region else None
    return lambda of_branch: (
        (branch is None or of_branch == branch) and (in_region is None or of_branch in in_region)
    )


def branch_attainment(
    conn: Connection, *, month: str, branch: str | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    first, _ = month_range(month)
    within = _within(conn, branch, region)
    table = sales_branch_monthly
    query = (
        select(
            table.c.branch,
            (func.sum(table.c.invoiced_amount) - func.sum(table.c.credited_amount)).label("net"),
        )
        .where(table.c.month == first)
        .group_by(table.c.branch)
    )
    if branch:
        query = query.where(table.c.branch == branch)
    net = {row.branch: Decimal(row.net) for row in conn.execute(query)}
    levels = {k: v for k, (_, v) in _levels(conn, month, "branch").items()}
    keys = sorted(k for k in set(net) | set(levels) if within(k))
    return [
        _row({"key": k or None, "branch": k or None}, net.get(k, Decimal("0.00")), levels.get(k))
        for k in keys
    ]


def salesperson_attainment(
    conn: Connection, *, month: str, branch: str | None = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Each dealer's day of net sales goes to the salesperson whose assignment was in force
    that day; days of dealers nobody covered are shown per branch as unassigned (key null)."""
    first, last = month_range(month)
    within = _within(conn, branch, region)
    a = target_assignments
    covering = (
        select(a.c.salesperson_code)
        .where(
            a.c.dealer_code == sales_daily.c.dealer_code, a.c.effective_from <= sales_daily.c.day
        )
        .order_by(a.c.effective_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    attributed = (
        select(
            covering.label("salesperson_code"),
            sales_daily.c.branch,
            (sales_daily.c.invoiced_amount - sales_daily.c.credited_amount).label("net"),
        )
        .where(sales_daily.c.day >= first, sales_daily.c.day <= last)
        .subquery()
    )
    query = select(
        attributed.c.salesperson_code,
        attributed.c.branch,
        func.sum(attributed.c.net).label("net"),
    ).group_by(attributed.c.salesperson_code, attributed.c.branch)
    net: dict[tuple[str | None, str], Decimal] = {}
    for row in conn.execute(query):
        net[(row.salesperson_code, row.branch)] = Decimal(row.net)
    people = {
        r.salesperson_code: (r.name, r.branch) for r in conn.execute(select(target_salespeople))
    }
    levels = _levels(conn, month, "salesperson")
    # A salesperson's sales are theirs whichever branch the dealer rows name.
    by_person: dict[str | None, Decimal] = {}
    unassigned: dict[str, Decimal] = {}
    for (code, of_branch), amount in net.items():
        if code is None:
            unassigned[of_branch] = unassigned.get(of_branch, Decimal("0")) + amount
        else:
            by_person[code] = by_person.get(code, Decimal("0")) + amount
    rows = []
    for code in sorted(set(by_person) | set(levels) | set(people)):
        name, of_branch = people.get(code, (None, levels.get(code, (None, None))[0]))
        if not within(of_branch):
            continue
        if code not in levels and code not in by_person:
            continue  # registered, but no target and no sales this month
        amount = by_person.get(code, Decimal("0.00"))
        rows.append(
            _row(
                {"key": code, "salesperson_code": code, "name": name, "branch": of_branch},
                amount,
                levels.get(code, (None, None))[1],
            )
        )
    for of_branch in sorted(unassigned):
        if not within(of_branch):
            continue
        rows.append(
            _row(
                {"key": None, "salesperson_code": None, "name": None, "branch": of_branch or None},
                unassigned[of_branch],
                None,
            )
        )
    return rows
