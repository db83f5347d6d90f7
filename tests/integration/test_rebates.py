"""Rebates end to end (返利): a threshold policy and a per-unit policy over November, invoices
accruing as shipments are invoiced, settlement at period end and a follow-on settlement after
late documents (a late invoice, a return, a price correction: a claw-back), claims against
the pool, rejection and approval, the approved rebate credited against receivables (oldest
invoices first, the rest on account), and the query API's rebate pools and receivables
agreeing with finance's account to the fen. Real PostgreSQL, the broker, the saga running.

Also, through the application on PostgreSQL: two settlements racing can never both pay the
same accrual; and the read model reaches the same pools whatever order the events come in.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError
from sqlalchemy import text

from contracts import finance as finance_events
from contracts import inventory as inventory_events
from contracts import orders as orders_events
from contracts.types import OrderLine
from projections import bootstrap as query_process
from projections.receivables.projection import receivables
from projections.receivables.queries import (
    DealerFilter,
    Level,
    aging,
    rebate_pools,
    receivables_summary,
)
from projections.tracking import SqlProjectionHandler, create_tables, projections_engine
from runtime.consumer import Outcome
from runtime.eventstore import Provenance
from runtime.process_manager import ProcessManager
from services.finance import bootstrap as finance_process
from services.finance.application import (
    POLICIES,
    FileRebateClaim,
    FinanceApplication,
    IssueCreditNote,
    SettleRebatePolicy,
)
from services.finance.domain import (
    ClaimExceedsPool,
    DealerAccount,
    NothingToSettle,
    RebatePolicy,
)
from services.kernel.dates import business_today
from tests.integration.master_data import dealer, known_to, product
from tests.integration.racing import in_step, race
from tests.integration.saga import (
    CHENGDU_CLERK,
    CHENGDU_MANAGER,
    DEALER_CD001,
    JIANNANCHUN,
    WULIANGYE,
    ok,
    running_company,
)
from tests.platform import (
    HQ,
    SHANGHAI_CLERK,
    command,
    envelopes_of,
    published,
    serving,
    wait_until,
)

pytestmark = pytest.mark.integration

D = Decimal
NOVEMBER = {"valid_from": "2026-11-01", "valid_to": "2026-11-30"}
GROWTH = {
    "policy_code": "CD-NOV-GROWTH",
    "grade": "tier1_distributor",
    "rate": "0.0300",
    "threshold": "20000.00",
    **NOVEMBER,
}
PER_BOTTLE = {
    "policy_code": "WLY-NOV-BOTTLE",
    "dealer_code": "CD-001",
    "unit_rebates": [{"sku": WULIANGYE, "amount": "5.00"}],
    **NOVEMBER,
}


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()
    return response.json()


def test_rebates_from_policy_to_credit_over_http(settings):
    assert business_today() > date(2026, 11, 30), "the November period must be over"
    with running_company(settings) as company, serving(query_process.build(settings)) as query:
        finance = company.finance
        company.receive(WULIANGYE, 100)
        company.receive(JIANNANCHUN, 100)
        company.credit_terms("CD-001", "200000.00", days=30)

        def post(path: str, body: dict, headers=HQ, key: str | None = None):
            return command(finance, path, body, headers=headers, key=key)

        # -- policies: shape errors 422 with paths, rule errors 409 -------------------------
        ok(post("/rebate-policies", GROWTH))
        ok(post("/rebate-policies", PER_BOTTLE))
        shape = post("/rebate-policies", {**GROWTH, "policy_code": "X", "threshold": "-5.00"})
        assert problem(shape, 422, "invalid_request")["errors"][0]["path"] == "body.threshold"
        shape = post("/rebate-policies", {**PER_BOTTLE, "unit_rebates": [{"sku": WULIANGYE}]})
        assert "body.unit_rebates.0.amount" in {e["path"] for e in shape.json()["errors"]}
        nothing = {"policy_code": "EMPTY", "grade": "tier1_distributor", **NOVEMBER}
        problem(post("/rebate-policies", nothing), 409, "invalid_rebate_policy")
        zero = {**PER_BOTTLE, "policy_code": "ZERO", "unit_rebates": [{"sku": "X", "amount": "0"}]}
        problem(post("/rebate-policies", zero), 409, "invalid_rebate_policy")
        assert finance.get("/rebate-policies/CD-NOV-GROWTH", headers=HQ).json() == {
            "policy_code": "CD-NOV-GROWTH",
            "grade": "tier1_distributor",
            "dealer_code": None,
            "rate": "0.0300",
            "threshold": "20000.00",
            "unit_rebates": [],
            **NOVEMBER,
        }

        def shipped(lines: dict[str, int], ship_date: str) -> str:
            order_id = company.place(lines)["order_id"]
            company.wait_status(order_id, "approved")
            company.wait_shippable(order_id)
            ok(company.ship(order_id, lines, ship_date=ship_date))
            return order_id

        shipped({WULIANGYE: 12}, "2026-11-21")  # 15,588.00: under the threshold; 12 bottles
        shipped({JIANNANCHUN: 20}, "2026-11-25")  # 9,170.00: 24,758.00 in all
        account = company.wait_account(lambda a: a["invoices_posted"] == 2, what="2 invoices")
        assert account["rebate_accrued"] == {"CD-NOV-GROWTH": "142.74", "WLY-NOV-BOTTLE": "60.00"}
        first, second = (i["invoice_id"] for i in account["open_invoices"])

        # -- settlement at period end; again with nothing new: 409 -------------------------
        settled = ok(post("/rebate-policies/CD-NOV-GROWTH/settlements", {}))
        assert [(s["dealer_code"], s["amount"]) for s in settled["settlements"]] == [
            ("CD-001", "142.74")
        ]
        problem(post("/rebate-policies/CD-NOV-GROWTH/settlements", {}), 409, "nothing_to_settle")
        problem(post("/rebate-policies/NO-SUCH/settlements", {}), 404, "unknown_rebate_policy")
        future = {
            **PER_BOTTLE,
            "policy_code": "WLY-2027",
            "valid_from": "2027-01-01",
            "valid_to": "2027-12-31",
        }
        ok(post("/rebate-policies", future))
        problem(post("/rebate-policies/WLY-2027/settlements", {}), 409, "rebate_period_not_ended")
        by_clerk = post("/rebate-policies/CD-NOV-GROWTH/settlements", {}, CHENGDU_CLERK)
        assert by_clerk.status_code == 403

        # Two settlements of the per-bottle policy at once: one pays, the other finds nothing.
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda _: post(
                        "/rebate-policies/WLY-NOV-BOTTLE/settlements", {"dealer_code": "CD-001"}
                    ),
                    range(2),
                )
            )
        assert sorted(a.status_code for a in answers) == [201, 409]
        [paid] = [a.json() for a in answers if a.status_code == 201]
        assert paid["total"] == "60.00"
        [refused] = [a.json() for a in answers if a.status_code == 409]
        assert refused["code"] == "nothing_to_settle"

        # -- late documents dated in November, posted after the settlement ------------------
        shipped({WULIANGYE: 4}, "2026-11-29")  # 5,196.00; 4 bottles
        company.wait_account(lambda a: a["invoices_posted"] == 3, what="the late invoice")
        back = {
            "invoice_id": first,
            "amount": "2598.00",
            "reason": "2 bottles returned",
            "issued_on": "2026-11-28",
            "returned_lines": [{"sku": WULIANGYE, "quantity": 2}],
        }
        returned = ok(post("/credit-notes", back))
        assert returned["returned"] == [{"sku": WULIANGYE, "quantity": 2}]
        too_many = {
            **back,
            "amount": "1.00",
            "returned_lines": [{"sku": WULIANGYE, "quantity": 11}],
        }
        problem(post("/credit-notes", too_many), 409, "returned_quantity_exceeds_invoiced")
        # 27,356.00 net: 3 % of 7,356.00 = 220.68 (142.74 settled); 14 bottles = 70.00 (60.00).
        follow_on = ok(post("/rebate-policies/CD-NOV-GROWTH/settlements", {}))
        assert follow_on["settlements"][0] | {"settlement_id": None} == {
            "settlement_id": None,
            "dealer_code": "CD-001",
            "accrued": "220.68",
            "previously_settled": "142.74",
            "amount": "77.94",
            "available": "280.68",  # with the 60.00 per-bottle settled
        }
        assert ok(post("/rebate-policies/WLY-NOV-BOTTLE/settlements", {}))["total"] == "10.00"
        # A price correction on 30 November: 24,356.00 net, 130.68 accrued: a claw-back.
        correction = {"invoice_id": second, "amount": "3000.00", "reason": "price correction"}
        ok(post("/credit-notes", {**correction, "issued_on": "2026-11-30"}))
        clawed = ok(post("/rebate-policies/CD-NOV-GROWTH/settlements", {}))
        assert clawed["total"] == "-90.00"
        problem(post("/rebate-policies/WLY-NOV-BOTTLE/settlements", {}), 409, "nothing_to_settle")
        pool = company.account()["rebate_pool"]
        assert (pool["accrued"], pool["settled"], pool["available"]) == (
            "200.68",
            "200.68",
            "200.68",
        )

        # -- claims: filed by a Chengdu clerk (the salesperson), decided by the manager -----
        claim = {
            "dealer_code": "CD-001",
            "amount": "150.00",
            "note": "November rebate",
            "filed_on": "2026-12-01",
        }
        filed = ok(post("/rebate-claims", claim, CHENGDU_CLERK, key="claim-cd001-nov"))
        assert (filed["status"], filed["salesperson"]) == ("filed", "Chen Jing (Chengdu clerk)")
        again = post("/rebate-claims", claim, CHENGDU_CLERK, key="claim-cd001-nov")
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["claim_id"] == filed["claim_id"]
        over = post("/rebate-claims", {**claim, "amount": "50.69"}, CHENGDU_CLERK)
        assert problem(over, 409, "rebate_claim_exceeds_pool")["available"] == "50.68"
        problem(post("/rebate-claims", claim, SHANGHAI_CLERK), 403, "outside_scope")
        # A dealer may claim on its own pool only (and within it), never on another's.
        over_by_dealer = post("/rebate-claims", {**claim, "amount": "50.69"}, DEALER_CD001)
        problem(over_by_dealer, 409, "rebate_claim_exceeds_pool")
        others = post("/rebate-claims", {**claim, "dealer_code": "CD-002"}, DEALER_CD001)
        problem(others, 403, "outside_scope")
        second_claim = ok(
            post(
                "/rebate-claims",
                {"dealer_code": "CD-001", "amount": "50.68", "salesperson": "Zhou Jie"},
                CHENGDU_CLERK,
            )
        )
        assert company.account()["rebate_pool"]["claimed"] == "200.68"
        claim_path = f"/rebate-claims/{second_claim['claim_id']}"
        rejected = ok(
            post(f"{claim_path}/rejection", {"reason": "no signed statement"}, CHENGDU_MANAGER)
        )
        assert rejected["status"] == "rejected"
        assert rejected["rebate_pool"]["available"] == "50.68"

        approval = f"/rebate-claims/{filed['claim_id']}/approval"
        assert post(approval, {}, CHENGDU_CLERK).status_code == 403  # a clerk may not approve
        receivables_before = D(company.account()["receivables"])
        approved = ok(post(approval, {}, CHENGDU_MANAGER, key="approve-cd001-nov"))
        assert approved["status"] == "credited"
        assert approved["allocations"] == [{"invoice_id": first, "amount": "150.00"}]
        assert D(approved["receivables"]) == receivables_before - D("150.00")
        replay = post(approval, {}, CHENGDU_MANAGER, key="approve-cd001-nov")
        assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
        problem(post(approval, {}, CHENGDU_MANAGER), 409, "invalid_transition")
        problem(post(f"{claim_path}/approval", {}, HQ), 409, "invalid_transition")
        unknown = post("/rebate-claims/00000000-0000-4000-8000-000000000000/approval", {})
        problem(unknown, 404, "unknown_rebate_claim")

        # Everything paid in cash, then the last 50.68 claimed: it stays on account.
        owed = company.account()["receivables"]
        ok(post("/receipts", {"dealer_code": "CD-001", "amount": owed}))
        last = ok(
            post(
                "/rebate-claims",
                {"dealer_code": "CD-001", "amount": "50.68", "filed_on": "2026-12-01"},
                CHENGDU_CLERK,
            )
        )
        last_approval = f"/rebate-claims/{last['claim_id']}/approval"
        early = post(last_approval, {"credited_on": "2026-11-30"}, HQ)
        problem(early, 409, "invalid_business_date")  # credited before it was filed
        last_credit = ok(post(last_approval, {"credited_on": "2026-12-01"}, HQ))
        assert last_credit["allocations"] == [] and last_credit["unapplied"] == "50.68"
        account = company.account()
        assert account["receivables"] == "-50.68" and account["unapplied_cash"] == "50.68"
        assert account["rebate_pool"] | {"settled_by_policy": None} == {
            "accrued": "200.68",
            "settled": "200.68",
            "claimed": "0.00",
            "credited": "200.68",
            "available": "0.00",
            "settled_by_policy": None,
            "opening_by_policy": {},  # no opening pool at a cut-over
            "pending_claims": [],
        }

        # -- the query API: pools, per-policy rows, receivables and aging, the statement ----
        def read(path: str, headers=HQ, **params) -> list[dict]:
            return ok(query.get(path, params=params, headers=headers))["items"]

        [pool_row] = read(
            "/hq/rebates/pools", dealer="CD-001", min_position=last_credit["position"]
        )
        assert pool_row == {
            "dealer": "CD-001",
            "accrued": "200.68",
            "settled": "200.68",
            "claimed": "0.00",
            "credited": "200.68",
            "available": "0.00",
        }
        [branch_pool] = read("/branches/CD/rebates/pools", CHENGDU_CLERK, by="branch")
        assert branch_pool["branch"] == "CD" and branch_pool["credited"] == "200.68"
        assert query.get("/branches/CD/rebates/pools", headers=SHANGHAI_CLERK).status_code == 403
        assert query.get("/hq/rebates/pools", headers=CHENGDU_CLERK).status_code == 403
        # As of 1 December the first claim was still pending (approved today).
        if business_today() > date(2026, 12, 1):
            [on_first] = read("/hq/rebates/pools", dealer="CD-001", as_of="2026-12-01")
            assert (on_first["claimed"], on_first["credited"]) == ("150.00", "50.68")
        [before_settling] = read("/hq/rebates/pools", dealer="CD-001", as_of="2026-11-30")
        assert before_settling["accrued"] == "200.68" and before_settling["settled"] == "0.00"
        by_policy = {row["policy_code"]: row for row in read("/hq/rebates", dealer="CD-001")}
        assert by_policy["CD-NOV-GROWTH"] == {
            "dealer": "CD-001",
            "policy_code": "CD-NOV-GROWTH",
            "net_sales": "24356.00",
            "accrued": "130.68",
            "settled": "130.68",
        }
        assert by_policy["WLY-NOV-BOTTLE"]["settled"] == "70.00"

        [summary] = read("/hq/receivables", dealer="CD-001")
        assert summary["receivables"] == account["receivables"] == "-50.68"
        assert summary["rebate_credited"] == "200.68"
        [aged] = read("/hq/receivables/aging", dealer="CD-001")
        assert (aged["open_invoices"], aged["unapplied_cash"]) == ("0.00", "50.68")
        assert aged["receivables"] == "-50.68"
        statement = ok(query.get("/dealers/CD-001/statement", headers=DEALER_CD001))
        assert statement["rebate_pool"] == {k: v for k, v in pool_row.items() if k != "dealer"}
        assert statement["receivables"] == "-50.68"
        # Figures as of today from the running totals equal the figures from the documents.
        engine = projections_engine(settings, settings.projections_schema, pool_size=1)
        with engine.connect() as conn:
            for by in (Level.DEALER, Level.NATION):
                answers = [
                    receivables_summary(
                        conn,
                        by=by,
                        where=DealerFilter(),
                        as_of=business_today(),
                        limit=100,
                        cursor=None,
                        current=current,
                    )
                    for current in (True, False)
                ]
                assert answers[0] == answers[1]
        engine.dispose()


# -- through the application, on PostgreSQL -----------------------------------------------
HQ_ADMIN = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")


def november_business() -> list:
    lines = [
        orders_events.PlacedLine.at(
            sku=WULIANGYE, category="BAIJIU", quantity=24, unit_price=D("1299.00")
        )
    ]
    return [
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
            business_date="2026-11-20",
            lines=lines,
            total="31176.00",
        ),
        inventory_events.ShipmentDispatched(
            shipment_id="shipment-1",
            order_id="order-1",
            dealer_code="CD-001",
            warehouse_code="WH-CD",
            ship_date="2026-11-21",
            lines=[inventory_events.ShippedLine(sku=WULIANGYE, quantity=24, cost="20760.00")],
            cost="20760.00",
            order_complete=True,
        ),
    ]


@pytest.fixture
def finance(settings):
    app = FinanceApplication(settings)
    # The registrations as finance heard them earlier, at positions of their own.
    known_to(app, dealer("CD-001"), product(WULIANGYE), product(JIANNANCHUN, list_price="458.50"))
    yield app
    app.close()


def invoiced_november(finance: FinanceApplication) -> None:
    """CD-001 under a 3 % growth policy above 20,000.00; 24 bottles invoiced on 21 November
    (31,176.00): 335.28 accrued."""
    finance.define_rebate_policy(
        RebatePolicy(
            code="CD-NOV-GROWTH",
            grade="tier1_distributor",
            dealer_code=None,
            rate=D("0.0300"),
            valid_from=date(2026, 11, 1),
            valid_to=date(2026, 11, 30),
            threshold=D("20000.00"),
        ),
        by=HQ_ADMIN,
        idempotency=None,
    )
    pm = ProcessManager(finance, name="finance-test", policies=POLICIES)
    with pm.open_batch() as batch:
        for envelope in envelopes_of(november_business()):
            assert batch.apply(envelope).outcome == Outcome.APPLIED
    account = finance.get_account("CD-001")
    assert account.rebate_accrued == {"CD-NOV-GROWTH": D("335.28")}  # 3 % of 11,176.00


def test_two_settlements_racing_never_pay_the_same_accrual_twice(finance):
    invoiced_november(finance)
    settle = SettleRebatePolicy("CD-NOV-GROWTH", date(2026, 12, 1))
    restore = in_step(finance, "get_many")  # both read the account at the same version
    outcomes = race(lambda: finance.settle_rebate_policy(settle, by=HQ_ADMIN, idempotency=None))
    restore()
    assert sorted(type(o).__name__ for o in outcomes) == ["CommandResult", "IntegrityError"]
    [won] = [o for o in outcomes if not isinstance(o, IntegrityError)]
    assert won.body["total"] == "335.28"
    # The loser decides again on fresh state (as the HTTP edge does): nothing is left.
    with pytest.raises(NothingToSettle):
        finance.settle_rebate_policy(settle, by=HQ_ADMIN, idempotency=None)
    history = finance.repository.event_store.get(DealerAccount.create_id("CD-001"))
    assert sum(isinstance(e, DealerAccount.RebateSettled) for e in history) == 1
    assert finance.get_account("CD-001").rebate_settled == {"CD-NOV-GROWTH": D("335.28")}


def test_a_settlement_takes_the_date_hq_names_after_the_period_and_not_after_today(
    settings, finance
):
    """History: a brand loading its past settles November on the day it did then."""
    invoiced_november(finance)
    with serving(finance_process.build(settings, with_process_manager=False)) as http:

        def settle(body: dict):
            return command(http, "/rebate-policies/CD-NOV-GROWTH/settlements", body, headers=HQ)

        within = problem(settle({"settled_on": "2026-11-30"}), 409, "rebate_period_not_ended")
        assert "2026-12-01" in within["detail"]
        tomorrow = (business_today() + timedelta(days=1)).isoformat()
        ahead = problem(settle({"settled_on": tomorrow}), 422, "settled_on_in_future")
        assert tomorrow in ahead["detail"]
        problem(settle({"settled_on": "2026-12-32"}), 422, "invalid_request")

        settled = ok(settle({"settled_on": "2026-12-03"}))
        assert settled["settled_on"] == "2026-12-03" and settled["total"] == "335.28"
        history = finance.repository.event_store.get(DealerAccount.create_id("CD-001"))
        [event] = [e for e in history if isinstance(e, DealerAccount.RebateSettled)]
        assert event.settled_on == date(2026, 12, 3)
        # The read models take the settlement's date from the published event.
        envelopes = wait_until(
            lambda: published(settings, "finance", "RebateSettled"),
            timeout=30,
            what="RebateSettled on the finance topic",
        )
        assert [e["data"]["settled_on"] for e in envelopes] == ["2026-12-03"]


def test_two_claims_racing_never_overdraw_the_pool(finance):
    invoiced_november(finance)
    settle = SettleRebatePolicy("CD-NOV-GROWTH", date(2026, 12, 1))
    finance.settle_rebate_policy(settle, by=HQ_ADMIN, idempotency=None)
    clerk = Provenance(actor="Chen Jing (Chengdu clerk)", role="branch_clerk", branch="CD")
    claim = FileRebateClaim("CD-001", D("200.00"), "Chen Jing", date(2026, 12, 2))
    restore = in_step(finance, "get_account")
    outcomes = race(
        lambda: finance.file_rebate_claim(claim, by=clerk, branch_scope="CD", idempotency=None)
    )
    restore()
    assert sorted(type(o).__name__ for o in outcomes) == ["CommandResult", "IntegrityError"]
    with pytest.raises(ClaimExceedsPool):  # decided again: 135.28 is left
        finance.file_rebate_claim(claim, by=clerk, branch_scope="CD", idempotency=None)
    account = finance.get_account("CD-001")
    assert account.rebate_claimed == D("200.00") and account.rebate_available == D("135.28")


def test_gift_lines_earn_no_per_unit_rebate_and_a_return_gives_back_paid_units(finance):
    """An order with a free gift line (a promotion: zero price), invoiced by finance's
    process manager, then a return credit note naming the returned units."""
    finance.define_rebate_policy(
        RebatePolicy(
            code="CD-NOV-BOTTLE",
            grade=None,
            dealer_code="CD-001",
            rate=D("0"),
            valid_from=date(2026, 11, 1),
            valid_to=date(2026, 11, 30),
            unit_amounts={WULIANGYE: D("5.00"), JIANNANCHUN: D("2.00")},
        ),
        by=HQ_ADMIN,
        idempotency=None,
    )
    registered, placed, shipped = november_business()
    gift = orders_events.PlacedLine(
        sku=JIANNANCHUN,
        category="BAIJIU",
        quantity=6,
        unit_price="0.00",
        amount="0.00",
        list_unit_price="458.50",
        discount="2751.00",
        promotion_code="CD-NOV-GIFT",
        gift=True,
    )
    placed = placed.model_copy(update={"lines": [*placed.lines, gift]})
    shipped = shipped.model_copy(
        update={
            "lines": [
                *shipped.lines,
                inventory_events.ShippedLine(sku=JIANNANCHUN, quantity=6, cost="1778.40"),
            ]
        }
    )
    pm = ProcessManager(finance, name="finance-test", policies=POLICIES)
    with pm.open_batch() as batch:
        for envelope in envelopes_of([registered, placed, shipped]):
            assert batch.apply(envelope).outcome == Outcome.APPLIED
    account = finance.get_account("CD-001")
    assert account.rebate_accrued == {"CD-NOV-BOTTLE": D("120.00")}  # 24 x 5.00; gifts: 0
    [invoice] = account.open_items()
    note = IssueCreditNote(
        invoice_id=UUID(invoice.invoice_id),
        amount=D("2598.00"),
        issued_on=date(2026, 11, 28),
        reason="2 bottles and 6 gifts returned",
        returned={WULIANGYE: 2, JIANNANCHUN: 6},
    )
    answer = finance.issue_credit_note(note, by=HQ_ADMIN, idempotency=None)
    assert answer.body["returned"] == [
        {"sku": JIANNANCHUN, "quantity": 6},
        {"sku": WULIANGYE, "quantity": 2},
    ]
    assert finance.get_account("CD-001").rebate_accrued == {"CD-NOV-BOTTLE": D("110.00")}


# -- the read model, order-free -------------------------------------------------------------
def pool_business() -> list:
    invoice = finance_events.InvoiceIssued(
        invoice_id="inv-1",
        invoice_number="INV-2026-000001",
        dealer_code="CD-001",
        order_id="order-1",
        shipment_id="shipment-1",
        issue_date="2026-11-21",
        due_date="2026-12-21",
        lines=[
            OrderLine(
                sku=WULIANGYE,
                category="BAIJIU",
                quantity=10,
                unit_price="1299.00",
                amount="12990.00",
            )
        ],
        total="12990.00",
    )
    return [
        november_business()[0],
        invoice,
        finance_events.RebateAccrued(
            dealer_code="CD-001",
            policy_code="WLY-NOV-BOTTLE",
            document_id="inv-1",
            business_date="2026-11-21",
            base="12990.00",
            amount="50.00",
        ),
        finance_events.RebateSettled(
            settlement_id="st-1",
            dealer_code="CD-001",
            policy_code="WLY-NOV-BOTTLE",
            period_from="2026-11-01",
            period_to="2026-11-30",
            settled_on="2026-12-01",
            accrued="50.00",
            previously_settled="0.00",
            amount="50.00",
        ),
        finance_events.RebateClaimFiled(
            claim_id="claim-1",
            dealer_code="CD-001",
            amount="30.00",
            salesperson="Li Na",
            filed_on="2026-12-02",
        ),
        finance_events.RebateCredited(
            claim_id="claim-1",
            dealer_code="CD-001",
            amount="30.00",
            credited_on="2026-12-03",
            allocations=[finance_events.Allocation(invoice_id="inv-1", amount="30.00")],
            unapplied="0.00",
        ),
        finance_events.RebateClaimFiled(
            claim_id="claim-2",
            dealer_code="CD-001",
            amount="20.00",
            salesperson="Li Na",
            filed_on="2026-12-02",
        ),
        finance_events.RebateClaimRejected(
            claim_id="claim-2",
            dealer_code="CD-001",
            amount="20.00",
            rejected_on="2026-12-04",
            reason="no signed statement",
        ),
    ]


AS_OF = [date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 5)]


def figures(conn) -> list:
    out = []
    for as_of in AS_OF:
        pools, _ = rebate_pools(
            conn, by=Level.DEALER, where=DealerFilter(), as_of=as_of, limit=10, cursor=None
        )
        summary, _ = receivables_summary(
            conn, by=Level.DEALER, where=DealerFilter(), as_of=as_of, limit=10, cursor=None
        )
        out.append((pools, [(r["dealer"], r["receivables"]) for r in summary]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2], ids=["in order", "reversed", "shuffled"])
def test_the_rebate_pool_read_model_is_order_free(settings, seed):
    schema = f"rebates_order_free_{seed}"
    engine = projections_engine(settings, schema, pool_size=1)
    stored = envelopes_of(pool_business(), time="2026-12-05T02:00:00Z")
    order = list(range(len(stored)))
    if seed == 1:
        order.reverse()  # the claims' outcomes before their filing, the dealer last
    elif seed == 2:
        random.Random(20261202).shuffle(order)
    try:
        create_tables(engine, schema, receivables)
        handler = SqlProjectionHandler(engine, receivables)
        for index in order:
            with handler.open_batch() as batch:
                batch.apply(stored[index])
        with engine.connect() as conn:
            got = figures(conn)
            # Aging with the rebate credited: from the monthly roll-up, from the documents,
            # and (as of a date after every document) from the running balances, alike.
            for as_of in AS_OF:
                for by in (Level.DEALER, Level.BRANCH, Level.NATION):
                    paths = [
                        aging(
                            conn,
                            by=by,
                            where=DealerFilter(),
                            as_of=as_of,
                            limit=10,
                            cursor=None,
                            current=current,
                            roll_up=roll_up,
                        )[0]
                        for current, roll_up in ((False, True), (False, False))
                    ]
                    assert paths[0] == paths[1], (as_of, by)
            now = [
                aging(
                    conn,
                    by=Level.DEALER,
                    where=DealerFilter(),
                    as_of=date(2026, 12, 5),
                    limit=10,
                    cursor=None,
                    current=current,
                )[0]
                for current in (True, False)
            ]
            assert now[0] == now[1] and now[0][0]["open_invoices"] == "12960.00"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
    pool = dict(got[0][0][0])
    assert (pool["accrued"], pool["settled"]) == ("50.00", "0.00")

    def pool_on(day: int) -> tuple:
        row = got[day][0][0]
        return row["settled"], row["claimed"], row["credited"], row["available"]

    assert pool_on(1) == ("50.00", "50.00", "0.00", "0.00")  # both claims filed
    assert pool_on(2) == ("50.00", "20.00", "30.00", "0.00")  # one credited
    assert pool_on(3) == ("50.00", "0.00", "30.00", "20.00")  # the other rejected
    assert got[1][1] == [("CD-001", "12990.00")] and got[3][1] == [("CD-001", "12960.00")]
