"""Bulk import (期初导入): a file of one kind checked in full, then written row by row.

Every import starts with the dry run: each row read by the HTTP command's own schema, then
the whole file checked across rows (a natural key twice) and against what the service knows
(an unknown branch, SKU, dealer, warehouse, policy), and against earlier imports (a row
imported before with other values). One bad row and nothing is written: the report names
every bad row with its line and reason.

Only a clean file is written, and then *resumably per row*, not all-or-nothing: the rows
become commands on many aggregates (one per dealer, per SKU, per account), and an
event-sourced write side has no transaction across aggregates. Each command instead carries
an idempotency key derived from the kind and its natural key (``import:dealers:CD-001``), so
an import cut short (a crash, a lost database) is finished by importing the same file again,
which writes only what is missing and replays the rest; a re-import of a complete file
writes nothing new. A row refused while writing (a rule that changed since the dry run, e.g.
a dealer's business started in between) is reported and leaves every other row written.

Speed: commands of different aggregates run concurrently on a thread pool, so that the
write side's group commit (runtime.eventstore.GroupCommit) puts up to 200 of them in one
transaction; commands on one aggregate (a price list, an account, the organisation) queue in
their lane, in file order.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from runtime.eventstore import IdempotencyKey, IdempotencyKeyConflict
from runtime.http.auth import Principal
from runtime.http.idempotency import execute
from runtime.http.problems import Problem
from runtime.http.schemas import MONEY_PATTERN
from services.imports.kinds import KINDS, Command, Kind, Lookups, Row, commands_of
from services.imports.reading import RowError, SourceRow, Table, UnreadableFile, read_table
from services.kernel.errors import DomainError

# Every import's keys live in one scope, whoever imports: the CLI and an upload of the same
# file by another HQ user are the same import.
KEY_SCOPE = "import"
LOOKUP_CHUNK = 5_000
WRITERS = 32


class UnknownKind(Exception):
    pass


def kind_of(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise UnknownKind(f"no import of {name!r}: one of {', '.join(KINDS)}") from None


@dataclass
class Report:
    """What an import found and did: the summary a user reads, and every bad row."""

    kind: str
    filename: str
    dry_run: bool
    rows: int = 0
    commands: int = 0
    written: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    failed: list[RowError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.filename,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "commands": self.commands,
            "written": self.written,
            "unchanged": self.unchanged,
            "errors": [error.as_dict() for error in self.errors],
            "failed": [error.as_dict() for error in self.failed],
            "seconds": round(self.seconds, 3),
        }

    def lines(self) -> list[str]:
        out = [f"line {e.line}: {_column(e)}{e.reason}" for e in self.errors + self.failed]
        if self.errors:
            out.append(
                f"{self.filename}: {len(self.errors)} bad row(s) of {self.rows}; nothing written"
            )
        elif self.dry_run:
            out.append(
                f"{self.filename}: {self.rows} rows are good ({self.commands} {self.kind} "
                f"to write, {self.unchanged} of them imported before): dry run, nothing written"
            )
        else:
            rate = self.rows / self.seconds if self.seconds else 0.0
            out.append(
                f"{self.filename}: {self.rows} rows, {self.written} {self.kind} written, "
                f"{self.unchanged} imported before, {len(self.failed)} refused, "
                f"in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
            )
        return out


def _column(error: RowError) -> str:
    return f"{error.column}: " if error.column else ""


def fingerprint(kind: Kind, payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"import {kind.name} ".encode() + canonical.encode()).hexdigest()


def key_of(kind: Kind, command: Command) -> IdempotencyKey:
    return IdempotencyKey(
        scope=KEY_SCOPE,
        key=f"import:{kind.name}:{command.key}",
        fingerprint=fingerprint(kind, command.payload),
    )


# -- the dry run (pure, except for the service's answers to lookups) ------------------------


def validate_rows(kind: Kind, table: Table) -> tuple[list[Row], list[RowError]]:
    """Each row read by the kind's schema, then the natural keys checked across the file."""
    bad_lines = {error.line for error in table.errors}
    valid: list[Row] = []
    errors = list(table.errors)
    first_line_of: dict[str, int] = {}
    for source in table.rows:
        if source.line in bad_lines:
            continue
        try:
            row = kind.row.model_validate(_payload(kind, source))
        except ValidationError as error:
            errors += [_row_error(source.line, item) for item in error.errors()]
            continue
        key = kind.key(row)
        if key in first_line_of:
            errors.append(
                RowError(source.line, f"duplicate {key}: line {first_line_of[key]} has it")
            )
            continue
        first_line_of[key] = source.line
        valid.append((source.line, row))
    return valid, errors


def _payload(kind: Kind, source: SourceRow) -> dict[str, Any]:
    """The row as the JSON body the HTTP command would get: blank cells absent (their
    defaults apply), whole numbers where the schema counts."""
    payload: dict[str, Any] = {}
    for name, text in source.values.items():
        if text == "":
            continue
        if name in kind.integers and text.lstrip("-").isdigit() and text.isascii():
            payload[name] = int(text)
        else:
            payload[name] = text
    return payload


def _row_error(line: int, item: Any) -> RowError:
    column = str(item["loc"][0]) if item["loc"] else None
    return RowError(line, _reason(item), column)


def _reason(item: Any) -> str:
    """pydantic's message, said as a person would where the pattern alone would not."""
    value = item.get("input")
    pattern = (item.get("ctx") or {}).get("pattern")
    if item["type"] == "missing":
        return "required"
    if pattern == MONEY_PATTERN and isinstance(value, str):
        if value.startswith("-"):
            return f"{value} is negative: an amount is 0.00 or more"
        if "." in value and len(value.split(".", 1)[1]) > 2:
            return f"{value} has more than 2 decimal places: money is to the fen (0.01)"
        return f"{value!r} is not an amount: digits with at most 2 decimal places (1299.00)"
    if pattern is not None and isinstance(value, str):
        return f"{value!r} is not a code: capitals, digits and '-' (CD-001)"
    message = str(item["msg"]).removeprefix("Value error, ")
    return f"{value!r}: {message}" if isinstance(value, str) else message


def check_references(kind: Kind, rows: list[Row], lookups: Lookups) -> list[RowError]:
    kind.prefetch(lookups, rows)
    errors = []
    for line, row in rows:
        try:
            kind.check(lookups, row)
        except DomainError as error:
            errors.append(RowError(line, error.detail))
    return errors


def check_earlier_imports(
    kind: Kind, commands: list[Command], find: Callable[[list[str]], dict[str, Any]]
) -> tuple[list[Command], int, list[RowError]]:
    """The commands still to write, how many were imported before unchanged, and the rows
    imported before with other values (an import never changes what it wrote: correct it
    with the service's own command)."""
    todo: list[Command] = []
    unchanged = 0
    errors: list[RowError] = []
    for start in range(0, len(commands), LOOKUP_CHUNK):
        chunk = commands[start : start + LOOKUP_CHUNK]
        keys = [key_of(kind, command) for command in chunk]
        stored = find([key.key for key in keys])
        for command, key in zip(chunk, keys, strict=True):
            answer = stored.get(key.key)
            if answer is None:
                todo.append(command)
            elif answer.fingerprint == key.fingerprint:
                unchanged += 1
            else:
                errors += [
                    RowError(line, f"{command.key} was imported before with other values")
                    for line in command.lines
                ]
    return todo, unchanged, errors


def dry_run(kind: Kind, filename: str, data: bytes, app: Any) -> tuple[Report, list[Command]]:
    """Every check, no write: the report, and the commands a clean file would run."""
    started = time.monotonic()
    report = Report(kind=kind.name, filename=filename, dry_run=True)
    try:
        table = read_table(filename, data, columns=kind.columns, required=kind.required)
    except UnreadableFile as error:
        report.errors.append(RowError(1, str(error)))
        return report, []
    report.rows = len({r.line for r in table.rows} | {e.line for e in table.errors})
    rows, errors = validate_rows(kind, table)
    errors += check_references(kind, rows, Lookups(app))
    bad = {error.line for error in errors}
    commands, group_errors = commands_of(kind, [(line, r) for line, r in rows if line not in bad])
    errors += [RowError(line, reason) for line, reason in group_errors]
    todo, report.unchanged, earlier = check_earlier_imports(
        kind, commands, lambda keys: app.find_answers(KEY_SCOPE, keys)
    )
    errors += earlier
    report.errors = sorted(errors, key=lambda e: e.line)
    report.commands = len(commands)
    report.seconds = time.monotonic() - started
    return report, todo


# -- the import ------------------------------------------------------------------------------


def run_import(
    kind: Kind,
    filename: str,
    data: bytes,
    app: Any,
    principal: Principal,
    *,
    dry: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Report:
    """The dry run; then, for a clean file and unless ``dry``, the writes, calling
    ``progress(commands done, commands to do)`` as they finish."""
    started = time.monotonic()
    report, todo = dry_run(kind, filename, data, app)
    if report.errors or dry:
        return report
    report.dry_run = False
    lanes: dict[str | None, list[Command]] = {}
    for command in todo:
        lanes.setdefault(command.lane, []).append(command)
    # Unlaned commands run concurrently (in batches where the kind has them); a lane's
    # commands run in order, one batch or command after another.
    loose = lanes.pop(None, [])
    size = kind.batch_size if kind.batch else 1
    units = [loose[i : i + size] for i in range(0, len(loose), size)] + list(lanes.values())
    done = 0
    progress(0, len(todo))
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="import") as pool:
        futures = [pool.submit(_write_unit, kind, unit, app, principal) for unit in units]
        for future in as_completed(futures):
            for written, failure in future.result():
                done += 1
                report.written += written
                if failure is not None:
                    report.failed.append(failure)
            progress(done, len(todo))
    report.failed.sort(key=lambda e: e.line)
    report.seconds = time.monotonic() - started
    return report


def _write_unit(
    kind: Kind, unit: list[Command], app: Any, principal: Principal
) -> list[tuple[int, RowError | None]]:
    if kind.batch is None:
        return _write_lane(kind, unit, app, principal)
    results = []
    for start in range(0, len(unit), kind.batch_size):
        chunk = unit[start : start + kind.batch_size]
        items = [(command.row, principal, key_of(kind, command)) for command in chunk]
        try:
            kind.batch(app, items)
        except (DomainError, IntegrityError, IdempotencyKeyConflict):
            # Something of the batch was written meanwhile or breaks a rule: each command
            # on its own, with its own answer or refusal.
            results += _write_lane(kind, chunk, app, principal)
        else:
            results += [(1, None)] * len(chunk)
    return results


def _write_lane(
    kind: Kind, queue: list[Command], app: Any, principal: Principal
) -> list[tuple[int, RowError | None]]:
    results = []
    for command in queue:
        key = key_of(kind, command)
        try:
            result = execute(app, key, lambda k, c=command: c.run(app, principal, k))
        except DomainError as error:
            results.append((0, RowError(command.lines[0], f"refused: {error.detail}")))
        except Problem as problem:
            results.append((0, RowError(command.lines[0], f"refused: {problem.detail}")))
        else:
            results.append((0 if result.replayed else 1, None))
    return results


def application_for(kind: Kind, settings: Any) -> Any:
    """The write-side application of the service that owns the kind, in this process (the
    CLI's import talks to the service's event store as the service itself does)."""
    if kind.service == "orders":
        from services.orders.application import OrdersApplication as application_class
    elif kind.service == "inventory":
        from services.inventory.application import InventoryApplication as application_class
    else:
        from services.finance.application import FinanceApplication as application_class
    return application_class(settings)
