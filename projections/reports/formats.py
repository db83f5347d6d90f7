"""A report as a download: CSV (UTF-8 with a byte-order mark, so that Excel reads the
Chinese codes) or XLSX (openpyxl; money as numbers to the fen, so sums in the sheet work).
Both are a header row of column names, a row per item, and a last row of totals whose first
cell is ``total``."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from enum import StrEnum
from typing import Any

from openpyxl import Workbook

from projections.reports.monthly import ColumnType, Report, shown

TOTAL = "total"


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


MEDIA_TYPES = {
    ReportFormat.JSON: "application/json",
    ReportFormat.CSV: "text/csv; charset=utf-8",
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def negotiated(requested: ReportFormat | None, accept: str | None) -> ReportFormat:
    """``format=`` when given, else the first download type ``Accept`` names, else JSON."""
    if requested is not None:
        return requested
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip()
        for kind in (ReportFormat.CSV, ReportFormat.XLSX):
            if media == MEDIA_TYPES[kind].split(";")[0]:
                return kind
    return ReportFormat.JSON


def file_name(report: Report, kind: ReportFormat) -> str:
    return f"{report.kind.value}-{report.month}-{report.scope.label}.{kind.value}"


def _lines(report: Report) -> list[list[Any]]:
    """The header, the items and the totals, each cell as the query API shows it."""
    names = [c.name for c in report.columns]
    lines = [names]
    lines += [[shown(c, row[c.name]) for c in report.columns] for row in report.rows]
    totals = [shown(c, report.totals[c.name]) if c.summed else None for c in report.columns[1:]]
    return [*lines, [TOTAL, *totals]]


def to_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for line in _lines(report):
        writer.writerow(["" if cell is None else cell for cell in line])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(report: Report) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"{report.kind.value} {report.month}"
    money = {
        i
        for i, c in enumerate(report.columns)
        if c.type in (ColumnType.MONEY, ColumnType.UNIT_COST)
    }
    for number, line in enumerate(_lines(report)):
        if number:  # money as a number shown to the fen, not as text
            line = [Decimal(v) if i in money and v is not None else v for i, v in enumerate(line)]
        sheet.append(line)
        if number:
            for i in money:
                sheet.cell(row=number + 1, column=i + 1).number_format = "#,##0.00"
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
