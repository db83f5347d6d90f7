"""How a batch merges the writes it gathers for one row (projections/gathered.py)."""

from decimal import Decimal
from types import SimpleNamespace

from projections.gathered import Gathered
from projections.receivables.projection import dealer_totals, dealers, invoices
from projections.tracking import BATCH_BUFFER


def batch_connection() -> SimpleNamespace:
    return SimpleNamespace(info={BATCH_BUFFER: {}})


def test_increments_add_up_per_row_and_other_rows_stay_apart():
    totals = Gathered(dealer_totals, ("dealer_code",), add=frozenset({"invoiced", "received"}))
    conn = batch_connection()
    totals.gather(conn, dealer_code="CD-0001", invoiced=Decimal("12800.00"))
    totals.gather(conn, dealer_code="CD-0001", received=Decimal("5000.00"))
    totals.gather(conn, dealer_code="CD-0001", invoiced=Decimal("399.50"))
    totals.gather(conn, dealer_code="CQ-0002", invoiced=Decimal("1.01"))
    rows = {row["dealer_code"]: row for row in totals.pending(conn)}
    assert rows["CD-0001"] == {
        "dealer_code": "CD-0001",
        "invoiced": Decimal("13199.50"),
        "received": Decimal("5000.00"),
    }
    assert rows["CQ-0002"]["invoiced"] == Decimal("1.01")


def test_settings_take_the_latest_value_and_facts_keep_the_first():
    terms = Gathered(dealers, ("dealer_code",))
    facts = Gathered(invoices, ("invoice_id",), first=frozenset({"total", "dealer_code"}))
    conn = batch_connection()
    terms.gather(conn, dealer_code="CD-0001", name="成都川酒商贸", branch="CHENGDU")
    terms.gather(conn, dealer_code="CD-0001", credit_limit=Decimal("500000.00"))
    terms.gather(conn, dealer_code="CD-0001", credit_limit=Decimal("800000.00"))
    facts.gather(conn, invoice_id="INV-1", dealer_code="CD-0001", total=Decimal("100.00"))
    facts.gather(conn, invoice_id="INV-1", dealer_code="CD-0001", total=Decimal("999.00"))
    [dealer] = terms.pending(conn)
    assert dealer == {
        "dealer_code": "CD-0001",
        "name": "成都川酒商贸",
        "branch": "CHENGDU",
        "credit_limit": Decimal("800000.00"),
    }
    [invoice] = facts.pending(conn)
    assert invoice["total"] == Decimal("100.00")


def test_the_statement_adds_increments_sets_the_rest_and_leaves_facts_alone():
    totals = Gathered(dealer_totals, ("dealer_code",), add=frozenset({"invoiced"}))
    sql = totals._statement("projections", ("dealer_code", "invoiced", "unapplied"))
    assert "invoiced = receivables_dealer_totals.invoiced + excluded.invoiced" in sql
    assert "unapplied = excluded.unapplied" in sql
    facts = Gathered(invoices, ("invoice_id",), first=frozenset({"total"}))
    assert facts._statement("projections", ("invoice_id", "total")).endswith("DO NOTHING")
