"""The sales read model: per business day x SKU x dealer what was ordered and what was
invoiced, less credit notes (net sales), with the dealer's branch and region and the SKU's
category, so every roll-up is one GROUP BY over one table.

- **ordered** measures count orders as placed (OrderPlaced carries the dealer's branch).
- **invoiced** measures count invoice lines on the invoice's issue date.
- **credited** is what credit notes gave back, on the credit note's own date, spread over the
  invoice's SKUs in proportion to their amounts (the last fen to the largest line), so that
  net sales by SKU add up to net sales by dealer, to the fen.

Events of one dealer come from several aggregates on different partitions and topics, so the
tables are built to be order-free: an invoice whose dealer was not seen yet is counted with an
empty branch and region, filled in when the dealer's registration arrives; a credit note that
arrives before its invoice waits in ``sales_pending_credits`` until the invoice does.
Targets (floor / target / stretch per branch and month) join these rows by branch and month.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter

from sqlalchemy import (
    BigInteger,
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
    delete,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert

from contracts import Envelope
from contracts import finance as finance_events
from contracts import orders as orders_events
from projections.sql_values import column_types, execute_values
from projections.tracking import Projection, batch_buffer

metadata = MetaData()
MONEY = Numeric(20, 2)
FEN = Decimal("0.01")
MEASURES = (
    "order_lines",
    "ordered_quantity",
    "ordered_amount",
    "invoiced_quantity",
    "invoiced_amount",
    "credited_amount",
)

sales_daily = Table(
    "sales_daily",
    metadata,
    Column("day", Date, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("dealer_code", String, primary_key=True),
    Column("category", String, nullable=False),
    # Empty until the dealer's registration is seen (see the module docstring).
    Column("branch", String, nullable=False, index=True),
    Column("region", String, nullable=False, index=True),
    Column("order_lines", Integer, nullable=False, server_default="0"),
    Column("ordered_quantity", BigInteger, nullable=False, server_default="0"),
    Column("ordered_amount", MONEY, nullable=False, server_default="0"),
    Column("invoiced_quantity", BigInteger, nullable=False, server_default="0"),
    Column("invoiced_amount", MONEY, nullable=False, server_default="0"),
    Column("credited_amount", MONEY, nullable=False, server_default="0"),
    # A dealer's rows counted before its registration arrived, found when it does (by a
    # rebuild, thousands of registrations over a table filling up: without it each one
    # scanned every row of the empty branch).
    Index("sales_daily_before_registration", "dealer_code", postgresql_where=text("branch = ''")),
)


# Roll-ups of the same measures without SKU and dealer, so national figures by branch, region
# or category read thousands of rows, not a year of day x SKU x dealer.
def _rollup_table(name: str, period: str) -> Table:
    return Table(
        name,
        metadata,
        Column(period, Date, primary_key=True),
        Column("branch", String, primary_key=True),
        Column("category", String, primary_key=True),
        Column("region", String, nullable=False),
        *(Column(m, c.type, nullable=False, server_default="0") for m, c in _MEASURE_COLUMNS),
    )


_MEASURE_COLUMNS = [(name, sales_daily.c[name]) for name in MEASURES]
sales_branch_daily = _rollup_table("sales_branch_daily", "day")
sales_branch_weekly = _rollup_table("sales_branch_weekly", "week")  # weeks start on Monday
sales_branch_monthly = _rollup_table("sales_branch_monthly", "month")
ROLLUPS = (sales_branch_daily, sales_branch_weekly, sales_branch_monthly)

sales_dealers = Table(
    "sales_dealers",
    metadata,
    Column("dealer_code", String, primary_key=True),
    Column("branch", String, nullable=False),
    Column("region", String, nullable=False),
)

# An invoice's amount per SKU: what a credit note against it is spread over.
invoice_lines = Table(
    "sales_invoice_lines",
    metadata,
    Column("invoice_id", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("category", String, nullable=False),
    Column("dealer_code", String, nullable=False),
    Column("amount", MONEY, nullable=False),
)

credit_notes = Table(
    "sales_credit_notes",
    metadata,
    Column("credit_note_id", String, primary_key=True),
    Column("invoice_id", String, nullable=False, index=True),
    Column("dealer_code", String, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("applied", Boolean, nullable=False),  # false: waiting for its invoice
    Index("sales_credit_notes_waiting", "invoice_id", postgresql_where=text("NOT applied")),
)

sales = Projection(name="sales", metadata=metadata, origins=("orders", "finance"))


# The primary key of each table whose increments a batch gathers.
_KEYS = {
    "sales_daily": ("day", "sku", "dealer_code"),
    "sales_branch_daily": ("day", "branch", "category"),
    "sales_branch_weekly": ("week", "branch", "category"),
    "sales_branch_monthly": ("month", "branch", "category"),
}
_TABLES = {table.name: table for table in (sales_daily, *ROLLUPS)}


_KEY_OF = {table: itemgetter(*keys) for table, keys in _KEYS.items()}
_MEASURE_NAMES = frozenset(MEASURES)
_NOTHING_YET = dict.fromkeys(MEASURES, 0)


def _gather(conn: Connection, table: str, row: dict, measures: dict, sign: int = 1) -> None:
    """Add measures to a row of ``table`` in the batch's buffer (written by ``flush``)."""
    rows = batch_buffer(conn).setdefault(table, {})
    key = _KEY_OF[table](row)
    gathered = rows.get(key)
    if gathered is None:
        gathered = rows[key] = {**row, **_NOTHING_YET}
    for name, value in measures.items():
        if name in _MEASURE_NAMES:
            gathered[name] += sign * value


def _upsert_sql(schema: str, table: Table) -> str:
    columns = [column.name for column in table.columns]
    increments = ", ".join(f"{m} = {table.name}.{m} + excluded.{m}" for m in MEASURES)
    return (
        f'INSERT INTO "{schema}".{table.name} AS {table.name} ({", ".join(columns)}) '
        f"VALUES %s ON CONFLICT ({', '.join(_KEYS[table.name])}) DO UPDATE SET {increments}"
    )


_INVOICE_LINE_TYPES = column_types(
    invoice_lines, ("invoice_id", "sku", "category", "dealer_code", "amount")
)

# Set in the batch buffer when invoice lines were written since the last flush.
_INVOICE_LINES_WRITTEN = "sales_invoice_lines_written"


def _write_invoice_lines(conn: Connection) -> None:
    gathered = batch_buffer(conn).get("sales_invoice_lines")
    if not gathered:
        return
    schema = conn.get_execution_options()["schema_translate_map"][None]
    with conn.connection.dbapi_connection.cursor() as cursor:
        execute_values(
            cursor,
            f'INSERT INTO "{schema}".sales_invoice_lines '
            "(invoice_id, sku, category, dealer_code, amount) VALUES %s ON CONFLICT DO NOTHING",
            list(gathered.values()),
            page_size=1000,
            types=_INVOICE_LINE_TYPES,
        )
    gathered.clear()
    batch_buffer(conn)[_INVOICE_LINES_WRITTEN] = True


@sales.flusher
def flush(conn: Connection) -> None:
    """Write the batch's gathered rows: invoice lines, then credit notes that were waiting
    for those invoices, then the increments, one multi-row upsert per table and page (by
    psycopg2's execute_values: building the statement in SQLAlchemy cost more than running
    it)."""
    _write_invoice_lines(conn)
    # A credit note waits only for its invoice: none can be ready unless this batch wrote
    # invoice lines.
    waiting = []
    if batch_buffer(conn).pop(_INVOICE_LINES_WRITTEN, False):
        waiting = conn.execute(
            select(credit_notes).where(
                ~credit_notes.c.applied,
                select(invoice_lines.c.invoice_id)
                .where(invoice_lines.c.invoice_id == credit_notes.c.invoice_id)
                .exists(),
            )
        ).all()
    for credit in waiting:
        _credit(conn, credit.credit_note_id, credit.invoice_id, credit.issued_on, credit.amount)
    buffer = batch_buffer(conn)
    schema = conn.get_execution_options()["schema_translate_map"][None]
    with conn.connection.dbapi_connection.cursor() as cursor:
        for name, rows in buffer.items():
            if name not in _TABLES or not rows:
                continue
            table = _TABLES[name]
            columns = [column.name for column in table.columns]
            values = [tuple(row[c] for c in columns) for row in rows.values()]
            execute_values(
                cursor,
                _upsert_sql(schema, table),
                values,
                page_size=1000,
                types=column_types(table, columns),
            )
            rows.clear()


def _gathered_early(conn: Connection, dealer_code: str) -> bool:
    rows = batch_buffer(conn).get("sales_daily", {})
    return any(r["dealer_code"] == dealer_code and r["branch"] == "" for r in rows.values())


def _add_rollups(conn: Connection, day: date, branch: str, region: str, rows, sign: int = 1):
    """Add (or with ``sign`` -1 take away) per-SKU measures in the branch roll-ups."""
    for measures in rows:
        keys = {"branch": branch, "region": region, "category": measures["category"]}
        _gather(conn, "sales_branch_daily", {**keys, "day": day}, measures, sign)
        week = day - timedelta(days=day.weekday())
        _gather(conn, "sales_branch_weekly", {**keys, "week": week}, measures, sign)
        _gather(conn, "sales_branch_monthly", {**keys, "month": day.replace(day=1)}, measures, sign)


def _add_rows(conn: Connection, day: date, dealer: str, branch: str, region: str, rows: dict):
    """Add measures per SKU."""
    _add_rollups(conn, day, branch, region, rows.values())
    for sku, measures in rows.items():
        row = {
            "day": day,
            "sku": sku,
            "dealer_code": dealer,
            "category": measures["category"],
            "branch": branch,
            "region": region,
        }
        _gather(conn, "sales_daily", row, measures)


def _dealer_dimensions(conn: Connection, dealer_code: str) -> tuple[str, str]:
    # A dealer's branch never changes once registered: known ones are kept per connection.
    known = conn.info.setdefault("sales_dealer_dimensions", {})
    if dealer_code in known:
        return known[dealer_code]
    row = conn.execute(
        select(sales_dealers.c.branch, sales_dealers.c.region).where(
            sales_dealers.c.dealer_code == dealer_code
        )
    ).first()
    if row is None:
        return ("", "")
    known[dealer_code] = (row.branch, row.region)
    return known[dealer_code]


@sales.on(orders_events.DealerRegistered)
def dealer_registered(
    conn: Connection, envelope: Envelope, event: orders_events.DealerRegistered
) -> None:
    _learn_dealer(conn, event.dealer_code, event.branch, event.region)


def _learn_dealer(conn: Connection, dealer_code: str, branch: str, region: str) -> None:
    """Record a dealer's branch and region, from its registration or from an order that
    names them, whichever arrives first. Rows counted before then (an invoice or credit
    note, on another topic, arriving ahead of both) are moved from the unknown branch to
    the dealer's in the roll-ups, once: afterwards the dealer is known, and every later
    row is counted under its branch from the start."""
    conn.execute(
        insert(sales_dealers)
        .values(dealer_code=dealer_code, branch=branch, region=region)
        .on_conflict_do_nothing()
    )
    if _gathered_early(conn, dealer_code):
        flush(conn)
    early = conn.execute(
        select(sales_daily).where(
            sales_daily.c.dealer_code == dealer_code, sales_daily.c.branch == ""
        )
    ).all()
    for row in early:
        measures = [row._asdict()]
        _add_rollups(conn, row.day, "", "", measures, sign=-1)
        _add_rollups(conn, row.day, branch, region, measures)
    if early:
        flush(conn)
        for table in ROLLUPS:
            conn.execute(
                delete(table).where(table.c.branch == "", *(table.c[m] == 0 for m in MEASURES))
            )
        conn.execute(
            update(sales_daily)
            .where(sales_daily.c.dealer_code == dealer_code, sales_daily.c.branch == "")
            .values(branch=branch, region=region)
        )
    conn.info.setdefault("sales_dealer_dimensions", {})[dealer_code] = (branch, region)


@sales.on(orders_events.OrderPlaced)
def order_placed(conn: Connection, envelope: Envelope, event: orders_events.OrderPlaced) -> None:
    if _dealer_dimensions(conn, event.dealer_code) == ("", ""):
        # The order names its dealer's branch: rows counted before the dealer was known
        # move there first, and this order's rows join them (not a row of no branch).
        _learn_dealer(conn, event.dealer_code, event.branch, event.region)
    rows: dict[str, dict] = {}
    for line in event.lines:
        row = rows.setdefault(
            line.sku,
            {
                "category": line.category,
                "order_lines": 0,
                "ordered_quantity": 0,
                "ordered_amount": Decimal(0),
            },
        )
        row["order_lines"] += 1
        row["ordered_quantity"] += line.quantity
        row["ordered_amount"] += line.amount
    _add_rows(conn, event.business_date, event.dealer_code, event.branch, event.region, rows)


@sales.on(finance_events.InvoiceIssued)
def invoice_issued(
    conn: Connection, envelope: Envelope, event: finance_events.InvoiceIssued
) -> None:
    rows: dict[str, dict] = {}
    for line in event.lines:
        row = rows.setdefault(
            line.sku,
            {"category": line.category, "invoiced_quantity": 0, "invoiced_amount": Decimal(0)},
        )
        row["invoiced_quantity"] += line.quantity
        row["invoiced_amount"] += line.amount
    branch, region = _dealer_dimensions(conn, event.dealer_code)
    _add_rows(conn, event.issue_date, event.dealer_code, branch, region, rows)
    # Gathered: written with the batch. Credit notes that came before this invoice are
    # spread when the batch is written (see ``flush``).
    lines = batch_buffer(conn).setdefault("sales_invoice_lines", {})
    for sku, row in rows.items():
        lines[(event.invoice_id, sku)] = (
            event.invoice_id,
            sku,
            row["category"],
            event.dealer_code,
            row["invoiced_amount"],
        )


@sales.on(finance_events.CreditNoteIssued)
def credit_note_issued(
    conn: Connection, envelope: Envelope, event: finance_events.CreditNoteIssued
) -> None:
    conn.execute(
        insert(credit_notes)
        .values(
            credit_note_id=event.credit_note_id,
            invoice_id=event.invoice_id,
            dealer_code=event.dealer_code,
            issued_on=event.issued_on,
            amount=event.amount,
            applied=bool(event.lines),
        )
        .on_conflict_do_nothing()
    )
    if event.lines:
        # Goods returned: credited per SKU at the prices their invoices charged.
        rows: dict[str, dict] = {}
        for line in event.lines:
            row = rows.setdefault(line.sku, {"category": line.category, "credited_amount": 0})
            row["credited_amount"] += line.amount
        branch, region = _dealer_dimensions(conn, event.dealer_code)
        _add_rows(conn, event.issued_on, event.dealer_code, branch, region, rows)
        return
    _credit(conn, event.credit_note_id, event.invoice_id, event.issued_on, event.amount)


def _credit(conn: Connection, credit_note_id: str, invoice_id: str, day: date, amount) -> None:
    """Spread a credit note over its invoice's SKUs, if the invoice has been seen."""
    gathered = batch_buffer(conn).get("sales_invoice_lines", {})
    if any(key[0] == invoice_id for key in gathered):
        _write_invoice_lines(conn)
    lines = conn.execute(
        select(invoice_lines).where(invoice_lines.c.invoice_id == invoice_id)
    ).all()
    if not lines:
        return  # applied when the invoice arrives
    shares = spread(Decimal(amount), {line.sku: Decimal(line.amount) for line in lines})
    category = {line.sku: line.category for line in lines}
    dealer = lines[0].dealer_code
    branch, region = _dealer_dimensions(conn, dealer)
    rows = {
        sku: {"category": category[sku], "credited_amount": share} for sku, share in shares.items()
    }
    _add_rows(conn, day, dealer, branch, region, rows)
    conn.execute(
        update(credit_notes)
        .where(credit_notes.c.credit_note_id == credit_note_id)
        .values(applied=True)
    )


def spread(amount: Decimal, weights: dict[str, Decimal]) -> dict[str, Decimal]:
    """``amount`` split over ``weights`` in proportion, to the fen, adding up exactly: each
    share is rounded half up and what rounding left over goes to the largest weight."""
    total = sum(weights.values())
    if total == 0:
        largest = max(weights, key=lambda key: (weights[key], key))
        return {key: (amount if key == largest else Decimal("0.00")) for key in weights}
    shares = {
        key: (amount * weight / total).quantize(FEN, rounding=ROUND_HALF_UP)
        for key, weight in weights.items()
    }
    largest = max(weights, key=lambda key: (weights[key], key))
    shares[largest] += amount - sum(shares.values())
    return shares
