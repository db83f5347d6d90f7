"""The master data a service does not own: a dealer registered in orders, a product in its
catalogue, a region or branch of the organisation, as the service that keeps this replica
knows them.

Each is an aggregate of the service's own event store, created from the orders topic by the
service's process manager, so it commits with the tracking record of the event it came from
(see ``replica.py``). Its events stay inside the service: the registry's owner, orders,
publishes the registration; a replica never does.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.kernel.errors import NotFound
from services.organisation.domain import (
    UnknownBranch,
    UnknownRegion,
    unknown_branch,
    unknown_region,
)

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
NOT_KNOWN_YET = (UnknownDealer.code, UnknownSku.code, UnknownBranch.code, UnknownRegion.code)


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


class KnownRegion(Aggregate):
    """A region (大区) of the organisation that orders keeps."""

    @staticmethod
    def create_id(region_code: str) -> UUID:
        return uuid5(_IDS, f"region:{region_code}")

    class Registered(Aggregate.Created):
        region_code: str
        name: str
        parent_region: str | None

    @event(Registered)
    def __init__(self, *, region_code: str, name: str, parent_region: str | None):
        self.region_code = region_code
        self.name = name
        self.parent_region = parent_region


class KnownBranch(Aggregate):
    """A branch office (分公司) of the organisation that orders keeps, with its region."""

    @staticmethod
    def create_id(branch_code: str) -> UUID:
        return uuid5(_IDS, f"branch:{branch_code}")

    class Registered(Aggregate.Created):
        branch_code: str
        name: str
        region: str

    @event(Registered)
    def __init__(self, *, branch_code: str, name: str, region: str):
        self.branch_code = branch_code
        self.name = name
        self.region = region


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


def _organisation_detail(service: str, thing: str) -> str:
    return f" in {service} (the organisation is orders'); " + CATCHING_UP.format(thing=thing)


def unknown_region_here(region: str, service: str) -> UnknownRegion:
    return unknown_region(region, _organisation_detail(service, "region"))


def unknown_branch_here(branch: str, service: str) -> UnknownBranch:
    return unknown_branch(branch, _organisation_detail(service, "branch"))
