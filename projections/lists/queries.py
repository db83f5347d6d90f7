"""Pages of the lists: filtered, searched, in a stable order, keyset-paginated, each with its
total and the position the read model reflects.

A list is described once (``ListSpec``): where its rows come from, what a row shows, its
stable order, its filters (the scope filters ``branch`` and ``dealer`` among them, so a
branch's or a dealer's list is the national one filtered) and which columns ``q`` searches.
The API layer only names a list and passes the caller's filters.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    FromClause,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)

from projections.lists.projection import (
    list_credit_notes,
    list_dealers,
    list_demand_plans,
    list_invoices,
    list_order_warehouses,
    list_orders,
    list_products,
    list_rebate_claims,
    list_receipts,
    list_returns,
    list_shipments,
    list_stocktakes,
    list_transfers,
    list_warehouses,
    lists,
)
from projections.tracking import watermarks

Condition = Callable[[Any], ColumnElement[bool]]


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class ListSpec:
    name: str
    source: FromClause
    columns: tuple[ColumnElement, ...]  # each labelled with its field name
    order: tuple[ColumnElement, ...]  # the stable order (unique together)
    descending: bool
    origins: tuple[str, ...]  # the services whose events it shows
    present: ColumnElement[bool] | None = None  # the row's own event has arrived
    filters: Mapping[str, Condition] = field(default_factory=dict)
    statuses: Mapping[str, ColumnElement[bool]] = field(default_factory=dict)
    search: tuple[ColumnElement, ...] = ()
    # False for the product catalogue: every branch and dealer sees the same one.
    scoped: bool = True


def _equals(column) -> Condition:
    return lambda value: column == value


def _from(column) -> Condition:
    return lambda value: column >= value


def _to(column) -> Condition:
    return lambda value: column <= value


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _status(statuses: list[tuple[str, ColumnElement[bool]]], otherwise: str):
    """The status shown (the first that holds) and, per status, the condition for it."""
    shown = case(*((condition, literal(name)) for name, condition in statuses), else_=otherwise)
    conditions = {}
    earlier: list[ColumnElement[bool]] = []
    for name, condition in [*statuses, (otherwise, None)]:
        holds = and_(*(~c for c in earlier), *([condition] if condition is not None else []))
        conditions[name] = holds
        if condition is not None:
            earlier.append(condition)
    return shown.label("status"), conditions


def _dealer_joined(table) -> tuple[FromClause, tuple, dict[str, Condition]]:
    """A document that names only its dealer: branch and region are its dealer's."""
    d = list_dealers
    source = table.outerjoin(d, d.c.dealer_code == table.c.dealer_code)
    shown = (d.c.name.label("dealer_name"), d.c.branch.label("branch"), d.c.region.label("region"))
    filters = {
        "dealer": _equals(table.c.dealer_code),
        "branch": _equals(d.c.branch),
        "region": _equals(d.c.region),
    }
    return source, shown, filters


def _dealer_names(table) -> tuple[FromClause, ColumnElement]:
    d = list_dealers
    return table.outerjoin(d, d.c.dealer_code == table.c.dealer_code), d.c.name


def _warehouses_of(column: str) -> Condition:
    """Warehouses of a branch or region (a transfer or stocktake belongs to both ends)."""
    return lambda value: (
        select(list_warehouses.c.code).where(list_warehouses.c[column] == value).scalar_subquery()
    )


def _dates(column) -> dict[str, Condition]:
    return {"date_from": _from(column), "date_to": _to(column)}


# Orders

o = list_orders
ow = list_order_warehouses
_order_status, _order_statuses = _status(
    [
        ("cancelled", o.c.cancelled_reason.is_not(None)),
        ("rejected", o.c.rejected_reason.is_not(None)),
        ("delivered", o.c.shipped_complete & (o.c.deliveries >= o.c.shipments)),
        ("shipped", o.c.shipped_complete),
        ("partly_shipped", o.c.shipments > 0),
        ("approved", o.c.approved),
        # After the saga reserved both (an override may have lifted a credit hold before).
        ("awaiting_approval", o.c.awaiting_approval),
        ("credit_hold", o.c.credit_refused),
    ],
    "placed",
)
_orders_source, _order_dealer = _dealer_names(o)
_orders_source = _orders_source.outerjoin(ow, ow.c.order_id == o.c.order_id)
ORDERS = ListSpec(
    name="orders",
    source=_orders_source,
    columns=(
        o.c.order_id,
        o.c.business_date,
        o.c.dealer_code,
        _order_dealer.label("dealer_name"),
        o.c.branch,
        o.c.region,
        ow.c.warehouse_code,
        _order_status,
        o.c.lines,
        o.c.quantity,
        o.c.total,
        o.c.shipments,
        func.coalesce(o.c.rejected_reason, o.c.cancelled_reason).label("reason"),
    ),
    order=(o.c.business_date, o.c.order_id),
    descending=True,
    origins=("orders", "inventory", "finance"),
    present=o.c.business_date.is_not(None),
    filters={
        "dealer": _equals(o.c.dealer_code),
        "branch": _equals(o.c.branch),
        "region": _equals(o.c.region),
        "warehouse": _equals(ow.c.warehouse_code),
        **_dates(o.c.business_date),
    },
    statuses=_order_statuses,
    search=(o.c.order_id, o.c.dealer_code, _order_dealer),
)

# Shipments, each with its invoice

s = list_shipments
_shipments_source, _shipment_dealer, _shipment_filters = _dealer_joined(s)
_shipment_status, _shipment_statuses = _status(
    [("delivered", s.c.delivered_on.is_not(None))], "dispatched"
)
SHIPMENTS = ListSpec(
    name="shipments",
    source=_shipments_source,
    columns=(
        s.c.shipment_id,
        s.c.ship_date,
        s.c.order_id,
        s.c.dealer_code,
        *_shipment_dealer,
        s.c.warehouse_code,
        _shipment_status,
        s.c.quantity,
        s.c.cost,
        s.c.order_complete,
        s.c.delivered_on,
        s.c.invoice_id,
        s.c.invoice_number,
    ),
    order=(s.c.ship_date, s.c.shipment_id),
    descending=True,
    origins=("inventory", "finance"),
    present=s.c.ship_date.is_not(None),
    filters={
        **_shipment_filters,
        "warehouse": _equals(s.c.warehouse_code),
        "order_id": _equals(s.c.order_id),
        "invoiced": lambda value: (
            s.c.invoice_id.is_not(None) if value else s.c.invoice_id.is_(None)
        ),
        **_dates(s.c.ship_date),
    },
    statuses=_shipment_statuses,
    search=(s.c.shipment_id, s.c.order_id, s.c.dealer_code, _shipment_dealer[0]),
)

# Invoices, each naming its order and shipment

i = list_invoices
_invoices_source, _invoice_dealer, _invoice_filters = _dealer_joined(i)
_invoice_status, _invoice_statuses = _status([("settled", i.c.settled >= i.c.total)], "open")
INVOICES = ListSpec(
    name="invoices",
    source=_invoices_source,
    columns=(
        i.c.invoice_id,
        i.c.invoice_number,
        i.c.issue_date,
        i.c.due_date,
        i.c.dealer_code,
        *_invoice_dealer,
        i.c.order_id,
        i.c.shipment_id,
        _invoice_status,
        i.c.total,
        i.c.settled,
        (i.c.total - i.c.settled).label("open_amount"),
    ),
    order=(i.c.issue_date, i.c.invoice_id),
    descending=True,
    origins=("finance",),
    present=i.c.issue_date.is_not(None),
    filters={
        **_invoice_filters,
        "order_id": _equals(i.c.order_id),
        "shipment_id": _equals(i.c.shipment_id),
        **_dates(i.c.issue_date),
    },
    statuses=_invoice_statuses,
    search=(i.c.invoice_number, i.c.invoice_id, i.c.dealer_code, _invoice_dealer[0]),
)

# Receipts, credit notes, rebate claims

r = list_receipts
_receipts_source, _receipt_dealer, _receipt_filters = _dealer_joined(r)
RECEIPTS = ListSpec(
    name="receipts",
    source=_receipts_source,
    columns=(
        r.c.receipt_id,
        r.c.received_on,
        r.c.dealer_code,
        *_receipt_dealer,
        r.c.amount,
        r.c.allocated,
        r.c.unapplied,
    ),
    order=(r.c.received_on, r.c.receipt_id),
    descending=True,
    origins=("finance",),
    filters={**_receipt_filters, **_dates(r.c.received_on)},
    search=(r.c.receipt_id, r.c.dealer_code, _receipt_dealer[0]),
)

c = list_credit_notes
_notes_source, _note_dealer, _note_filters = _dealer_joined(c)
CREDIT_NOTES = ListSpec(
    name="credit_notes",
    source=_notes_source,
    columns=(
        c.c.credit_note_id,
        c.c.issued_on,
        c.c.dealer_code,
        *_note_dealer,
        c.c.invoice_id,
        c.c.return_id,
        c.c.amount,
        c.c.reason,
    ),
    order=(c.c.issued_on, c.c.credit_note_id),
    descending=True,
    origins=("finance",),
    filters={**_note_filters, "invoice_id": _equals(c.c.invoice_id), **_dates(c.c.issued_on)},
    search=(c.c.credit_note_id, c.c.invoice_id, c.c.dealer_code, _note_dealer[0]),
)

k = list_rebate_claims
_claims_source, _claim_dealer, _claim_filters = _dealer_joined(k)
_claim_status, _claim_statuses = _status(
    [("credited", k.c.credited_on.is_not(None)), ("rejected", k.c.rejected_on.is_not(None))],
    "filed",
)
REBATE_CLAIMS = ListSpec(
    name="rebate_claims",
    source=_claims_source,
    columns=(
        k.c.claim_id,
        k.c.filed_on,
        k.c.dealer_code,
        *_claim_dealer,
        _claim_status,
        k.c.amount,
        k.c.salesperson,
        k.c.rejected_on,
        k.c.rejected_reason,
        k.c.credited_on,
    ),
    order=(k.c.filed_on, k.c.claim_id),
    descending=True,
    origins=("finance",),
    present=k.c.filed_on.is_not(None),
    filters={**_claim_filters, **_dates(k.c.filed_on)},
    statuses=_claim_statuses,
    search=(k.c.claim_id, k.c.dealer_code, _claim_dealer[0]),
)

# Returns, transfers, stocktakes

t = list_returns
_returns_source, _return_dealer = _dealer_names(t)
_return_status, _return_statuses = _status([("received", t.c.received_on.is_not(None))], "approved")
RETURNS = ListSpec(
    name="returns",
    source=_returns_source,
    columns=(
        t.c.return_id,
        t.c.business_date,
        t.c.order_id,
        t.c.dealer_code,
        _return_dealer.label("dealer_name"),
        t.c.branch,
        t.c.warehouse_code,
        _return_status,
        t.c.quantity,
        t.c.reason,
        t.c.received_on,
        t.c.good,
        t.c.damaged,
        t.c.value,
    ),
    order=(t.c.business_date, t.c.return_id),
    descending=True,
    origins=("orders", "inventory"),
    present=t.c.business_date.is_not(None),
    filters={
        "dealer": _equals(t.c.dealer_code),
        "branch": _equals(t.c.branch),
        "region": lambda value: t.c.dealer_code.in_(
            select(list_dealers.c.dealer_code).where(list_dealers.c.region == value)
        ),
        "warehouse": _equals(t.c.warehouse_code),
        "order_id": _equals(t.c.order_id),
        **_dates(t.c.business_date),
    },
    statuses=_return_statuses,
    search=(t.c.return_id, t.c.order_id, t.c.dealer_code, _return_dealer),
)

x = list_transfers
_transfer_status, _transfer_statuses = _status(
    [("received", x.c.received_on.is_not(None))], "in_transit"
)


def _either_end(column: str) -> Condition:
    return lambda value: or_(
        x.c.from_warehouse.in_(_warehouses_of(column)(value)),
        x.c.to_warehouse.in_(_warehouses_of(column)(value)),
    )


TRANSFERS = ListSpec(
    name="transfers",
    source=x,
    columns=(
        x.c.transfer_id,
        x.c.ship_date,
        x.c.from_warehouse,
        x.c.to_warehouse,
        _transfer_status,
        x.c.quantity,
        x.c.cost,
        x.c.received_on,
        x.c.received,
        x.c.damaged,
        x.c.value,
        x.c.difference,
    ),
    order=(x.c.ship_date, x.c.transfer_id),
    descending=True,
    origins=("inventory",),
    present=x.c.ship_date.is_not(None),
    filters={
        "branch": _either_end("branch"),
        "region": _either_end("region"),
        "warehouse": lambda value: or_(x.c.from_warehouse == value, x.c.to_warehouse == value),
        **_dates(x.c.ship_date),
    },
    statuses=_transfer_statuses,
    search=(x.c.transfer_id, x.c.from_warehouse, x.c.to_warehouse),
)

st = list_stocktakes
STOCKTAKES = ListSpec(
    name="stocktakes",
    source=st,
    columns=(
        st.c.stocktake_id,
        st.c.posted_on,
        st.c.count_date,
        st.c.warehouse_code,
        st.c.lines,
        st.c.variance,
        st.c.value,
    ),
    order=(st.c.posted_on, st.c.stocktake_id),
    descending=True,
    origins=("inventory",),
    filters={
        "branch": lambda value: st.c.warehouse_code.in_(_warehouses_of("branch")(value)),
        "region": lambda value: st.c.warehouse_code.in_(_warehouses_of("region")(value)),
        "warehouse": _equals(st.c.warehouse_code),
        **_dates(st.c.posted_on),
    },
    search=(st.c.stocktake_id, st.c.warehouse_code),
)

# Demand plans

p = list_demand_plans
_plans_source, _plan_dealer = _dealer_names(p)
DEMAND_PLANS = ListSpec(
    name="demand_plans",
    source=_plans_source,
    columns=(
        p.c.plan_id,
        p.c.month,
        p.c.dealer_code,
        _plan_dealer.label("dealer_name"),
        p.c.branch,
        p.c.region,
        p.c.status,
        p.c.revision,
        p.c.quantity,
    ),
    order=(p.c.month, p.c.dealer_code),
    descending=True,
    origins=("orders",),
    filters={
        "dealer": _equals(p.c.dealer_code),
        "branch": _equals(p.c.branch),
        "region": _equals(p.c.region),
        "month": _equals(p.c.month),
    },
    statuses={name: p.c.status == name for name in ("submitted", "approved", "returned")},
    search=(p.c.dealer_code, _plan_dealer),
)

# Master data, by code

d = list_dealers
DEALERS = ListSpec(
    name="dealers",
    source=d,
    columns=(d.c.dealer_code, d.c.dealer_id, d.c.name, d.c.branch, d.c.region, d.c.grade),
    order=(d.c.dealer_code,),
    descending=False,
    origins=("orders",),
    filters={
        "dealer": _equals(d.c.dealer_code),
        "branch": _equals(d.c.branch),
        "region": _equals(d.c.region),
        "grade": _equals(d.c.grade),
    },
    search=(d.c.dealer_code, d.c.name),
)

pr = list_products
PRODUCTS = ListSpec(
    name="products",
    source=pr,
    columns=(pr.c.sku, pr.c.product_id, pr.c.name, pr.c.category, pr.c.unit, pr.c.list_price),
    order=(pr.c.sku,),
    descending=False,
    origins=("orders",),
    filters={"category": _equals(pr.c.category)},
    search=(pr.c.sku, pr.c.name),
    scoped=False,
)

w = list_warehouses
WAREHOUSES = ListSpec(
    name="warehouses",
    source=w,
    columns=(
        w.c.code,
        w.c.warehouse_id,
        w.c.name,
        w.c.kind,
        w.c.branch,
        w.c.region,
        w.c.dealer_code,
    ),
    order=(w.c.code,),
    descending=False,
    origins=("inventory",),
    filters={
        "branch": _equals(w.c.branch),
        "region": _equals(w.c.region),
        "kind": _equals(w.c.kind),
        "dealer": _equals(w.c.dealer_code),
    },
    search=(w.c.code, w.c.name),
)

LISTS: dict[str, ListSpec] = {
    spec.name: spec
    for spec in (
        ORDERS,
        SHIPMENTS,
        INVOICES,
        RECEIPTS,
        CREDIT_NOTES,
        RETURNS,
        TRANSFERS,
        STOCKTAKES,
        REBATE_CLAIMS,
        DEMAND_PLANS,
        DEALERS,
        PRODUCTS,
        WAREHOUSES,
    )
}


def warehouse_branch(conn: Connection, code: str) -> str | None:
    """The branch a warehouse belongs to, as the read side knows it (None: unknown, or
    central)."""
    return conn.execute(
        select(list_warehouses.c.branch).where(list_warehouses.c.code == code)
    ).scalar()


def encode_cursor(values: list[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, date) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode()


def decode_cursor(spec: ListSpec, cursor: str) -> list[Any]:
    """The keyset a cursor carries, typed as the list's order columns."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(spec.order):
            raise ValueError("not this list's keyset")
        typed = []
        for column, value in zip(spec.order, values, strict=True):
            if not isinstance(value, str):
                raise ValueError("a keyset of strings")
            typed.append(date.fromisoformat(value) if isinstance(column.type, Date) else value)
        return typed
    except (ValueError, TypeError) as error:
        raise InvalidCursor("cursor is not one this API issued for this list") from error


def _conditions(spec: ListSpec, where: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    conditions = [] if spec.present is None else [spec.present]
    for name, value in where.items():
        if value is None:
            continue
        if name == "status":
            conditions.append(spec.statuses.get(value, false()))
        elif name == "q":
            pattern = f"%{_escaped(value)}%"
            conditions.append(or_(*(col.ilike(pattern, escape="\\") for col in spec.search)))
        else:
            conditions.append(spec.filters[name](value))
    return conditions


def _shown(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def positions(conn: Connection, origins: tuple[str, ...]) -> dict[str, int]:
    """What the read model holds: every event of each origin up to this position."""
    marks = dict(
        conn.execute(
            select(watermarks.c.origin, watermarks.c.position).where(
                watermarks.c.projection == lists.name, watermarks.c.origin.in_(origins)
            )
        ).all()
    )
    return {origin: int(marks.get(origin, 0)) for origin in origins}


def list_page(
    conn: Connection,
    *,
    spec: ListSpec,
    where: Mapping[str, Any],
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """One page of the list, its total under the same filters, the cursor of the next page
    and the positions it reflects, read in one snapshot (run it in a REPEATABLE READ
    transaction for the total and the page to agree)."""
    conditions = _conditions(spec, where)
    total = conn.execute(
        select(func.count()).select_from(spec.source).where(*conditions)
    ).scalar_one()
    keyset = tuple_(*spec.order)
    query = select(*spec.columns, *(col.label(f"_key{n}") for n, col in enumerate(spec.order)))
    query = query.select_from(spec.source).where(*conditions)
    if cursor:
        after = tuple_(*(literal(value) for value in decode_cursor(spec, cursor)))
        query = query.where(keyset < after if spec.descending else keyset > after)
    ordering = [col.desc() if spec.descending else col.asc() for col in spec.order]
    rows = conn.execute(query.order_by(*ordering).limit(limit + 1)).mappings().all()
    keys = [f"_key{n}" for n in range(len(spec.order))]
    items = [
        {name: _shown(value) for name, value in row.items() if name not in keys}
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor([rows[limit - 1][key] for key in keys])
    return {
        "items": items,
        "total": total,
        "next_cursor": next_cursor,
        "position": positions(conn, spec.origins),
    }
