"""Reading an import file (CSV or XLSX) into rows of text, each with the line a user sees in
a spreadsheet (the header is line 1), refusing what the import cannot take at face value: a
formula (its cached result may be stale or absent) and a merged cell (which row owns it?).

Pure: bytes in, rows and row errors out. The values stay text, exactly as typed, so that the
same schemas the HTTP commands use decide what they mean.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException


@dataclass(frozen=True)
class RowError:
    """Why one row of the file cannot be imported (line 1 is the header)."""

    line: int
    reason: str
    column: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """As every 422 names a field (``path``, ``message``), with the line and column."""
        path = f"file.line.{self.line}" + (f".{self.column}" if self.column else "")
        return {"path": path, "message": self.reason, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class SourceRow:
    line: int
    values: dict[str, str]


@dataclass
class Table:
    rows: list[SourceRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


class UnreadableFile(Exception):
    """Not a CSV or XLSX the import can read at all (no row to blame)."""


def read_table(
    filename: str, data: bytes, *, columns: tuple[str, ...], required: tuple[str, ...] = ()
) -> Table:
    """The rows of a CSV (UTF-8, comma-separated) or an XLSX (its first sheet), with their
    header checked against ``columns`` (none unknown) and ``required`` (each present)."""
    if filename.lower().endswith(".xlsx"):
        header, rows, errors = _read_xlsx(data)
    elif filename.lower().endswith(".csv"):
        header, rows, errors = _read_csv(data)
    else:
        raise UnreadableFile(f"{filename}: an import reads .csv or .xlsx files")
    _check_header(header, columns, required)
    table = Table(errors=errors)
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line: nothing to import, nothing wrong
        if len(cells) > len(header):
            table.errors.append(RowError(line, f"{len(cells)} cells for {len(header)} columns"))
            continue
        values = {name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(header)}
        table.rows.append(SourceRow(line, values))
    return table


def _check_header(header: list[str], columns: tuple[str, ...], required: tuple[str, ...]) -> None:
    if not header:
        raise UnreadableFile("the file is empty: line 1 names the columns")
    missing = [name for name in required if name not in header]
    if missing:
        raise UnreadableFile(f"line 1 lacks the column(s) {', '.join(missing)}")
    unknown = [name for name in header if name not in columns]
    if unknown:
        raise UnreadableFile(
            f"unknown column(s) {', '.join(unknown)}: the columns are {', '.join(columns)}"
        )
    if len(set(header)) != len(header):
        raise UnreadableFile("a column is named twice in line 1")


def _read_csv(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]], list[RowError]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in next(reader, [])]
        rows = [(reader.line_num, cells) for cells in reader]
    except csv.Error as error:
        raise UnreadableFile(f"line {reader.line_num}: {error}") from None
    return header, rows, []


def _read_xlsx(data: bytes) -> tuple[list[str], list[tuple[int, list[str]]], list[RowError]]:
    try:
        # Not read-only: only a full workbook knows its merged cells. data_only=False keeps
        # a formula as its text, so it is seen and refused rather than read as a stale value.
        book = load_workbook(io.BytesIO(data), data_only=False)
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        KeyError,
        OSError,
        ValueError,
        TypeError,
        IndexError,
        SyntaxError,  # xml.etree's ParseError: a part of the workbook is not XML
    ) as error:
        # A file named .xlsx that is not one, or a damaged one, is the user's file to fix.
        raise UnreadableFile(f"not an XLSX workbook ({type(error).__name__}: {error})") from None
    sheet = book.worksheets[0]
    errors = [
        RowError(line, f"merged cells {merged.coord}: give every row its own value")
        for merged in sheet.merged_cells.ranges
        for line in range(max(merged.min_row, 2), merged.max_row + 1)
    ]
    header: list[str] = []
    rows: list[tuple[int, list[str]]] = []
    for line, cells in enumerate(sheet.iter_rows(), start=1):
        if line == 1:
            header = [_text(cell.value).strip() for cell in cells]
            while header and not header[-1]:
                header.pop()
            continue
        texts = []
        for cell in cells:
            if cell.data_type == "f":
                errors.append(
                    RowError(
                        line,
                        f"cell {cell.coordinate} holds a formula ({cell.value}): type the value",
                        header[cell.column - 1] if cell.column <= len(header) else None,
                    )
                )
            texts.append(_text(cell.value))
        while texts and not texts[-1]:
            texts.pop()
        rows.append((line, texts))
    return header, rows, errors


def _text(value: Any) -> str:
    """A cell as the text the user meant: a number as written (no float noise), a date cell
    as YYYY-MM-DD (an Excel date is a date, whatever its display format)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value)
