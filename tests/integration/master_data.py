"""The organisation, dealers and products for tests, as orders registers them and as
inventory and finance come to know them (their replica, kept by their process managers from
the orders topic)."""

from __future__ import annotations

from decimal import Decimal

from contracts import orders as orders_events
from contracts import organisation as organisation_events
from contracts.envelope import Envelope, event_id
from runtime.consumer import Outcome
from runtime.eventstore import ServiceApplication
from runtime.process_manager import ProcessManager
from services.masterdata.replica import POLICIES
from services.orders.application import Actor, OrdersApplication
from tests.platform import ORGANISATION

# Clear of the positions the tests' own orders envelopes take (1, 2, 3, ...).
FIRST_POSITION = 900_001


def dealer(
    code: str,
    name: str = "Jinjiang Wine Trading",
    *,
    branch: str = "CD",
    region: str = "SOUTHWEST",
    grade: str = "tier1_distributor",
) -> orders_events.DealerRegistered:
    return orders_events.DealerRegistered(
        dealer_id=f"dealer-{code}",
        dealer_code=code,
        name=name,
        branch=branch,
        region=region,
        grade=grade,
    )


def product(
    sku: str, category: str = "BAIJIU", list_price: str = "1299.00"
) -> orders_events.ProductRegistered:
    return orders_events.ProductRegistered(
        product_id=f"product-{sku}",
        sku=sku,
        name=sku.replace("-", " ").title(),
        category=category,
        unit="bottle",
        list_price=Decimal(list_price),
    )


def organisation() -> list[
    organisation_events.RegionRegistered | organisation_events.BranchRegistered
]:
    """The tests' regions and branches (tests/platform.py), as orders publishes them."""
    events: list = []
    for region, branches in ORGANISATION.items():
        events.append(
            organisation_events.RegionRegistered(
                region_code=region,
                name=f"{region.title()} Region",
                parent_region=None,
                manager=None,
            )
        )
        events.extend(
            organisation_events.BranchRegistered(
                branch_code=branch, name=name, region=region, manager=None
            )
            for branch, name in branches.items()
        )
    return events


def organised(orders: OrdersApplication, actor: Actor) -> None:
    """Orders (driven directly) knows the tests' regions and branches."""
    for event in organisation():
        if isinstance(event, organisation_events.RegionRegistered):
            orders.register_region(
                event.region_code, event.name, None, None, actor=actor, idempotency=None
            )
        else:
            orders.register_branch(
                event.branch_code, event.name, event.region, None, actor=actor, idempotency=None
            )


def known_to(
    app: ServiceApplication,
    *registrations: orders_events.DealerRegistered
    | orders_events.ProductRegistered
    | organisation_events.RegionRegistered
    | organisation_events.BranchRegistered,
    first_position: int = FIRST_POSITION,
) -> None:
    """``app`` learns of orders' registrations as its process manager does from the orders
    topic (same policies, same transaction with their tracking records), without a broker:
    for tests that drive an application directly."""
    manager = ProcessManager(app, name=f"{app.service}-master-data", policies=POLICIES)
    with manager.open_batch() as batch:
        for offset, registration in enumerate(registrations):
            position = first_position + offset
            envelope = Envelope(
                id=event_id("orders", position),
                source="orders",
                type=str(registration.event_type()),
                subject=getattr(registration, "dealer_id", None)
                or getattr(registration, "product_id", None)
                or "organisation",
                time="2026-11-01T01:00:00Z",
                sequence=1,
                position=position,
                previousposition=position - 1,
                data=registration.model_dump(mode="json"),
            )
            assert batch.apply(envelope).outcome in (Outcome.APPLIED, Outcome.DUPLICATE)
