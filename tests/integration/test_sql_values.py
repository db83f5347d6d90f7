"""The projectors' VALUES lists (projections.sql_values) read back exactly as psycopg2's
mogrify would have written them, and refuse what psycopg2 refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import psycopg2
import pytest

from projections.sql_values import execute_values, values_sql

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
