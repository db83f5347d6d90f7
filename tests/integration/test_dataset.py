"""The read-model benchmarks' dataset (bench/dataset.py): a small company's year of events,
valid against the contracts and consistent as a business; published to a real broker, the
query process's projectors catch up with every origin's last position, and the inventory
and receivables read models agree with the generator's truth to the fen."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from bench.dataset import AGING_BUCKETS, Dataset, DatasetSpec, encode, publish_dataset
from contracts import Envelope, decode_data
from projections import bootstrap as query_process
from projections.tracking import SqlProjectionHandler, projections_engine
from runtime import kafka
from tests.integration.saga import ok
from tests.platform import HQ, serving, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.broker]

END = date(2026, 11, 20)
SMALL = {"events": 20_000, "seed": 11, "dealers": 200, "skus": 100, "warehouses": 10}
# Published and projected: the four projectors apply a few hundred events a second each
# here, so the company that goes through them is smaller still (the test stays under a
# minute).
PUBLISHED = {"events": 10_000, "seed": 12, "dealers": 150, "skus": 80, "warehouses": 10}


def test_events_are_valid_consistent_and_deterministic():
    spec = DatasetSpec(end_date=END, **SMALL)
    dataset = Dataset(spec, topic_of=lambda service: f"t.{service}.events")
    last: dict[str, tuple[int, object]] = {}  # subject -> sequence, time
    shipped: dict[str, date] = {}
    placed_at: dict[str, object] = {}
    digest = hashlib.sha256()
    for index, (topic, envelope) in enumerate(dataset.records()):
        value = encode(envelope, index)
        # The relay's bytes, an envelope that parses back, data valid for its contract.
        assert value == kafka.encode(envelope.model_dump(mode="json"))
        assert Envelope.model_validate_json(value) == envelope
        data = decode_data(envelope)
        assert topic == f"t.{envelope.source}.events"
        digest.update(value)
        # Each aggregate's events in causal order: versions rising, time not going back.
        sequence, at = last.get(envelope.subject, (0, envelope.time))
        assert envelope.sequence > sequence and envelope.time >= at, envelope
        last[envelope.subject] = (envelope.sequence, envelope.time)
        name = envelope.event_type.name
        if name == "OrderPlaced":
            placed_at[data.order_id] = envelope.time
        elif name in ("CreditReserved", "CreditRefused", "StockReserved", "StockShortage"):
            assert envelope.time >= placed_at[data.order_id]  # the saga answers the order
        elif name == "ShipmentDispatched":
            shipped[data.shipment_id] = data.ship_date
        elif name == "DeliveryConfirmed":
            assert data.delivered_on >= shipped.pop(data.shipment_id)
    truth = dataset.truth
    assert truth is not None
    assert truth.events == spec.events
    assert truth.last_position == truth.events_by_origin  # positions 1..N per origin
    assert (truth.dealers, truth.products, truth.warehouses) == (200, 100, 10)
    assert all(truth.aging[bucket] > 0 for bucket in AGING_BUCKETS), truth.aging
    assert truth.unapplied > 0 and truth.credited > 0 and truth.rebate_accrued > 0
    assert truth.orders_cancelled > 0 and truth.orders_rejected > 0
    assert truth.credit_reserved_open > 0 and truth.stock_reserved > 0
    # Some shipments are not confirmed delivered: recent ones and a few old ones.
    assert len(shipped) == truth.shipments_not_delivered
    assert any(day > END - timedelta(days=6) for day in shipped.values())
    assert any(day < END - timedelta(days=60) for day in shipped.values())

    again = hashlib.sha256()
    for index, (_topic, envelope) in enumerate(Dataset(spec).records()):
        again.update(encode(envelope, index))
    assert again.hexdigest() == digest.hexdigest()  # the seed decides everything


def test_read_models_agree_with_the_truth_to_the_fen(settings):
    with serving(query_process.build(settings)) as query:
        truth = publish_dataset(settings, end_date=END, progress=False, **PUBLISHED)
        assert truth.publish is not None and truth.publish.events == PUBLISHED["events"]
        assert all(truth.aging[bucket] > 0 for bucket in AGING_BUCKETS)  # all compared
        assert truth.credit_reserved_open > 0 and truth.unapplied > 0 and truth.credited > 0

        # Every projection has everything of every origin it follows.
        engine = projections_engine(settings, settings.projections_schema, pool_size=2)
        try:
            handlers = [SqlProjectionHandler(engine, p) for p in query_process.PROJECTIONS]
            targets = [
                (h, o, truth.last_position[o]) for h in handlers for o in h.projection.origins
            ]

            def caught_up() -> bool:
                # Statistics for the watermark's recursive query: on a table never analysed
                # its plan scans every row of an origin per step of the chain (minutes for
                # this dataset instead of seconds; autovacuum may not run in time, or at all).
                with engine.begin() as conn:
                    conn.execute(
                        text(f'ANALYZE "{settings.projections_schema}".tracking_processed')
                    )
                behind = [(h.name, o, t) for h, o, t in targets if h.watermark(o) < t]
                time.sleep(0.5 if behind else 0)
                return not behind

            wait_until(caught_up, timeout=90, what="every projection to reach the last positions")
            with engine.connect() as conn:
                tracked = conn.execute(
                    text(
                        "SELECT projection, origin, outcome, count(*) FROM "
                        f'"{settings.projections_schema}".tracking_processed '
                        "GROUP BY projection, origin, outcome"
                    )
                ).all()
        finally:
            engine.dispose()
        per_origin: dict[tuple[str, str], int] = defaultdict(int)
        for projection, origin, outcome, count in tracked:
            assert outcome != "dead_lettered", (projection, origin, count)
            per_origin[projection, origin] += count
        for projection in query_process.PROJECTIONS:
            for origin in projection.origins:
                assert per_origin[projection.name, origin] == truth.events_by_origin[origin]

        def read(path: str, **params) -> list[dict]:
            items, more = [], {}
            while True:
                page = ok(query.get(path, params={**params, **more}, headers=HQ))
                items += page["items"]
                if not page["next_cursor"]:
                    return items
                more = {"cursor": page["next_cursor"]}

        # Inventory: national stock, now and as of the last business date.
        for as_of in ({}, {"as_of": END.isoformat()}):
            stock = read("/hq/inventory", by="nation", limit=1000, **as_of)
            assert sum(row["on_hand"] for row in stock) == truth.stock_on_hand
            assert sum(row["reserved"] for row in stock) == truth.stock_reserved

        # Receivables: invoiced, received, credited, what is owed, credit still reserved.
        [nation] = read("/hq/receivables", by="nation", as_of=END.isoformat())
        assert {k: nation[k] for k in ("invoiced", "received", "credited", "receivables")} == {
            "invoiced": f"{truth.invoiced:.2f}",
            "received": f"{truth.received:.2f}",
            "credited": f"{truth.credited:.2f}",
            "receivables": f"{truth.receivables:.2f}",
        }
        assert nation["reserved"] == f"{truth.credit_reserved_open:.2f}"

        # AR aging as of the end date, every bucket to the fen.
        [aged] = read("/hq/receivables/aging", by="nation", as_of=END.isoformat())
        assert {bucket: aged[bucket] for bucket in AGING_BUCKETS} == {
            bucket: f"{truth.aging[bucket]:.2f}" for bucket in AGING_BUCKETS
        }
        assert aged["open_invoices"] == f"{truth.open_invoices:.2f}"
        assert aged["unapplied_cash"] == f"{truth.unapplied:.2f}"
        assert aged["receivables"] == f"{truth.receivables:.2f}"

        # Rebates: per policy, the net sales accrued on and the rebate.
        rebates = read("/hq/rebates", by="nation", as_of=END.isoformat(), limit=1000)
        assert {
            row["policy_code"]: {"net_sales": row["net_sales"], "accrued": row["accrued"]}
            for row in rebates
        } == {
            code: {"net_sales": f"{p['net_sales']:.2f}", "accrued": f"{p['accrued']:.2f}"}
            for code, p in truth.rebates_by_policy.items()
        }
        total = sum((Decimal(row["accrued"]) for row in rebates), Decimal("0.00"))
        assert total == truth.rebate_accrued
