"""A monthly report as CSV and XLSX: the same cells as its JSON, money to the fen, a last
row of totals; and which format a request gets."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from projections.reports.formats import ReportFormat, negotiated, to_csv, to_xlsx
from projections.reports.monthly import Column, ColumnType, Report, ReportKind, Scope

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def chengdu_rebate_pools() -> Report:
    columns = [Column("dealer", ColumnType.TEXT), Column("opening"), Column("credited")]
    rows = [
        {"dealer": "CD-001", "opening": Decimal("1234.56"), "credited": Decimal("600.00")},
        {"dealer": "CD-002", "opening": Decimal("0.10"), "credited": Decimal("0.00")},
    ]
    return Report(ReportKind.REBATES, "2026-11", Scope(branch="CD"), columns, rows)


def test_totals_add_up_to_the_fen():
    assert chengdu_rebate_pools().totals == {
        "opening": Decimal("1234.66"),
        "credited": Decimal("600.00"),
    }


def test_csv_is_the_jsons_cells_with_a_totals_row():
    lines = list(csv.reader(io.StringIO(to_csv(chengdu_rebate_pools()).decode("utf-8-sig"))))
    assert lines == [
        ["dealer", "opening", "credited"],
        ["CD-001", "1234.56", "600.00"],
        ["CD-002", "0.10", "0.00"],
        ["total", "1234.66", "600.00"],
    ]


def test_xlsx_holds_money_as_numbers_to_the_fen():
    sheet = load_workbook(io.BytesIO(to_xlsx(chengdu_rebate_pools()))).active
    lines = [list(line) for line in sheet.iter_rows(values_only=True)]
    assert lines[0] == ["dealer", "opening", "credited"]
    assert [Decimal(str(v)).quantize(Decimal("0.01")) for v in lines[-1][1:]] == [
        Decimal("1234.66"),
        Decimal("600.00"),
    ]
    assert sheet.cell(row=2, column=2).number_format == "#,##0.00"


@pytest.mark.parametrize(
    ("requested", "accept", "wanted"),
    [
        (None, None, ReportFormat.JSON),
        (None, "text/csv", ReportFormat.CSV),
        (None, f"text/html, {XLSX};q=0.9", ReportFormat.XLSX),
        (ReportFormat.JSON, "text/csv", ReportFormat.JSON),
        (None, "*/*", ReportFormat.JSON),
    ],
)
def test_format_is_asked_by_parameter_first_then_accept(requested, accept, wanted):
    assert negotiated(requested, accept) == wanted
