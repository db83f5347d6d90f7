"""The projectors' VALUES lists (projections.sql_values) read back exactly as psycopg2's
mogrify would have written them, and refuse what psycopg2 refuses; so do the same rows sent
as one array per column."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg2
import pytest
from sqlalchemy import Column, DateTime, MetaData, Numeric, String, Table

from projections.sql_values import column_types, execute_values, values_sql

pytestmark = pytest.mark.integration

CST = timezone(timedelta(hours=8))
SAMPLES = [
    "WULIANGYE-52-500ML",
    "成都锦江酒业有限公司",
    "O'Brien's \\ backslash; DROP TABLE x; --",
    "",
    0,
    120,
    -24,
    2**62,
    True,
    False,
    None,
    Decimal("103800.00"),
    Decimal("-865.00"),
    Decimal("0.01"),
    Decimal("1E+2"),
    Decimal("NaN"),
    date(2026, 11, 2),
    datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
    datetime(2026, 11, 20, 10, 0, 30, 123456, tzinfo=CST),
    datetime(2026, 11, 20, 2, 0),
    [1, 2],  # not one of ours: mogrify's
]


@pytest.fixture
def cursor(settings):
    conn = psycopg2.connect(settings.postgres().dsn())
    try:
        with conn.cursor() as curs:
            yield curs
    finally:
        conn.close()


def test_every_value_is_written_as_psycopg2_writes_it(cursor):
    for value in SAMPLES:
        assert values_sql(cursor, [(value,)]) == cursor.mogrify("(%s)", (value,)).decode()


def test_every_value_reads_back_as_it_went_in(cursor):
    row = tuple(SAMPLES)
    cursor.execute(f"SELECT * FROM (VALUES {values_sql(cursor, [row])}) AS v")
    read = cursor.fetchone()
    for sent, got in zip(row, read, strict=True):
        if isinstance(sent, Decimal) and sent.is_nan():
            assert got.is_nan()
        else:
            assert got == sent, (sent, got)


def test_pages_and_returned_rows(cursor):
    cursor.execute("CREATE TEMP TABLE received (sku text PRIMARY KEY, quantity bigint)")
    rows = [(f"WULIANGYE-52-{n:03d}", n) for n in range(250)]
    inserted = execute_values(
        cursor,
        "INSERT INTO received (sku, quantity) VALUES %s ON CONFLICT DO NOTHING RETURNING sku",
        rows + rows[:10],
        page_size=100,
        fetch=True,
    )
    assert sorted(sku for (sku,) in inserted) == sorted(sku for sku, _ in rows)
    cursor.execute("SELECT count(*), sum(quantity) FROM received")
    assert cursor.fetchone() == (250, sum(range(250)))


def test_a_nul_character_is_refused_not_cut_short(cursor):
    with pytest.raises(ValueError, match="NUL"):
        values_sql(cursor, [("WH-CD\x00'); DROP TABLE x; --",)])


def test_without_standard_conforming_strings_psycopg2_quotes_every_value(cursor):
    cursor.execute("SET standard_conforming_strings = off")
    value = "O'Brien \\ 成都"
    assert values_sql(cursor, [(value, 7)]) == cursor.mogrify("(%s,%s)", (value, 7)).decode()
    cursor.execute(f"SELECT * FROM (VALUES {values_sql(cursor, [(value,)])}) AS v")
    assert cursor.fetchone() == (value,)


def test_one_placeholder_only(cursor):
    with pytest.raises(ValueError, match="exactly one"):
        execute_values(cursor, "INSERT INTO t VALUES %s RETURNING %s", [(1,)])


# The same rows sent as one array per column (execute_values with types).
ARRAY_COLUMNS = (
    (
        "dealer_code",
        "varchar",
        ["CD-JINJIANG-001", "成都锦江酒业有限公司", 'say "干杯" \\ now', "", None],
    ),
    ("quantity", "bigint", [0, 120, -24, 2**62, None]),
    ("shipped", "boolean", [True, False, True, False, None]),
    (
        "amount",
        "numeric(20, 2)",
        [Decimal("103800.00"), Decimal("-865.00"), Decimal("0.01"), Decimal("1E+2"), None],
    ),
    (
        "ship_date",
        "date",
        [date(2026, 11, 2), date(2026, 2, 28), date(1, 1, 1), date(9999, 12, 31), None],
    ),
)
ARRAY_TYPES = tuple(sql_type for _, sql_type, _ in ARRAY_COLUMNS)


@pytest.fixture
def shipments(cursor):
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in ARRAY_COLUMNS)
    cursor.execute(f"CREATE TEMP TABLE shipments (n serial PRIMARY KEY, {columns})")
    names = ", ".join(name for name, _, _ in ARRAY_COLUMNS)
    return f"INSERT INTO shipments ({names}) VALUES %s RETURNING n"


def test_arrays_read_back_as_the_values_went_in(cursor, shipments):
    rows = list(zip(*(values for _, _, values in ARRAY_COLUMNS), strict=True))
    returned = execute_values(cursor, shipments, rows, fetch=True, types=ARRAY_TYPES)
    assert b"unnest(" in cursor.query and b"VALUES" not in cursor.query
    assert len(returned) == len(rows)
    cursor.execute(
        "SELECT dealer_code, quantity, shipped, amount, ship_date FROM shipments ORDER BY n"
    )
    assert cursor.fetchall() == rows


def test_arrays_keep_the_rows_order_and_pages(cursor, shipments):
    rows = [(f"CD-{n:04d}", n, n % 2 == 0, Decimal(n) / 100, date(2026, 11, 2)) for n in range(250)]
    execute_values(cursor, shipments, rows, page_size=100, types=ARRAY_TYPES)
    cursor.execute("SELECT dealer_code, quantity FROM shipments ORDER BY n")
    assert cursor.fetchall() == [row[:2] for row in rows]


def test_whole_columns_of_one_type_read_back_too(cursor, shipments):
    # No NULLs: each column is one type, joined whole, escaped only where it must be.
    rows = [
        ("CD-JINJIANG-001", 12, True, Decimal("865.00"), date(2026, 11, 2)),
        ('say "干杯"', -3, False, Decimal("1E+2"), date(2026, 11, 3)),
        ("C:\\酒\\", 2**62, True, Decimal("-0.01"), date(2026, 11, 4)),
    ]
    for page in (rows[:1], rows):
        cursor.execute("TRUNCATE shipments")
        execute_values(cursor, shipments, page, types=ARRAY_TYPES)
        assert b"unnest(" in cursor.query
        cursor.execute("SELECT dealer_code, quantity, shipped, amount, ship_date FROM shipments")
        assert sorted(cursor.fetchall()) == sorted(page)


def test_a_value_no_array_carries_sends_its_page_as_values(cursor):
    cursor.execute("CREATE TEMP TABLE amounts (n serial, amount numeric, at timestamptz)")
    statement = "INSERT INTO amounts (amount, at) VALUES %s"
    at = datetime(2026, 11, 20, 10, 0, tzinfo=CST)
    rows = [(Decimal("NaN"), None), (Decimal("0.01"), at), (Decimal("865.00"), None)]
    types = ("numeric", "timestamptz")
    execute_values(cursor, statement, rows[:1], types=types)
    assert b"VALUES" in cursor.query and b"unnest(" not in cursor.query
    execute_values(cursor, statement, rows[1:], page_size=1, types=types)
    assert b"unnest(" in cursor.query  # the last page, (865.00, NULL), went as arrays
    cursor.execute("SELECT amount, at FROM amounts ORDER BY n")
    (nan, _), *rest = cursor.fetchall()
    assert nan.is_nan() and rest == rows[1:]


def test_column_types_only_for_columns_an_array_carries():
    table = Table(
        "shipments",
        MetaData(),
        Column("dealer_code", String),
        Column("amount", Numeric(20, 2)),
        Column("confirmed_at", DateTime(timezone=True)),
    )
    assert column_types(table, ["dealer_code", "amount"]) == ("VARCHAR", "NUMERIC(20, 2)")
    assert column_types(table, ["dealer_code", "confirmed_at"]) is None


def test_arrays_refuse_a_nul_character(cursor, shipments):
    with pytest.raises(ValueError, match="NUL"):
        execute_values(cursor, shipments, [("WH-CD\x00", 1, True, None, None)], types=ARRAY_TYPES)


def test_arrays_need_values_after_the_columns(cursor):
    with pytest.raises(ValueError, match="VALUES %s"):
        execute_values(cursor, "INSERT INTO t SELECT %s", [(1,)], types=("bigint",))
