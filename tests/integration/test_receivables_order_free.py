"""Aging as of a past date from the month-end snapshots and the monthly roll-up
(receivables_aging_snapshots, receivables_aging_monthly) equals aging summed from the
documents, whatever order the documents arrive in: a receipt before the invoice it settles,
invoices before their dealer's registration, a late receipt dated into an earlier month, a
month's first document after a later month's. Every snapshot is its months' roll-up summed."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from contracts import finance as finance_events
from contracts import orders as orders_events
from contracts.types import OrderLine
from projections.receivables.projection import receivables
from projections.receivables.queries import DealerFilter, Level, aging, receivables_summary
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine
from tests.platform import envelopes_of

pytestmark = pytest.mark.integration

WULIANGYE = "WULIANGYE-52-500ML"


def invoice(number: int, dealer: str, issued: str, due: str, bottles: int):
    amount = Decimal("1299.00") * bottles
    return finance_events.InvoiceIssued(
        invoice_id=f"inv-{number}",
        invoice_number=f"INV-2026-{number:06d}",
        dealer_code=dealer,
        order_id=f"order-{number}",
        shipment_id=f"shipment-{number}",
        issue_date=issued,
        due_date=due,
        lines=[
            OrderLine(
                sku=WULIANGYE,
                category="BAIJIU",
                quantity=bottles,
                unit_price="1299.00",
                amount=amount,
            )
        ],
        total=amount,
    )


def business() -> list:
    return [
        orders_events.DealerRegistered(
            dealer_id="d-cd-001",
            dealer_code="CD-001",
            name="Jinjiang Wine Trading",
            branch="CD",
            region="SOUTHWEST",
            grade="tier1_distributor",
        ),
        orders_events.DealerRegistered(
            dealer_id="d-sh-001",
            dealer_code="SH-001",
            name="Pudong Liquor Co.",
            branch="SH",
            region="EAST",
            grade="exclusive_dealer",
        ),
        invoice(1, "CD-001", "2026-05-20", "2026-06-19", 10),  # 12,990.00
        invoice(2, "CD-001", "2026-06-03", "2026-07-03", 4),  # 5,196.00
        invoice(3, "SH-001", "2026-04-28", "2026-05-28", 2),  # 2,598.00
        finance_events.ReceiptRecorded(
            receipt_id="rc-1",
            dealer_code="CD-001",
            amount="6000.00",
            received_on="2026-06-10",
            allocations=[finance_events.Allocation(invoice_id="inv-1", amount="6000.00")],
            unapplied="0.00",
        ),
        # Posted late, dated back into May: it counts from 25 May.
        finance_events.ReceiptRecorded(
            receipt_id="rc-2",
            dealer_code="SH-001",
            amount="598.00",
            received_on="2026-05-25",
            allocations=[finance_events.Allocation(invoice_id="inv-3", amount="598.00")],
            unapplied="0.00",
        ),
        # Dated before the invoice it settles (in May): it counts from the invoice's date.
        finance_events.CreditNoteIssuedV1(
            credit_note_id="cn-1",
            dealer_code="CD-001",
            invoice_id="inv-2",
            amount="196.00",
            issued_on="2026-05-30",
            reason="breakage",
        ),
        # The account's terms may arrive before the dealer's registration (another topic).
        finance_events.CreditTermsSet(
            dealer_code="CD-001", credit_limit="100000.00", payment_terms_days=30
        ),
        # 核销: Pudong pays 1,000.00 beyond what it owes; its next invoice takes it (the
        # application is the account's, and may arrive before the invoice or the receipt).
        finance_events.ReceiptRecorded(
            receipt_id="rc-3",
            dealer_code="SH-001",
            amount="3000.00",
            received_on="2026-06-05",
            allocations=[finance_events.Allocation(invoice_id="inv-3", amount="2000.00")],
            unapplied="1000.00",
        ),
        invoice(4, "SH-001", "2026-06-20", "2026-07-20", 1),  # 1,299.00
        finance_events.CashApplied(
            application_id="app-1",
            dealer_code="SH-001",
            applied_on="2026-06-20",
            amount="1000.00",
            allocations=[finance_events.Allocation(invoice_id="inv-4", amount="1000.00")],
            automatic=True,
            on_account="0.00",
        ),
    ]


AS_OF = [
    date(2026, d[0], d[1]) for d in ((4, 30), (5, 24), (5, 31), (6, 1), (6, 9), (6, 30), (7, 20))
]


def agings(conn, *, roll_up: bool) -> list:
    return [
        aging(
            conn,
            by=by,
            where=where,
            as_of=as_of,
            limit=100,
            cursor=None,
            current=False,
            roll_up=roll_up,
        )[0]
        for as_of in AS_OF
        for by, where in (
            (Level.NATION, DealerFilter()),
            (Level.REGION, DealerFilter()),
            (Level.BRANCH, DealerFilter(region="SOUTHWEST")),
        )
    ]


@contextmanager
def receivables_read_model(settings, schema: str, pool_size: int = 1) -> Iterator[Engine]:
    """An engine on a receivables read model of its own schema, dropped afterwards."""
    engine = projections_engine(settings, schema, pool_size=pool_size)
    try:
        create_tables(engine, schema, receivables)
        yield engine
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def snapshots_and_their_sums(conn, schema: str) -> tuple[list, list]:
    """Every snapshot row, and what the monthly roll-up sums to for the same months."""
    snapshots = conn.execute(
        text(
            f"""SELECT month, branch, due_date, region, amount
            FROM "{schema}".receivables_aging_snapshots ORDER BY 1, 2, 3"""
        )
    ).all()
    sums = conn.execute(
        text(
            f"""SELECT n.month, m.branch, m.due_date, min(m.region), sum(m.amount)
            FROM "{schema}".receivables_aging_snapshot_months AS n
            JOIN "{schema}".receivables_aging_monthly AS m ON m.month <= n.month
            GROUP BY 1, 2, 3 HAVING sum(m.amount) <> 0 ORDER BY 1, 2, 3"""
        )
    ).all()
    return snapshots, sums


def assert_the_roll_ups_agree(engine, schema: str, step=None) -> list:
    """Aging from the snapshots and the roll-up equals aging from the documents, and every
    snapshot sums its months' roll-up; returns the snapshot rows."""
    with engine.connect() as conn:
        assert agings(conn, roll_up=True) == agings(conn, roll_up=False), step
        snapshots, sums = snapshots_and_their_sums(conn, schema)
    assert snapshots == sums, step
    return snapshots


ORDERS = [
    list(range(12)),  # registrations first, documents in order
    [8, 11, 9, 5, 6, 7, 2, 3, 4, 10, 0, 1],  # terms and settlements first, registrations last
    [11, 2, 7, 8, 0, 10, 5, 3, 1, 9, 6, 4],
]


@pytest.mark.parametrize("order", ORDERS, ids=["in order", "settlements first", "shuffled"])
def test_aging_from_the_monthly_roll_up_equals_aging_from_the_documents(settings, order):
    schema = "receivables_order_free"
    stored = envelopes_of(business(), time="2026-07-01T02:00:00Z")
    with receivables_read_model(settings, schema) as engine:
        handler = SqlProjectionHandler(engine, receivables)
        for index in order:  # one poll each; the two agree at every step
            with handler.open_batch() as batch:
                batch.apply(stored[index])
            assert_the_roll_ups_agree(engine, schema, index)
        with engine.connect() as conn:
            from_documents = agings(conn, roll_up=False)
            assert agings(conn, roll_up=True) == from_documents
            rolled = conn.execute(
                text(f'SELECT count(*) FROM "{schema}".receivables_aging_monthly')
            ).scalar()
            months = conn.execute(
                text(f'SELECT month FROM "{schema}".receivables_aging_snapshot_months')
            ).scalars()
        assert rolled > 0
        assert sorted(months) == [date(2026, 4, 1), date(2026, 5, 1)]  # June: the last
        # As of 31 May: CD-001 owes 12,990.00, due 19 June; SH-001 2,000.00, 3 days late.
        may = from_documents[AS_OF.index(date(2026, 5, 31)) * 3]
        assert may[0]["not_yet_due"] == "12990.00" and may[0]["days_1_30"] == "2000.00"
        # Pudong: 1,000.00 on account from 5 June until the invoice of 20 June took it.
        with engine.connect() as conn:
            pudong = {
                as_of: aging(
                    conn,
                    by=Level.DEALER,
                    where=DealerFilter(dealer="SH-001"),
                    as_of=as_of,
                    limit=1,
                    cursor=None,
                    current=current,
                )[0][0]
                for as_of, current in (
                    (date(2026, 6, 19), False),
                    (date(2026, 6, 30), False),
                    (date(2026, 7, 20), False),
                    (date(2026, 7, 21), True),
                )
            }
        figures = {
            as_of.isoformat(): (row["unapplied_cash"], row["open_invoices"], row["days_1_30"])
            for as_of, row in pudong.items()
        }
        assert figures == {
            "2026-06-19": ("1000.00", "0.00", "0.00"),
            "2026-06-30": ("0.00", "299.00", "0.00"),
            "2026-07-20": ("0.00", "299.00", "0.00"),
            "2026-07-21": ("0.00", "299.00", "299.00"),
        }


def test_aging_pages_through_every_region_the_unknown_one_included(settings):
    """Invoices of a dealer not registered yet count under no region (key ""); a page that
    ends there continues after it, on every path, for aging and receivables alike."""
    schema = "receivables_paging"
    events = business()
    unregistered_first = [events[1], *events[2:]]  # CD-001's registration has not arrived
    stored = envelopes_of(unregistered_first, time="2026-07-01T02:00:00Z")
    with receivables_read_model(settings, schema) as engine:
        handler = SqlProjectionHandler(engine, receivables)
        with handler.open_batch() as batch:
            batch.apply_all(stored)
        with engine.connect() as conn:
            for figures, as_of, options in (
                (aging, date(2026, 6, 30), {"current": False, "roll_up": True}),
                (aging, date(2026, 6, 30), {"current": False, "roll_up": False}),
                (aging, date(2026, 7, 21), {}),
                (receivables_summary, date(2026, 6, 30), {"current": False}),
                (receivables_summary, date(2026, 7, 21), {}),
            ):

                def page(cursor, limit, figures=figures, as_of=as_of, options=options):
                    return figures(
                        conn,
                        by=Level.REGION,
                        where=DealerFilter(),
                        as_of=as_of,
                        limit=limit,
                        cursor=cursor,
                        **options,
                    )

                whole, _ = page(None, 100)
                assert [row["region"] for row in whole] == [None, "EAST"]
                paged, cursor = [], None
                while True:
                    rows, cursor = page(cursor, 1)
                    paged += rows
                    if cursor is None:
                        break
                assert paged == whole, (figures.__name__, as_of, options)


def test_a_read_model_made_before_the_snapshots_answers_the_same(settings):
    """A receivables read model whose roll-up holds months from before the snapshots were
    kept (its snapshots emptied halfway): aging as of every date still equals the documents',
    and the months counted after that get exact snapshots."""
    schema = "receivables_before_snapshots"
    stored = envelopes_of(business(), time="2026-07-01T02:00:00Z")
    with receivables_read_model(settings, schema) as engine:
        handler = SqlProjectionHandler(engine, receivables)
        with handler.open_batch() as batch:
            batch.apply_all(stored[:5])  # the registrations and three invoices
        with engine.begin() as conn:
            for table in ("receivables_aging_snapshots", "receivables_aging_snapshot_months"):
                conn.execute(text(f'DELETE FROM "{schema}".{table}'))
        for envelope in stored[5:]:
            with handler.open_batch() as batch:
                batch.apply(envelope)
            assert_the_roll_ups_agree(engine, schema)
        with engine.connect() as conn:
            months = conn.execute(
                text(f'SELECT month FROM "{schema}".receivables_aging_snapshot_months')
            ).scalars()
            assert sorted(months) == [date(2026, 4, 1), date(2026, 5, 1)]


def half_a_year_in_three_branches(seed: int) -> list:
    """Three dealers, invoices issued February to July 2026, and receipts that pay part of
    them, some posted late and dated back into an earlier month."""
    rng = random.Random(seed)
    dealers = [
        ("CD-001", "CD", "SOUTHWEST"),
        ("CQ-002", "CQ", "SOUTHWEST"),
        ("SH-003", "SH", "EAST"),
    ]
    events: list = [
        orders_events.DealerRegistered(
            dealer_id=f"d-{code}",
            dealer_code=code,
            name=f"Dealer {code}",
            branch=branch,
            region=region,
            grade="tier1_distributor",
        )
        for code, branch, region in dealers
    ]
    for number in range(1, 61):
        code = rng.choice(dealers)[0]
        issued = date(2026, 2, 1) + timedelta(days=rng.randrange(180))
        events.append(
            invoice(number, code, issued.isoformat(), (issued + timedelta(days=30)).isoformat(), 2)
        )
        if rng.random() < 0.7:
            paid = issued + timedelta(days=rng.randrange(-10, 60))
            events.append(
                finance_events.ReceiptRecorded(
                    receipt_id=f"rc-{number}",
                    dealer_code=code,
                    amount="1000.00",
                    received_on=paid.isoformat(),
                    allocations=[
                        finance_events.Allocation(invoice_id=f"inv-{number}", amount="1000.00")
                    ],
                    unapplied="0.00",
                )
            )
    return events


def business_date(envelope) -> str:
    return envelope.data.get("issue_date") or envelope.data["received_on"]


@pytest.mark.parametrize("in_date_order", [True, False], ids=["in date order", "shuffled"])
def test_replicas_rolling_up_at_once_keep_every_snapshot_exact(settings, in_date_order):
    """Four projector replicas apply a half year of documents at once, one document per
    batch: each month-end snapshot still sums its months' roll-up, and aging as of every
    date equals the documents'. In date order, one replica begins a month while the others
    are still counting the month before; shuffled, most batches count into earlier months."""
    schema = "receivables_replicas"
    stored = envelopes_of(half_a_year_in_three_branches(seed=18), time="2026-08-01T02:00:00Z")
    registrations, documents = stored[:3], stored[3:]
    if in_date_order:
        documents.sort(key=business_date)
    else:
        random.Random(7).shuffle(documents)
    with receivables_read_model(settings, schema, pool_size=4) as engine:
        with SqlProjectionHandler(engine, receivables).open_batch() as batch:
            batch.apply_all(registrations)

        def replica(share: list) -> None:
            handler = SqlProjectionHandler(engine, receivables)
            for envelope in share:
                with handler.open_batch() as batch:
                    batch.apply(envelope)

        with ThreadPoolExecutor(4) as pool:
            for done in [pool.submit(replica, documents[i::4]) for i in range(4)]:
                done.result()
        snapshots = assert_the_roll_ups_agree(engine, schema)
        assert len({row.month for row in snapshots}) >= 5
