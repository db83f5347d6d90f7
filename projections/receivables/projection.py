"""The receivables read model (应收账款): per dealer its credit terms, invoices, and what
settled them (receipt allocations, credit notes, rebates credited, cash on account applied)
by business date, credit still reserved for unbilled orders, and unapplied cash (and rebate
credit, less what was applied to invoices since), so that
receivables, exposure, utilisation and AR aging can be summed as of any date; and the
rebate pool (返利池): accrued, settled, claimed and credited.

Events of one dealer come from several aggregates (its account, each invoice, receipt and
credit note) on different partitions, so every table here is built to be order-free: facts
are inserted once (keyed by document), and what depends on two facts (an order's remaining
reservation: reserved minus invoiced, nothing once released) is computed when queried.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Column,
    Computed,
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

from contracts import Envelope
from contracts import finance as finance_events
from contracts import orders as orders_events
from projections.gathered import gathered, written
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
    # Counted in receivables_aging_monthly (once its dealer's branch is known).
    Column("rolled_up", Boolean, nullable=False, server_default="false"),
    Index("receivables_invoices_by_dealer", "dealer_code", "issue_date"),
    Index("receivables_invoices_to_roll_up", "dealer_code", postgresql_where=text("NOT rolled_up")),
)

# What reduced an invoice, on which business date: receipt allocations and credit notes.
settlements = Table(
    "receivables_settlements",
    metadata,
    Column("document_id", String, primary_key=True),
    Column("invoice_id", String, primary_key=True),
    Column("kind", String, nullable=False),  # receipt | credit_note | rebate | cash_application
    Column("dealer_code", String, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
    # The invoice's, copied when the invoice is seen (it may come later), so that aging as
    # of a past date sums invoices and settlements without joining them.
    Column("invoice_issue_date", Date),
    Column("invoice_due_date", Date),
    # From when it counts against the invoice: its own date, or the invoice's if later.
    Column("effective_date", Date),
    Column("rolled_up", Boolean, nullable=False, server_default="false"),
    Index("receivables_settlements_by_invoice", "invoice_id", "business_date"),
    # Covering: aging as of a past date reads a month of settlements from the index alone.
    Index(
        "receivables_settlements_by_effective_date",
        "effective_date",
        postgresql_include=["dealer_code", "invoice_due_date", "amount", "rolled_up"],
    ),
    Index(
        "receivables_settlements_to_roll_up",
        "dealer_code",
        postgresql_where=text("NOT rolled_up AND effective_date IS NOT NULL"),
    ),
    Index(
        "receivables_settlements_undated",
        "invoice_id",
        postgresql_where=text("invoice_due_date IS NULL"),
    ),
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

# Credit notes: all of each (what it credited counts from its own date) and the part no
# invoice took (a return credited after its invoice was paid), held on account.
credit_notes = Table(
    "receivables_credit_notes",
    metadata,
    Column("credit_note_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("issued_on", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("unapplied", MONEY, nullable=False),
)

# 核销: cash and credit held on account applied to invoices (what each took is a settlement):
# from its business date, what is held on account falls by its amount.
cash_applications = Table(
    "receivables_cash_applications",
    metadata,
    Column("application_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("applied_on", Date, nullable=False, index=True),
    Column("amount", MONEY, nullable=False),
    Column("automatic", Boolean, nullable=False),
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

# Period-end settlements of rebate policies, per dealer (claw-backs negative).
rebate_settlements = Table(
    "receivables_rebate_settlements",
    metadata,
    Column("settlement_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("policy_code", String, nullable=False),
    Column("settled_on", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
)

# Rebate claims: each event of a claim writes only its own columns (filed, rejected,
# credited), so they may arrive in any order; whether a claim is pending as of a date is
# decided when queried.
rebate_claims = Table(
    "receivables_rebate_claims",
    metadata,
    Column("claim_id", String, primary_key=True),
    Column("dealer_code", String, nullable=False, index=True),
    Column("amount", MONEY),
    Column("salesperson", String),
    Column("filed_on", Date),
    Column("rejected_on", Date),
    Column("credited_on", Date),
    Column("credited", MONEY),
    Column("unapplied", MONEY),  # of the credit, what no invoice took (on account)
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
    # Open: seen and not settled in full. A column of its own, so that the planner knows
    # how few are (from its statistics: it cannot estimate total <> settled, guesses 65 %
    # of the rows, and then scans the table instead of the indexes below).
    Column("open", Boolean, Computed("total <> settled", persisted=True)),
    # Aging as of now reads the open ones from this index alone.
    Index(
        "receivables_invoice_balances_open",
        "dealer_code",
        postgresql_include=["due_date", "total", "settled"],
        postgresql_where=text("open"),
    ),
    # What is open past a due date (over 90 days, for channel health) by a range scan of
    # this one: 4k of 112k invoices at 1M events, where the index above reads all 26k open.
    Index(
        "receivables_invoice_balances_open_by_due",
        "due_date",
        postgresql_include=["dealer_code", "total", "settled"],
        postgresql_where=text("open"),
    ),
)

# Rebate accrued per dealer and policy so far: what figures as of now read.
rebate_totals = Table(
    "receivables_rebate_totals",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("policy_code", String, primary_key=True),
    Column("base", MONEY, nullable=False, server_default="0"),
    Column("amount", MONEY, nullable=False, server_default="0"),
)

# What invoices and settlements add to what is open, per branch, due date and the month they
# count from (settlements: negative). Aging as of a past date by branch, region or nation
# sums the months before the as-of date's month here and reads only that month's documents:
# a third of the rows at 1M events. Documents of a dealer not registered yet wait (their
# ``rolled_up`` is false) and are read from the documents until it is.
aging_monthly = Table(
    "receivables_aging_monthly",
    metadata,
    Column("branch", String, primary_key=True),
    Column("due_date", Date, primary_key=True),
    Column("month", Date, primary_key=True),
    Column("region", String, nullable=False),
    Column("amount", MONEY, nullable=False),
    Index("receivables_aging_monthly_by_month", "month"),
)

# What was open at the end of a month, per branch and due date: the monthly roll-up summed
# over that month and every month before it, rows that sum to zero left out; kept for every
# month before the roll-up's last (the current month's is needed once the month is over).
# Aging as of a past date reads the last snapshot before its month, then the roll-up's
# months after that snapshot (none, usually): at 1M events a fifth of the rows of every
# month's roll-up. Every snapshot present is exact whatever months have one, so a read model
# made before the snapshots were kept answers the same, and gets them when a month ends.
aging_snapshots = Table(
    "receivables_aging_snapshots",
    metadata,
    Column("month", Date, primary_key=True),
    Column("branch", String, primary_key=True),
    Column("due_date", Date, primary_key=True),
    Column("region", String, nullable=False),
    Column("amount", MONEY, nullable=False),
)
# The months that have a snapshot (a month whose snapshot is empty included).
aging_snapshot_months = Table(
    "receivables_aging_snapshot_months",
    metadata,
    Column("month", Date, primary_key=True),
)

# The latest business date of any document: "as of" a date on or after it is "now".
# (Covering: aging as of a past date reads a month of invoices from the index alone.)
Index(
    "receivables_invoices_by_issue_date",
    invoices.c.issue_date,
    postgresql_include=["dealer_code", "due_date", "total", "rolled_up"],
)
Index("receivables_receipts_by_date", receipts.c.received_on)
# Cash left on account, as of a date: the few receipts that were not all allocated.
Index(
    "receivables_receipts_unapplied",
    receipts.c.received_on,
    postgresql_include=["dealer_code", "unapplied"],
    postgresql_where=text("unapplied <> 0"),
)
Index("receivables_settlements_by_date", settlements.c.business_date)
Index("receivables_rebates_by_date", rebates.c.business_date)
# Credit still reserved: the few orders neither fully invoiced nor released.
Index(
    "receivables_reservations_open",
    reservations.c.dealer_code,
    postgresql_where=text("NOT released AND reserved > invoiced"),
)


def _columns(table: Table) -> set[str]:
    return {column.name for column in table.columns}


receivables = Projection(name="receivables", metadata=metadata, origins=("orders", "finance"))

# Written once per batch (projections/gathered.py). Documents are facts, inserted once; terms
# come in order from the dealer's account (the latest wins); totals and what settled an
# invoice add up; a reservation's amount is set by CreditReserved and its invoiced part adds.
_dealers = gathered(receivables, dealers)
_reservations = gathered(receivables, reservations, add={"invoiced"})
_invoices = gathered(receivables, invoices, first=_columns(invoices))
_settlements = gathered(receivables, settlements, first=_columns(settlements))
_receipts = gathered(receivables, receipts, first=_columns(receipts))
_credit_notes = gathered(receivables, credit_notes, first=_columns(credit_notes))
_rebates = gathered(receivables, rebates, first=_columns(rebates))
_cash_applications = gathered(receivables, cash_applications, first=_columns(cash_applications))
_dealer_totals = gathered(
    receivables, dealer_totals, add={"invoiced", "received", "credited", "unapplied"}
)
_invoice_balances = gathered(receivables, invoice_balances, add={"settled"})
_rebate_totals = gathered(receivables, rebate_totals, add={"base", "amount"})
_rebate_settlements = gathered(receivables, rebate_settlements, first=_columns(rebate_settlements))
_rebate_claims = gathered(receivables, rebate_claims)


@receivables.flusher
def date_settlements(conn: Connection) -> None:
    """Give settlements written so far their invoice's dates, once the invoice is seen
    (only a batch that wrote invoices or settlements can have any to date)."""
    if not written(conn, _invoices, _settlements):
        return
    schema = conn.get_execution_options()["schema_translate_map"][None]
    conn.execute(
        text(
            f"""
            UPDATE "{schema}".receivables_settlements AS s
            SET invoice_issue_date = i.issue_date, invoice_due_date = i.due_date,
                effective_date = greatest(s.business_date, i.issue_date)
            FROM "{schema}".receivables_invoices AS i
            WHERE s.invoice_due_date IS NULL AND i.invoice_id = s.invoice_id
            """
        )
    )


@receivables.flusher
def roll_up_aging(conn: Connection) -> None:
    """Count the documents whose dealer's branch and (settlements) invoice are known, and
    not counted yet, in receivables_aging_monthly; in key order, as replicas lock rows.
    Then bring the month-end snapshots up to date. Only a batch that wrote documents or
    dealers can have any newly countable."""
    if not written(conn, _invoices, _settlements, _dealers):
        return
    schema = conn.get_execution_options()["schema_translate_map"][None]
    counted = conn.execute(
        text(
            f"""
            WITH invoiced AS (
                UPDATE "{schema}".receivables_invoices AS i SET rolled_up = true
                FROM "{schema}".receivables_dealers AS d
                WHERE NOT i.rolled_up AND d.dealer_code = i.dealer_code
                  AND d.branch IS NOT NULL
                RETURNING d.branch, d.region, i.due_date,
                          date_trunc('month', i.issue_date)::date AS month, i.total AS amount
            ), settled AS (
                UPDATE "{schema}".receivables_settlements AS s SET rolled_up = true
                FROM "{schema}".receivables_dealers AS d
                WHERE NOT s.rolled_up AND s.effective_date IS NOT NULL
                  AND d.dealer_code = s.dealer_code AND d.branch IS NOT NULL
                RETURNING d.branch, d.region, s.invoice_due_date AS due_date,
                          date_trunc('month', s.effective_date)::date AS month,
                          -s.amount AS amount
            ), counted AS (
                SELECT branch, due_date, month, min(region) AS region, sum(amount) AS amount
                FROM (SELECT * FROM invoiced UNION ALL SELECT * FROM settled) AS documents
                GROUP BY branch, due_date, month
            ), rolled AS (
                INSERT INTO "{schema}".receivables_aging_monthly AS m
                    (branch, due_date, month, region, amount)
                SELECT branch, due_date, month, region, amount FROM counted
                ORDER BY branch, due_date, month
                ON CONFLICT (branch, due_date, month)
                DO UPDATE SET amount = m.amount + excluded.amount
            )
            -- latest: the roll-up's last month before these counts
            SELECT branch, due_date, month, region, amount,
                   (SELECT max(month) FROM "{schema}".receivables_aging_monthly) AS latest
            FROM counted
            """
        )
    ).all()
    if counted:
        _update_snapshots(conn, schema, counted)


def _update_snapshots(conn: Connection, schema: str, counted: list) -> None:
    """Every month before the roll-up's last one gets a snapshot: one summed from the
    roll-up (which holds this batch's counts already) if it has none yet, else this batch's
    counts of that month and the months before it added.

    A snapshot summed from the roll-up cannot see the counts of replicas that have not
    committed yet, so those must add theirs to it after: summing takes an exclusive lock
    (held to the commit), adding a shared one, and each reads the snapshots only once it
    holds its lock. The usual batch (counts all in the roll-up's last month, which has no
    snapshot while it is the last) takes the shared lock, and stops there unless a later
    month began meanwhile."""
    key = {"key": f"{schema}.receivables_aging_snapshots"}
    latest = counted[0].latest
    build = latest is None or any(row.month != latest for row in counted)
    if build:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), key)
    else:
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext(:key))"), key)
        later = conn.execute(
            text(
                f"""SELECT 1 FROM "{schema}".receivables_aging_snapshot_months
                WHERE month >= :latest LIMIT 1"""
            ),
            {"latest": latest},
        ).first()
        if later is None:
            return
    branches, due_dates, months, regions, amounts = (
        [row[index] for row in counted] for index in range(5)
    )
    # The statement's parts all see the tables as they were when it began: the increments
    # reach the months that had a snapshot already, the new months' sums all of it. The
    # months wanted: those after the last snapshot and before the last month (all of them
    # in a read model made before the snapshots were kept), and earlier ones counted now.
    changed = conn.execute(
        text(
            f"""
            WITH counted AS (
                SELECT * FROM unnest(
                    CAST(:branches AS varchar[]), CAST(:due_dates AS date[]),
                    CAST(:months AS date[]), CAST(:regions AS varchar[]),
                    CAST(:amounts AS numeric[])
                ) AS c (branch, due_date, month, region, amount)
            ), bounds AS (
                SELECT (SELECT max(month) FROM "{schema}".receivables_aging_monthly) AS latest,
                       (SELECT max(month) FROM "{schema}".receivables_aging_snapshot_months)
                       AS snapshot
            ), wanted AS (
                SELECT m.month FROM "{schema}".receivables_aging_monthly AS m, bounds AS b
                WHERE :build AND m.month > coalesce(b.snapshot, '-infinity')
                  AND m.month < b.latest
                UNION
                SELECT c.month FROM counted AS c, bounds AS b WHERE :build AND c.month < b.latest
            ), new_months AS (
                INSERT INTO "{schema}".receivables_aging_snapshot_months (month)
                SELECT month FROM wanted ORDER BY month
                ON CONFLICT (month) DO NOTHING
                RETURNING month
            ), summed AS (
                INSERT INTO "{schema}".receivables_aging_snapshots
                    (month, branch, due_date, region, amount)
                SELECT n.month, m.branch, m.due_date, min(m.region), sum(m.amount)
                FROM new_months AS n
                JOIN "{schema}".receivables_aging_monthly AS m ON m.month <= n.month
                GROUP BY n.month, m.branch, m.due_date
                HAVING sum(m.amount) <> 0
            )
            INSERT INTO "{schema}".receivables_aging_snapshots AS s
                (month, branch, due_date, region, amount)
            SELECT later.month, c.branch, c.due_date, min(c.region), sum(c.amount)
            FROM counted AS c
            JOIN "{schema}".receivables_aging_snapshot_months AS later ON later.month >= c.month
            GROUP BY later.month, c.branch, c.due_date
            ORDER BY later.month, c.branch, c.due_date
            ON CONFLICT (month, branch, due_date) DO UPDATE SET amount = s.amount + excluded.amount
            RETURNING s.month, s.branch, s.due_date, s.amount
            """
        ),
        {
            "build": build,
            "branches": branches,
            "due_dates": due_dates,
            "months": months,
            "regions": regions,
            "amounts": amounts,
        },
    ).all()
    # Settled to nothing: the snapshot leaves the row out.
    gone = [row for row in changed if row.amount == 0]
    if gone:
        conn.execute(
            text(
                f"""
                DELETE FROM "{schema}".receivables_aging_snapshots AS s
                USING unnest(
                    CAST(:months AS date[]), CAST(:branches AS varchar[]),
                    CAST(:due_dates AS date[])
                ) AS g (month, branch, due_date)
                WHERE s.month = g.month AND s.branch = g.branch AND s.due_date = g.due_date
                  AND s.amount = 0
                """
            ),
            {
                "months": [row.month for row in gone],
                "branches": [row.branch for row in gone],
                "due_dates": [row.due_date for row in gone],
            },
        )


@receivables.on(orders_events.DealerRegistered)
def dealer_registered(
    conn: Connection, envelope: Envelope, event: orders_events.DealerRegistered
) -> None:
    _dealers.gather(
        conn,
        dealer_code=event.dealer_code,
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
    _dealers.gather(
        conn,
        dealer_code=event.dealer_code,
        credit_limit=event.credit_limit,
        payment_terms_days=event.payment_terms_days,
    )


@receivables.on(finance_events.CreditReserved)
def credit_reserved(
    conn: Connection, envelope: Envelope, event: finance_events.CreditReserved
) -> None:
    _reservations.gather(
        conn, order_id=event.order_id, dealer_code=event.dealer_code, reserved=event.amount
    )


@receivables.on(finance_events.CreditReleased)
def credit_released(
    conn: Connection, envelope: Envelope, event: finance_events.CreditReleased
) -> None:
    _reservations.gather(
        conn, order_id=event.order_id, dealer_code=event.dealer_code, released=True
    )


@receivables.on(finance_events.InvoiceIssued)
def invoice_issued(
    conn: Connection, envelope: Envelope, event: finance_events.InvoiceIssued
) -> None:
    _invoices.gather(
        conn,
        invoice_id=event.invoice_id,
        number=event.invoice_number,
        dealer_code=event.dealer_code,
        order_id=event.order_id,
        issue_date=event.issue_date,
        due_date=event.due_date,
        total=event.total,
    )
    _reservations.gather(
        conn, order_id=event.order_id, dealer_code=event.dealer_code, invoiced=event.total
    )
    _dealer_totals.gather(conn, dealer_code=event.dealer_code, invoiced=event.total)
    _invoice_balances.gather(
        conn,
        invoice_id=event.invoice_id,
        dealer_code=event.dealer_code,
        due_date=event.due_date,
        total=event.total,
    )


@receivables.on(finance_events.OpeningInvoiceRecorded)
def opening_invoice(
    conn: Connection, envelope: Envelope, event: finance_events.OpeningInvoiceRecorded
) -> None:
    """期初应收: an invoice open at the cut-over ages from its own dates like any other (no
    order: it reserved no credit here)."""
    _invoices.gather(
        conn,
        invoice_id=event.invoice_id,
        number=event.invoice_number,
        dealer_code=event.dealer_code,
        order_id="",
        issue_date=event.issue_date,
        due_date=event.due_date,
        total=event.open_amount,
    )
    _dealer_totals.gather(conn, dealer_code=event.dealer_code, invoiced=event.open_amount)
    _invoice_balances.gather(
        conn,
        invoice_id=event.invoice_id,
        dealer_code=event.dealer_code,
        due_date=event.due_date,
        total=event.open_amount,
    )


def _settle(
    conn: Connection,
    document_id: str,
    kind: str,
    dealer_code: str,
    business_date: date,
    allocations: list[finance_events.Allocation],
) -> None:
    """A receipt's, credit note's or rebate credit's allocations: each settles its invoice
    from the document's own business date."""
    settled: dict[str, Decimal] = {}
    for allocation in allocations:
        _settlements.gather(
            conn,
            document_id=document_id,
            invoice_id=allocation.invoice_id,
            kind=kind,
            dealer_code=dealer_code,
            business_date=business_date,
            amount=allocation.amount,
        )
        settled[allocation.invoice_id] = settled.get(allocation.invoice_id, 0) + allocation.amount
    for invoice_id, amount in settled.items():
        _invoice_balances.gather(
            conn, invoice_id=invoice_id, dealer_code=dealer_code, settled=amount
        )


@receivables.on(finance_events.ReceiptRecorded)
def receipt_recorded(
    conn: Connection, envelope: Envelope, event: finance_events.ReceiptRecorded
) -> None:
    _receipts.gather(
        conn,
        receipt_id=event.receipt_id,
        dealer_code=event.dealer_code,
        received_on=event.received_on,
        amount=event.amount,
        unapplied=event.unapplied,
    )
    _settle(
        conn, event.receipt_id, "receipt", event.dealer_code, event.received_on, event.allocations
    )
    _dealer_totals.gather(
        conn, dealer_code=event.dealer_code, received=event.amount, unapplied=event.unapplied
    )


@receivables.on(finance_events.OpeningCashRecorded)
def opening_cash(
    conn: Connection, envelope: Envelope, event: finance_events.OpeningCashRecorded
) -> None:
    """期初预收: cash on account at the cut-over, like a receipt that no invoice took."""
    _receipts.gather(
        conn,
        receipt_id=event.document_id,
        dealer_code=event.dealer_code,
        received_on=event.cut_over_date,
        amount=event.amount,
        unapplied=event.amount,
    )
    _dealer_totals.gather(
        conn, dealer_code=event.dealer_code, received=event.amount, unapplied=event.amount
    )


@receivables.on(finance_events.CashApplied)
def cash_applied(conn: Connection, envelope: Envelope, event: finance_events.CashApplied) -> None:
    """核销: what was held on account settles invoices from its business date (as a receipt
    allocated to them would), and leaves the account; receivables do not move."""
    _cash_applications.gather(
        conn,
        application_id=event.application_id,
        dealer_code=event.dealer_code,
        applied_on=event.applied_on,
        amount=event.amount,
        automatic=event.automatic,
    )
    _settle(
        conn,
        event.application_id,
        "cash_application",
        event.dealer_code,
        event.applied_on,
        event.allocations,
    )
    _dealer_totals.gather(conn, dealer_code=event.dealer_code, unapplied=-event.amount)


@receivables.on(finance_events.CreditNoteIssued)
def credit_note_issued(
    conn: Connection, envelope: Envelope, event: finance_events.CreditNoteIssued
) -> None:
    """A credit note settles the invoices it was allocated to (from its own business date);
    what no invoice took stays on account like unapplied cash."""
    _credit_notes.gather(
        conn,
        credit_note_id=event.credit_note_id,
        dealer_code=event.dealer_code,
        issued_on=event.issued_on,
        amount=event.amount,
        unapplied=event.unapplied,
    )
    _settle(
        conn,
        event.credit_note_id,
        "credit_note",
        event.dealer_code,
        event.issued_on,
        event.allocations,
    )
    _dealer_totals.gather(
        conn, dealer_code=event.dealer_code, credited=event.amount, unapplied=event.unapplied
    )


@receivables.on(finance_events.RebateAccrued)
def rebate_accrued(
    conn: Connection, envelope: Envelope, event: finance_events.RebateAccrued
) -> None:
    _rebates.gather(
        conn,
        document_id=event.document_id,
        policy_code=event.policy_code,
        dealer_code=event.dealer_code,
        business_date=event.business_date,
        base=event.base,
        amount=event.amount,
    )
    _rebate_totals.gather(
        conn,
        dealer_code=event.dealer_code,
        policy_code=event.policy_code,
        base=event.base,
        amount=event.amount,
    )


@receivables.on(finance_events.RebateSettled)
def rebate_settled(
    conn: Connection, envelope: Envelope, event: finance_events.RebateSettled
) -> None:
    _rebate_settlements.gather(
        conn,
        settlement_id=event.settlement_id,
        dealer_code=event.dealer_code,
        policy_code=event.policy_code,
        settled_on=event.settled_on,
        amount=event.amount,
    )


@receivables.on(finance_events.OpeningRebatePoolRecorded)
def opening_rebate_pool(
    conn: Connection, envelope: Envelope, event: finance_events.OpeningRebatePoolRecorded
) -> None:
    """期初返利池: counts as settled under its policy from the cut-over date."""
    _rebate_settlements.gather(
        conn,
        settlement_id=event.document_id,
        dealer_code=event.dealer_code,
        policy_code=event.policy_code,
        settled_on=event.cut_over_date,
        amount=event.amount,
    )


@receivables.on(finance_events.RebateClaimFiled)
def rebate_claim_filed(
    conn: Connection, envelope: Envelope, event: finance_events.RebateClaimFiled
) -> None:
    _rebate_claims.gather(
        conn,
        claim_id=event.claim_id,
        dealer_code=event.dealer_code,
        amount=event.amount,
        salesperson=event.salesperson,
        filed_on=event.filed_on,
    )


@receivables.on(finance_events.RebateClaimRejected)
def rebate_claim_rejected(
    conn: Connection, envelope: Envelope, event: finance_events.RebateClaimRejected
) -> None:
    _rebate_claims.gather(
        conn, claim_id=event.claim_id, dealer_code=event.dealer_code, rejected_on=event.rejected_on
    )


@receivables.on(finance_events.RebateCredited)
def rebate_credited(
    conn: Connection, envelope: Envelope, event: finance_events.RebateCredited
) -> None:
    """A rebate credited against receivables settles invoices like a credit note (from its
    own business date), and what no invoice took stays on account like unapplied cash."""
    _rebate_claims.gather(
        conn,
        claim_id=event.claim_id,
        dealer_code=event.dealer_code,
        credited_on=event.credited_on,
        credited=event.amount,
        unapplied=event.unapplied,
    )
    _settle(conn, event.claim_id, "rebate", event.dealer_code, event.credited_on, event.allocations)
    _dealer_totals.gather(conn, dealer_code=event.dealer_code, unapplied=event.unapplied)
