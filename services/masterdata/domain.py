"""The master data a service does not own: a dealer registered in orders, a product in its
catalogue, as the service that keeps this replica knows them.

Each is an aggregate of the service's own event store, created from the orders topic by the
service's process manager, so it commits with the tracking record of the event it came from
(see ``replica.py``). Its events stay inside the service: the registry's owner, orders,
publishes the registration; a replica never does.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.kernel.errors import NotFound

_IDS = uuid5(NAMESPACE_URL, "urn:dist:masterdata")

# Why a code a client just registered in orders may still be unknown, and what to do.
CATCHING_UP = (
    "a {thing} registered in orders a moment ago is known here once its registration has "
    "arrived from the orders topic: retry shortly (with the same Idempotency-Key)"
)


class UnknownDealer(NotFound):
    code = "unknown_dealer"


class UnknownSku(NotFound):
    code = "unknown_sku"


# The codes a client retries on while the replica catches up (docs/business.md, "Order to cash").
NOT_KNOWN_YET = (UnknownDealer.code, UnknownSku.code)


class KnownDealer(Aggregate):
    """A dealer of orders' registry (经销商), with where it sits and its grade."""

    @staticmethod
    def create_id(dealer_code: str) -> UUID:
        return uuid5(_IDS, f"dealer:{dealer_code}")

    class Registered(Aggregate.Created):
        dealer_code: str
        name: str
        branch: str
        region: str
        grade: str

    @event(Registered)
    def __init__(self, *, dealer_code: str, name: str, branch: str, region: str, grade: str):
        self.dealer_code = dealer_code
        self.name = name
        self.branch = branch
        self.region = region
        self.grade = grade


class KnownProduct(Aggregate):
    """A SKU of orders' catalogue, with its category and unit."""

    @staticmethod
    def create_id(sku: str) -> UUID:
        return uuid5(_IDS, f"product:{sku}")

    class Registered(Aggregate.Created):
        sku: str
        name: str
        category: str
        unit: str

    @event(Registered)
    def __init__(self, *, sku: str, name: str, category: str, unit: str):
        self.sku = sku
        self.name = name
        self.category = category
        self.unit = unit


def unknown_dealer(dealer_code: str, service: str) -> UnknownDealer:
    return UnknownDealer(
        f"{service} knows no dealer {dealer_code} (the dealer registry is orders'); "
        + CATCHING_UP.format(thing="dealer"),
        dealer_code=dealer_code,
    )


def unknown_skus(skus: list[str], service: str) -> UnknownSku:
    return UnknownSku(
        f"{service} knows no product {', '.join(skus)} (the catalogue is orders'); "
        + CATCHING_UP.format(thing="product"),
        skus=skus,
    )
