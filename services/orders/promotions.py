"""Product categories and promotions (促销): what changes an order's prices at placing.

- ``CategoryTree``: categories with their parents, so a promotion on a category reaches its
  sub-categories. A product's category that was never placed in the tree is a root.
- ``PromotionBook``: every promotion headquarters defined, bounded in time:
  - ``buy_get`` (买赠): for every ``buy_quantity`` paid units of ``buy_sku`` on an order, the
    dealer gets ``gift_quantity`` units of ``gift_sku`` free, as a gift line at zero price
    that is reserved and shipped like any line;
  - ``category_discount``: a rate off the unit price of every SKU of ``category`` and its
    sub-categories. Discounts do not stack: a line takes the best rate on offer.

A promotion applies to an order when the order's business date is within its period (and
before the day it was ended, if it was) and the dealer's grade is among its grades (no grades:
every grade). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from runtime.eventstore import Provenance
from services.kernel.errors import NotFound, RuleViolation

_IDS = uuid5(NAMESPACE_URL, "urn:dist:orders")
MAX_DISCOUNT_RATE = Decimal("0.9")


class CategoryCycle(RuleViolation):
    code = "category_cycle"


class UnknownCategory(NotFound):
    code = "unknown_category"


class InvalidPromotion(RuleViolation):
    code = "invalid_promotion"


class PromotionAlreadyDefined(RuleViolation):
    code = "promotion_already_defined"


class PromotionOverlaps(RuleViolation):
    code = "promotion_overlaps"


class PromotionBackdated(RuleViolation):
    code = "promotion_backdated"


class UnknownPromotion(NotFound):
    code = "unknown_promotion"


class CategoryTree(Aggregate):
    """品类: the catalogue's categories and their parents. One tree for the service."""

    ID = uuid5(_IDS, "category-tree")

    @staticmethod
    def create_id() -> UUID:
        return CategoryTree.ID

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.categories: dict[str, dict] = {}  # code -> {"name", "parent"}

    def knows(self, code: str) -> bool:
        return code in self.categories

    def place(self, code: str, name: str, parent: str | None, by: Provenance) -> bool:
        """Add a category or move it under another parent. False when nothing changes."""
        if parent is not None:
            if parent not in self.categories:
                raise UnknownCategory(f"no category {parent}", category=parent)
            if parent == code or code in self.ancestors(parent):
                raise CategoryCycle(f"{parent} is {code} or one of its sub-categories")
        if self.categories.get(code) == {"name": name, "parent": parent}:
            return False
        self._placed(code=code, name=name, parent=parent, by=by)
        return True

    @event("Placed")
    def _placed(self, code: str, name: str, parent: str | None, by: Provenance) -> None:
        self.categories[code] = {"name": name, "parent": parent}

    def ancestors(self, code: str) -> list[str]:
        """The category's parent, its parent's parent, … up to the root."""
        found: list[str] = []
        parent = self.categories.get(code, {}).get("parent")
        while parent is not None and parent not in found:
            found.append(parent)
            parent = self.categories.get(parent, {}).get("parent")
        return found

    def within(self, category: str, ancestor: str) -> bool:
        return category == ancestor or ancestor in self.ancestors(category)


class PromotionKind(StrEnum):
    BUY_GET = "buy_get"
    CATEGORY_DISCOUNT = "category_discount"


@dataclass(frozen=True)
class Promotion:
    code: str
    name: str
    kind: PromotionKind
    valid_from: date
    valid_to: date
    grades: tuple[str, ...] = ()
    buy_sku: str | None = None
    buy_quantity: int | None = None
    gift_sku: str | None = None
    gift_quantity: int | None = None
    category: str | None = None
    discount_rate: Decimal | None = None
    ended_on: date | None = None  # the first day it no longer applies

    def applies(self, grade: str, on: date) -> bool:
        if not self.valid_from <= on <= self.valid_to:
            return False
        if self.ended_on is not None and on >= self.ended_on:
            return False
        return not self.grades or grade in self.grades

    def overlaps(self, other: Promotion) -> bool:
        """Both would give gifts for the same SKU to some dealer on some day."""
        if self.kind != PromotionKind.BUY_GET or other.kind != PromotionKind.BUY_GET:
            return False
        if self.buy_sku != other.buy_sku:
            return False
        end = min(self.last_day, other.last_day)
        if max(self.valid_from, other.valid_from) > end:
            return False
        return not self.grades or not other.grades or bool(set(self.grades) & set(other.grades))

    @property
    def last_day(self) -> date:
        if self.ended_on is not None:
            return min(self.valid_to, date.fromordinal(self.ended_on.toordinal() - 1))
        return self.valid_to

    def check(self) -> None:
        """Its shape. When it may start is ``BookedDates``' rule (history.py)."""
        if self.valid_to < self.valid_from:
            raise InvalidPromotion("the period ends before it starts")
        if self.kind == PromotionKind.BUY_GET:
            if not (self.buy_sku and self.gift_sku and self.buy_quantity and self.gift_quantity):
                raise InvalidPromotion(
                    "buy_get needs buy_sku, buy_quantity, gift_sku and gift_quantity"
                )
            if self.buy_quantity < 1 or self.gift_quantity < 1:
                raise InvalidPromotion("buy and gift quantities are at least 1")
            if self.category is not None or self.discount_rate is not None:
                raise InvalidPromotion("buy_get takes no category or discount_rate")
        else:
            if self.category is None or self.discount_rate is None:
                raise InvalidPromotion("category_discount needs category and discount_rate")
            if not Decimal(0) < self.discount_rate <= MAX_DISCOUNT_RATE:
                raise InvalidPromotion(f"the discount rate is above 0, at most {MAX_DISCOUNT_RATE}")
            if self.discount_rate != self.discount_rate.quantize(Decimal("0.0001")):
                raise InvalidPromotion("the discount rate has at most four decimal places")
            if self.buy_sku or self.gift_sku or self.buy_quantity or self.gift_quantity:
                raise InvalidPromotion("category_discount takes no buy or gift SKUs")


class PromotionBook(Aggregate):
    """促销: every promotion headquarters defined. One book for the service, so placing an
    order reads every promotion in one load and a new promotion is checked against all."""

    ID = uuid5(_IDS, "promotion-book")

    @staticmethod
    def create_id() -> UUID:
        return PromotionBook.ID

    class Opened(Aggregate.Created):
        pass

    @event(Opened)
    def __init__(self) -> None:
        self.promotions: dict[str, dict] = {}

    def get(self, code: str) -> Promotion:
        fields = self.promotions.get(code)
        if fields is None:
            raise UnknownPromotion(f"no promotion {code}")
        return _promotion(code, fields)

    def all(self) -> list[Promotion]:
        return [_promotion(code, fields) for code, fields in sorted(self.promotions.items())]

    def define(self, promotion: Promotion, *, by: Provenance) -> None:
        if promotion.code in self.promotions:
            raise PromotionAlreadyDefined(f"promotion {promotion.code} is defined already")
        promotion.check()
        for other in self.all():
            if promotion.overlaps(other):
                raise PromotionOverlaps(
                    f"{other.code} already gives gifts on {promotion.buy_sku} in that period",
                    promotion=other.code,
                )
        fields = asdict(promotion)
        del fields["code"], fields["ended_on"]
        fields["grades"] = list(promotion.grades)
        fields["kind"] = str(promotion.kind)
        self._defined(code=promotion.code, by=by, **fields)

    @event("Defined")
    def _defined(
        self,
        code: str,
        name: str,
        kind: str,
        valid_from: date,
        valid_to: date,
        grades: list[str],
        buy_sku: str | None,
        buy_quantity: int | None,
        gift_sku: str | None,
        gift_quantity: int | None,
        category: str | None,
        discount_rate: Decimal | None,
        by: Provenance,
    ) -> None:
        self.promotions[code] = {
            "name": name,
            "kind": kind,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "grades": grades,
            "buy_sku": buy_sku,
            "buy_quantity": buy_quantity,
            "gift_sku": gift_sku,
            "gift_quantity": gift_quantity,
            "category": category,
            "discount_rate": discount_rate,
            "ended_on": None,
        }

    def end(self, code: str, on: date, *, by: Provenance) -> bool:
        """Stop a promotion from ``on``: orders placed before keep it (from when on it may
        be is ``BookedDates``' rule, history.py). False: it stopped by then already."""
        promotion = self.get(code)
        if promotion.ended_on is not None and promotion.ended_on <= on:
            return False
        if on > promotion.valid_to:
            raise InvalidPromotion(f"{code} ends on {promotion.valid_to} anyway")
        self._ended(code=code, on=on, by=by)
        return True

    @event("Ended")
    def _ended(self, code: str, on: date, by: Provenance) -> None:
        self.promotions[code]["ended_on"] = on

    def in_force(self, grade: str, on: date) -> list[Promotion]:
        return [promotion for promotion in self.all() if promotion.applies(grade, on)]


def _promotion(code: str, fields: dict) -> Promotion:
    return Promotion(
        code=code,
        **{
            **fields,
            "kind": PromotionKind(fields["kind"]),
            "grades": tuple(fields["grades"]),
        },
    )
