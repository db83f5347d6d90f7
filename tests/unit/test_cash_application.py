"""核销: cash and credit held on a dealer's account applied to its invoices, automatically to
the oldest open ones as an invoice is issued (the dealer's setting, on by default) or to the
invoices a clerk names; never more than is held, never more than an invoice has open."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from erp.postings import Unpostable, post
from runtime.eventstore import Provenance
from runtime.http.problems import status_of
from services.finance.domain import (
    CashExceedsOnAccount,
    CashExceedsOpen,
    DealerAccount,
    InvalidBusinessDate,
)
from tests.unit.test_opening_receivables import jinjiang

CLERK = Provenance(actor="Li Na (Chengdu clerk)", role="branch_clerk", branch="CD")
D = Decimal


def invoice(account: DealerAccount, invoice_id: str, amount: str, issued: date) -> None:
    account.post_invoice(invoice_id, f"order-{invoice_id}", D(amount), issued, date(2026, 12, 31))
    account.apply_cash_automatically(issued)


def holding(on_account: str, *invoices: tuple[str, str]) -> DealerAccount:
    """Jinjiang with automatic application off, cash received on 20 November held on
    account, then invoices (id, amount) issued from 21 November."""
    account = jinjiang()
    account.set_cash_application(False, CLERK)
    account.apply_receipt("r-1", D(on_account), date(2026, 11, 20), {})
    for day, (invoice_id, amount) in enumerate(invoices, start=21):
        invoice(account, invoice_id, amount, date(2026, 11, day))
    return account


def applications(account: DealerAccount) -> list[DealerAccount.CashApplied]:
    return [e for e in account.collect_events() if isinstance(e, DealerAccount.CashApplied)]


class TestAutomatic:
    def test_an_overpayment_pays_the_next_invoice_when_it_is_issued(self):
        account = jinjiang()
        invoice(account, "inv-1", "25980.00", date(2026, 11, 21))
        account.apply_receipt("r-1", D("30000.00"), date(2026, 11, 25), {"inv-1": D("25980.00")})
        assert account.unapplied == D("4020.00")
        invoice(account, "inv-2", "10392.00", date(2026, 11, 28))
        [applied] = applications(account)
        assert (applied.allocations, applied.amount, applied.automatic) == (
            {"inv-2": D("4020.00")},
            D("4020.00"),
            True,
        )
        assert (applied.applied_on, applied.on_account) == (date(2026, 11, 28), D("0.00"))
        assert account.unapplied == D("0.00")
        assert [i.open for i in account.open_items()] == [D("6372.00")]
        assert account.receivables == D("6372.00")  # as it was: it was net of the cash

    def test_it_never_applies_more_than_the_invoice_and_keeps_the_rest(self):
        account = jinjiang()
        account.apply_receipt("r-1", D("5000.00"), date(2026, 11, 20), {})
        invoice(account, "inv-1", "1299.00", date(2026, 11, 21))
        assert account.unapplied == D("3701.00") and account.open_invoices == {}

    def test_with_the_setting_off_the_cash_stays_on_account(self):
        account = holding("5000.00", ("inv-1", "1299.00"))
        assert applications(account) == []
        assert account.unapplied == D("5000.00")

    def test_cash_received_after_the_invoice_date_applies_from_its_own_date(self):
        account = jinjiang()
        account.apply_receipt("r-1", D("100.00"), date(2026, 11, 30), {})
        invoice(account, "inv-1", "1299.00", date(2026, 11, 21))
        [applied] = applications(account)
        assert applied.applied_on == date(2026, 11, 30)


class TestNamedByAClerk:
    def test_a_clerk_pays_the_invoices_named(self):
        account = holding("5000.00", ("inv-1", "1299.00"), ("inv-2", "2598.00"))
        account.apply_cash(date(2026, 11, 25), {"inv-2": D("2598.00")}, CLERK)
        assert account.unapplied == D("2402.00")
        assert {i.invoice_id: i.open for i in account.open_items()} == {"inv-1": D("1299.00")}

    def test_more_than_an_invoice_has_open_is_refused(self):
        account = holding("5000.00", ("inv-1", "1299.00"))
        with pytest.raises(CashExceedsOpen) as refused:
            account.apply_cash(date(2026, 11, 25), {"inv-1": D("1299.01")}, CLERK)
        assert status_of(refused.value) == 409
        assert refused.value.extra == {"invoice_id": "inv-1", "open": "1299.00"}

    def test_more_than_the_account_holds_is_refused(self):
        account = holding("1000.00", ("inv-1", "1299.00"))
        with pytest.raises(CashExceedsOnAccount) as refused:
            account.apply_cash(date(2026, 11, 25), {"inv-1": D("1000.01")}, CLERK)
        assert refused.value.extra == {"on_account": "1000.00"}
        assert account.unapplied == D("1000.00")

    def test_an_application_before_the_cash_arrived_is_refused(self):
        account = jinjiang()
        account.set_cash_application(False, CLERK)
        invoice(account, "inv-1", "1299.00", date(2026, 11, 21))
        account.apply_receipt("r-1", D("1000.00"), date(2026, 11, 25), {})
        with pytest.raises(InvalidBusinessDate):
            account.apply_cash(date(2026, 11, 24), {"inv-1": D("1000.00")}, CLERK)

    def test_opening_cash_is_applied_from_the_cut_over_on(self):
        account = jinjiang()
        account.post_opening_invoice("inv-aug", D("30000.00"), date(2026, 8, 10), date(2026, 9, 9))
        account.post_opening_cash("cash-1", D("2000.00"), date(2026, 10, 31))
        with pytest.raises(InvalidBusinessDate):
            account.apply_cash(date(2026, 10, 30), {"inv-aug": D("2000.00")}, CLERK)
        account.apply_cash(date(2026, 10, 31), {"inv-aug": D("2000.00")}, CLERK)
        assert (account.unapplied, account.receivables) == (D("0.00"), D("28000.00"))


class TestErpPosting:
    def test_cash_applied_clears_advances_against_the_receivable(self):
        entry = post(
            {
                "type": "dist.finance.CashApplied.v1",
                "data": {
                    "application_id": "app-1",
                    "dealer_code": "CD-001",
                    "applied_on": "2026-11-28",
                    "amount": "4020.00",
                    "allocations": [{"invoice_id": "inv-2", "amount": "4020.00"}],
                    "automatic": True,
                    "on_account": "0.00",
                },
            }
        )
        assert [(x.account, x.debit, x.credit, x.dealer_code) for x in entry.lines] == [
            ("2203", D("4020.00"), D("0.00"), "CD-001"),
            ("1122", D("0.00"), D("4020.00"), "CD-001"),
        ]
        assert str(entry.business_date) == "2026-11-28"

    def test_an_application_whose_parts_do_not_add_up_is_not_posted(self):
        data = {
            "application_id": "app-2",
            "dealer_code": "CD-001",
            "applied_on": "2026-11-28",
            "amount": "4020.00",
            "allocations": [{"invoice_id": "inv-2", "amount": "4000.00"}],
            "automatic": False,
            "on_account": "20.00",
        }
        with pytest.raises(Unpostable):
            post({"type": "dist.finance.CashApplied.v1", "data": data})
