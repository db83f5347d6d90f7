"""Group commit: concurrent commands share event-store transactions, yet each keeps its own
outcome. A conflicting command fails alone; the others of its group are written, with their
own positions and idempotency answers. Real PostgreSQL."""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest
from eventsourcing.persistence import IntegrityError, Tracking

from runtime import deadline
from runtime.deadline import DatabaseUnavailable
from runtime.eventstore import (
    GroupCommit,
    IdempotencyKey,
    PendingAnswer,
    Provenance,
    _PendingCommand,
)
from services.orders.application import (
    Actor,
    DealerAlreadyRegistered,
    OrdersApplication,
    RegisterDealer,
)
from services.orders.domain import Dealer
from services.organisation.domain import Organisation
from tests.integration.master_data import organised

pytestmark = pytest.mark.integration

HQ_ACTOR = Actor(Provenance(actor="Wang Min", role="hq_admin"))


@pytest.fixture
def orders_app(settings):
    app = OrdersApplication(settings)
    organised(app, HQ_ACTOR)
    yield app
    app.close()


def pending_registration(app: OrdersApplication, code: str, key: str) -> _PendingCommand:
    dealer = Dealer(
        code=code,
        name=f"Dealer {code}",
        branch="CD",
        region="SOUTHWEST",
        grade="tier2_distributor",
        by=HQ_ACTOR.provenance,
    )
    stored = [app.mapper.to_stored_event(event) for event in dealer.collect_events()]
    answer = PendingAnswer(IdempotencyKey("cd-clerk", key, "f"), 201, {"code": code})
    return _PendingCommand(stored, [(answer, len(stored))])


def stored_answers(settings) -> dict[str, int]:
    with psycopg2.connect(settings.postgres().dsn()) as conn, conn.cursor() as curs:
        curs.execute("SELECT key, position FROM orders.idempotency_keys")
        return dict(curs.fetchall())


def dealer_events(app: OrdersApplication, code: str) -> list:
    return pending_registration(app, code, f"key-{code}").stored_events


def sessions_left_in_a_transaction(settings) -> int:
    with psycopg2.connect(settings.postgres().dsn()) as conn, conn.cursor() as curs:
        curs.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND state LIKE 'idle in transaction%%'"
        )
        return curs.fetchone()[0]


def test_events_and_their_tracking_records_commit_together_or_not_at_all(orders_app, settings):
    recorder = orders_app.service_recorder
    ids = recorder.insert_events(
        dealer_events(orders_app, "CD-401"),
        trackings=[Tracking("inventory", 41), Tracking("finance", 7)],
    )
    assert ids and orders_app.exists(Dealer.create_id("CD-401"))

    # The second batch answers finance 8 and inventory 41 again: inventory 41 was processed
    # already, so nothing of it is written, finance 8's record included.
    with pytest.raises(IntegrityError):
        recorder.insert_events(
            dealer_events(orders_app, "CD-402"),
            trackings=[Tracking("finance", 8), Tracking("inventory", 41)],
        )
    assert not orders_app.exists(Dealer.create_id("CD-402"))
    assert orders_app.processed_among([("finance", 8), ("inventory", 41)]) == {("inventory", 41)}
    assert sessions_left_in_a_transaction(settings) == 0

    # The pool's connections are fit for the next transaction.
    recorder.insert_events(dealer_events(orders_app, "CD-402"), trackings=[Tracking("finance", 8)])
    assert orders_app.exists(Dealer.create_id("CD-402"))


def test_a_command_waiting_for_the_events_table_gives_up_at_its_deadline_unwritten(
    orders_app, settings
):
    recorder = orders_app.service_recorder
    blocker = psycopg2.connect(settings.postgres().dsn())
    try:
        with blocker.cursor() as curs:  # another writer holds the table lock
            curs.execute(
                f'LOCK TABLE "{recorder.datastore.schema}"."{recorder.events_table_name}" '
                "IN EXCLUSIVE MODE"
            )
        started = time.monotonic()
        with deadline.within(0.8), pytest.raises(DatabaseUnavailable):
            recorder.insert_events(dealer_events(orders_app, "CD-403"))
        assert time.monotonic() - started < 2.5
    finally:
        blocker.rollback()
        blocker.close()
    assert not orders_app.exists(Dealer.create_id("CD-403"))
    assert sessions_left_in_a_transaction(settings) == 0


def test_a_conflict_in_a_group_fails_only_its_own_command(orders_app, settings):
    committer = GroupCommit(orders_app.service_recorder, "orders")
    first = pending_registration(orders_app, "CD-101", "key-101")
    clash = pending_registration(orders_app, "CD-101", "key-101-again")  # same aggregate
    other = pending_registration(orders_app, "CD-102", "key-102")

    committer._write_group([first, clash, other])

    assert first.error is None and other.error is None
    assert clash.error is not None and "IntegrityError" in type(clash.error).__name__
    assert all(p.done.is_set() for p in (first, clash, other))
    # Each written command has its own position, and its answer points at it.
    assert len(first.notification_ids) == 1 and len(other.notification_ids) == 1
    assert stored_answers(settings) == {
        "key-101": first.notification_ids[0],
        "key-102": other.notification_ids[0],
    }
    assert orders_app.repository.get(Dealer.create_id("CD-102")).name == "Dealer CD-102"


def test_one_group_writes_every_answer_with_its_own_position(orders_app, settings):
    committer = GroupCommit(orders_app.service_recorder, "orders")
    group = [pending_registration(orders_app, f"CD-2{i:02d}", f"key-{i}") for i in range(5)]

    committer._write_group(group)

    positions = [p.notification_ids[0] for p in group]
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert stored_answers(settings) == {f"key-{i}": positions[i] for i in range(5)}


def test_concurrent_commands_all_land_and_a_racing_duplicate_loses(orders_app):
    codes = [f"CD-3{i:02d}" for i in range(40)]
    start = threading.Barrier(len(codes) + 4)
    results: dict[str, object] = {}

    def register(name: str, code: str) -> None:
        start.wait()
        try:
            results[name] = orders_app.register_dealer(
                RegisterDealer(
                    code, f"Chengdu dealer {code}", "CD", "SOUTHWEST", "tier2_distributor"
                ),
                actor=HQ_ACTOR,
                idempotency=None,
            )
        except DealerAlreadyRegistered as error:
            results[name] = error

    threads = [threading.Thread(target=register, args=(code, code)) for code in codes]
    threads += [threading.Thread(target=register, args=(f"dup-{i}", "CD-DUP")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(not isinstance(results[code], Exception) for code in codes)
    duplicates = [results[f"dup-{i}"] for i in range(4)]
    assert sum(not isinstance(r, Exception) for r in duplicates) == 1
    assert all(
        isinstance(r, DealerAlreadyRegistered) for r in duplicates if isinstance(r, Exception)
    )
    # 41 registrations, 41 events, each command's position naming its own event. (A group
    # that failed on the duplicate used up sequence values, so ids may skip: the relay reads
    # past such holes, since everything below a committed id is committed.)
    notifications = [
        n
        for n in orders_app.recorder.select_notifications(start=1, limit=100)
        if n.originator_id != Organisation.ID  # the regions and branches registered first
    ]
    assert len(notifications) == 41
    by_position = {n.id: n.originator_id for n in notifications}
    for code in codes:
        assert by_position[results[code].position] == Dealer.create_id(code)
