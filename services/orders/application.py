"""The orders application: the command handlers of the orders service, and the policies of
its process manager, which move an order along as finance and inventory answer.

A handler loads what it needs, asks the aggregates, and saves once. The answer the caller
gets is built here and stored with the events under the caller's Idempotency-Key.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from contracts import finance, inventory
from contracts.envelope import Envelope
from runtime.eventstore import CommandResult, IdempotencyKey, Provenance, ServiceApplication
from runtime.process_manager import Policy, Unit, reads
from services.kernel.errors import OutsideScope
from services.kernel.ownership import Ownership
from services.orders.consignment import ConsignmentSale
from services.orders.contract import to_integration_event
from services.orders.domain import (
    ALWAYS,
    Dealer,
    DealerAlreadyRegistered,
    DealerGrade,
    Order,
    PriceBackdated,
    PricedLine,
    PriceList,
    Product,
    ProductAlreadyRegistered,
    RequestedLine,
    UnknownDealer,
    UnknownOrder,
    UnknownProduct,
    check_may_order_for,
    price_lines,
)
from services.orders.history import BookedDates
from services.orders.promotions import (
    CategoryTree,
    Promotion,
    PromotionBackdated,
    PromotionBook,
    PromotionKind,
    UnknownCategory,
)
from services.orders.returns import DealerReturn, ReturnExceedsShipped, UnknownReturn
from services.organisation.domain import Organisation, branch_view, region_view


@dataclass(frozen=True)
class RegisterDealer:
    code: str
    name: str
    branch: str
    region: str
    grade: str


@dataclass(frozen=True)
class RegisterProduct:
    sku: str
    name: str
    category: str
    unit: str
    list_price: Decimal


@dataclass(frozen=True)
class PlaceOrder:
    dealer_code: str
    business_date: date
    lines: list[RequestedLine]


@dataclass(frozen=True)
class RequestReturn:
    order_id: UUID
    business_date: date
    lines: dict[str, int]
    reason: str


@dataclass(frozen=True)
class Actor:
    """The caller, as the application needs it: provenance for events, scope for rules."""

    provenance: Provenance
    dealer_code: str | None = None

    @property
    def role(self) -> str:
        return self.provenance.role

    @property
    def branch(self) -> str | None:
        return self.provenance.branch


def dealer_view(dealer: Dealer) -> dict[str, Any]:
    return {
        "dealer_id": str(dealer.id),
        "code": dealer.code,
        "name": dealer.name,
        "branch": dealer.branch,
        "region": dealer.region,
        "grade": str(dealer.grade),
    }


def product_view(product: Product) -> dict[str, Any]:
    return {
        "product_id": str(product.id),
        "sku": product.sku,
        "name": product.name,
        "category": product.category,
        "unit": product.unit,
        "list_price": f"{product.list_price:.2f}",
    }


def price_list_view(price_list: PriceList, on: date) -> dict[str, Any]:
    """The prices in effect on ``on`` and those scheduled after it."""
    return {
        "grade": str(price_list.grade),
        "on": on.isoformat(),
        "prices": [
            {
                "sku": sku,
                "unit_price": f"{price:.2f}",
                "effective_from": None if start == ALWAYS else start.isoformat(),
            }
            for sku, (price, start) in price_list.prices_on(on).items()
        ],
        "scheduled": [
            {"sku": sku, "unit_price": f"{price:.2f}", "effective_from": start.isoformat()}
            for sku, start, price in price_list.scheduled_after(on)
        ],
    }


def promotion_view(promotion: Promotion) -> dict[str, Any]:
    view: dict[str, Any] = {
        "code": promotion.code,
        "name": promotion.name,
        "kind": str(promotion.kind),
        "valid_from": promotion.valid_from.isoformat(),
        "valid_to": promotion.valid_to.isoformat(),
        "grades": list(promotion.grades),
        "ended_on": promotion.ended_on.isoformat() if promotion.ended_on else None,
    }
    if promotion.kind == PromotionKind.BUY_GET:
        view.update(
            buy_sku=promotion.buy_sku,
            buy_quantity=promotion.buy_quantity,
            gift_sku=promotion.gift_sku,
            gift_quantity=promotion.gift_quantity,
        )
    else:
        view.update(category=promotion.category, discount_rate=str(promotion.discount_rate))
    return view


def category_view(tree: CategoryTree, code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": tree.categories[code]["name"],
        "parent": tree.categories[code]["parent"],
        "path": [*reversed(tree.ancestors(code)), code],
    }


def line_view(line: dict) -> dict[str, Any]:
    """An order line; lines placed before promotions carry no discount or gift fields."""
    return {
        "sku": line["sku"],
        "name": line["name"],
        "category": line["category"],
        "quantity": line["quantity"],
        "unit_price": f"{line['unit_price']:.2f}",
        "amount": f"{line['amount']:.2f}",
        "list_unit_price": f"{line.get('list_unit_price', line['unit_price']):.2f}",
        "discount": f"{line.get('discount', 0):.2f}",
        "promotion": line.get("promotion"),
        "gift": line.get("gift", False),
    }


def _priced_totals(lines: list[dict]) -> dict[str, Any]:
    return {
        "lines": [line_view(line) for line in lines],
        "promotions": sorted({line["promotion"] for line in lines if line.get("promotion")}),
        "discount": f"{sum((line.get('discount', 0) for line in lines), Decimal(0)):.2f}",
    }


def quote_view(dealer: Dealer, lines: list[dict], total: Decimal, cmd: PlaceOrder) -> dict:
    return {
        "dealer_code": dealer.code,
        "dealer_name": dealer.name,
        "grade": str(dealer.grade),
        "branch": dealer.branch,
        "region": dealer.region,
        "business_date": cmd.business_date.isoformat(),
        **_priced_totals(lines),
        "total": f"{total:.2f}",
    }


def order_view(order: Order) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "dealer_code": order.dealer_code,
        "branch": order.branch,
        "region": order.region,
        "business_date": order.business_date.isoformat(),
        "status": str(order.status),
        "credit": order.credit,
        "credit_override": order.credit_override,
        "stock": order.stock,
        "warehouse_code": order.warehouse_code,
        "manager_approval": order.manager_approval,
        "reason": order.reason,
        "detail": order.detail,
        "refusals": list(order.refusals),
        "shipped": [{"sku": s, "quantity": q} for s, q in sorted(order.shipped.items())],
        **_priced_totals(order.lines),
        "total": f"{order.total:.2f}",
    }


def return_view(dealer_return: DealerReturn) -> dict[str, Any]:
    return {
        "return_id": str(dealer_return.id),
        "order_id": dealer_return.order_id,
        "dealer_code": dealer_return.dealer_code,
        "branch": dealer_return.branch,
        "warehouse_code": dealer_return.warehouse_code,
        "business_date": dealer_return.business_date.isoformat(),
        "status": str(dealer_return.status),
        "reason": dealer_return.reason,
        "decision": dealer_return.decision,
        "lines": [{"sku": s, "quantity": q} for s, q in sorted(dealer_return.lines.items())],
        "received_on": (
            dealer_return.received_on.isoformat() if dealer_return.received_on else None
        ),
        "received": [
            {"sku": sku, "good": r["good"], "damaged": r["damaged"]}
            for sku, r in sorted(dealer_return.received.items())
        ],
        "credit_note_id": dealer_return.credit_note_id,
        "credited": f"{dealer_return.credited:.2f}" if dealer_return.credited is not None else None,
    }


def _new_product(cmd: RegisterProduct, actor: Actor) -> Product:
    return Product(
        sku=cmd.sku,
        name=cmd.name,
        category=cmd.category,
        unit=cmd.unit,
        list_price=cmd.list_price,
        by=actor.provenance,
    )


class OrdersApplication(ServiceApplication):
    service = "orders"
    name = "orders"
    contract = staticmethod(to_integration_event)
    snapshotting_intervals: ClassVar[dict[type, int]] = {PriceList: 50, BookedDates: 100}

    # -- the organisation ------------------------------------------------------------------
    def organisation(self) -> Organisation:
        try:
            return self.repository.get(Organisation.create_id())
        except AggregateNotFoundError:
            return Organisation()

    def register_region(
        self,
        code: str,
        name: str,
        parent: str | None,
        manager: str | None,
        *,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """大区: headquarters registers a region (under a larger one, if any)."""
        organisation = self.organisation()
        organisation.register_region(code, name, parent, manager, actor.provenance)
        return self.save_command(
            organisation,
            status_code=201,
            body=region_view(organisation, code),
            idempotency=idempotency,
        )

    def register_branch(
        self,
        code: str,
        name: str,
        region: str,
        manager: str | None,
        *,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """分公司: headquarters registers a branch office in a registered region."""
        organisation = self.organisation()
        organisation.register_branch(code, name, region, manager, actor.provenance)
        return self.save_command(
            organisation,
            status_code=201,
            body=branch_view(organisation, code),
            idempotency=idempotency,
        )

    # -- dealers ---------------------------------------------------------------------------
    def register_dealer(
        self, cmd: RegisterDealer, *, actor: Actor, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        duplicate = DealerAlreadyRegistered(f"dealer {cmd.code} is already registered")
        if self.exists(Dealer.create_id(cmd.code)):
            raise duplicate
        dealer = self._new_dealer(cmd, self.organisation(), actor)
        return self.save_registration(
            dealer, body=dealer_view(dealer), idempotency=idempotency, duplicate=duplicate
        )

    def _new_dealer(self, cmd: RegisterDealer, organisation: Organisation, actor: Actor) -> Dealer:
        organisation.check_branch(cmd.branch, cmd.region)
        return Dealer(
            code=cmd.code,
            name=cmd.name,
            branch=cmd.branch,
            region=cmd.region,
            grade=cmd.grade,
            by=actor.provenance,
        )

    def register_dealers(
        self, batch: Sequence[tuple[RegisterDealer, Actor, IdempotencyKey]]
    ) -> list[CommandResult]:
        """Many registrations in one transaction, all or none (a bulk import's batch): the
        organisation read once, no dealer of the batch registered before (else
        DealerAlreadyRegistered, and the caller registers them one by one)."""
        found = self.get_many([Dealer.create_id(cmd.code) for cmd, _, _ in batch])
        if found:
            codes = ", ".join(sorted(dealer.code for dealer in found.values()))
            raise DealerAlreadyRegistered(f"dealers {codes} are already registered")
        organisation = self.organisation()
        dealers = [self._new_dealer(cmd, organisation, actor) for cmd, actor, _ in batch]
        return self.save_batch(
            *dealers,
            answers=[
                (key, 201, dealer_view(dealer), 1)
                for dealer, (_, _, key) in zip(dealers, batch, strict=True)
            ],
        )

    def get_dealer(self, code: str) -> Dealer:
        try:
            return self.repository.get(Dealer.create_id(code))
        except AggregateNotFoundError:
            raise UnknownDealer(f"no dealer with code {code}") from None

    def dealer_ownership(self, code: str) -> Ownership:
        dealer = self.get_dealer(code)
        return Ownership.of(f"dealer {code}", branches=[dealer.branch], dealers=[code])

    # -- catalogue -------------------------------------------------------------------------
    def register_product(
        self, cmd: RegisterProduct, *, actor: Actor, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        duplicate = ProductAlreadyRegistered(f"SKU {cmd.sku} is already in the catalogue")
        if self.exists(Product.create_id(cmd.sku)):
            raise duplicate
        product = _new_product(cmd, actor)
        tree = self.category_tree()
        if tree.knows(cmd.category):
            return self.save_registration(
                product, body=product_view(product), idempotency=idempotency, duplicate=duplicate
            )
        # A category first seen on a product joins the tree as a root, so promotions can
        # name it; headquarters may place it under a parent later.
        tree.place(cmd.category, cmd.category, None, actor.provenance)
        try:
            return self.save_command(
                product, tree, status_code=201, body=product_view(product), idempotency=idempotency
            )
        except IntegrityError:
            if self.exists(product.id):
                raise duplicate from None
            raise  # the tree changed meanwhile: the caller decides again

    def register_products(
        self, batch: Sequence[tuple[RegisterProduct, Actor, IdempotencyKey]]
    ) -> list[CommandResult]:
        """Many products in one transaction, all or none (a bulk import's batch): none of
        them registered before (else ProductAlreadyRegistered, and the caller registers them
        one by one); the categories new to the tree join it as roots in the same save."""
        found = self.get_many([Product.create_id(cmd.sku) for cmd, _, _ in batch])
        if found:
            skus = ", ".join(sorted(product.sku for product in found.values()))
            raise ProductAlreadyRegistered(f"SKUs {skus} are already in the catalogue")
        tree = self.category_tree()
        products = []
        for cmd, actor, _ in batch:
            if not tree.knows(cmd.category):
                tree.place(cmd.category, cmd.category, None, actor.provenance)
            products.append(_new_product(cmd, actor))
        # The tree's events (if any) are collected first and go with the first product.
        tree_events = len(tree.pending_events)
        answers = [
            (key, 201, product_view(product), 1 + (tree_events if i == 0 else 0))
            for i, (product, (_, _, key)) in enumerate(zip(products, batch, strict=True))
        ]
        return self.save_batch(tree, *products, answers=answers)

    def get_product(self, sku: str) -> Product:
        try:
            return self.repository.get(Product.create_id(sku))
        except AggregateNotFoundError:
            raise UnknownProduct(f"no product with SKU {sku}") from None

    # -- orders ----------------------------------------------------------------------------
    def place_order(
        self, cmd: PlaceOrder, *, actor: Actor, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        dealer, priced, total, booked = self.price_order(cmd, actor=actor)
        order = Order.place(
            dealer=dealer,
            priced=priced,
            total=total,
            business_date=cmd.business_date,
            by=actor.provenance,
        )
        # Booked with the order (history.py): a price or promotion dated back into the days
        # this order prices conflicts with it, so neither changes its price underneath it.
        booked = self._booked_dates(booked)
        changed = [booked] if booked.book(dealer.grade, cmd.business_date) else []
        return self.save_command(
            order, *changed, status_code=201, body=order_view(order), idempotency=idempotency
        )

    def quote_order(self, cmd: PlaceOrder, *, actor: Actor) -> dict[str, Any]:
        """报价: what placing ``cmd`` now would book (each line's grade price, the promotions
        and gifts, the total), priced by the very code that places orders, and refused as
        placing would refuse it. Nothing is saved."""
        dealer, priced, total, _ = self.price_order(cmd, actor=actor)
        return quote_view(dealer, [line.as_event_data() for line in priced], total, cmd)

    def price_order(
        self, cmd: PlaceOrder, *, actor: Actor
    ) -> tuple[Dealer, list[PricedLine], Decimal, BookedDates | None]:
        """The dealer, if the actor may order for it, and the order's lines priced at its
        grade's price list in effect on the business date, with the promotions in force;
        and, read with them (one snapshot), the dates booked so far (shared: not to change;
        None before the first order that opens them)."""
        skus = sorted({line.sku for line in cmd.lines})
        dealer_id = Dealer.create_id(cmd.dealer_code)
        # One query: the dealer, the SKUs and every grade's price list (the dealer's grade is
        # only known once it is read).
        # The promotions and categories come in the same query. All are reference data this
        # command only reads: kept between commands, and brought up to date by that same
        # query (the events after each one's cached version), so never stale.
        price_lists = [PriceList.create_id(grade) for grade in DealerGrade]
        found = self.get_references(
            [
                dealer_id,
                *(Product.create_id(sku) for sku in skus),
                *price_lists,
                PromotionBook.create_id(),
                CategoryTree.create_id(),
                BookedDates.create_id(),
            ]
        )
        booked = found.get(BookedDates.create_id())
        dealer = found.pop(dealer_id, None)
        if not isinstance(dealer, Dealer):
            raise UnknownDealer(f"no dealer with code {cmd.dealer_code}")
        check_may_order_for(
            dealer, role=actor.role, branch=actor.branch, dealer_code=actor.dealer_code
        )
        catalogue = {p.sku: p for p in found.values() if isinstance(p, Product)}
        book = found.get(PromotionBook.create_id())
        promotions = book.in_force(dealer.grade, cmd.business_date) if book else []
        gifts = {p.gift_sku for p in promotions if p.gift_sku and p.gift_sku not in catalogue}
        for gift_sku in sorted(gifts):
            catalogue[gift_sku] = self.get_product(gift_sku)
        price_list = found.get(PriceList.create_id(dealer.grade))
        priced, total = price_lines(
            cmd.lines,
            catalogue,
            price_list,
            on=cmd.business_date,
            promotions=promotions,
            categories=found.get(CategoryTree.create_id()),
        )
        return dealer, priced, total, booked

    # -- how far back history may change (history.py) ---------------------------------------
    def booked_dates(self) -> BookedDates:
        """The dates booked so far, to change (a copy of the shared reference)."""
        found = self.get_references([BookedDates.create_id()])
        return self._booked_dates(found.get(BookedDates.create_id()))

    def _booked_dates(self, shared: BookedDates | None) -> BookedDates:
        if shared is not None:
            return copy.deepcopy(shared)
        return BookedDates(latest=self._latest_booked_per_grade())

    def _latest_booked_per_grade(self) -> dict[str, str]:
        """Per grade, the latest business date of the orders already in this store: read
        once, by the command that opens ``BookedDates`` (orders booked before it existed).
        Two commands opening it at once both create its first version: one of them wins."""
        latest_by_dealer: dict[UUID, date] = {}
        topics = [get_topic(Order.Placed)]
        start: int | None = None
        while batch := self.recorder.select_notifications(
            start, 1000, topics=topics, inclusive_of_start=start is None
        ):
            for notification in batch:
                placed = self.mapper.to_domain_event(notification)
                known = latest_by_dealer.get(placed.dealer_id)
                if known is None or placed.business_date > known:
                    latest_by_dealer[placed.dealer_id] = placed.business_date
            start = batch[-1].id
        latest: dict[str, str] = {}
        for dealer in self.get_many(list(latest_by_dealer)).values():
            day = latest_by_dealer[dealer.id].isoformat()
            latest[str(dealer.grade)] = max(latest.get(str(dealer.grade), day), day)
        return latest

    # -- price lists -----------------------------------------------------------------------
    def set_price(
        self,
        grade: str,
        sku: str,
        unit_price: Decimal,
        *,
        effective_from: date | None,
        today: date,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Headquarters sets a SKU's unit price for dealers of one grade, in effect from
        ``effective_from`` (default today) for orders of that business date on: today or
        later, or in the past after the grade's last booked order (history.py)."""
        product = self.get_product(sku)
        price_list = self.find_price_list(grade) or PriceList(grade=grade)
        start = effective_from or today
        amended = self._amend_history(
            [str(grade)], start, today=today, refuse=PriceBackdated, what=f"a {grade} price"
        )
        changed = price_list.set_price(
            product.sku, unit_price, effective_from=start, by=actor.provenance
        )
        if amended is not None and changed:
            amended.amend([str(grade)], start, what=f"price of {product.sku}", by=actor.provenance)
        return self.save_command(
            price_list,
            *([amended] if amended is not None and changed else []),
            status_code=200,
            body=price_list_view(price_list, start),
            idempotency=idempotency,
        )

    def set_prices(
        self,
        grade: str,
        batch: Sequence[tuple[str, Decimal, date | None, Actor, IdempotencyKey]],
        *,
        today: date,
    ) -> list[CommandResult]:
        """Many prices of one grade in one transaction, all or none (a bulk import's batch:
        the price list read and saved once, not once per price). Each answer names its own
        price (the whole list per row would make the batch quadratic)."""
        products = self.get_many([Product.create_id(sku) for sku, *_ in batch])
        known = {product.sku for product in products.values()}
        price_list = self.find_price_list(grade) or PriceList(grade=grade)
        # Prices in the past follow set_price's rule: the earliest decides for the batch.
        past = [start for _, _, start, *_ in batch if start is not None and start < today]
        amended = (
            self._amend_history(
                [str(grade)], min(past), today=today, refuse=PriceBackdated, what=f"a {grade} price"
            )
            if past
            else None
        )
        answers = []
        counted = 0  # a new price list's creation goes with the first price
        changed_past: list[date] = []
        for sku, unit_price, effective_from, actor, key in batch:
            if sku not in known:
                raise UnknownProduct(f"no product with SKU {sku}")
            start = effective_from or today
            if price_list.set_price(sku, unit_price, effective_from=start, by=actor.provenance):
                if start < today:
                    changed_past.append(start)
            body = {
                "grade": str(grade),
                "sku": sku,
                "unit_price": f"{unit_price:.2f}",
                "effective_from": start.isoformat(),
            }
            answers.append((key, 200, body, len(price_list.pending_events) - counted))
            counted = len(price_list.pending_events)
        aggregates: list[Any] = [price_list]
        if amended is not None and changed_past:
            # One amendment for the batch, counted with its last command.
            amended.amend(
                [str(grade)], min(changed_past), what="imported prices", by=batch[-1][3].provenance
            )
            aggregates.append(amended)
            key, status_code, body, count = answers[-1]
            answers[-1] = (key, status_code, body, count + len(amended.pending_events))
        return self.save_batch(*aggregates, answers=answers)

    # -- categories and promotions ---------------------------------------------------------
    def category_tree(self) -> CategoryTree:
        try:
            return self.repository.get(CategoryTree.create_id())
        except AggregateNotFoundError:
            return CategoryTree()

    def place_category(
        self,
        code: str,
        name: str,
        parent: str | None,
        *,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """Add a category of the catalogue, or move it under another parent."""
        tree = self.category_tree()
        tree.place(code, name, parent, actor.provenance)
        return self.save_command(
            tree, status_code=200, body=category_view(tree, code), idempotency=idempotency
        )

    def promotion_book(self) -> PromotionBook:
        try:
            return self.repository.get(PromotionBook.create_id())
        except AggregateNotFoundError:
            return PromotionBook()

    def define_promotion(
        self,
        promotion: Promotion,
        *,
        today: date,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        for sku in (promotion.buy_sku, promotion.gift_sku):
            if sku is not None:
                self.get_product(sku)
        if promotion.category is not None and not self.category_tree().knows(promotion.category):
            raise UnknownCategory(f"no category {promotion.category}", category=promotion.category)
        book = self.promotion_book()
        grades = list(promotion.grades) or [str(g) for g in DealerGrade]
        what = f"promotion {promotion.code}"
        amended = self._amend_history(
            grades, promotion.valid_from, today=today, refuse=PromotionBackdated, what=what
        )
        book.define(promotion, by=actor.provenance)
        if amended is not None:
            amended.amend(grades, promotion.valid_from, what=what, by=actor.provenance)
        return self.save_command(
            book,
            *([amended] if amended is not None else []),
            status_code=201,
            body=promotion_view(book.get(promotion.code)),
            idempotency=idempotency,
        )

    def end_promotion(
        self,
        code: str,
        on: date,
        *,
        today: date,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        book = self.promotion_book()
        grades = list(book.get(code).grades) or [str(g) for g in DealerGrade]
        what = f"the end of promotion {code}"
        amended = self._amend_history(grades, on, today=today, refuse=PromotionBackdated, what=what)
        changed = book.end(code, on, by=actor.provenance)
        if amended is not None and changed:
            amended.amend(grades, on, what=what, by=actor.provenance)
        return self.save_command(
            book,
            *([amended] if amended is not None and changed else []),
            status_code=200,
            body=promotion_view(book.get(code)),
            idempotency=idempotency,
        )

    def _amend_history(
        self,
        grades: list[str],
        on: date,
        *,
        today: date,
        refuse: type[PriceBackdated] | type[PromotionBackdated],
        what: str,
    ) -> BookedDates | None:
        """``BookedDates`` to amend when ``what`` takes effect before today and may (else
        ``refuse``); None from today on, where no booked order is in the way."""
        if on >= today:
            return None
        booked = self.booked_dates()
        booked.check_may_take_effect(grades, on, today=today, refuse=refuse, what=what)
        return booked

    def find_price_list(self, grade: str) -> PriceList | None:
        try:
            return self.repository.get(PriceList.create_id(DealerGrade(grade)))
        except AggregateNotFoundError:
            return None

    # -- returns (退货) ---------------------------------------------------------------------
    def request_return(
        self, cmd: RequestReturn, *, actor: Actor, idempotency: IdempotencyKey | None
    ) -> CommandResult:
        """A dealer (or its branch) asks to return goods shipped on an order."""
        order = self.get_order(cmd.order_id)
        dealer = self.get_dealer(order.dealer_code)
        check_may_order_for(
            dealer, role=actor.role, branch=actor.branch, dealer_code=actor.dealer_code
        )
        if order.warehouse_code is None or not order.shipped:
            raise ReturnExceedsShipped(f"nothing has shipped on order {order.id} yet")
        dealer_return = DealerReturn(
            order_id=str(order.id),
            dealer_code=order.dealer_code,
            branch=order.branch,
            region=order.region,
            warehouse_code=order.warehouse_code,
            business_date=cmd.business_date,
            lines=cmd.lines,
            reason=cmd.reason,
            by=actor.provenance,
        )
        order.take_back(str(dealer_return.id), cmd.lines)
        return self.save_command(
            dealer_return,
            order,
            status_code=201,
            body=return_view(dealer_return),
            idempotency=idempotency,
        )

    def decide_return(
        self,
        return_id: UUID,
        decision: str,
        *,
        reason: str,
        actor: Actor,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """A branch manager of the order's branch (or HQ) approves or rejects a return."""
        dealer_return = self.get_return(return_id)
        if actor.role == "branch_manager" and actor.branch != dealer_return.branch:
            raise OutsideScope(f"return {return_id} belongs to branch {dealer_return.branch}")
        if decision == "approve":
            dealer_return.approve(actor.provenance)
            return self.save_command(
                dealer_return,
                status_code=200,
                body=return_view(dealer_return),
                idempotency=idempotency,
            )
        dealer_return.reject(reason, actor.provenance)
        order = self.get_order(UUID(dealer_return.order_id))
        order.settle_return(str(dealer_return.id), {})
        return self.save_command(
            dealer_return,
            order,
            status_code=200,
            body=return_view(dealer_return),
            idempotency=idempotency,
        )

    def get_return(self, return_id: UUID) -> DealerReturn:
        try:
            found = self.repository.get(return_id)
        except AggregateNotFoundError:
            found = None
        if not isinstance(found, DealerReturn):
            raise UnknownReturn(f"no return {return_id}")
        return found

    # -- order workflow --------------------------------------------------------------------
    def decide(
        self,
        order_id: UUID,
        decision: str,
        *,
        actor: Actor,
        reason: str,
        idempotency: IdempotencyKey | None,
    ) -> CommandResult:
        """A person's decision on an order: ``approve`` or ``reject`` (a branch manager of the
        order's branch), ``cancel`` (its branch, its dealer or HQ)."""
        order = self.get_order(order_id)
        dealer = self.get_dealer(order.dealer_code)
        check_may_order_for(
            dealer, role=actor.role, branch=actor.branch, dealer_code=actor.dealer_code
        )
        if decision == "approve":
            order.approve(actor.provenance)
        elif decision == "reject":
            order.reject(reason, actor.provenance)
        else:
            order.cancel(reason, actor.provenance)
        return self.save_command(
            order, status_code=200, body=order_view(order), idempotency=idempotency
        )

    def get_order(self, order_id: UUID) -> Order:
        try:
            order = self.repository.get(order_id)
        except AggregateNotFoundError:
            raise UnknownOrder(f"no order {order_id}") from None
        if not isinstance(order, Order):
            raise UnknownOrder(f"no order {order_id}")
        return order


# -- the process manager's policies ----------------------------------------------------------
def _order(unit: Unit, order_id: str) -> Order | None:
    order = unit.find(UUID(order_id))
    return order if isinstance(order, Order) else None


def _threshold(unit: Unit) -> Decimal:
    return unit.app.settings.order_approval_threshold


@reads(lambda data: [UUID(data.order_id)])
def on_credit_reserved(unit: Unit, envelope: Envelope, data: finance.CreditReserved) -> None:
    order = _order(unit, data.order_id)
    if order is not None:
        order.credit_reserved(override=data.override, approval_threshold=_threshold(unit))
        unit.save(order)


@reads(lambda data: [UUID(data.order_id)])
def on_credit_refused(unit: Unit, envelope: Envelope, data: finance.CreditRefused) -> None:
    order = _order(unit, data.order_id)
    if order is not None:
        order.credit_refused(
            detail=(
                f"exposure {data.exposure:.2f} + order {data.amount:.2f} exceeds the credit "
                f"limit {data.credit_limit:.2f} by {data.shortfall:.2f}"
            )
        )
        unit.save(order)


@reads(lambda data: [UUID(data.order_id)])
def on_stock_reserved(unit: Unit, envelope: Envelope, data: inventory.StockReserved) -> None:
    order = _order(unit, data.order_id)
    if order is not None:
        order.stock_reserved(
            warehouse_code=data.warehouse_code, approval_threshold=_threshold(unit)
        )
        unit.save(order)


@reads(lambda data: [UUID(data.order_id)])
def on_stock_shortage(unit: Unit, envelope: Envelope, data: inventory.StockShortage) -> None:
    order = _order(unit, data.order_id)
    if order is not None:
        short = ", ".join(
            f"{s.sku}: {s.requested} requested, {s.available} available" for s in data.shortages
        )
        where = data.warehouse_code or "no warehouse serves the branch"
        order.stock_short(detail=f"{where}: {short}")
        unit.save(order)


def on_shipment(unit: Unit, envelope: Envelope, data: inventory.ShipmentDispatched) -> None:
    order = _order(unit, data.order_id)
    if order is not None:
        order.record_shipment(
            data.shipment_id, {line.sku: line.quantity for line in data.lines}, data.order_complete
        )
        unit.save(order)


def on_delivery(unit: Unit, envelope: Envelope, data: inventory.DeliveryConfirmed) -> None:
    order = _order(unit, data.order_id)
    if order is not None:
        order.record_delivery(data.shipment_id, data.delivered_on)
        unit.save(order)


def on_return_received(unit: Unit, envelope: Envelope, data: inventory.ReturnReceived) -> None:
    """The warehouse counted a return in: what came back is what the return takes back."""
    dealer_return = unit.find(UUID(data.return_id))
    order = _order(unit, data.order_id)
    if not isinstance(dealer_return, DealerReturn) or order is None:
        return
    dealer_return.record_receipt(
        {line.sku: {"good": line.good, "damaged": line.damaged} for line in data.lines},
        data.received_on,
    )
    order.settle_return(data.return_id, {line.sku: line.good + line.damaged for line in data.lines})
    unit.save(dealer_return, order)


def on_credit_note(unit: Unit, envelope: Envelope, data: finance.CreditNoteIssued) -> None:
    """Finance credited a return: the return is settled."""
    if data.return_id is None:
        return
    dealer_return = unit.find(UUID(data.return_id))
    if isinstance(dealer_return, DealerReturn):
        dealer_return.record_credit(data.credit_note_id, data.amount, data.issued_on)
        unit.save(dealer_return)


def price_consignment_sale(
    unit: Unit, envelope: Envelope, sold: inventory.ConsignmentSellThroughReported
) -> None:
    """A dealer reported consignment stock sold: price the sale at its grade's price list in
    effect on the period's last day, for finance to invoice. An unknown dealer or SKU is
    refused (the report then waits aside, with the reason, on the dead-letter topic)."""
    sale_id = ConsignmentSale.create_id(sold.report_id)
    if unit.find(sale_id) is not None:
        return
    dealer = unit.find(Dealer.create_id(sold.dealer_code))
    if not isinstance(dealer, Dealer):
        raise UnknownDealer(f"consignment sold by unknown dealer {sold.dealer_code}")
    skus = sorted({line.sku for line in sold.lines})
    found = unit.get_many(
        [*(Product.create_id(sku) for sku in skus), PriceList.create_id(dealer.grade)]
    )
    catalogue = {p.sku: p for p in found.values() if isinstance(p, Product)}
    priced, total = price_lines(
        [RequestedLine(line.sku, line.quantity) for line in sold.lines],
        catalogue,
        found.get(PriceList.create_id(dealer.grade)),
        on=sold.period_to,
    )
    unit.save(
        ConsignmentSale(
            report_id=sold.report_id,
            dealer_code=dealer.code,
            branch=dealer.branch,
            region=dealer.region,
            warehouse_code=sold.warehouse_code,
            period_from=sold.period_from,
            period_to=sold.period_to,
            lines=[line.as_event_data() for line in priced],
            total=total,
        )
    )


POLICIES: dict[str, Policy] = {
    str(inventory.ConsignmentSellThroughReported.event_type()): price_consignment_sale,
    str(inventory.ReturnReceived.event_type()): on_return_received,
    str(finance.CreditNoteIssued.event_type()): on_credit_note,
    str(finance.CreditReserved.event_type()): on_credit_reserved,
    str(finance.CreditRefused.event_type()): on_credit_refused,
    str(inventory.StockReserved.event_type()): on_stock_reserved,
    str(inventory.StockShortage.event_type()): on_stock_shortage,
    str(inventory.ShipmentDispatched.event_type()): on_shipment,
    str(inventory.DeliveryConfirmed.event_type()): on_delivery,
}
