"""The master-data replica of a service: kept by its process manager from orders' events,
read by its command handlers, which refuse codes it does not know.

Why aggregates in the event store rather than a table of its own: the process manager
already saves every change of a poll with the poll's tracking records in one transaction
of the service's event store (the library's process recorder). A replica kept as
aggregates rides on that unchanged: no second store, no extra table to migrate and to keep
in the same transaction, and commands read it the way they read everything else.

It lags the orders topic by a moment: a command naming a dealer or product that orders
registered a moment ago may be refused until the registration has arrived; the client
retries (docs/business.md, "Order to cash").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from contracts import orders as orders_events
from contracts import organisation as organisation_events
from contracts.envelope import Envelope
from runtime.process_manager import Policy, Unit
from services.masterdata.domain import (
    KnownBranch,
    KnownDealer,
    KnownProduct,
    KnownRegion,
    unknown_branch_here,
    unknown_dealer,
    unknown_region_here,
    unknown_skus,
)
from services.organisation.domain import branch_not_in_region

Reader = Callable[[list[UUID]], dict[UUID, Any]]  # an application's or unit's get_many


def known_dealer(read: Reader, dealer_code: str, *, service: str) -> KnownDealer:
    """The dealer as this service knows it, or 404 ``unknown_dealer``."""
    dealer_id = KnownDealer.create_id(dealer_code)
    found = read([dealer_id]).get(dealer_id)
    if found is None:
        raise unknown_dealer(dealer_code, service)
    return found


def check_skus_known(read: Reader, skus: Iterable[str], *, service: str) -> None:
    """Every SKU named is in the catalogue as this service knows it (read at once), or 404
    ``unknown_sku`` naming every one that is not."""
    ids = {KnownProduct.create_id(sku): sku for sku in dict.fromkeys(skus)}
    if not ids:
        return
    found = read(list(ids))
    missing = [sku for product_id, sku in ids.items() if product_id not in found]
    if missing:
        raise unknown_skus(missing, service)


def check_organisation_known(
    read: Reader, *, branch: str | None, region: str | None, service: str
) -> None:
    """The branch and region named are in the organisation as this service knows it (read
    at once), and the branch sits in that region: else 404 ``unknown_branch`` /
    ``unknown_region``, or 409 ``branch_not_in_region``."""
    branch_id = KnownBranch.create_id(branch) if branch is not None else None
    region_id = KnownRegion.create_id(region) if region is not None else None
    ids = [i for i in (branch_id, region_id) if i is not None]
    if not ids:
        return
    found = read(ids)
    if branch is not None and branch_id not in found:
        raise unknown_branch_here(branch, service)
    if region is not None and region_id not in found:
        raise unknown_region_here(region, service)
    if branch is not None and region is not None and found[branch_id].region != region:
        raise branch_not_in_region(branch, found[branch_id].region, region)


# -- the process manager's policies ----------------------------------------------------------
def record_dealer(unit: Unit, envelope: Envelope, dealer: orders_events.DealerRegistered) -> None:
    if unit.find(KnownDealer.create_id(dealer.dealer_code)) is None:
        unit.save(
            KnownDealer(
                dealer_code=dealer.dealer_code,
                name=dealer.name,
                branch=dealer.branch,
                region=dealer.region,
                grade=dealer.grade,
            )
        )


def record_product(
    unit: Unit, envelope: Envelope, product: orders_events.ProductRegistered
) -> None:
    if unit.find(KnownProduct.create_id(product.sku)) is None:
        unit.save(
            KnownProduct(
                sku=product.sku, name=product.name, category=product.category, unit=product.unit
            )
        )


def record_region(
    unit: Unit, envelope: Envelope, region: organisation_events.RegionRegistered
) -> None:
    if unit.find(KnownRegion.create_id(region.region_code)) is None:
        unit.save(
            KnownRegion(
                region_code=region.region_code, name=region.name, parent_region=region.parent_region
            )
        )


def record_branch(
    unit: Unit, envelope: Envelope, branch: organisation_events.BranchRegistered
) -> None:
    if unit.find(KnownBranch.create_id(branch.branch_code)) is None:
        unit.save(
            KnownBranch(branch_code=branch.branch_code, name=branch.name, region=branch.region)
        )


POLICIES: dict[str, Policy] = {
    str(organisation_events.RegionRegistered.event_type()): record_region,
    str(organisation_events.BranchRegistered.event_type()): record_branch,
    str(orders_events.DealerRegistered.event_type()): record_dealer,
    str(orders_events.ProductRegistered.event_type()): record_product,
}


class KnowsMasterData:
    """What a service application that keeps the replica asks of it (mixed into
    ServiceApplication: ``get_many`` reads several aggregates at once)."""

    service: str
    get_many: Reader

    def known_dealer(self, dealer_code: str) -> KnownDealer:
        return known_dealer(self.get_many, dealer_code, service=self.service)

    def check_skus(self, skus: Iterable[str]) -> None:
        check_skus_known(self.get_many, skus, service=self.service)

    def check_organisation(self, *, branch: str | None, region: str | None) -> None:
        check_organisation_known(self.get_many, branch=branch, region=region, service=self.service)
