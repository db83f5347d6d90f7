"""Routes of the orders API: dealers, products, orders. Routes translate and delegate; rules
live in the application and the aggregates."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from runtime.http.idempotency import run_command
from runtime.http.schemas import IsoDate
from runtime.settings import Role
from services.kernel.dates import business_today
from services.kernel.errors import OutsideScope
from services.orders.api.deps import (
    CurrentPrincipal,
    Idempotency,
    OrdersApp,
    actor_of,
    check_sees_dealer,
)
from services.orders.api.schemas import (
    CategoryCreate,
    CategoryRead,
    DealerCreate,
    DealerRead,
    OrderCreate,
    OrderDecision,
    OrderQuoteRead,
    OrderRead,
    PriceCreate,
    PriceListRead,
    ProductCreate,
    ProductRead,
    PromotionCreate,
    PromotionEnd,
    PromotionList,
    PromotionRead,
)
from services.orders.application import (
    PlaceOrder,
    RegisterDealer,
    RegisterProduct,
    category_view,
    dealer_view,
    order_view,
    price_list_view,
    product_view,
    promotion_view,
)
from services.orders.domain import DealerGrade, PriceList, RequestedLine
from services.orders.promotions import Promotion, PromotionKind

# Who places orders (each for the dealers of its scope), and so who may price one.
ORDERING_ROLES = (Role.BRANCH_CLERK, Role.DEALER, Role.HQ_ADMIN)
CREATED = {201: {"description": "created"}, 409: {"description": "rule violated"}}

dealers = APIRouter(prefix="/dealers", tags=["dealers"])
products = APIRouter(prefix="/products", tags=["products"])
orders = APIRouter(prefix="/orders", tags=["orders"])
price_lists = APIRouter(prefix="/price-lists", tags=["price lists"])
promotions = APIRouter(prefix="/promotions", tags=["promotions"])


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
    check_sees_dealer(principal, app, code)
    return dealer_view(app.get_dealer(code))


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


@products.post("/categories", response_model=CategoryRead, responses=CREATED)
def place_category(
    body: CategoryCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """品类: add a category, or move one under another parent. A product's category joins
    the tree as a root the first time a product names it."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.place_category(
            body.code, body.name, body.parent, actor=actor_of(principal, k), idempotency=k
        ),
    )


@products.get("/categories", response_model=list[CategoryRead])
def list_categories(principal: CurrentPrincipal, app: OrdersApp) -> list[dict]:
    tree = app.category_tree()
    return [category_view(tree, code) for code in sorted(tree.categories)]


@products.get("/{sku}", response_model=ProductRead)
def get_product(sku: str, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    return product_view(app.get_product(sku))


@orders.post("", status_code=201, response_model=OrderRead, responses=CREATED)
def place_order(
    body: OrderCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """下单: a branch clerk for a dealer of its branch, a dealer for itself, or HQ."""
    principal.require(*ORDERING_ROLES)
    cmd = _place_order(body)
    return run_command(
        app, key, lambda k: app.place_order(cmd, actor=actor_of(principal, k), idempotency=k)
    )


def _place_order(body: OrderCreate) -> PlaceOrder:
    return PlaceOrder(
        dealer_code=body.dealer_code,
        business_date=body.business_date or business_today(),
        lines=[RequestedLine(sku=line.sku, quantity=line.quantity) for line in body.lines],
    )


@orders.post(
    "/quote",
    response_model=OrderQuoteRead,
    responses={200: {"description": "the price it would be booked at"}},
)
def quote_order(body: OrderCreate, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    """报价 (price preview): the same body as placing an order, priced by the same code, by
    those who may place it for that dealer and refused as placing would refuse it (404
    `unknown_dealer` / `unknown_sku`, 409 `order_too_large`). It writes nothing, so it takes
    no Idempotency-Key and gives no position."""
    principal.require(*ORDERING_ROLES)
    return app.quote_order(_place_order(body), actor=actor_of(principal))


# An order's id is a UUID: so `/orders/quote` is not an order (GET on it is 405, not 422).
@orders.get("/{order_id:uuid}", response_model=OrderRead)
def get_order(order_id: UUID, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    order = app.get_order(order_id)
    check_sees_dealer(principal, app, order.dealer_code)
    return order_view(order)


DECIDED = {200: {"description": "the order as it now stands"}, 409: {"description": "invalid"}}


@orders.post("/{order_id}/approval", response_model=OrderRead, responses=DECIDED)
def approve_order(
    order_id: UUID, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """A branch manager approves an order above the approval threshold."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.decide(
            order_id, "approve", actor=actor_of(principal, k), reason="", idempotency=k
        ),
    )


@orders.post("/{order_id}/rejection", response_model=OrderRead, responses=DECIDED)
def reject_order(
    order_id: UUID,
    body: OrderDecision,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """A branch manager turns down an order awaiting approval or on credit hold."""
    principal.require(Role.BRANCH_MANAGER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.decide(
            order_id, "reject", actor=actor_of(principal, k), reason=body.reason, idempotency=k
        ),
    )


@orders.post("/{order_id}/cancellation", response_model=OrderRead, responses=DECIDED)
def cancel_order(
    order_id: UUID,
    body: OrderDecision,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """Cancel before anything shipped: credit and stock held for it are released."""
    principal.require(Role.BRANCH_CLERK, Role.BRANCH_MANAGER, Role.DEALER, Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.decide(
            order_id, "cancel", actor=actor_of(principal, k), reason=body.reason, idempotency=k
        ),
    )


@price_lists.post("/{grade}/prices", response_model=PriceListRead)
def set_price(
    grade: DealerGrade,
    body: PriceCreate,
    principal: CurrentPrincipal,
    app: OrdersApp,
    key: Idempotency,
) -> JSONResponse:
    """价格表: the unit price of a SKU for dealers of one grade, for orders from its
    effective date on. Orders placed before keep the price they were placed at: a past date
    is taken only after the grade's last booked order (409 `price_backdated`)."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.set_price(
            grade,
            body.sku,
            body.unit_price,
            effective_from=body.effective_from,
            today=business_today(),
            actor=actor_of(principal, k),
            idempotency=k,
        ),
    )


@price_lists.get("/{grade}", response_model=PriceListRead)
def get_price_list(
    grade: DealerGrade,
    principal: CurrentPrincipal,
    app: OrdersApp,
    on: IsoDate | None = Query(default=None, description="default: today"),
) -> dict:
    """The grade's prices in effect on a day, and those scheduled after it. A dealer reads
    its own grade's list only: one tier's prices are not another's business."""
    if principal.role == Role.DEALER and app.get_dealer(principal.grant.dealer).grade != grade:
        raise OutsideScope(f"the {grade} price list is not your grade's")
    return price_list_view(
        app.find_price_list(grade) or PriceList(grade=grade), on or business_today()
    )


@promotions.post("", status_code=201, response_model=PromotionRead, responses=CREATED)
def define_promotion(
    body: PromotionCreate, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """促销: a promotion applied automatically to orders placed within its period. It may
    start in the past only after the last order booked of its grades (409
    `promotion_backdated`)."""
    principal.require(Role.HQ_ADMIN)
    fields = body.model_dump()
    fields["grades"] = tuple(str(grade) for grade in body.grades)
    fields["kind"] = PromotionKind(body.kind)
    promotion = Promotion(**fields)
    return run_command(
        app,
        key,
        lambda k: app.define_promotion(
            promotion, today=business_today(), actor=actor_of(principal, k), idempotency=k
        ),
    )


@promotions.get("", response_model=PromotionList)
def list_promotions(
    principal: CurrentPrincipal,
    app: OrdersApp,
    on: IsoDate | None = Query(default=None, description="only those in force that day"),
    grade: DealerGrade | None = Query(default=None, description="only those for this grade"),
) -> dict:
    found = app.promotion_book().all()
    if on is not None:
        found = [p for p in found if any(p.applies(g, on) for g in DealerGrade)]
    if grade is not None:
        found = [p for p in found if not p.grades or grade in p.grades]
    return {"promotions": [promotion_view(p) for p in found]}


@promotions.get("/{code}", response_model=PromotionRead)
def get_promotion(code: str, principal: CurrentPrincipal, app: OrdersApp) -> dict:
    return promotion_view(app.promotion_book().get(code))


@promotions.post("/{code}/end", response_model=PromotionRead, responses=DECIDED)
def end_promotion(
    code: str, body: PromotionEnd, principal: CurrentPrincipal, app: OrdersApp, key: Idempotency
) -> JSONResponse:
    """End a promotion early: orders from ``on`` no longer get it; earlier ones keep it."""
    principal.require(Role.HQ_ADMIN)
    return run_command(
        app,
        key,
        lambda k: app.end_promotion(
            code, body.on, today=business_today(), actor=actor_of(principal, k), idempotency=k
        ),
    )
