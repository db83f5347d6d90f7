"""Dependencies of the orders API as named aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from runtime.eventstore import IdempotencyKey
from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal, Idempotency
from services.orders.application import Actor, OrdersApplication
from services.orders.domain import check_may_order_for

__all__ = ["CurrentPrincipal", "Idempotency", "OrdersApp", "actor_of", "check_sees_dealer"]


def _orders(request: Request) -> OrdersApplication:
    return request.app.state.application


OrdersApp = Annotated[OrdersApplication, Depends(_orders)]


def actor_of(principal: Principal, key: IdempotencyKey | None = None) -> Actor:
    return Actor(
        provenance=principal.provenance(causation_id=key.key if key else None),
        dealer_code=principal.grant.dealer,
    )


def check_sees_dealer(principal: Principal, app: OrdersApplication, dealer_code: str) -> None:
    """A branch reads its own dealers' records, a dealer its own; headquarters all."""
    if not principal.is_hq:
        check_may_order_for(
            app.get_dealer(dealer_code),
            role=principal.role,
            branch=principal.grant.branch,
            dealer_code=principal.grant.dealer,
        )
