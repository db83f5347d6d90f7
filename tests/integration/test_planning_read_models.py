"""The demand-plan and target read models are order-free: the same events applied in any
order (they travel on different partitions: plans, orders, dealers, invoices, assignments)
give the same answers, and an old event redelivered after a newer one changes nothing."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

import pytest
from sqlalchemy import text

from contracts import Envelope
from contracts import finance as finance_events
from contracts import orders as orders_events
from contracts import planning as planning_events
from contracts.envelope import event_id
from contracts.types import OrderLine
from projections.demand_plans.projection import demand
from projections.demand_plans.queries import PlanDimension, PlanFilter, plan_vs_actual
from projections.sales.projection import sales
from projections.targets.projection import targets
from projections.targets.queries import branch_attainment, national, salesperson_attainment
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine

pytestmark = pytest.mark.integration

WULIANGYE, JIANNANCHUN = "WULIANGYE-52-500ML", "JIANNANCHUN-52-500ML"
PlanLine = planning_events.PlanLine


def published(events: list[tuple[str, object]]) -> list[Envelope]:
    """(subject, event) pairs as their service publishes them: positions chained per origin,
    sequence 1, 2, 3 ... per subject."""
    positions: dict[str, int] = {}
    sequences: dict[str, int] = {}
    out = []
    for subject, event in events:
        origin = event.service
        previous = positions.get(origin, 0)
        positions[origin] = previous + 1
        sequences[subject] = sequences.get(subject, 0) + 1
        out.append(
            Envelope(
                id=event_id(origin, previous + 1),
                source=origin,
                type=str(event.event_type()),
                subject=subject,
                time="2026-11-20T02:00:00Z",
                sequence=sequences[subject],
                position=previous + 1,
                previousposition=previous,
                data=event.model_dump(mode="json"),
            )
        )
    return out


def order_line(sku: str, quantity: int, price: str) -> OrderLine:
    unit = Decimal(price)
    return OrderLine(
        sku=sku, category="BAIJIU", quantity=quantity, unit_price=unit, amount=unit * quantity
    )


def placed(order_id: str, dealer: str, day: str, lines: list[OrderLine]):
    return orders_events.OrderPlaced(
        order_id=order_id,
        dealer_id=f"d-{dealer}",
        dealer_code=dealer,
        branch="CD",
        region="SOUTHWEST",
        business_date=day,
        lines=[
            orders_events.PlacedLine.at(
                sku=line.sku,
                category=line.category,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in lines
        ],
        total=sum((line.amount for line in lines), Decimal("0")),
    )


def plan_event(kind, dealer: str, revision: int, lines: dict[str, int] | None, **extra):
    fields = {"plan_id": f"plan-{dealer}", "dealer_code": dealer, "branch": "CD"}
    fields |= {"month": "2026-11", "revision": revision, **extra}
    if lines is not None:
        fields |= {
            "region": "SOUTHWEST",
            "lines": [PlanLine(sku=s, quantity=q) for s, q in lines.items()],
        }
    return kind(**fields)


def demand_events() -> list[Envelope]:
    return published(
        [
            (
                "plan-CD-001",
                plan_event(planning_events.DemandPlanSubmitted, "CD-001", 1, {WULIANGYE: 200}),
            ),
            (
                "plan-CD-001",
                plan_event(
                    planning_events.DemandPlanReturned, "CD-001", 1, None, comment="too high"
                ),
            ),
            (
                "plan-CD-001",
                plan_event(
                    planning_events.DemandPlanSubmitted,
                    "CD-001",
                    2,
                    {WULIANGYE: 120, JIANNANCHUN: 60},
                ),
            ),
            (
                "plan-CD-001",
                plan_event(
                    planning_events.DemandPlanApproved,
                    "CD-001",
                    2,
                    {WULIANGYE: 120, JIANNANCHUN: 60},
                ),
            ),
            (
                "plan-CD-002",
                plan_event(planning_events.DemandPlanSubmitted, "CD-002", 1, {WULIANGYE: 30}),
            ),
            (
                "order-1",
                placed("order-1", "CD-001", "2026-11-03", [order_line(WULIANGYE, 48, "1199.00")]),
            ),
            (
                "order-2",
                placed("order-2", "CD-001", "2026-11-20", [order_line(JIANNANCHUN, 24, "458.50")]),
            ),
            (
                "order-2",
                orders_events.OrderCancelled(
                    order_id="order-2", dealer_code="CD-001", reason="cancelled"
                ),
            ),
            (
                "order-3",
                placed("order-3", "CD-002", "2026-11-30", [order_line(WULIANGYE, 6, "1299.00")]),
            ),
            (
                "order-3",
                orders_events.OrderRejected(
                    order_id="order-3",
                    dealer_code="CD-002",
                    reason="insufficient_stock",
                    detail="WH-CD",
                ),
            ),
            (
                "order-4",
                placed("order-4", "CD-002", "2026-12-01", [order_line(WULIANGYE, 12, "1299.00")]),
            ),
        ]
    )


def answers_after(settings, schema: str, projections, envelopes, query) -> object:
    engine = projections_engine(settings, schema, pool_size=1)
    try:
        for projection in projections:
            create_tables(engine, schema, projection)
        handlers = {p.name: SqlProjectionHandler(engine, p) for p in projections}
        for envelope in envelopes:  # one transaction each, as separate polls would
            for handler in handlers.values():
                with handler.open_batch() as batch:
                    batch.apply(envelope)
        with engine.connect() as conn:
            return query(conn)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def demand_answers(conn) -> dict:
    where = PlanFilter(month="2026-11")
    return {
        by: plan_vs_actual(conn, by=by, where=where, limit=100, cursor=None)[0]
        for by in PlanDimension
    }


def orders_of(envelopes: list[Envelope], seed: int) -> list[list[Envelope]]:
    shuffled = []
    for index in range(seed):
        copy = list(envelopes)
        random.Random(index).shuffle(copy)
        shuffled.append(copy)
    return [envelopes[::-1], *shuffled]


class TestDemandPlansReadModel:
    def test_approved_plan_against_orders_less_rejected_and_cancelled(self, settings):
        answers = answers_after(
            settings, "demand_in_order", [demand], demand_events(), demand_answers
        )
        by_sku = {row["key"]: row for row in answers[PlanDimension.SKU]}
        assert by_sku[WULIANGYE] == {
            "key": WULIANGYE,
            "approved_quantity": 120,  # revision 2, approved; revision 1 was returned
            "pending_quantity": 30,  # CD-002's plan awaits review
            "ordered_quantity": 48,  # order-3 was rejected, order-4 is December's
            "variance": -72,
            "ordered_to_plan": "0.4000",
        }
        assert by_sku[JIANNANCHUN]["ordered_quantity"] == 0  # order-2 was cancelled
        assert answers[PlanDimension.NATION] == [
            {
                "key": "CN",
                "approved_quantity": 180,
                "pending_quantity": 30,
                "ordered_quantity": 48,
                "variance": -132,
                "ordered_to_plan": "0.2667",
            }
        ]
        dealers = {row["key"]: row for row in answers[PlanDimension.DEALER]}
        assert dealers["CD-002"]["ordered_to_plan"] is None  # nothing approved: no ratio

    def test_the_same_in_any_arrival_order_and_with_redelivery(self, settings):
        envelopes = demand_events()
        expected = answers_after(settings, "demand_expected", [demand], envelopes, demand_answers)
        for index, order in enumerate(orders_of(envelopes, 4)):
            again = order + order[:5]  # old events redelivered after newer ones
            got = answers_after(settings, f"demand_order_{index}", [demand], again, demand_answers)
            assert got == expected, index


def target_events() -> list[Envelope]:
    def levels(kind, floor, target, stretch, **extra):
        return kind(
            month="2026-11",
            floor=Decimal(floor),
            target=Decimal(target),
            stretch=Decimal(stretch),
            **extra,
        )

    def invoice(number: int, dealer: str, day: str, lines: list[OrderLine]):
        return finance_events.InvoiceIssued(
            invoice_id=f"inv-{number}",
            invoice_number=f"INV-2026-{number:06d}",
            dealer_code=dealer,
            order_id=f"order-{number}",
            shipment_id=f"shipment-{number}",
            issue_date=day,
            due_date="2026-12-31",
            lines=lines,
            total=sum((line.amount for line in lines), Decimal("0")),
        )

    def dealer(code: str, branch: str, region: str):
        return orders_events.DealerRegistered(
            dealer_id=f"d-{code}",
            dealer_code=code,
            name=code,
            branch=branch,
            region=region,
            grade="tier1_distributor",
        )

    return published(
        [
            ("d-CD-001", dealer("CD-001", "CD", "SOUTHWEST")),
            ("d-CD-002", dealer("CD-002", "CD", "SOUTHWEST")),
            ("d-SH-001", dealer("SH-001", "SH", "EAST")),
            (
                "targets-2026-11",
                levels(planning_events.NationalTargetSet, "80000.00", "100000.00", "120000.00"),
            ),
            (
                "targets-2026-11",
                levels(
                    planning_events.BranchTargetSet, "40000.00", "50000.00", "60000.00", branch="CD"
                ),
            ),
            (
                "targets-2026-11",
                levels(
                    planning_events.SalespersonTargetSet,
                    "20000.00",
                    "30000.00",
                    "40000.00",
                    branch="CD",
                    salesperson_code="SP-CD-01",
                ),
            ),
            (
                "sp-1",
                planning_events.SalespersonRegistered(
                    salesperson_id="sp-1",
                    salesperson_code="SP-CD-01",
                    name="Zhang Wei",
                    branch="CD",
                ),
            ),
            (
                "sp-2",
                planning_events.SalespersonRegistered(
                    salesperson_id="sp-2", salesperson_code="SP-CD-02", name="Liu Fang", branch="CD"
                ),
            ),
            (
                "cov-CD-001",
                planning_events.DealerAssigned(
                    dealer_code="CD-001",
                    branch="CD",
                    salesperson_code="SP-CD-01",
                    effective_from="2026-11-01",
                ),
            ),
            (
                "cov-CD-001",
                planning_events.DealerAssigned(
                    dealer_code="CD-001",
                    branch="CD",
                    salesperson_code="SP-CD-02",
                    effective_from="2026-11-16",
                ),
            ),
            ("inv-1", invoice(1, "CD-001", "2026-11-05", [order_line(WULIANGYE, 24, "1199.00")])),
            ("inv-2", invoice(2, "CD-001", "2026-11-20", [order_line(JIANNANCHUN, 10, "458.50")])),
            ("inv-3", invoice(3, "CD-002", "2026-11-21", [order_line(WULIANGYE, 2, "1299.00")])),
            ("inv-4", invoice(4, "SH-001", "2026-11-22", [order_line(WULIANGYE, 1, "1299.00")])),
            (
                "cn-1",
                finance_events.CreditNoteIssuedV1(
                    credit_note_id="cn-1",
                    dealer_code="CD-001",
                    invoice_id="inv-1",
                    amount=Decimal("1000.00"),
                    issued_on="2026-11-10",
                    reason="breakage",
                ),
            ),
        ]
    )


def target_answers(conn) -> dict:
    return {
        "branch": branch_attainment(conn, month="2026-11"),
        "salesperson": salesperson_attainment(conn, month="2026-11"),
        "nation": national(conn, month="2026-11"),
    }


class TestTargetsReadModel:
    def test_attainment_from_invoiced_net_sales(self, settings):
        answers = answers_after(
            settings, "targets_in_order", [sales, targets], target_events(), target_answers
        )
        branches = {row["key"]: row for row in answers["branch"]}
        # CD: 28776.00 + 4585.00 + 2598.00 invoiced, 1000.00 credited.
        assert branches["CD"]["net_sales"] == "34959.00"
        assert (branches["CD"]["target_ratio"], branches["CD"]["reached"]) == (
            "0.6992",
            "below_floor",
        )
        assert (branches["SH"]["net_sales"], branches["SH"]["reached"]) == ("1299.00", "no_target")
        people = {(row["key"], row["branch"]): row for row in answers["salesperson"]}
        # Zhang covered CD-001 until 15 November: inv-1 less its credit note.
        assert people[("SP-CD-01", "CD")]["net_sales"] == "27776.00"
        assert people[("SP-CD-01", "CD")]["reached"] == "floor"
        assert people[("SP-CD-01", "CD")]["name"] == "Zhang Wei"
        assert people[("SP-CD-02", "CD")]["net_sales"] == "4585.00"
        assert people[("SP-CD-02", "CD")]["reached"] == "no_target"
        assert people[(None, "CD")]["net_sales"] == "2598.00"  # CD-002: nobody covers it
        assert answers["nation"]["net_sales"] == "36258.00"
        assert answers["nation"]["unallocated"] == {
            "floor": "40000.00",
            "target": "50000.00",
            "stretch": "60000.00",
        }

    def test_filtered_to_a_region_or_a_branch(self, settings):
        def filtered(conn) -> dict:
            month = "2026-11"
            return {
                "east": branch_attainment(conn, month=month, region="EAST"),
                "southwest people": salesperson_attainment(conn, month=month, region="SOUTHWEST"),
                "east people": salesperson_attainment(conn, month=month, region="EAST"),
                "cd": branch_attainment(conn, month=month, branch="CD"),
                "cd in east": branch_attainment(conn, month=month, branch="CD", region="EAST"),
            }

        answers = answers_after(
            settings, "targets_filtered", [sales, targets], target_events(), filtered
        )
        assert [(r["key"], r["net_sales"]) for r in answers["east"]] == [("SH", "1299.00")]
        assert [(r["key"], r["net_sales"]) for r in answers["southwest people"]] == [
            ("SP-CD-01", "27776.00"),
            ("SP-CD-02", "4585.00"),
            (None, "2598.00"),
        ]
        assert [(r["key"], r["branch"]) for r in answers["east people"]] == [(None, "SH")]
        assert [(r["key"], r["net_sales"]) for r in answers["cd"]] == [("CD", "34959.00")]
        assert answers["cd in east"] == []

    def test_the_same_in_any_arrival_order(self, settings):
        envelopes = target_events()
        expected = answers_after(
            settings, "targets_expected", [sales, targets], envelopes, target_answers
        )
        orders = orders_of(envelopes, 3) + [
            list(p) for p in itertools.islice(itertools.permutations(envelopes), 1)
        ]
        for index, order in enumerate(orders):
            got = answers_after(
                settings, f"targets_order_{index}", [sales, targets], order, target_answers
            )
            assert got == expected, index
