"""Channel health as of a date: per dealer a colour and its reasons, and counts by colour
per branch, region or the nation.

Each rule gives a level (0 green, 1 yellow, 2 red) from one figure: credit utilisation
(exposure / credit limit, exposure as of now for reserved credit), receivables more than 90
days past due, and shipments not confirmed delivered within N days of shipping. A dealer's
colour is its worst level. Dealers without a credit limit have no utilisation rule.
The levels are computed in SQL once, and both the dealer list and the counts use them. The
dealer list's and the counts' statements are built once per shape, their values (the date,
the rules' thresholds, the filter) bound at execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Integer,
    Numeric,
    Select,
    String,
    bindparam,
    case,
    func,
    literal,
    select,
    union_all,
)

from contracts.finance import ChannelHealthRulesSet
from projections.channel_health.projection import health_rules, shipments
from projections.dates import days_before
from projections.receivables.projection import dealers
from projections.receivables.queries import (
    DealerFilter,
    Level,
    dealer_balances,
    dealer_conditions,
    is_current,
    over_90_per_dealer,
)
from projections.sales.queries import InvalidCursor, decode_cursor, encode_cursor

COLOURS = ("green", "yellow", "red")
RULES = ("credit_utilisation", "over_90_days", "undelivered_shipments")


@dataclass(frozen=True)
class HealthFilter(DealerFilter):
    colour: str | None = None


def rules_in_force(conn: Connection) -> ChannelHealthRulesSet:
    row = conn.execute(select(health_rules).where(health_rules.c.id == 1)).first()
    if row is None:
        return ChannelHealthRulesSet()
    fields = row._asdict()
    return ChannelHealthRulesSet(
        **{name: fields[name] for name in ChannelHealthRulesSet.model_fields}
    )


def rules_view(rules: ChannelHealthRulesSet) -> dict[str, Any]:
    """Ratios to four places, money to the fen, counts and days as integers."""
    view: dict[str, Any] = rules.model_dump(mode="json")
    view["utilisation_yellow"] = f"{rules.utilisation_yellow:.4f}"
    view["utilisation_red"] = f"{rules.utilisation_red:.4f}"
    return view


def _level(figure, yellow, red):
    return case((figure >= red, 2), (figure >= yellow, 1), else_=0)


# What the levels are computed from, bound at execution in a statement built once per shape.
_BOUND = {
    "as_of": Date,
    "over_90_before": Date,  # due before it: more than 90 days past due as of ``as_of``
    "late": Date,  # shipped by then: due to be confirmed delivered by ``as_of``
    "utilisation_yellow": Numeric,
    "utilisation_red": Numeric,
    "over_90_yellow": Numeric,
    "over_90_red": Numeric,
    "undelivered_yellow": Integer,
    "undelivered_red": Integer,
}


_THRESHOLDS = tuple(name for name in _BOUND if name in ChannelHealthRulesSet.model_fields)


def _values(rules: ChannelHealthRulesSet, as_of: date) -> dict[str, Any]:
    return {
        "as_of": as_of,
        "over_90_before": days_before(as_of, 90),
        "late": days_before(as_of, rules.undelivered_after_days),
        **{name: getattr(rules, name) for name in _THRESHOLDS},
    }


def _dealer_levels(values: Mapping[str, Any], current: bool):
    """Per dealer: its figures and each rule's level, and the colour (worst level), from
    ``values`` (see :func:`_values`): each a value, or a parameter bound later."""
    as_of = values["as_of"]
    balances = dealer_balances(as_of, current=current)
    aged = over_90_per_dealer(as_of, current=current, due_before=values["over_90_before"])
    late = values["late"]
    # Shipped by ``late`` and not delivered by ``as_of``: never confirmed, or confirmed
    # after it; two selects, each read from its own index.
    never = select(shipments.c.dealer_code).where(
        shipments.c.delivered_on.is_(None), shipments.c.ship_date <= late
    )
    after = select(shipments.c.dealer_code).where(
        shipments.c.delivered_on > as_of, shipments.c.ship_date <= late
    )
    pending = union_all(never, after).subquery()
    undelivered = (
        select(pending.c.dealer_code, func.count().label("count"))
        .group_by(pending.c.dealer_code)
        .subquery()
    )

    def amount(name: str):
        return func.coalesce(balances.amounts[name], 0)

    joined = balances.joined_to(dealers, dealers.c.dealer_code)
    for source in (aged, undelivered):
        joined = joined.outerjoin(source, source.c.dealer_code == dealers.c.dealer_code)
    # Each dealer's figures first, then their levels from those: PostgreSQL works an
    # expression out again wherever it is used, and exposure (five amounts) was used four
    # times a dealer; numeric arithmetic is most of what this query costs.
    figures = (
        select(
            dealers.c.dealer_code,
            dealers.c.branch,
            dealers.c.region,
            dealers.c.credit_limit,
            (
                amount("invoiced")
                - amount("received")
                - amount("credited")
                - amount("rebate_credited")
                + amount("reserved")
            ).label("exposure"),
            func.coalesce(aged.c.over_90, 0).label("over_90"),
            func.coalesce(undelivered.c.count, 0).label("undelivered"),
        )
        .select_from(joined)
        .cte("dealer_amounts")
        .prefix_with("MATERIALIZED")
    )
    exposure, limit = figures.c.exposure, figures.c.credit_limit
    levels = {
        # exposure >= limit x threshold: the same test as utilisation >= threshold without a
        # division per dealer and rule (numeric division is the costliest step here).
        "credit_utilisation": case(
            (limit <= 0, 0),
            (exposure >= limit * values["utilisation_red"], 2),
            (exposure >= limit * values["utilisation_yellow"], 1),
            else_=0,
        ),
        "over_90_days": _level(figures.c.over_90, values["over_90_yellow"], values["over_90_red"]),
        "undelivered_shipments": _level(
            figures.c.undelivered, values["undelivered_yellow"], values["undelivered_red"]
        ),
    }
    return select(
        *(figures.c[name] for name in ("dealer_code", "branch", "region", "credit_limit")),
        exposure,
        case((limit > 0, exposure / limit), else_=literal(None)).label("utilisation"),
        figures.c.over_90,
        figures.c.undelivered,
        *(level.label(rule) for rule, level in levels.items()),
        func.greatest(*levels.values()).label("level"),
    ).subquery()


def dealer_figures(conn: Connection, *, as_of: date):
    """Per dealer as of a date (for the routine warnings): its figures, each rule's level
    and its colour's level, and the rules in force."""
    rules = rules_in_force(conn)
    return _dealer_levels(_values(rules, as_of), is_current(conn, as_of)), rules


def _bound_levels(current: bool, filters: tuple[bool, ...], colour: bool):
    """The levels with their values bound later, and the conditions of a filter by
    ``dealer``, ``branch``, ``region`` and ``colour_level``, those present."""
    levels = _dealer_levels({name: bindparam(name, type_=t) for name, t in _BOUND.items()}, current)
    conditions = dealer_conditions(DealerFilter.bound(filters), levels.c)
    if colour:
        conditions.append(levels.c.level == bindparam("colour_level", type_=Integer))
    return levels, conditions


def _parameters(conn: Connection, where: DealerFilter, as_of: date):
    """The rules in force, whether ``as_of`` is now, and the values to bind."""
    rules = rules_in_force(conn)
    values: dict[str, Any] = {**_values(rules, as_of), **where.values()}
    colour = getattr(where, "colour", None)
    if colour:
        values["colour_level"] = COLOURS.index(colour)
    return rules, is_current(conn, as_of), where.shape(), bool(colour), values


def _reasons(row, rules: ChannelHealthRulesSet) -> list[dict[str, Any]]:
    details = {
        "credit_utilisation": lambda: (
            f"exposure {row.exposure:.2f} is {row.utilisation:.1%} of the credit limit "
            f"{row.credit_limit:.2f} (yellow from {rules.utilisation_yellow:.0%}, "
            f"red from {rules.utilisation_red:.0%})"
        ),
        "over_90_days": lambda: (
            f"{row.over_90:.2f} receivable more than 90 days past due "
            f"(yellow from {rules.over_90_yellow:.2f}, red from {rules.over_90_red:.2f})"
        ),
        "undelivered_shipments": lambda: (
            f"{row.undelivered} shipment(s) not confirmed delivered "
            f"{rules.undelivered_after_days} days after shipping "
            f"(yellow from {rules.undelivered_yellow}, red from {rules.undelivered_red})"
        ),
    }
    return [
        {"rule": rule, "colour": COLOURS[getattr(row, rule)], "detail": details[rule]()}
        for rule in RULES
        if getattr(row, rule) > 0
    ]


def dealer_health(
    conn: Connection, *, where: HealthFilter, as_of: date, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None, ChannelHealthRulesSet]:
    """Per dealer, in dealer-code order: colour, reasons and the figures behind them."""
    rules, current, filters, colour, values = _parameters(conn, where, as_of)
    if cursor:
        after = decode_cursor(cursor)
        if after[0] != "d" or not isinstance(after[1], str):
            raise InvalidCursor("cursor is not one this API issued")
        values["after"] = after[1]
    statement = _health_statement(current, filters, colour, bool(cursor))
    rows = conn.execute(statement, {**values, "limit": limit + 1}).all()
    page = [
        {
            "dealer": row.dealer_code,
            "branch": row.branch,
            "region": row.region,
            "colour": COLOURS[row.level],
            "reasons": _reasons(row, rules),
            "credit_limit": f"{Decimal(row.credit_limit):.2f}",
            "exposure": f"{Decimal(row.exposure):.2f}",
            "utilisation": None if row.utilisation is None else f"{row.utilisation:.4f}",
            "over_90": f"{Decimal(row.over_90):.2f}",
            "undelivered_shipments": int(row.undelivered),
        }
        for row in rows[:limit]
    ]
    next_cursor = encode_cursor(["d", rows[limit - 1].dealer_code]) if len(rows) > limit else None
    return page, next_cursor, rules


@lru_cache(maxsize=64)
def _health_statement(
    current: bool, filters: tuple[bool, ...], colour: bool, after: bool
) -> Select:
    """The dealer list of one shape: building it costs about a tenth of answering it."""
    levels, conditions = _bound_levels(current, filters, colour)
    if after:
        conditions.append(levels.c.dealer_code > bindparam("after", type_=String))
    query = select(levels).where(*conditions).order_by(levels.c.dealer_code)
    return query.limit(bindparam("limit", type_=Integer))


def colour_counts(
    conn: Connection, *, by: Level, where: DealerFilter, as_of: date
) -> list[dict[str, Any]]:
    """How many dealers are green, yellow and red, per branch, region or the nation."""
    _, current, filters, colour, values = _parameters(conn, where, as_of)
    statement = _counts_statement(current, by, filters, colour)
    return [
        {
            by.value: row.key or None,
            **{colour: int(getattr(row, colour)) for colour in COLOURS},
            "dealers": sum(int(getattr(row, colour)) for colour in COLOURS),
        }
        for row in conn.execute(statement, values).all()
    ]


@lru_cache(maxsize=64)
def _counts_statement(current: bool, by: Level, filters: tuple[bool, ...], colour: bool) -> Select:
    """The counts of one shape, built once."""
    levels, conditions = _bound_levels(current, filters, colour)
    key = {
        Level.DEALER: levels.c.dealer_code,
        Level.BRANCH: func.coalesce(levels.c.branch, ""),
        Level.REGION: func.coalesce(levels.c.region, ""),
        Level.NATION: literal("CN"),
    }[by]
    counts = [
        func.count().filter(levels.c.level == index).label(colour)
        for index, colour in enumerate(COLOURS)
    ]
    query = select(key.label("key"), *counts).where(*conditions)
    if by != Level.NATION:
        query = query.group_by(key).order_by(key)
    return query


__all__ = ["HealthFilter", "colour_counts", "dealer_figures", "dealer_health", "rules_in_force"]
