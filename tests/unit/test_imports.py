"""Bulk import's dry run without a database: every bad row of a CSV or an XLSX reported with
its line and reason, by the HTTP commands' own schemas and the file's cross-row checks. The
lookups of what the service knows are answered by a small stand-in (logic only)."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from services.imports.application import dry_run, kind_of
from services.organisation.domain import unknown_branch

DEALERS = kind_of("dealers")


class KnownOrganisation:
    """The orders application as the dealers' checks ask it: its organisation, and no
    earlier import."""

    def __init__(self, branches: dict[str, str]) -> None:
        self.branches = branches

    def organisation(self) -> object:
        branches = self.branches

        class _Found:
            regions = set(branches.values())

            def check_branch(self, branch: str, region: str | None = None) -> None:
                if branch not in branches or (region and branches[branch] != region):
                    raise unknown_branch(branch)

        return _Found()

    def find_answers(self, scope: str, keys: list[str]) -> dict:
        return {}


APP = KnownOrganisation({"CD": "SOUTHWEST", "CQ": "SOUTHWEST"})


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def xlsx_bytes(rows: list[list[object]], *, merge: str | None = None) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    if merge:
        sheet.merge_cells(merge)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def reasons(report) -> dict[int, str]:
    return {e.line: f"{e.column or ''} {e.reason}".strip() for e in report.errors}


HEADER = "code,name,branch,region,grade"


class TestDealersCsv:
    def test_a_clean_file_becomes_one_command_per_dealer(self):
        report, commands = dry_run(
            DEALERS,
            "dealers.csv",
            csv_bytes(
                HEADER,
                "CD-001,Jinjiang Wine Trading,CD,SOUTHWEST,tier1_distributor",
                "CQ-001,Yuzhong Spirits Co.,CQ,SOUTHWEST,tier2_distributor",
            ),
            APP,
        )
        assert report.errors == [] and report.rows == 2
        assert [c.key for c in commands] == ["CD-001", "CQ-001"]

    def test_every_bad_row_is_reported_with_its_line(self):
        report, commands = dry_run(
            DEALERS,
            "dealers.csv",
            csv_bytes(
                HEADER,
                "CD-001,Jinjiang Wine Trading,CD,SOUTHWEST,tier1_distributor",
                "CD-002,Wuhou Liquor Wholesale,XA,SOUTHWEST,tier1_distributor",
                "CD-001,Jinjiang again,CD,SOUTHWEST,tier1_distributor",
                "cd 003,Qingyang Banquet,CD,SOUTHWEST,tier1_distributor",
                "CD-004,Chenghua Group,CD,SOUTHWEST,platinum",
                ",No code,CD,SOUTHWEST,group_buy",
            ),
            APP,
        )
        found = reasons(report)
        assert set(found) == {3, 4, 5, 6, 7}
        assert "XA" in found[3]
        assert "duplicate CD-001: line 2 has it" in found[4]
        assert found[5].startswith("code") and "not a code" in found[5]
        assert found[6].startswith("grade")
        assert found[7] == "code required"

    def test_an_unknown_column_refuses_the_file(self):
        report, _ = dry_run(DEALERS, "d.csv", csv_bytes(HEADER + ",credit", "x"), APP)
        assert "unknown column(s) credit" in report.errors[0].reason


class TestMoneyAndDates:
    def test_three_decimals_negative_cost_and_a_date_in_the_wrong_format(self):
        kind = kind_of("opening-stock")

        class Stock:
            def get_warehouse(self, code):
                return code

            def check_skus(self, skus):
                return None

            def find_answers(self, scope, keys):
                return {}

        report, _ = dry_run(
            kind,
            "stock.csv",
            csv_bytes(
                "warehouse_code,document_number,cut_over_date,sku,quantity,unit_cost",
                "WH-CD,OB-WH-CD-001,2026-09-30,WULIANGYE-52-500ML,120,689.50",
                "WH-CD,OB-WH-CD-001,2026-09-30,GUOJIAO-1573-500ML,24,-5.00",
                "WH-CD,OB-WH-CD-001,2026-09-30,JIANNANCHUN-52-500ML,60,402.125",
                "WH-CD,OB-WH-CD-002,30/09/2026,LANGJIU-53-500ML,10,300.00",
                "WH-CD,OB-WH-CD-002,2026-09-30,LANGJIU-53-500ML,1.5,300.00",
            ),
            Stock(),
        )
        found = reasons(report)
        assert set(found) == {3, 4, 5, 6}
        assert "negative" in found[3]
        assert "more than 2 decimal places" in found[4]
        assert found[5].startswith("cut_over_date") and "YYYY-MM-DD" in found[5]
        assert found[6].startswith("quantity")

    def test_a_re_import_with_other_values_is_refused(self):
        from services.imports.application import fingerprint

        class ImportedBefore(KnownOrganisation):
            def find_answers(self, scope, keys):
                from runtime.eventstore import StoredAnswer

                other = fingerprint(DEALERS, {"code": "CD-001", "name": "Old name"})
                return {"import:dealers:CD-001": StoredAnswer(other, 201, {}, 1)}

        report, _ = dry_run(
            DEALERS,
            "dealers.csv",
            csv_bytes(HEADER, "CD-001,Jinjiang Wine Trading,CD,SOUTHWEST,tier1_distributor"),
            ImportedBefore(APP.branches),
        )
        assert reasons(report) == {2: "CD-001 was imported before with other values"}


class TestXlsx:
    def test_a_clean_sheet_reads_like_the_csv(self):
        data = xlsx_bytes(
            [HEADER.split(","), ["CD-001", "Jinjiang Wine Trading", "CD", "SOUTHWEST", "group_buy"]]
        )
        report, commands = dry_run(DEALERS, "dealers.xlsx", data, APP)
        assert report.errors == [] and [c.key for c in commands] == ["CD-001"]

    def test_a_formula_and_a_merged_cell_are_refused_row_by_row(self):
        data = xlsx_bytes(
            [
                HEADER.split(","),
                ["CD-001", "Jinjiang Wine Trading", "CD", "SOUTHWEST", "tier1_distributor"],
                ["CD-002", '=CONCAT("Wuhou"," Liquor")', "CD", "SOUTHWEST", "tier1_distributor"],
                ["CD-003", "Qingyang Banquet", "CD", "SOUTHWEST", "tier1_distributor"],
                ["CD-004", "Chenghua Group", None, "SOUTHWEST", "tier1_distributor"],
            ],
            merge="C4:C5",
        )
        report, commands = dry_run(DEALERS, "dealers.xlsx", data, APP)
        found = reasons(report)
        assert set(found) == {3, 4, 5}
        assert "formula" in found[3] and found[3].startswith("name")
        assert "merged cells C4:C5" in found[4] and "merged cells C4:C5" in found[5]

    def test_money_typed_as_a_number_keeps_its_decimals(self):
        kind = kind_of("products")

        class Catalogue:
            def find_answers(self, scope, keys):
                return {}

        data = xlsx_bytes(
            [
                ["sku", "name", "category", "unit", "list_price"],
                ["WULIANGYE-52-500ML", "Wuliangye 52% 500ml", "BAIJIU", "bottle", 1299.5],
                ["GUOJIAO-1573-500ML", "Guojiao 1573 500ml", "BAIJIU", "bottle", 1099.995],
            ]
        )
        report, commands = dry_run(kind, "products.xlsx", data, Catalogue())
        assert [c.payload["list_price"] for c in commands] == ["1299.50"]
        assert "more than 2 decimal places" in reasons(report)[3]


@pytest.mark.parametrize("name", ["dealers.txt", "dealers.xls"])
def test_only_csv_and_xlsx_are_read(name):
    report, _ = dry_run(DEALERS, name, b"code\n", APP)
    assert "reads .csv or .xlsx" in report.errors[0].reason


def test_the_organisation_is_asked_once_per_import():
    class Counting(KnownOrganisation):
        asked = 0

        def organisation(self):
            Counting.asked += 1
            return super().organisation()

    rows = [f"CD-{i:03d},Dealer {i},CD,SOUTHWEST,group_buy" for i in range(1, 51)]
    report, _ = dry_run(DEALERS, "d.csv", csv_bytes(HEADER, *rows), Counting(APP.branches))
    assert report.errors == [] and Counting.asked == 1


@pytest.mark.parametrize("data", [b"", b"code,name\n", b"PK\x03\x04 not really a zip"])
def test_a_file_named_xlsx_that_is_not_one_is_refused_as_a_whole(data):
    report, commands = dry_run(DEALERS, "dealers.xlsx", data, APP)
    assert commands == [] and "not an XLSX workbook" in report.errors[0].reason
