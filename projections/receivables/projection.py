"""The receivables read model (应收账款): per dealer its credit terms, invoices, and what
settled them (receipt allocations, credit notes) by business date, credit still reserved for
unbilled orders, and unapplied cash, so that receivables, exposure, utilisation and AR aging
can be summed as of any date.

Events of one dealer come from several aggregates (its account, each invoice, receipt and
credit note) on different partitions, so every table here is built to be order-free: facts
are inserted once (keyed by document), and what depends on two facts (an order's remaining
reservation: reserved minus invoiced, nothing once released) is computed when queried.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    text,
)
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import finance as finance_events
from contracts import orders as orders_events
from projections.tracking import Projection

metadata = MetaData()
MONEY = Numeric(20, 2)

dealers = Table(
    "receivables_dealers",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("name", String),
    Column("branch", String),
    Column("region", String),
    Column("grade", String),
    Column("credit_limit", MONEY, nullable=False, server_default="0"),
    Column("payment_terms_days", Integer),
)

reservations = Table(
    "receivables_reservations",
    metadata,
    Column("order_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("reserved", MONEY, nullable=False, server_default="0"),
    Column("invoiced", MONEY, nullable=False, server_default="0"),
    Column("released", Boolean, nullable=False, server_default="false"),
)

invoices = Table(
    "receivables_invoices",
    metadata,
    Column("invoice_id", String, primary_key=True),
    Column("number", String, nullable=False),
    Column("dealer_code", String, nullable=False),
    Column("order_id", String, nullable=False),
    Column("issue_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("total", MONEY, nullable=False),
    Index("receivables_invoices_by_dealer", "dealer_code", "issue_date"),
)

# What reduced an invoice, on which business date: receipt allocations and credit notes.
settlements = Table(
    "receivables_settlements",
    metadata,
    Column("document_id", String, primary_key=True),
    Column("invoice_id", String, primary_key=True),
    Column("kind", String, nullable=False),  # receipt | credit_note
    Column("dealer_code", String, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
    Index("receivables_settlements_by_invoice", "invoice_id", "business_date"),
)

# Cash received, whether or not it was allocated (the unapplied part stays on account).
receipts = Table(
    "receivables_receipts",
    metadata,
    Column("receipt_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("received_on", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("unapplied", MONEY, nullable=False),
)

# 返利: accrued per dealer, policy and business date (credit notes' reversals negative).
rebates = Table(
    "receivables_rebates",
    metadata,
    Column("document_id", String, primary_key=True),
    Column("policy_code", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("business_date", Date, nullable=False),
    Column("base", MONEY, nullable=False),
    Column("amount", MONEY, nullable=False),
)

# What stands now, kept by increments, so that figures as of today (or any date on or after
# the latest document's) read a row per dealer and the open invoices, not every document:
dealer_totals = Table(
    "receivables_dealer_totals",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("invoiced", MONEY, nullable=False, server_default="0"),
    Column("received", MONEY, nullable=False, server_default="0"),
    Column("credited", MONEY, nullable=False, server_default="0"),
    Column("unapplied", MONEY, nullable=False, server_default="0"),
)

# Per invoice, what settled it so far (a settlement may arrive before its invoice: then the
# due date and total are filled in when the invoice does).
invoice_balances = Table(
    "receivables_invoice_balances",
    metadata,
    Column("invoice_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False),
    Column("due_date", Date),
    Column("total", MONEY),
    Column("settled", MONEY, nullable=False, server_default="0"),
    Index(
        "receivables_invoice_balances_open",
        "dealer_code",
        postgresql_where=text("total IS NULL OR total <> settled"),
    ),
)

# The latest business date of any document: "as of" a date on or after it is "now".
Index("receivables_invoices_by_issue_date", invoices.c.issue_date)
Index("receivables_receipts_by_date", receipts.c.received_on)
Index("receivables_settlements_by_date", settlements.c.business_date)
# Credit still reserved: the few orders neither fully invoiced nor released.
Index(
    "receivables_reservations_open",
    reservations.c.dealer_code,
    postgresql_where=text("NOT released AND reserved > invoiced"),
)

receivables = Projection(name="receivables", metadata=metadata, origins=("orders", "finance"))


def _increment(table: Table, key: str, **values):
    statement = insert(table).values(**values)
    increments = {
        name: table.c[name] + statement.excluded[name]
        for name in values
        if name in ("invoiced", "received", "credited", "unapplied", "settled")
    }
    others = {name: statement.excluded[name] for name in values if name not in increments}
    others.pop(key, None)
    return statement.on_conflict_do_update(
        index_elements=[table.c[key]], set_={**increments, **others}
    )


def _settle(conn: Connection, dealer_code: str, amounts: dict[str, object]) -> None:
    """Add what settled each invoice (one row per invoice)."""
    for invoice_id, amount in amounts.items():
        conn.execute(
            _increment(
                invoice_balances,
                "invoice_id",
                invoice_id=invoice_id,
                dealer_code=dealer_code,
                settled=amount,
            )
        )


def _upsert_dealer(conn: Connection, dealer_code: str, **values) -> None:
    conn.execute(
        insert(dealers)
        .values(dealer_code=dealer_code, **values)
        .on_conflict_do_update(index_elements=[dealers.c.dealer_code], set_=values)
    )


@receivables.on(orders_events.DealerRegistered)
def dealer_registered(
    conn: Connection, envelope: Envelope, event: orders_events.DealerRegistered
) -> None:
    _upsert_dealer(
        conn,
        event.dealer_code,
        name=event.name,
        branch=event.branch,
        region=event.region,
        grade=event.grade,
    )


@receivables.on(finance_events.CreditTermsSet)
def credit_terms_set(
    conn: Connection, envelope: Envelope, event: finance_events.CreditTermsSet
) -> None:
    # Terms come from the dealer's account, one aggregate, in order: the latest wins.
    _upsert_dealer(
        conn,
        event.dealer_code,
        credit_limit=event.credit_limit,
        payment_terms_days=event.payment_terms_days,
    )


def _reservation(conn: Connection, order_id: str, dealer_code: str, **values) -> None:
    conn.execute(
        insert(reservations)
        .values(order_id=order_id, dealer_code=dealer_code, **values)
        .on_conflict_do_update(
            index_elements=[reservations.c.order_id],
            set_={
                name: (
                    reservations.c[name] + insert(reservations).excluded[name]
                    if name == "invoiced"
                    else insert(reservations).excluded[name]
                )
                for name in values
            },
        )
    )


@receivables.on(finance_events.CreditReserved)
def credit_reserved(
    conn: Connection, envelope: Envelope, event: finance_events.CreditReserved
) -> None:
    _reservation(conn, event.order_id, event.dealer_code, reserved=event.amount)


@receivables.on(finance_events.CreditReleased)
def credit_released(
    conn: Connection, envelope: Envelope, event: finance_events.CreditReleased
) -> None:
    _reservation(conn, event.order_id, event.dealer_code, released=True)


@receivables.on(finance_events.InvoiceIssued)
def invoice_issued(
    conn: Connection, envelope: Envelope, event: finance_events.InvoiceIssued
) -> None:
    conn.execute(
        insert(invoices)
        .values(
            invoice_id=event.invoice_id,
            number=event.invoice_number,
            dealer_code=event.dealer_code,
            order_id=event.order_id,
            issue_date=event.issue_date,
            due_date=event.due_date,
            total=event.total,
        )
        .on_conflict_do_nothing()
    )
    _reservation(conn, event.order_id, event.dealer_code, invoiced=event.total)
    conn.execute(
        _increment(
            dealer_totals, "dealer_code", dealer_code=event.dealer_code, invoiced=event.total
        )
    )
    conn.execute(
        _increment(
            invoice_balances,
            "invoice_id",
            invoice_id=event.invoice_id,
            dealer_code=event.dealer_code,
            due_date=event.due_date,
            total=event.total,
        )
    )


@receivables.on(finance_events.ReceiptRecorded)
def receipt_recorded(
    conn: Connection, envelope: Envelope, event: finance_events.ReceiptRecorded
) -> None:
    conn.execute(
        insert(receipts)
        .values(
            receipt_id=event.receipt_id,
            dealer_code=event.dealer_code,
            received_on=event.received_on,
            amount=event.amount,
            unapplied=event.unapplied,
        )
        .on_conflict_do_nothing()
    )
    rows = [
        {
            "document_id": event.receipt_id,
            "invoice_id": allocation.invoice_id,
            "kind": "receipt",
            "dealer_code": event.dealer_code,
            "business_date": event.received_on,
            "amount": allocation.amount,
        }
        for allocation in event.allocations
    ]
    if rows:
        conn.execute(insert(settlements).on_conflict_do_nothing(), rows)
    conn.execute(
        _increment(
            dealer_totals,
            "dealer_code",
            dealer_code=event.dealer_code,
            received=event.amount,
            unapplied=event.unapplied,
        )
    )
    settled: dict[str, object] = {}
    for allocation in event.allocations:
        settled[allocation.invoice_id] = settled.get(allocation.invoice_id, 0) + allocation.amount
    _settle(conn, event.dealer_code, settled)


@receivables.on(finance_events.CreditNoteIssued)
def credit_note_issued(
    conn: Connection, envelope: Envelope, event: finance_events.CreditNoteIssued
) -> None:
    conn.execute(
        insert(settlements)
        .values(
            document_id=event.credit_note_id,
            invoice_id=event.invoice_id,
            kind="credit_note",
            dealer_code=event.dealer_code,
            business_date=event.issued_on,
            amount=event.amount,
        )
        .on_conflict_do_nothing()
    )
    conn.execute(
        _increment(
            dealer_totals, "dealer_code", dealer_code=event.dealer_code, credited=event.amount
        )
    )
    _settle(conn, event.dealer_code, {event.invoice_id: event.amount})


@receivables.on(finance_events.RebateAccrued)
def rebate_accrued(
    conn: Connection, envelope: Envelope, event: finance_events.RebateAccrued
) -> None:
    conn.execute(
        insert(rebates)
        .values(
            document_id=event.document_id,
            policy_code=event.policy_code,
            dealer_code=event.dealer_code,
            business_date=event.business_date,
            base=event.base,
            amount=event.amount,
        )
        .on_conflict_do_nothing()
    )
