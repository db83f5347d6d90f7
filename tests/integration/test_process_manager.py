"""A process manager's batch: one transaction for the whole poll when all goes well, one per
event when a policy refuses an event or a concurrent writer gets in first; either way every
event's effect is saved exactly once with its tracking record. Real PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from contracts import orders as published
from contracts.envelope import Envelope, event_id
from runtime.consumer import Outcome
from runtime.eventstore import Provenance
from runtime.process_manager import ProcessManager, Unit
from services.inventory.application import InventoryApplication, ReceiveGoods, RegisterWarehouse
from services.inventory.domain import StockItem
from services.kernel.errors import RuleViolation
from tests.integration.master_data import known_to, organisation, product

pytestmark = [pytest.mark.integration, pytest.mark.broker]

CLERK = Provenance(actor="Liu Yang", role="warehouse_clerk")
SKU = "WULIANGYE-52-500ML"


class Refused(RuleViolation):
    code = "refused"


def placed(position: int, dealer: str, quantity: int) -> Envelope:
    data = published.OrderPlaced(
        order_id=f"00000000-0000-4000-8000-{position:012d}",
        dealer_id="00000000-0000-4000-8000-000000000000",
        dealer_code=dealer,
        branch="CD",
        region="SOUTHWEST",
        business_date=date(2026, 11, 20),
        lines=[
            published.PlacedLine.at(
                sku=SKU,
                category="BAIJIU",
                quantity=quantity,
                unit_price=Decimal("1299.00"),
            )
        ],
        total=Decimal("1299.00") * quantity,
    )
    return Envelope(
        id=event_id("orders", position),
        source="orders",
        type=str(data.event_type()),
        subject=data.order_id,
        time="2026-11-20T02:00:00Z",
        sequence=1,
        position=position,
        previousposition=position - 1,
        data=data.model_dump(mode="json"),
    )


def reserve_or_refuse(unit: Unit, envelope: Envelope, data: published.OrderPlaced) -> None:
    """A test policy: reserve the order's quantity on one stock item (through the unit, so
    the batch's policies see each other), refusing a dealer called BAD half-way through."""
    [item] = unit.app.stock_items("WH-CD", [SKU], create=False, reader=unit.get_many).values()
    item.reserve(data.order_id, data.lines[0].quantity)
    if data.dealer_code == "BAD":
        raise Refused("this dealer is refused (after a change the batch must not keep)")


@pytest.fixture
def inventory(settings):
    app = InventoryApplication(settings)
    known_to(app, *organisation(), product(SKU))
    app.register_warehouse(
        RegisterWarehouse("WH-CD", "Chengdu DC", "branch", "CD", "SOUTHWEST"),
        by=CLERK,
        idempotency=None,
    )
    receive(app, 100)
    yield app
    app.close()


def receive(app: InventoryApplication, quantity: int) -> None:
    app.receive_goods(
        ReceiveGoods("WH-CD", date(2026, 11, 20), {SKU: quantity}, {SKU: Decimal("865.00")}),
        by=CLERK,
        warehouse_scope=None,
        idempotency=None,
    )


def manager(app) -> ProcessManager:
    policies = {str(published.OrderPlaced.event_type()): reserve_or_refuse}
    return ProcessManager(app, name="inventory-test", policies=policies)


def stock(app) -> StockItem:
    return app.repository.get(StockItem.create_id("WH-CD", SKU))


def reserved_for(app) -> dict[str, int]:
    """What the stock item's Reserved events hold, by order."""
    held: dict[str, int] = {}
    for event in app.repository.event_store.get(StockItem.create_id("WH-CD", SKU)):
        if type(event).__name__ == "Reserved":
            held[event.order_id] = held.get(event.order_id, 0) + event.quantity
    return held


def test_a_batch_is_saved_in_one_transaction_and_redelivery_changes_nothing(inventory):
    pm = manager(inventory)
    envelopes = [placed(p, "CD-001", 10) for p in range(1, 6)]
    version = stock(inventory).version
    with pm.open_batch() as batch:
        outcomes = [batch.apply(e).outcome for e in envelopes]
    assert outcomes == [Outcome.APPLIED] * 5
    item = stock(inventory)
    assert item.reserved == 50 and item.version == version + 5
    with pm.open_batch() as batch:
        again = [batch.apply(e).outcome for e in envelopes]
    assert again == [Outcome.DUPLICATE] * 5
    assert stock(inventory).reserved == 50


def test_a_refused_event_is_dead_lettered_alone_and_leaves_no_half_change(inventory):
    pm = manager(inventory)
    envelopes = [
        placed(1, "CD-001", 10),
        placed(2, "BAD", 7),  # reserves, then refuses: the reservation must not stay
        placed(3, "CD-001", 20),
    ]
    with pm.open_batch() as batch:
        outcomes = [batch.apply(e).outcome for e in envelopes]
        # The runtime dead-letters here, before the batch ends.
        assert not inventory.is_processed("orders", 2)
    assert outcomes == [Outcome.APPLIED, Outcome.DEAD_LETTERED, Outcome.APPLIED]
    assert reserved_for(inventory) == {
        placed(1, "", 1).data["order_id"]: 10,
        placed(3, "", 1).data["order_id"]: 20,
    }
    assert all(inventory.is_processed("orders", p) for p in (1, 2, 3))


def test_a_concurrent_writer_makes_the_batch_decide_again_one_by_one(inventory):
    pm = manager(inventory)
    with pm.open_batch() as batch:
        outcomes = [batch.apply(placed(p, "CD-001", 30)).outcome for p in (1, 2, 3)]
        receive(inventory, 5)  # a goods receipt lands on the same stock item meanwhile
    assert outcomes == [Outcome.APPLIED] * 3
    item = stock(inventory)
    assert item.on_hand == 105 and item.reserved == 90
    assert all(inventory.is_processed("orders", p) for p in (1, 2, 3))


def test_an_event_recorded_meanwhile_by_another_member_is_caught_by_the_batchs_tracking(
    inventory,
):
    """The batch's tracking records go in with one statement: one origin recorded by
    another member after the batch looked (here, as a dead-lettered event is) fails that
    statement, and the batch decides again one by one, leaving that event alone."""
    pm = manager(inventory)
    with pm.open_batch() as batch:
        for position in (1, 2, 3):
            batch.apply(placed(position, "CD-001", 10))
        inventory.record_processed("orders", 2)
    assert reserved_for(inventory) == {
        placed(1, "", 1).data["order_id"]: 10,
        placed(3, "", 1).data["order_id"]: 10,
    }
    assert all(inventory.is_processed("orders", p) for p in (1, 2, 3))


def test_a_redelivered_poll_after_a_steady_spell_changes_nothing(inventory):
    """Long after a start, with no duplicate lately, a poll no longer asks first which of
    its events were processed: a redelivered one is caught by the batch's tracking records,
    and the batch, decided again one by one, leaves it alone and applies the new ones."""
    pm = manager(inventory)
    with pm.open_batch() as batch:
        batch.apply_all([placed(p, "CD-001", 10) for p in (1, 2)])
    pm.look_first_until = 0.0  # a steady spell: nothing looked up first
    asked = []
    lookup = inventory.processed_among
    inventory.processed_among = lambda origins: asked.append(origins) or lookup(origins)
    with pm.open_batch() as batch:
        batch.apply_all([placed(p, "CD-001", 10) for p in (2, 3)])  # 2 redelivered
    assert asked == []
    assert reserved_for(inventory) == {placed(p, "", 1).data["order_id"]: 10 for p in (1, 2, 3)}
    # The duplicate turned up: the next polls ask first again.
    with pm.open_batch() as batch:
        outcomes = [r.outcome for r in batch.apply_all([placed(3, "CD-001", 10)])]
    assert outcomes == [Outcome.DUPLICATE] and len(asked) == 1


def test_a_batch_reads_what_it_saved_before_as_only_the_events_after_it(inventory):
    """The stock item the last batch saved is kept: the next batch reads only the events
    written since (here a goods receipt by a clerk's command), not the snapshot and history,
    and decides on exactly the state the store has."""
    pm = manager(inventory)
    item_id = StockItem.create_id("WH-CD", SKU)
    with pm.open_batch() as batch:
        batch.apply_all([placed(1, "CD-001", 10)])
    kept_version = stock(inventory).version
    receive(inventory, 5)  # written meanwhile, outside the process manager
    reads = []
    select = inventory.service_recorder.select_aggregates_events

    def spy(after, **kwargs):
        reads.append((dict(after), list(kwargs.get("snapshots_of", ()))))
        return select(after, **kwargs)

    inventory.service_recorder.select_aggregates_events = spy
    with pm.open_batch() as batch:
        batch.apply_all([placed(2, "CD-001", 20)])
    assert reads == [({item_id: kept_version}, [])]  # no snapshot asked for
    item = stock(inventory)
    assert (item.on_hand, item.reserved) == (105, 30)
    assert item.version == kept_version + 2


def test_a_refused_or_conflicting_batch_keeps_nothing_the_store_does_not_have(inventory):
    """A batch whose shared unit held a refused change, or lost to a concurrent writer,
    keeps none of its aggregates: the next batches decide on what the store has."""
    pm = manager(inventory)
    with pm.open_batch() as batch:
        batch.apply_all([placed(1, "CD-001", 10), placed(2, "BAD", 7), placed(3, "CD-001", 5)])
    with pm.open_batch() as batch:
        batch.apply_all([placed(4, "CD-001", 30)])
        receive(inventory, 5)  # the batch's save then conflicts
    with pm.open_batch() as batch:
        batch.apply_all([placed(5, "CD-001", 1)])
    item = stock(inventory)
    assert (item.on_hand, item.reserved) == (105, 46)
    assert pm.saved.take([item.id])[item.id].version == item.version
