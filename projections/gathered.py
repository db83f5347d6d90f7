"""Writes a batch gathers per row and writes in one multi-row upsert per table, before the
batch commits: what makes a projector (and a rebuild) cost a few statements per poll rather
than a few per event.

A ``Gathered`` table says, per column, how two writes to the same row within a batch (and a
write to a row already in the table) combine:

- ``add``: the increments add up (totals, quantities, deltas);
- ``first``: the first value stays (facts inserted once, keyed by their document);
- every other column: the latest value wins (settings that come in order from one aggregate).

Only writes that commute with everything else the batch does may be gathered: appliers that
read the read model must not depend on a gathered row (or must flush first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table

from projections.sql_values import column_types, execute_values
from projections.tracking import Projection, batch_buffer


@dataclass(frozen=True, eq=False)
class Gathered:
    table: Table
    key: tuple[str, ...]
    add: frozenset[str] = frozenset()
    first: frozenset[str] = frozenset()

    def gather(self, conn: Connection, **row: Any) -> None:
        """Merge ``row`` into the batch's row of the same key."""
        rows = batch_buffer(conn).setdefault(self, {})
        key = tuple(row[k] for k in self.key)
        gathered = rows.get(key)
        if gathered is None:
            rows[key] = row
            return
        for name, value in row.items():
            if name not in gathered:
                gathered[name] = value
            elif name in self.add:
                gathered[name] += value
            elif name not in self.first:
                gathered[name] = value

    def pending(self, conn: Connection) -> Iterable[dict[str, Any]]:
        """The rows gathered so far in this batch (to amend before they are written)."""
        return batch_buffer(conn).get(self, {}).values()

    def _statement(self, schema: str, columns: tuple[str, ...]) -> str:
        name = self.table.name
        updates = [
            f"{c} = {name}.{c} + excluded.{c}" if c in self.add else f"{c} = excluded.{c}"
            for c in columns
            if c not in self.key and c not in self.first
        ]
        conflict = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        return (
            f'INSERT INTO "{schema}".{name} AS {name} ({", ".join(columns)}) VALUES %s '
            f"ON CONFLICT ({', '.join(self.key)}) {conflict}"
        )

    def write(self, conn: Connection) -> None:
        """Write the gathered rows: one statement per set of columns, in key order (so that
        two projector replicas writing the same rows lock them in the same order)."""
        rows = batch_buffer(conn).pop(self, None)
        if not rows:
            return
        batch_buffer(conn).setdefault(_WRITTEN, set()).add(self)
        schema = conn.get_execution_options()["schema_translate_map"][None]
        shapes: dict[tuple[str, ...], list[tuple]] = {}
        for key in sorted(rows):
            row = rows[key]
            columns = tuple(sorted(row))
            shapes.setdefault(columns, []).append(tuple(row[c] for c in columns))
        with conn.connection.dbapi_connection.cursor() as cursor:
            for columns, values in shapes.items():
                execute_values(
                    cursor,
                    self._statement(schema, columns),
                    values,
                    page_size=1000,
                    types=column_types(self.table, columns),
                )


# The batch buffer's key of the Gathered tables written so far in the batch.
_WRITTEN = "gathered_written"


def written(conn: Connection, *specs: Gathered) -> bool:
    """Whether this batch has written rows to any of ``specs``' tables so far (a flusher
    that only follows up on such rows skips its statement when none were)."""
    done = batch_buffer(conn).get(_WRITTEN, set())
    return any(spec in done for spec in specs)


def gathered(
    projection: Projection,
    table: Table,
    *,
    add: Iterable[str] = (),
    first: Iterable[str] = (),
) -> Gathered:
    """Declare that ``projection`` gathers its writes to ``table`` (keyed by the primary
    key); they are written when the batch ends, in the order they were declared."""
    key = tuple(column.name for column in table.primary_key.columns)
    spec = Gathered(table, key, frozenset(add), frozenset(first))
    projection.flusher(spec.write)
    return spec


__all__ = ["Gathered", "gathered", "written"]
