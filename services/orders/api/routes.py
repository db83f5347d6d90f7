"""Routes of the orders API: dealers, products, orders. Routes translate and delegate; rules
live in the application and the aggregates."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from runtime.http.idempotency import run_command
from runtime.settings import Role
from services.orders.api.deps import CurrentPrincipal, Idempotency, OrdersApp, actor_of
from services.orders.api.schemas import (
    DealerCreate,
    DealerRead,
    OrderCreate,
    OrderRead,
    ProductCreate,
    ProductRead,
)
from services.orders.application import (
    PlaceOrder,
    RegisterDealer,
    RegisterProduct,
    dealer_view,
    order_view,
    product_view,
)
from services.orders.domain import RequestedLine, check_may_order_for

BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")
CREATED = {201: {"description": "created"}, 409: {"description": "rule violated"}}

dealers = APIRouter(prefix="/dealers", tags=["dealers"])
products = APIRouter(prefix="/products", tags=["products"])
orders = APIRouter(prefix="/orders", tags=["orders"])


@dealers.post("", status_code=201, response_model=DealerRead, responses=CREATED)
def register_dealer(
    body: DealerCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    principal.require(Role.HQ_ADMIN)
    cmd = RegisterDealer(
        code=body.code, name=body.name, branch=body.branch, region=body.region, grade=body.grade
    )
    return run_command(
        app, key, lambda k: app.register_dealer(cmd, actor=actor_of(principal, k), idempotency=k)
    )


@dealers.get("/{code}", response_model=DealerRead)
def get_dealer(code: str, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    dealer = app.get_dealer(code)
    if not principal.is_hq:
        check_may_order_for(
            dealer,
            role=principal.role,
            branch=principal.grant.branch,
            dealer_code=principal.grant.dealer,
        )
    return dealer_view(dealer)


@products.post("", status_code=201, response_model=ProductRead, responses=CREATED)
def register_product(
    body: ProductCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    principal.require(Role.HQ_ADMIN)
    cmd = RegisterProduct(
        sku=body.sku,
        name=body.name,
        category=body.category,
        unit=body.unit,
        list_price=body.list_price,
    )
    return run_command(
        app, key, lambda k: app.register_product(cmd, actor=actor_of(principal, k), idempotency=k)
    )


@products.get("/{sku}", response_model=ProductRead)
def get_product(sku: str, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    return product_view(app.get_product(sku))


@orders.post("", status_code=201, response_model=OrderRead, responses=CREATED)
def place_order(
    body: OrderCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    cmd = PlaceOrder(
        dealer_code=body.dealer_code,
        business_date=body.business_date or datetime.now(BUSINESS_TIMEZONE).date(),
        lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
    )
    return run_command(
        app, key, lambda k: app.place_order(cmd, actor=actor_of(principal, k), idempotency=k)
    )


@orders.get("/{order_id}", response_model=OrderRead)
def get_order(order_id: UUID, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    order = app.get_order(order_id)
    if not principal.is_hq:
        check_may_order_for(
            app.get_dealer(order.dealer_code),
            role=principal.role,
            branch=principal.grant.branch,
            dealer_code=principal.grant.dealer,
        )
    return order_view(order)
