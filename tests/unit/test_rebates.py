"""Rebates (返利) on a dealer's account, without a database: accrual under a threshold and
per-unit amounts (exact to the fen per document, whichever way sales move), settlement at
period end (never paying an accrual twice), claims against the pool, their approval
(credited against receivables) and rejection."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from runtime.eventstore import Provenance
from services.finance.application import credit_invoice, rebate_pool_view
from services.finance.domain import (
    ClaimExceedsPool,
    DealerAccount,
    InvalidPolicy,
    InvalidTransition,
    Invoice,
    NothingToSettle,
    PeriodNotEnded,
    RebateClaim,
    RebatePolicy,
    RebatePolicyBook,
    ReturnExceedsInvoiced,
    SelfApproval,
)

D = Decimal
HQ = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")
CLERK = Provenance(actor="Li Na (Chengdu clerk)", role="branch_clerk", branch="CD")
MANAGER = Provenance(actor="Chen Gang (Chengdu manager)", role="branch_manager", branch="CD")
WULIANGYE = "WULIANGYE-52-500ML"
JIANNANCHUN = "JIANNANCHUN-52-500ML"
H1 = (date(2026, 1, 1), date(2026, 6, 30))
AFTER_H1 = date(2026, 7, 1)


def account() -> DealerAccount:
    return DealerAccount(dealer_code="CD-001", grade="tier1_distributor", branch="CD", region="SW")


def threshold_policy(**changes) -> RebatePolicy:
    fields = {
        "code": "CD-H1-GROWTH",
        "grade": "tier1_distributor",
        "dealer_code": None,
        "rate": D("0.0300"),
        "valid_from": H1[0],
        "valid_to": H1[1],
        "threshold": D("100000.00"),
    }
    return RebatePolicy(**{**fields, **changes})


def unit_policy() -> RebatePolicy:
    return RebatePolicy(
        code="WLY-BOTTLE-H1",
        grade="tier1_distributor",
        dealer_code=None,
        rate=D("0"),
        valid_from=H1[0],
        valid_to=H1[1],
        unit_amounts={WULIANGYE: D("5.00")},
    )


_numbers = iter(range(1, 10_000))


def invoice(acct: DealerAccount, lines: list[tuple[str, int, str]], issued: date) -> Invoice:
    """An invoice posted to the account (lines: sku, quantity, unit price)."""
    priced = [
        {
            "sku": sku,
            "category": "BAIJIU",
            "quantity": q,
            "unit_price": D(price),
            "amount": D(price) * q,
        }
        for sku, q, price in lines
    ]
    total = sum((line["amount"] for line in priced), D("0.00"))
    number = next(_numbers)
    inv = Invoice(
        number=f"INV-2026-{number:06d}",
        dealer_code=acct.dealer_code,
        order_id=f"order-{number}",
        shipment_id=f"shipment-{number}",
        issue_date=issued,
        due_date=issued.replace(day=28),
        lines=priced,
        total=total,
        rebate_policies=[],
    )
    acct.post_invoice(
        invoice_id=str(inv.id),
        order_id=inv.order_id,
        amount=total,
        issue_date=issued,
        due_date=inv.due_date,
    )
    return inv


def accrue(acct: DealerAccount, inv: Invoice, *policies: RebatePolicy) -> list[Decimal]:
    inv.rebate_policies = [p.code for p in policies]
    before = [acct.rebate_accrued.get(p.code, D("0.00")) for p in policies]
    for policy in policies:
        acct.accrue_rebate(policy, str(inv.id), inv.issue_date, inv.total, inv.paid_units())
    return [acct.rebate_accrued[p.code] - b for p, b in zip(policies, before, strict=True)]


def book_of(*policies: RebatePolicy) -> RebatePolicyBook:
    book = RebatePolicyBook()
    for policy in policies:
        book.define(policy, HQ)
    return book


def credit(acct, inv, book, amount: str, returned=None, on=date(2026, 6, 20)) -> None:
    credit_invoice(
        acct,
        inv,
        book,
        credit_note_id=f"cn-{next(_numbers)}",
        amount=D(amount),
        issued_on=on,
        returned=returned,
    )


class TestThreshold:
    def test_below_the_threshold_nothing_accrues(self):
        acct = account()
        inv = invoice(acct, [(WULIANGYE, 50, "1199.00")], date(2026, 3, 2))  # 59,950.00
        assert accrue(acct, inv, threshold_policy()) == [D("0.00")]
        assert acct.rebate_base["CD-H1-GROWTH"] == D("59950.00")

    def test_the_invoice_crossing_the_threshold_accrues_only_on_what_is_above(self):
        acct = account()
        policy = threshold_policy()
        accrue(acct, invoice(acct, [(WULIANGYE, 50, "1199.00")], date(2026, 3, 2)), policy)
        crossing = invoice(acct, [(WULIANGYE, 50, "1199.00")], date(2026, 4, 2))  # 119,900.00
        assert accrue(acct, crossing, policy) == [D("597.00")]  # 3 % of 19,900.00
        above = invoice(acct, [(JIANNANCHUN, 7, "458.50")], date(2026, 5, 2))  # 3,209.50
        assert accrue(acct, above, policy) == [D("96.29")]  # 693.285 -> 693.29 in total
        assert acct.rebate_accrued["CD-H1-GROWTH"] == D("693.29")

    def test_a_credit_note_taking_sales_back_below_the_threshold_gives_back_all_of_it(self):
        acct = account()
        policy = threshold_policy()
        book = book_of(policy)
        first = invoice(acct, [(WULIANGYE, 50, "1199.00")], date(2026, 3, 2))
        accrue(acct, first, policy)
        second = invoice(acct, [(WULIANGYE, 50, "1199.00")], date(2026, 4, 2))
        accrue(acct, second, policy)
        assert acct.rebate_accrued["CD-H1-GROWTH"] == D("597.00")
        credit(acct, second, book, "10000.00")  # net 109,900.00: 3 % of 9,900.00
        assert acct.rebate_accrued["CD-H1-GROWTH"] == D("297.00")
        credit(acct, second, book, "15000.00")  # net 94,900.00: below the threshold
        assert acct.rebate_accrued["CD-H1-GROWTH"] == D("0.00")
        assert acct.rebate_base["CD-H1-GROWTH"] == D("94900.00")
        back = invoice(acct, [(WULIANGYE, 10, "1199.00")], date(2026, 5, 2))  # 106,890.00
        assert accrue(acct, back, policy) == [D("206.70")]

    def test_roundings_never_add_up(self):
        acct = account()
        policy = threshold_policy(threshold=D("0.00"), rate=D("0.0125"))
        for _ in range(7):  # 0.125 each: 0.13, 0.12, 0.13, ... never 7 x 0.13
            accrue(acct, invoice(acct, [("TSINGTAO-1903-330ML", 1, "10.00")], H1[0]), policy)
        assert acct.rebate_accrued[policy.code] == D("0.88")  # 1.25 % of 70.00 = 0.875


class TestPerUnit:
    def test_only_paid_units_earn_gift_lines_at_zero_price_earn_nothing(self):
        acct = account()
        promo = invoice(
            acct,
            [(WULIANGYE, 12, "1199.00"), (WULIANGYE, 2, "0.00"), (JIANNANCHUN, 6, "458.50")],
            date(2026, 2, 10),
        )
        assert accrue(acct, promo, unit_policy()) == [D("60.00")]  # 12 paid bottles x 5.00
        assert acct.rebate_units["WLY-BOTTLE-H1"] == {WULIANGYE: 12}

    def test_a_return_credit_note_gives_back_the_returned_paid_units(self):
        acct = account()
        policy = unit_policy()
        book = book_of(policy)
        promo = invoice(acct, [(WULIANGYE, 12, "1199.00"), (WULIANGYE, 2, "0.00")], H1[0])
        accrue(acct, promo, policy)
        credit(acct, promo, book, "3597.00", returned={WULIANGYE: 3})
        assert acct.rebate_accrued["WLY-BOTTLE-H1"] == D("45.00")
        assert acct.rebate_units["WLY-BOTTLE-H1"] == {WULIANGYE: 9}
        # Returned units count as paid first; past the paid ones they are gifts (no rebate).
        credit(acct, promo, book, "10791.00", returned={WULIANGYE: 11})
        assert acct.rebate_accrued["WLY-BOTTLE-H1"] == D("0.00")
        assert promo.returned == {WULIANGYE: 14} and promo.paid_returned == {WULIANGYE: 12}

    def test_more_returned_than_invoiced_is_refused_and_changes_nothing(self):
        acct = account()
        policy = unit_policy()
        promo = invoice(acct, [(WULIANGYE, 12, "1199.00"), (WULIANGYE, 2, "0.00")], H1[0])
        accrue(acct, promo, policy)
        version = acct.version
        with pytest.raises(ReturnExceedsInvoiced):
            credit(acct, promo, book_of(policy), "1199.00", returned={WULIANGYE: 15})
        with pytest.raises(ReturnExceedsInvoiced):
            credit(acct, promo, book_of(policy), "458.50", returned={JIANNANCHUN: 1})
        assert acct.version == version and acct.rebate_accrued["WLY-BOTTLE-H1"] == D("60.00")

    def test_a_price_correction_gives_back_no_units(self):
        acct = account()
        policy = unit_policy()
        inv = invoice(acct, [(WULIANGYE, 12, "1199.00")], H1[0])
        accrue(acct, inv, policy)
        credit(acct, inv, book_of(policy), "120.00")
        assert acct.rebate_accrued["WLY-BOTTLE-H1"] == D("60.00")

    def test_rate_and_per_unit_in_one_policy_add_up(self):
        acct = account()
        both = threshold_policy(threshold=D("10000.00"), unit_amounts={WULIANGYE: D("2.50")})
        inv = invoice(acct, [(WULIANGYE, 12, "1199.00")], H1[0])  # 14,388.00
        assert accrue(acct, inv, both) == [D("161.64")]  # 3 % of 4,388.00 + 12 x 2.50


class TestPolicies:
    @pytest.mark.parametrize(
        "changes",
        [
            {"rate": D("0"), "unit_amounts": {}},  # earns nothing
            {"rate": D("0"), "threshold": D("100.00"), "unit_amounts": {WULIANGYE: D("1.00")}},
            {"unit_amounts": {WULIANGYE: D("0.00")}},
            {"unit_amounts": {WULIANGYE: D("0.001")}},
            {"threshold": D("-1.00")},
            {"rate": D("0.6")},
            {"valid_to": date(2025, 12, 31)},
            {"dealer_code": "CD-001"},  # a grade and a dealer
        ],
    )
    def test_a_policy_that_breaks_a_rule_is_refused(self, changes):
        with pytest.raises(InvalidPolicy):
            book_of(threshold_policy(**changes))

    def test_a_per_unit_only_policy_is_fine(self):
        assert book_of(unit_policy()).get("WLY-BOTTLE-H1").unit_amounts == {WULIANGYE: D("5.00")}


def settled_account() -> tuple[DealerAccount, RebatePolicy]:
    """12 paid bottles under the per-unit policy (60.00), settled on 1 July; the invoice is
    kept as ``acct.source_invoice`` for the tests to credit."""
    acct = account()
    policy = unit_policy()
    acct.source_invoice = invoice(acct, [(WULIANGYE, 12, "1199.00")], H1[0])
    accrue(acct, acct.source_invoice, policy)
    acct.settle_rebate(policy, "st-1", AFTER_H1, HQ)
    return acct, policy


class TestSettlement:
    def test_the_period_must_be_over(self):
        acct = account()
        policy = unit_policy()
        accrue(acct, invoice(acct, [(WULIANGYE, 12, "1199.00")], H1[0]), policy)
        with pytest.raises(PeriodNotEnded):
            acct.settle_rebate(policy, "st-1", H1[1], HQ)  # its last day: not over yet

    def test_settling_fixes_what_was_accrued(self):
        acct, _ = settled_account()
        assert acct.rebate_settled == {"WLY-BOTTLE-H1": D("60.00")}
        assert acct.rebate_available == D("60.00")

    def test_settling_twice_with_nothing_new_is_refused(self):
        acct, policy = settled_account()
        with pytest.raises(NothingToSettle):
            acct.settle_rebate(policy, "st-2", date(2026, 7, 2), HQ)
        assert acct.rebate_settled_total == D("60.00")

    def test_a_follow_on_settlement_settles_only_the_late_documents(self):
        acct, policy = settled_account()
        late = invoice(acct, [(WULIANGYE, 4, "1199.00")], date(2026, 6, 29))  # posted in July
        accrue(acct, late, policy)
        assert acct.settle_rebate(policy, "st-2", date(2026, 7, 5), HQ) == D("20.00")
        assert acct.rebate_settled_total == D("80.00") == acct.rebate_accrued[policy.code]

    def test_a_late_credit_note_is_clawed_back_and_the_pool_owes_until_made_up(self):
        acct, policy = settled_account()
        approve(acct, file(acct, "60.00"))  # all 60.00 settled is credited
        # A return dated in June, posted after the settlement: 4 bottles give back 20.00.
        credit(acct, acct.source_invoice, book_of(policy), "4796.00", returned={WULIANGYE: 4})
        assert acct.rebate_accrued[policy.code] == D("40.00")
        assert acct.settle_rebate(policy, "st-2", date(2026, 7, 10), HQ) == D("-20.00")
        assert acct.rebate_available == D("-20.00")  # 60.00 credited of 40.00 settled
        with pytest.raises(ClaimExceedsPool):
            file(acct, "0.01")
        # A later period's settlement makes it up before anything can be claimed again.
        acct._rebate_settled(
            dealer_code="CD-001",
            policy_code="WLY-BOTTLE-H2",
            settlement_id="st-3",
            period_from=date(2026, 7, 1),
            period_to=date(2026, 12, 31),
            settled_on=date(2027, 1, 4),
            accrued=D("30.00"),
            previously_settled=D("0.00"),
            amount=D("30.00"),
            by=HQ,
        )
        assert acct.rebate_available == D("10.00")


def file(acct: DealerAccount, amount: str) -> RebateClaim:
    claim = RebateClaim(
        dealer_code=acct.dealer_code,
        branch=acct.branch,
        amount=D(amount),
        salesperson="Li Na",
        filed_on=date(2026, 7, 2),
        note=None,
        by=CLERK,
    )
    acct.reserve_rebate_claim(str(claim.id), D(amount))
    return claim


def approve(acct: DealerAccount, claim: RebateClaim, by: Provenance = MANAGER) -> dict:
    claim.check_decidable(by)
    allocations = acct.credit_rebate(str(claim.id), date(2026, 7, 3))
    claim.credit(credited_on=date(2026, 7, 3), allocations=allocations, by=by)
    return allocations


class TestClaims:
    def test_a_claim_takes_its_amount_out_of_the_pool(self):
        acct, _ = settled_account()
        file(acct, "45.00")
        pool = rebate_pool_view(acct)
        assert (pool["settled"], pool["claimed"], pool["available"]) == ("60.00", "45.00", "15.00")

    def test_a_claim_over_the_pool_is_refused(self):
        acct, _ = settled_account()
        file(acct, "45.00")
        with pytest.raises(ClaimExceedsPool) as refused:
            file(acct, "15.01")
        assert refused.value.extra == {"available": "15.00"}
        file(acct, "15.00")  # exactly what is left is fine

    def test_accrued_but_unsettled_rebate_cannot_be_claimed(self):
        acct = account()
        accrue(acct, invoice(acct, [(WULIANGYE, 12, "1199.00")], H1[0]), unit_policy())
        with pytest.raises(ClaimExceedsPool):
            file(acct, "0.01")

    def test_approval_credits_the_oldest_open_invoices_first_and_holds_the_rest(self):
        acct = account()
        policy = threshold_policy(threshold=D("0.00"), rate=D("0.0500"))
        older = invoice(acct, [(JIANNANCHUN, 1, "458.50")], date(2026, 2, 1))
        newer = invoice(acct, [(WULIANGYE, 10, "1199.00")], date(2026, 3, 1))
        accrue(acct, older, policy)
        accrue(acct, newer, policy)  # 5 % of 12,448.50 = 622.43
        acct.apply_receipt("r-1", D("11990.00"), date(2026, 4, 1), {str(newer.id): D("11990.00")})
        acct.settle_rebate(policy, "st-1", AFTER_H1, HQ)
        receivables = acct.receivables
        allocations = approve(acct, file(acct, "622.43"))
        assert allocations == {str(older.id): D("458.50")}
        assert acct.unapplied == D("163.93") and acct.rebate_unapplied == D("163.93")
        assert acct.receivables == receivables - D("622.43") == D("-163.93")
        pool = rebate_pool_view(acct)
        assert (pool["credited"], pool["claimed"], pool["available"]) == ("622.43", "0.00", "0.00")

    def test_rejection_returns_the_amount_to_the_pool(self):
        acct, _ = settled_account()
        claim = file(acct, "60.00")
        claim.check_decidable(MANAGER)
        acct.release_rebate_claim(str(claim.id))
        claim.reject(rejected_on=date(2026, 7, 3), reason="no signed statement", by=MANAGER)
        assert acct.rebate_available == D("60.00") and claim.status == "rejected"
        with pytest.raises(InvalidTransition):
            claim.check_decidable(MANAGER)

    def test_approving_twice_is_an_invalid_transition(self):
        acct, _ = settled_account()
        claim = file(acct, "60.00")
        approve(acct, claim)
        with pytest.raises(InvalidTransition):
            claim.check_decidable(MANAGER)

    def test_who_filed_a_claim_does_not_decide_it(self):
        acct, _ = settled_account()
        claim = file(acct, "60.00")
        with pytest.raises(SelfApproval):
            claim.check_decidable(CLERK)


class TestSnapshots:
    def test_an_account_snapshot_taken_before_the_pool_existed_is_upcast(self):
        from dataclasses import replace

        from eventsourcing.domain import Snapshot

        acct = account()
        accrue(acct, invoice(acct, [(WULIANGYE, 12, "1199.00")], H1[0]), unit_policy())
        snapshot = Snapshot.take(acct)
        state = dict(snapshot.state)
        assert state.pop("class_version") == 2
        for name in (
            "rebate_units",
            "rebate_settled",
            "rebate_claims",
            "rebate_credited",
            "rebate_unapplied",
        ):
            del state[name]  # what a v1 snapshot held
        restored = replace(snapshot, state=state).mutate(None)
        assert restored.rebate_accrued == {"WLY-BOTTLE-H1": D("60.00")}
        assert restored.rebate_units == {} and restored.rebate_available == D("0.00")
        assert restored.receivables == acct.receivables
