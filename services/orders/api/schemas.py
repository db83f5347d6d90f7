"""Request and response bodies of the orders API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from runtime.http.schemas import Code, Money, Name
from services.orders.domain import DealerGrade


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    quantity: int = Field(gt=0, le=1_000_000, strict=True)


class OrderCreate(_Strict):
    dealer_code: Code
    business_date: date | None = Field(
        default=None, description="the business date of the order; default today (Asia/Shanghai)"
    )
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=200)


class OrderLineRead(BaseModel):
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: str
    amount: str


class ShippedRead(BaseModel):
    sku: str
    quantity: int


class OrderDecision(BaseModel):
    """A branch manager's rejection or anyone's cancellation: why, in words."""

    model_config = ConfigDict(extra="forbid")

    reason: Name


class OrderRead(BaseModel):
    order_id: str
    dealer_code: str
    branch: str
    region: str
    business_date: date
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
    shipped: list[ShippedRead] = []
    lines: list[OrderLineRead]
    total: str
    position: str | None = Field(
        default=None, description="pass as ?min_position= to a query to read your own write"
    )


def money_str(value: Decimal) -> str:
    return f"{value:.2f}"


class PriceCreate(_Strict):
    sku: Code = Field(examples=["WULIANGYE-52-500ML"])
    unit_price: Money


class PriceRead(BaseModel):
    sku: str
    unit_price: str


class PriceListRead(BaseModel):
    grade: str
    prices: list[PriceRead]
    position: str | None = None
