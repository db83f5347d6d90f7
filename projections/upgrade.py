"""Read models follow the code that reads them.

A read model's tables are created by ``create_all``, which makes a missing table and never
touches one that exists. So after an upgrade that changes a read model (a column added or
retyped, an index, a new table whose rows the others imply), the old tables would stay as
they were, and the queries of the new code would fail on them or, worse, read a table that
was never filled. ``upgrade`` runs with ``dist migrate`` (and before ``dist run`` starts its
processes) and compares, read model by read model:

- its **shape**: every column (name, type, nullability, default), index and constraint of
  its tables as PostgreSQL's catalogue describes them, against the same description of the
  tables its code declares (created in a scratch schema inside a transaction that is rolled
  back, so the comparison is PostgreSQL's own and needs no record of what was there);
- its **version** (``Projection.version``, in ``read_model_versions``): raised by hand when
  what an applier writes changes while the tables keep their shape (a bug fixed in a sum).

A read model that differs in either is rebuilt from the topics (projections/rebuild.py:
dropped and replayed through the live handler, in place), and its version recorded. One
with no tables and no tracking is new: it is created empty and recorded. One that agrees is
left alone. A read model is a pure function of the topics, so a rebuild loses nothing; it
takes as long as its replay (16-136 s per read model at 1M events, docs/architecture.md).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select

from projections.tracking import (
    Projection,
    create_tables,
    create_tracking,
    processed,
    read_model_versions,
    record_version,
)
from runtime.settings import Settings

log = logging.getLogger(__name__)

# What PostgreSQL says each table is made of (its schema's name is taken out in Python).
_SHAPE = """
SELECT c.relname AS object, 'column ' || a.attname AS part,
       format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') AS definition
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE n.nspname = :schema AND c.relname = ANY(:tables) AND c.relkind = 'r'
   AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT tablename, 'index ' || indexname, indexdef
  FROM pg_indexes
 WHERE schemaname = :schema AND tablename = ANY(:tables)
UNION ALL
SELECT c.relname, 'constraint ' || k.conname, pg_get_constraintdef(k.oid)
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = :schema AND c.relname = ANY(:tables)
   AND k.contype <> 'n'  -- PostgreSQL 18's NOT NULL constraints: the columns say them
"""


def shape(conn: Connection, schema: str, tables: list[str]) -> dict[tuple[str, str], str]:
    """Each part of the named tables in ``schema``: (table, 'column x' / 'index y' /
    'constraint z') -> its definition."""
    rows = conn.exec_driver_sql(
        _SHAPE.replace(":schema", "%(schema)s").replace(":tables", "%(tables)s"),
        {"schema": schema, "tables": tables},
    )
    qualified = (f'"{schema}".', f"{schema}.")  # in index definitions, serials' sequences

    def unqualified(definition: str) -> str:
        for prefix in qualified:
            definition = definition.replace(prefix, "")
        return definition

    return {(row.object, row.part): unqualified(row.definition) for row in rows}


def declared_shape(conn: Connection, projection: Projection) -> dict[tuple[str, str], str]:
    """The shape of the tables the code declares: created in a scratch schema and described
    the same way, then dropped with the savepoint (PostgreSQL's DDL is transactional)."""
    scratch = f"shape_{uuid.uuid4().hex[:12]}"
    tables = [table.name for table in projection.metadata.sorted_tables]
    live = conn.get_execution_options()["schema_translate_map"]
    with conn.begin_nested() as savepoint:
        conn.exec_driver_sql(f'CREATE SCHEMA "{scratch}"')
        # A connection's options change in place: the live schema's map is put back.
        conn.execution_options(schema_translate_map={None: scratch})
        try:
            projection.metadata.create_all(conn)
        finally:
            conn.execution_options(schema_translate_map=live)
        declared = shape(conn, scratch, tables)
        savepoint.rollback()
    return declared


def differences(live: dict, declared: dict) -> list[str]:
    """What the live tables lack, have in excess, or define otherwise, one line each."""
    lines = []
    live_tables = {table for table, _ in live}
    missing = sorted({table for table, _ in declared} - live_tables)
    lines += [f"{table}: the table is missing" for table in missing]
    for key in sorted(live.keys() | declared.keys()):
        table, part = key
        if table in missing:
            continue
        if key not in live:
            lines.append(f"{table}: {part} is missing")
        elif key not in declared:
            lines.append(f"{table}: {part} is no longer declared")
        elif live[key] != declared[key]:
            lines.append(f"{table}: {part} is {live[key]!r}, declared {declared[key]!r}")
    return lines


class OutdatedReadModel(RuntimeError):
    pass


@dataclass(frozen=True)
class Verdict:
    projection: str
    action: str  # "current" | "created" | "rebuilt"
    reasons: tuple[str, ...] = ()


def outdated(engine: Engine, schema: str, projection: Projection) -> list[str] | None:
    """Why the read model in ``schema`` is not the one the code declares (empty when it
    is), or None when it does not exist yet (no tables, nothing tracked)."""
    tables = [table.name for table in projection.metadata.sorted_tables]
    with engine.begin() as conn:
        create_tracking(conn, schema)
        live = shape(conn, schema, tables)
        tracked = conn.execute(
            select(processed.c.position).where(processed.c.projection == projection.name).limit(1)
        ).first()
        if not live and tracked is None:
            return None
        reasons = differences(live, declared_shape(conn, projection))
        recorded = conn.execute(
            select(read_model_versions.c.version).where(
                read_model_versions.c.projection == projection.name
            )
        ).scalar_one_or_none()
    recorded = recorded or 1  # built before versions were recorded: version 1
    if recorded != projection.version:
        reasons.append(f"version {recorded} is built, this code reads {projection.version}")
    return reasons


def upgrade(
    settings: Settings, engine: Engine, projections: tuple[Projection, ...]
) -> list[Verdict]:
    """Bring every read model of the live schema to the code's shape and version."""
    from projections.rebuild import rebuild  # it imports every read model

    schema = settings.projections_schema
    verdicts = []
    for projection in projections:
        reasons = outdated(engine, schema, projection)
        if reasons is None:
            create_tables(engine, schema, projection)
            record_version(engine, projection)
            verdicts.append(Verdict(projection.name, "created"))
        elif not reasons:
            verdicts.append(Verdict(projection.name, "current"))
        elif not settings.kafka_bootstrap_servers:
            raise OutdatedReadModel(
                f"read model {projection.name} must be rebuilt from the topics "
                f"({'; '.join(reasons)}), and no Kafka broker is configured"
            )
        else:
            log.warning(
                "read model %s is not the one this code reads (%s): rebuilding it from the topics",
                projection.name,
                "; ".join(reasons),
            )
            summary = rebuild(settings, projection.name, progress=False)  # records the version
            for line in summary.lines():
                log.warning("%s", line)
            verdicts.append(Verdict(projection.name, "rebuilt", tuple(reasons)))
    return verdicts
