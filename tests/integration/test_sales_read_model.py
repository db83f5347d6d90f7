"""The sales read model counts invoiced net sales, and is order-free: a Chengdu dealer's
registration, an order, two invoices and two credit notes applied in any order give the same rows,
because events of one dealer travel on different partitions and topics."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Date, func, select, text

from contracts import Envelope
from contracts import finance as finance_events
from contracts import orders as orders_events
from contracts.types import OrderLine
from projections.sales.projection import (
    MEASURES,
    sales,
    sales_branch_daily,
    sales_branch_monthly,
    sales_branch_weekly,
    sales_daily,
    spread,
)
from projections.sales.queries import Period, SalesDimension, SalesFilter, sales_summary
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine
from tests.platform import envelopes_of

pytestmark = pytest.mark.integration

WULIANGYE = "WULIANGYE-52-500ML"
JIANNANCHUN = "JIANNANCHUN-52-500ML"


def line(sku: str, quantity: int, price: str) -> OrderLine:
    unit = Decimal(price)
    return OrderLine(
        sku=sku, category="baijiu", quantity=quantity, unit_price=unit, amount=unit * quantity
    )


def placed(sku: str, quantity: int, price: str) -> orders_events.PlacedLine:
    unit = Decimal(price)
    return orders_events.PlacedLine(
        sku=sku,
        category="baijiu",
        quantity=quantity,
        unit_price=unit,
        amount=unit * quantity,
        list_unit_price=unit,
        discount=Decimal("0.00"),
        promotion_code=None,
        gift=False,
    )


def events() -> list[Envelope]:
    data = [
        orders_events.DealerRegistered(
            dealer_id="d-cd-001",
            dealer_code="CD-001",
            name="Jinjiang Wine Trading",
            branch="CD",
            region="SOUTHWEST",
            grade="tier1_distributor",
        ),
        orders_events.OrderPlaced(
            order_id="order-1",
            dealer_id="d-cd-001",
            dealer_code="CD-001",
            branch="CD",
            region="SOUTHWEST",
            business_date="2026-11-02",
            lines=[placed(WULIANGYE, 4, "1299.00"), placed(JIANNANCHUN, 7, "458.50")],
            total=Decimal("8405.50"),
        ),
        finance_events.InvoiceIssued(
            invoice_id="inv-1",
            invoice_number="INV-2026-000001",
            dealer_code="CD-001",
            order_id="order-1",
            shipment_id="shipment-1",
            issue_date="2026-11-02",
            due_date="2026-12-02",
            lines=[line(WULIANGYE, 3, "1299.00"), line(JIANNANCHUN, 7, "458.50")],
            total=Decimal("7106.50"),
        ),
        finance_events.CreditNoteIssuedV1(
            credit_note_id="cn-1",
            dealer_code="CD-001",
            invoice_id="inv-1",
            amount=Decimal("1000.00"),
            issued_on="2026-11-10",
            reason="breakage in transit",
        ),
        finance_events.InvoiceIssued(
            invoice_id="inv-2",
            invoice_number="INV-2026-000002",
            dealer_code="CD-001",
            order_id="order-1",
            shipment_id="shipment-2",
            issue_date="2026-11-03",
            due_date="2026-12-03",
            lines=[line(WULIANGYE, 1, "1299.00")],
            total=Decimal("1299.00"),
        ),
        finance_events.CreditNoteIssuedV1(
            credit_note_id="cn-2",
            dealer_code="CD-001",
            invoice_id="inv-2",
            amount=Decimal("0.01"),
            issued_on="2026-11-10",
            reason="rounding",
        ),
    ]
    return envelopes_of(data)


def rows_after(settings, schema: str, envelopes: list[Envelope]) -> list[tuple]:
    engine = projections_engine(settings, schema, pool_size=1)
    try:
        create_tables(engine, schema, sales)
        handler = SqlProjectionHandler(engine, sales)
        for envelope in envelopes:  # one transaction each, as separate polls would
            with handler.open_batch() as batch:
                batch.apply(envelope)
        with engine.connect() as conn:
            rows = [
                tuple(row)
                for row in conn.execute(
                    select(sales_daily).order_by(sales_daily.c.day, sales_daily.c.sku)
                )
            ]
            # The branch roll-ups hold exactly the sums of the detailed rows.
            for table, period in (
                (sales_branch_daily, "day"),
                (sales_branch_weekly, "week"),
                (sales_branch_monthly, "month"),
            ):
                bucket = func.date_trunc(period, sales_daily.c.day).cast(Date).label(period)
                keys = (bucket, sales_daily.c.branch, sales_daily.c.category)
                expected = conn.execute(
                    select(*keys, *(func.sum(sales_daily.c[m]) for m in MEASURES))
                    .group_by(*keys)
                    .order_by(*keys)
                ).all()
                rolled = conn.execute(
                    select(
                        table.c[period],
                        table.c.branch,
                        table.c.category,
                        *(table.c[m] for m in MEASURES),
                    ).order_by(table.c[period], table.c.branch, table.c.category)
                ).all()
                assert [tuple(r) for r in rolled] == [tuple(r) for r in expected], table.name
            assert_periods_match_the_detail(conn)
            return rows
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def assert_periods_match_the_detail(conn) -> None:
    """Weeks and months over any range (whole periods from the roll-ups, the partial ones at
    either end from the daily roll-up) give what summing the detailed rows gives."""
    ranges = [
        (date(2026, 11, 3), date(2026, 11, 12)),  # Tuesday to the next Thursday
        (None, date(2026, 11, 4)),
        (date(2026, 11, 1), None),
        (date(2026, 11, 4), date(2026, 11, 5)),  # inside one week
        (None, None),
    ]
    for period in (Period.WEEK, Period.MONTH):
        for lo, hi in ranges:
            got, _ = sales_summary(
                conn,
                by=SalesDimension.NATION,
                period=period,
                where=SalesFilter(date_from=lo, date_to=hi),
                limit=100,
                cursor=None,
            )
            bucket = func.date_trunc(period.value, sales_daily.c.day).cast(Date)
            expected = conn.execute(
                select(bucket, func.sum(sales_daily.c.invoiced_amount))
                .where(sales_daily.c.day >= (lo or date.min), sales_daily.c.day <= (hi or date.max))
                .group_by(bucket)
                .order_by(bucket)
            ).all()
            assert [(r["period_start"], r["invoiced_amount"]) for r in got] == [
                (start.isoformat(), f"{amount:.2f}") for start, amount in expected
            ], (period, lo, hi)


def test_invoiced_net_sales_are_the_same_in_any_arrival_order(settings):
    envelopes = events()
    in_order = rows_after(settings, "sales_in_order", envelopes)
    net = {(row.day.isoformat(), row.sku): row for row in map(_named, in_order)}
    # 1000.00 credited over 3897.00 + 3209.50: 548.37 and 451.63; cn-2 adds 0.01 to WULIANGYE.
    assert net[("2026-11-02", WULIANGYE)].invoiced_amount == Decimal("3897.00")
    assert net[("2026-11-10", WULIANGYE)].credited_amount == Decimal("548.38")
    assert net[("2026-11-10", JIANNANCHUN)].credited_amount == Decimal("451.63")
    assert {row.branch for row in net.values()} == {"CD"}
    invoiced = sum(row.invoiced_amount for row in net.values())
    credited = sum(row.credited_amount for row in net.values())
    assert (invoiced, credited) == (Decimal("8405.50"), Decimal("1000.01"))
    ordered = sum(row.ordered_amount for row in net.values())
    assert ordered == Decimal("8405.50")

    # Each order below has the registration arrive last: counted under no branch until
    # then, the invoice's and the order's rows must move to Chengdu exactly once.
    for index, order in enumerate(
        [
            envelopes[::-1],  # the invoices, then the order, then the registration
            [envelopes[i] for i in (1, 2, 5, 3, 4, 0)],  # the order first
            [envelopes[i] for i in (3, 5, 2, 1, 4, 0)],
        ]
        + [list(p) for p in itertools.islice(itertools.permutations(envelopes), 7, None, 127)]
    ):
        assert rows_after(settings, f"sales_order_{index}", order) == in_order, order


def _named(row: tuple):
    return type("Row", (), dict(zip(sales_daily.columns.keys(), row, strict=True)))


def test_a_credit_note_spreads_over_skus_to_the_fen():
    shares = spread(Decimal("100.00"), {"A": Decimal("1"), "B": Decimal("1"), "C": Decimal("1")})
    assert shares == {"A": Decimal("33.33"), "B": Decimal("33.33"), "C": Decimal("33.34")}
    assert sum(spread(Decimal("0.01"), {"A": Decimal(5), "B": Decimal(5)}).values()) == Decimal(
        "0.01"
    )
