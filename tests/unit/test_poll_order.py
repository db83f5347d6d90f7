"""A poll's records reach the handlers in the order their events happened, across topics.

The broker hands a poll over partition by partition. A consumer of several topics (the
warnings process reads orders, inventory and finance) must still see finance's
CreditReserved, a credit controller's override, before orders' OrderApproved that followed
from it, when one poll holds both."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from contracts.envelope import event_id
from runtime.causal_order import CausalMerge, in_causal_order

ORDER = "7f1c2d4e-0000-4000-8000-00000000cd01"
T0 = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def ms(n: int) -> timedelta:
    return timedelta(milliseconds=n)


def record(topic: str, offset: int, source: str, name: str, position: int, at: datetime):
    envelope = {
        "id": event_id(source, position),
        "source": source,
        "type": f"dist.{source}.{name}.v1",
        "subject": ORDER,
        "time": at.isoformat(),
        "sequence": position,
        "position": position,
        "previousposition": position - 1,
        "data": {"order_id": ORDER},
    }
    return ConsumerRecord(
        topic,
        0,
        -1,
        offset,
        0,
        0,
        ORDER.encode(),
        json.dumps(envelope).encode(),
        [],
        None,
        36,
        0,
        0,
    )


def names(decoded) -> list[str]:
    return [envelope.type.split(".")[2] for _, envelope in decoded]


def test_an_effect_on_one_topic_comes_after_its_cause_on_another_in_the_same_poll():
    placed = record("dist.orders", 10, "orders", "OrderPlaced", 10, T0)
    approved = record("dist.orders", 11, "orders", "OrderApproved", 11, T0 + ms(40))
    override = record("dist.finance", 7, "finance", "CreditReserved", 7, T0 + ms(25))
    polled = {  # as the broker hands it over: the orders partition first
        TopicPartition("dist.orders", 0): [placed, approved],
        TopicPartition("dist.finance", 0): [override],
    }

    decoded, undecodable = in_causal_order(polled)

    assert names(decoded) == ["OrderPlaced", "CreditReserved", "OrderApproved"]
    assert undecodable == []


def test_a_partition_keeps_its_own_order_whatever_its_times_say():
    """An imported order is stamped with when it happened years ago; it still goes after
    the live event published before it on the same partition."""
    live = record("dist.orders", 1, "orders", "OrderPlaced", 1, T0)
    imported = record("dist.orders", 2, "orders", "OrderImported", 2, T0 - timedelta(days=900))
    stock = record("dist.inventory", 5, "inventory", "StockReserved", 5, T0 + ms(10))
    polled = {
        TopicPartition("dist.inventory", 0): [stock],
        TopicPartition("dist.orders", 0): [live, imported],
    }

    decoded, _ = in_causal_order(polled)

    assert names(decoded) == ["OrderPlaced", "OrderImported", "StockReserved"]


def test_an_undecodable_record_is_set_aside_and_the_rest_still_merge():
    poison = ConsumerRecord("dist.finance", 0, -1, 3, 0, 0, b"k", b"{not json", [], None, 1, 9, 0)
    override = record("dist.finance", 4, "finance", "CreditReserved", 4, T0)
    approved = record("dist.orders", 9, "orders", "OrderApproved", 9, T0 + ms(1))
    polled = {
        TopicPartition("dist.orders", 0): [approved],
        TopicPartition("dist.finance", 0): [poison, override],
    }

    decoded, undecodable = in_causal_order(polled)

    assert names(decoded) == ["CreditReserved", "OrderApproved"]
    assert [(r.offset, reason.split(":")[0]) for r, reason in undecodable] == [(3, "undecodable")]


def test_times_with_and_without_a_zone_are_merged_without_an_error():
    naive = record("dist.orders", 1, "orders", "OrderPlaced", 1, T0.replace(tzinfo=None))
    aware = record("dist.finance", 1, "finance", "CreditReserved", 1, T0 + timedelta(days=1))
    polled = {
        TopicPartition("dist.finance", 0): [aware],
        TopicPartition("dist.orders", 0): [naive],
    }

    decoded, _ = in_causal_order(polled)

    assert names(decoded) == ["OrderPlaced", "CreditReserved"]


ORDERS, FINANCE = TopicPartition("dist.orders", 0), TopicPartition("dist.finance", 0)


def test_catching_up_an_effect_waits_for_the_partition_that_may_hold_its_cause():
    """A full poll brought the orders partition only; finance has more in the broker than
    has been read. The approval waits; the finance poll that follows lets both go, the
    override first."""
    merge = CausalMerge()
    placed = record("dist.orders", 10, "orders", "OrderPlaced", 10, T0)
    approved = record("dist.orders", 11, "orders", "OrderApproved", 11, T0 + ms(40))
    override = record("dist.finance", 7, "finance", "CreditReserved", 7, T0 + ms(25))

    merge.add({ORDERS: [placed, approved]})
    assert merge.release(behind=frozenset({FINANCE})) == []
    assert merge.first_held_offsets() == {ORDERS: 10}

    merge.add({FINANCE: [override]})
    assert names(merge.release(behind=frozenset())) == [
        "OrderPlaced",
        "CreditReserved",
        "OrderApproved",
    ]
    assert merge.holding == 0 and merge.first_held_offsets() == {}


def test_what_is_earlier_than_the_last_read_of_a_lagging_partition_goes_at_once():
    merge = CausalMerge()
    merge.add({FINANCE: [record("dist.finance", 1, "finance", "CreditReserved", 1, T0)]})
    assert names(merge.release(behind=frozenset({FINANCE}))) == ["CreditReserved"]
    merge.add(
        {
            ORDERS: [
                record("dist.orders", 5, "orders", "OrderPlaced", 5, T0 - ms(10)),
                record("dist.orders", 6, "orders", "OrderApproved", 6, T0 + ms(30)),
            ]
        }
    )
    # Finance, still behind, was read up to T0: the placement (before it) goes, the
    # approval (after it) waits for finance's next records.
    assert names(merge.release(behind=frozenset({FINANCE}))) == ["OrderPlaced"]
    assert merge.first_held_offsets() == {ORDERS: 6}


def test_a_partition_taken_away_in_a_rebalance_is_forgotten():
    merge = CausalMerge()
    merge.add({ORDERS: [record("dist.orders", 3, "orders", "OrderPlaced", 3, T0)]})
    assert merge.release(behind=frozenset({FINANCE})) == []
    merge.forget([ORDERS])
    assert merge.holding == 0 and merge.release() == []
