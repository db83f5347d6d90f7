"""Dependencies of the orders API as named aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from runtime.eventstore import IdempotencyKey
from runtime.http.auth import Principal
from runtime.http.deps import CurrentPrincipal, Idempotency
from services.orders.application import Actor, OrdersApplication

__all__ = ["CurrentPrincipal", "Idempotency", "OrdersApp", "actor_of", "check_sees_dealer"]


async def _orders(request: Request) -> OrdersApplication:
    return request.app.state.application


OrdersApp = Annotated[OrdersApplication, Depends(_orders)]


def actor_of(principal: Principal, key: IdempotencyKey | None = None) -> Actor:
    return Actor(
        provenance=principal.provenance(causation_id=key.key if key else None),
        dealer_code=principal.grant.dealer,
    )


def check_sees_dealer(principal: Principal, app: OrdersApplication, dealer_code: str) -> None:
    """A dealer's records (its orders, returns, plans, coverage) are read by its branch, by
    the dealer itself and by headquarters: the rule every read follows (Principal)."""
    principal.check_reads(app.dealer_ownership(dealer_code))
