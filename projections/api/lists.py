"""The lists (orders, shipments, invoices, receipts, credit notes, returns, transfers,
stocktakes, rebate claims, demand plans, dealers, products, warehouses): national under
``/hq``, filtered to the branch under ``/branches/{branch_id}``, to the dealer under
``/dealers/{dealer_id}``, and what touches one warehouse (its orders to ship, shipments,
returns, transfers at either end, stocktakes) under
``/branches/{branch_id}/warehouses/{warehouse_code}`` (the routers check the caller's scope
first). Every page has its
items in a stable order, ``total`` under the same filters, ``next_cursor`` and ``position``:
per service it follows, the position up to which the read model holds every event."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from projections.api.deps import Consistency, ReadModels
from projections.api.scopes import (
    branch_router,
    dealer_router,
    headquarters_router,
    warehouse_router,
)
from projections.lists.projection import lists
from projections.lists.queries import LISTS, InvalidCursor, list_page
from projections.read_your_writes import position_field
from runtime.http.problems import Problem
from runtime.http.schemas import MONTH_PATTERN, NOT_BLANK, Code, IsoDate

hq = headquarters_router()
branches = branch_router()
dealers = dealer_router()
warehouses = warehouse_router()

# A document id as the services issue it (a UUID) or a number users type.
DocumentId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")]
Cursor = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,400}={0,2}$")]
Search = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK),
    Field(description="part of the document's number or id, or of the dealer's code or name"),
]


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=200)
    cursor: Cursor | None = Field(default=None, description="`next_cursor` of the page before")
    min_position: str | None = position_field(lists)

    def where(self) -> dict[str, Any]:
        return self.model_dump(exclude={"limit", "cursor", "min_position"})


class Dated(ListQuery):
    date_from: IsoDate | None = None
    date_to: IsoDate | None = None
    q: Search | None = None


class DealerDocuments(Dated):
    dealer: Code | None = None
    branch: Code | None = None
    region: Code | None = None


class OrdersQuery(DealerDocuments):
    warehouse: Code | None = Field(default=None, description="where its stock is reserved")
    status: (
        Literal[
            "placed",
            "credit_hold",
            "awaiting_approval",
            "approved",
            "partly_shipped",
            "shipped",
            "delivered",
            "rejected",
            "cancelled",
        ]
        | None
    ) = None


class ShipmentsQuery(DealerDocuments):
    status: Literal["dispatched", "delivered"] | None = None
    warehouse: Code | None = None
    order_id: DocumentId | None = None
    invoiced: bool | None = Field(default=None, description="has its invoice been issued")


class InvoicesQuery(DealerDocuments):
    status: Literal["open", "settled"] | None = None
    order_id: DocumentId | None = None
    shipment_id: DocumentId | None = None


class ReceiptsQuery(DealerDocuments):
    pass


class CreditNotesQuery(DealerDocuments):
    invoice_id: DocumentId | None = None


class ReturnsQuery(DealerDocuments):
    status: Literal["approved", "received"] | None = None
    warehouse: Code | None = None
    order_id: DocumentId | None = None


class RebateClaimsQuery(DealerDocuments):
    status: Literal["filed", "rejected", "credited"] | None = None


class WarehouseDocuments(Dated):
    branch: Code | None = None
    region: Code | None = None
    warehouse: Code | None = None


class TransfersQuery(WarehouseDocuments):
    status: Literal["in_transit", "received"] | None = None


class StocktakesQuery(WarehouseDocuments):
    pass


class DemandPlansQuery(ListQuery):
    month: str | None = Field(default=None, pattern=MONTH_PATTERN, examples=["2026-11"])
    status: Literal["submitted", "approved", "returned"] | None = None
    dealer: Code | None = None
    branch: Code | None = None
    region: Code | None = None
    q: Search | None = None


class DealersQuery(ListQuery):
    branch: Code | None = None
    region: Code | None = None
    grade: (
        Literal["tier1_distributor", "tier2_distributor", "exclusive_dealer", "group_buy"] | None
    ) = None
    q: Search | None = None


class ProductsQuery(ListQuery):
    category: Code | None = None
    q: Search | None = None


class WarehousesQuery(ListQuery):
    branch: Code | None = None
    region: Code | None = None
    kind: Literal["central", "branch", "consignment"] | None = None
    q: Search | None = None


def answer(engine, consistency, name: str, params: ListQuery, **scope: str) -> dict:
    """One page of a list, the scope's filters over the caller's."""
    consistency.wait(lists.name, params.min_position)
    spec = LISTS[name]
    where = params.where()
    if spec.scoped:
        if "branch" in scope or "warehouse" in scope:
            where["region"] = None
        where.update(scope)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                return list_page(
                    conn, spec=spec, where=where, limit=params.limit, cursor=params.cursor
                )
    except InvalidCursor as error:
        raise Problem(422, "invalid_cursor", str(error)) from None


# (list, path, its parameters, who reads it, what it is)
_LISTS: list[tuple[str, str, type[ListQuery], str, str]] = [
    ("orders", "/orders", OrdersQuery, "hbdw", "Orders, newest first: status, dealer, amount."),
    (
        "shipments",
        "/shipments",
        ShipmentsQuery,
        "hbdw",
        "Shipments, newest first, each with its order and its invoice (once issued).",
    ),
    (
        "invoices",
        "/invoices",
        InvoicesQuery,
        "hbd",
        "Invoices, newest first, each naming its order and shipment; settled and open amounts.",
    ),
    ("receipts", "/receipts", ReceiptsQuery, "hbd", "Receipts, newest first."),
    ("credit_notes", "/credit-notes", CreditNotesQuery, "hbd", "Credit notes, newest first."),
    ("returns", "/returns", ReturnsQuery, "hbdw", "Returns, newest first: approved, received."),
    (
        "transfers",
        "/transfers",
        TransfersQuery,
        "hbw",
        "Transfers between warehouses, newest first (a branch sees those at either end).",
    ),
    ("stocktakes", "/stocktakes", StocktakesQuery, "hbw", "Posted stocktakes, newest first."),
    ("rebate_claims", "/rebate-claims", RebateClaimsQuery, "hbd", "Rebate claims, newest first."),
    (
        "demand_plans",
        "/demand-plans/list",
        DemandPlansQuery,
        "hbd",
        "Demand plans (latest revision per dealer and month), newest month first.",
    ),
    ("dealers", "/dealers", DealersQuery, "hb", "Dealers, by code."),
    ("products", "/products", ProductsQuery, "hbd", "The product catalogue, by SKU."),
    ("warehouses", "/warehouses", WarehousesQuery, "hb", "Warehouses, by code."),
]


AUDIENCES = {"h": "national", "b": "branch", "d": "dealer", "w": "warehouse"}


def _route(router: APIRouter, audience: str, name: str, path: str, model, doc: str) -> None:
    if audience == "h":

        def national(engine: ReadModels, consistency: Consistency, params) -> dict:
            return answer(engine, consistency, name, params)

        endpoint = national
    elif audience == "b":

        def of_branch(branch_id: str, engine: ReadModels, consistency: Consistency, params) -> dict:
            return answer(engine, consistency, name, params, branch=branch_id)

        endpoint = of_branch
    elif audience == "w":

        def of_warehouse(
            branch_id: str,
            warehouse_code: str,
            engine: ReadModels,
            consistency: Consistency,
            params,
        ) -> dict:
            return answer(engine, consistency, name, params, warehouse=warehouse_code)

        endpoint = of_warehouse
    else:

        def of_dealer(dealer_id: str, engine: ReadModels, consistency: Consistency, params) -> dict:
            return answer(engine, consistency, name, params, dealer=dealer_id)

        endpoint = of_dealer
    endpoint.__annotations__["params"] = Annotated[model, Query()]
    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        name=f"{name}_{AUDIENCES[audience]}",
        description=doc,
        summary=f"List {name.replace('_', ' ')}",
    )


for _name, _path, _model, _audiences, _doc in _LISTS:
    for _audience, _router in (("h", hq), ("b", branches), ("d", dealers), ("w", warehouses)):
        if _audience in _audiences:
            _route(_router, _audience, _name, _path, _model, _doc)
