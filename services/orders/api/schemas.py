"""Request and response bodies of the orders API."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from runtime.http.schemas import Code, Count, DiscountRate, IsoDate, Money, Name
from services.orders.domain import DealerGrade


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegionCreate(_Strict):
    code: Code = Field(examples=["SOUTHWEST"])
    name: Name = Field(examples=["Southwest Region"])
    parent: Code | None = Field(default=None, description="a larger region it sits in")
    manager: Name | None = Field(default=None, examples=["Li Na"])


class RegionRead(BaseModel):
    code: str
    name: str
    parent: str | None
    manager: str | None
    position: str | None = None


class BranchCreate(_Strict):
    code: Code = Field(examples=["CD"])
    name: Name = Field(examples=["Chengdu Branch"])
    region: Code = Field(examples=["SOUTHWEST"])
    manager: Name | None = Field(default=None, examples=["Zhao Lei"])


class BranchRead(BaseModel):
    code: str
    name: str
    region: str
    manager: str | None
    position: str | None = None


class DealerCreate(_Strict):
    code: Code = Field(examples=["CD-001"])
    name: Name = Field(examples=["Jinjiang Wine Trading Co."])
    branch: Code = Field(examples=["CD"])
    region: Code = Field(examples=["SOUTHWEST"])
    grade: DealerGrade


class DealerRead(BaseModel):
    dealer_id: str
    code: str
    name: str
    branch: str
    region: str
    grade: str
    position: str | None = None


class ProductCreate(_Strict):
    sku: Code = Field(examples=["WULIANGYE-52-500ML"])
    name: Name = Field(examples=["Wuliangye 52% 500ml"])
    category: Code = Field(examples=["BAIJIU"])
    unit: Name = "bottle"
    list_price: Money


class ProductRead(BaseModel):
    product_id: str
    sku: str
    name: str
    category: str
    unit: str
    list_price: str
    position: str | None = None


class OrderLineCreate(_Strict):
    sku: Code
    quantity: Count = Field(gt=0, le=1_000_000)


class OrderCreate(_Strict):
    dealer_code: Code
    business_date: IsoDate | None = Field(
        default=None, description="the business date of the order; default today (Asia/Shanghai)"
    )
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=200)


class OrderLineRead(BaseModel):
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: str = Field(description="what the dealer pays per unit, after any promotion")
    amount: str
    list_unit_price: str = Field(description="the grade's price in effect on the business date")
    discount: str = Field(description="what the promotion took off the line")
    promotion: str | None = None
    gift: bool = Field(default=False, description="a free gift line (买赠) at zero price")


class ShippedRead(BaseModel):
    sku: str
    quantity: int


class OrderDecision(BaseModel):
    """A branch manager's rejection or anyone's cancellation: why, in words."""

    model_config = ConfigDict(extra="forbid")

    reason: Name


class RefusalRead(BaseModel):
    code: str = Field(description="credit_limit_exceeded or insufficient_stock")
    detail: str


class OrderRead(BaseModel):
    order_id: str
    dealer_code: str
    branch: str
    region: str
    business_date: IsoDate
    status: str = Field(
        description="placed, credit_hold, awaiting_approval, approved, rejected, cancelled, "
        "partly_shipped, shipped, delivered"
    )
    credit: str | None = Field(default=None, description="reserved or refused, once known")
    credit_override: bool = False
    stock: str | None = Field(default=None, description="reserved or short, once known")
    warehouse_code: str | None = None
    manager_approval: bool = False
    reason: str | None = Field(
        default=None,
        description="why it is held, rejected or cancelled: credit_limit_exceeded, "
        "insufficient_stock, rejected_by_manager, cancelled",
    )
    detail: str | None = None
    refusals: list[RefusalRead] = Field(
        default=[],
        description="every refusal the credit and stock checks gave, in the order heard, "
        "also one heard after the order was decided (an order can fail both)",
    )
    shipped: list[ShippedRead] = []
    lines: list[OrderLineRead]
    promotions: list[str] = Field(default=[], description="the promotions applied at placing")
    discount: str = Field(default="0.00", description="the lines' discounts")
    total: str
    position: str | None = Field(
        default=None, description="pass as ?min_position= to a query to read your own write"
    )


class OrderQuoteRead(BaseModel):
    """What placing the same body now would book, to the fen: priced by the code that places
    orders. Credit and stock are not part of it (finance and inventory answer them once the
    order is placed; the query API shows the dealer's statement and the stock meanwhile)."""

    dealer_code: str
    dealer_name: str
    grade: str = Field(description="the dealer's grade: whose price list priced the lines")
    branch: str
    region: str
    business_date: IsoDate
    lines: list[OrderLineRead] = Field(description="the lines, then the gift lines (买赠)")
    promotions: list[str] = Field(default=[], description="the promotions that apply")
    discount: str = Field(description="what the promotions take off the lines")
    total: str


def money_str(value: Decimal) -> str:
    return f"{value:.2f}"


class PriceCreate(_Strict):
    sku: Code = Field(examples=["WULIANGYE-52-500ML"])
    unit_price: Money
    effective_from: IsoDate | None = Field(
        default=None,
        description="the first business date orders get this price: today (Asia/Shanghai, "
        "the default) or later; or a past date after the grade's last booked order (else 409 "
        "`price_backdated`)",
    )


class PriceRead(BaseModel):
    sku: str
    unit_price: str
    effective_from: IsoDate | None = Field(description="null: in effect from the start")


class PriceListRead(BaseModel):
    grade: str
    on: IsoDate = Field(description="the day the prices are in effect")
    prices: list[PriceRead]
    scheduled: list[PriceRead] = Field(description="prices that take effect after that day")
    position: str | None = None


class CategoryCreate(_Strict):
    code: Code = Field(examples=["BAIJIU-NONGXIANG"])
    name: Name = Field(examples=["Strong-aroma baijiu"])
    parent: Code | None = Field(default=None, examples=["BAIJIU"])


class CategoryRead(BaseModel):
    code: str
    name: str
    parent: str | None
    path: list[str] = Field(description="from the root down to the category")
    position: str | None = None


class _PromotionCreate(_Strict):
    code: Code = Field(examples=["CNY-2027-WLY"])
    name: Name = Field(examples=["Spring Festival: buy 10 get 1"])
    valid_from: IsoDate = Field(
        description="today or later; or a past date after the last order booked of its grades "
        "(else 409 `promotion_backdated`)"
    )
    valid_to: IsoDate
    grades: list[DealerGrade] = Field(
        default=[], max_length=4, description="the dealer grades it is for; empty: every grade"
    )


class BuyGetCreate(_PromotionCreate):
    """买赠: for every buy_quantity paid units of buy_sku, gift_quantity of gift_sku free."""

    kind: Literal["buy_get"]
    buy_sku: Code
    buy_quantity: Count = Field(ge=1, le=100_000)
    gift_sku: Code
    gift_quantity: Count = Field(ge=1, le=100_000)


class CategoryDiscountCreate(_PromotionCreate):
    """A rate off every SKU of a category and its sub-categories."""

    kind: Literal["category_discount"]
    category: Code
    discount_rate: DiscountRate = Field(
        gt=0, le=Decimal("0.9"), examples=["0.05"], description="0.05 = 5 %"
    )


PromotionCreate = Annotated[BuyGetCreate | CategoryDiscountCreate, Field(discriminator="kind")]


class PromotionEnd(_Strict):
    on: IsoDate = Field(
        description="the first business date it no longer applies: today or later, or a past "
        "date after the last order booked of its grades"
    )


class PromotionRead(BaseModel):
    code: str
    name: str
    kind: str
    valid_from: IsoDate
    valid_to: IsoDate
    grades: list[str]
    ended_on: IsoDate | None
    buy_sku: str | None = None
    buy_quantity: int | None = None
    gift_sku: str | None = None
    gift_quantity: int | None = None
    category: str | None = None
    discount_rate: str | None = None
    position: str | None = None


class PromotionList(BaseModel):
    promotions: list[PromotionRead]
