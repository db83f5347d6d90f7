"""Placing an order reads its reference data (dealer, SKUs, price lists, promotion book,
category tree) through a cache that is brought up to date by the order's own read: a price
set a moment ago, by this process or by another replica, prices the very next order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from runtime.eventstore import Provenance
from services.orders.application import (
    Actor,
    OrdersApplication,
    PlaceOrder,
    RegisterDealer,
    RegisterProduct,
)
from services.orders.domain import PriceList, RequestedLine
from tests.integration.master_data import organised

pytestmark = pytest.mark.integration

HQ = Actor(Provenance(actor="Wang Fang", role="hq_admin"))
TODAY = date(2026, 12, 4)
WULIANGYE = "WULIANGYE-52-500ML"


def order_of(app: OrdersApplication, quantity: int) -> dict:
    cmd = PlaceOrder("CD-001", TODAY, [RequestedLine(WULIANGYE, quantity)])
    return app.place_order(cmd, actor=HQ, idempotency=None).body


def set_price(app: OrdersApplication, unit_price: str) -> None:
    """Headquarters sets the tier-1 distributors' price of Wuliangye, from today."""
    app.set_price(
        "tier1_distributor",
        WULIANGYE,
        Decimal(unit_price),
        effective_from=None,
        today=TODAY,
        actor=HQ,
        idempotency=None,
    )


@pytest.fixture
def replicas(settings):
    """Two orders processes on one event store (two replicas behind the load balancer)."""
    first, second = OrdersApplication(settings), OrdersApplication(settings)
    organised(first, HQ)
    dealer = RegisterDealer(
        "CD-001", "Chengdu Jinjiang Liquor", "CD", "SOUTHWEST", "tier1_distributor"
    )
    first.register_dealer(dealer, actor=HQ, idempotency=None)
    product = RegisterProduct(
        WULIANGYE, "Wuliangye 52% 500ml", "BAIJIU", "bottle", Decimal("1299.00")
    )
    first.register_product(product, actor=HQ, idempotency=None)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


class TestReferenceDataIsNeverStale:
    def test_a_price_set_by_this_process_prices_the_next_order(self, replicas):
        app, _ = replicas
        assert order_of(app, 2)["total"] == "2598.00"  # list price; the cache now holds all
        set_price(app, "1199.00")
        assert order_of(app, 2)["total"] == "2398.00"

    def test_a_price_set_by_another_replica_prices_the_next_order(self, replicas):
        first, second = replicas
        assert order_of(first, 1)["total"] == "1299.00"
        for price in ("1199.00", "1188.00"):
            set_price(second, price)
            assert order_of(first, 1)["total"] == price

    def test_a_cached_aggregate_is_never_changed_in_place(self, replicas):
        app, _ = replicas
        order_of(app, 1)
        price_list_id = PriceList.create_id("tier1_distributor")
        set_price(app, "1199.00")
        held = app.get_references([price_list_id])[price_list_id]
        set_price(app, "1099.00")
        newer = app.get_references([price_list_id])[price_list_id]
        assert newer.version == held.version + 1
        assert held.price_on(WULIANGYE, TODAY)[0] == Decimal("1199.00")
        assert newer.price_on(WULIANGYE, TODAY)[0] == Decimal("1099.00")


class TestReferenceDataCostsOneQuery:
    def test_an_order_reads_its_references_in_one_query_even_those_that_do_not_exist(
        self, replicas, monkeypatch
    ):
        """No grade has a price list yet and no promotion exists: those references are
        known to be absent, and asked for again in the same query as the others (events
        after version 0), not looked up among the snapshots on every order."""
        app, other = replicas
        order_of(app, 1)
        queries = []
        recorder = app.service_recorder
        original = recorder.select_aggregates_events

        def counted(*args, **kwargs):
            queries.append(kwargs.get("table"))
            return original(*args, **kwargs)

        monkeypatch.setattr(recorder, "select_aggregates_events", counted)
        assert order_of(app, 2)["total"] == "2598.00"
        assert len(queries) == 1
        set_price(other, "1199.00")  # the absent price list now exists
        assert order_of(app, 2)["total"] == "2398.00"
        assert len(queries) == 2
