"""期初应收: an invoice still open at the cut-over is a receivable like any other (exposure,
receipts oldest first, credit notes), and opening balances come before the dealer's business
unless headquarters reopens the cut-over."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erp.postings import post
from runtime.eventstore import Provenance
from runtime.http.problems import status_of
from services.finance.domain import CutOverClosed, DealerAccount, InvalidBusinessDate

HQ = Provenance(actor="Wang Min (HQ admin)", role="hq_admin")
D = Decimal


def jinjiang() -> DealerAccount:
    account = DealerAccount(
        dealer_code="CD-001", grade="tier1_distributor", branch="CD", region="SOUTHWEST"
    )
    account.set_terms(D("200000.00"), 30, HQ)
    return account


class TestOpeningInvoices:
    def test_they_count_in_exposure_and_receipts_pay_the_oldest_first(self):
        account = jinjiang()
        account.post_opening_invoice("inv-aug", D("30000.00"), date(2026, 8, 10), date(2026, 9, 9))
        account.post_opening_invoice("inv-sep", D("12500.50"), date(2026, 9, 5), date(2026, 10, 5))
        assert (account.receivables, account.exposure) == (D("42500.50"), D("42500.50"))
        assert account.request_credit("order-1", D("157499.50"))  # exactly at the limit
        assert not account.request_credit("order-2", D("0.01"))
        allocations = account.allocate(D("35000.00"), None)
        assert allocations == {"inv-aug": D("30000.00"), "inv-sep": D("5000.00")}

    def test_they_come_before_business_unless_headquarters_reopens(self):
        account = jinjiang()
        account.post_opening_invoice("inv-aug", D("30000.00"), date(2026, 8, 10), date(2026, 9, 9))
        account.request_credit("order-1", D("1000.00"))
        with pytest.raises(CutOverClosed) as refused:
            account.post_opening_invoice("inv-late", D("1.00"), date(2026, 9, 1), date(2026, 9, 1))
        assert status_of(refused.value) == 409
        account.reopen_cut_over(HQ)
        account.post_opening_invoice("inv-late", D("1.00"), date(2026, 9, 1), date(2026, 9, 1))
        assert account.receivables == D("30001.00")

    def test_opening_cash_on_account_lowers_receivables_and_exposure(self):
        account = jinjiang()
        account.post_opening_invoice("inv-aug", D("30000.00"), date(2026, 8, 10), date(2026, 9, 9))
        account.post_opening_cash("cash-1", D("8000.00"))
        assert (account.receivables, account.exposure, account.unapplied) == (
            D("22000.00"),
            D("22000.00"),
            D("8000.00"),
        )
        assert not account.has_business

    def test_an_opening_rebate_pool_may_be_claimed_and_is_kept_apart_from_settlements(self):
        account = jinjiang()
        account.post_opening_rebate_pool("TIER1-2025", D("1500.00"))
        assert (account.rebate_settled_total, account.rebate_available) == (
            D("1500.00"),
            D("1500.00"),
        )
        assert account.rebate_settled == {}  # a policy's settlements settle what accrues here
        account.reserve_rebate_claim("claim-1", D("1500.00"))
        assert account.rebate_available == D("0.00")

    def test_an_invoice_due_before_its_date_is_refused(self):
        with pytest.raises(InvalidBusinessDate):
            jinjiang().post_opening_invoice("x", D("1.00"), date(2026, 9, 2), date(2026, 9, 1))

    def test_the_erp_posts_it_against_opening_balances(self):
        entry = post(
            {
                "type": "dist.finance.OpeningInvoiceRecorded.v1",
                "data": {
                    "invoice_id": "inv-aug",
                    "invoice_number": "INV-2026-08-0117",
                    "dealer_code": "CD-001",
                    "issue_date": "2026-08-10",
                    "due_date": "2026-09-09",
                    "open_amount": "30000.00",
                    "cut_over_date": "2026-10-31",
                },
            }
        )
        assert [(line.account, line.debit, line.credit) for line in entry.lines] == [
            ("1122", D("30000.00"), D("0.00")),
            ("4199", D("0.00"), D("30000.00")),
        ]
