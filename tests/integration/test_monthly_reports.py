"""The monthly reports on the demo company's business (last month's rebate cycle, this
month's orders through the saga, shipments, receipts of goods and cash, a transfer, a
stocktake, damage and a write-off, consignment sell-through, a return, rebates settled,
claimed and credited) with the ERP consumer posting beside it: each report's totals equal the
query API's for the same scope and dates, the 进销存's closing value equals the ERP's
inventory ledger warehouse by SKU to the fen, CSV and XLSX read back to the same numbers,
and every report is scoped as the query API is. Real PostgreSQL, the real broker, HTTP."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from projections import bootstrap as query_process
from runtime.demo import seed_demo_company
from services.finance import bootstrap as finance_process
from services.inventory import bootstrap as inventory_process
from services.orders import bootstrap as orders_process
from tests.conftest import fresh_database, migrated_settings
from tests.integration.test_erp import ErpRunning, caught_up
from tests.platform import (
    CHENGDU_CLERK,
    HQ,
    SHANGHAI_CLERK,
    one_business_month,
    serving,
    wait_until,
)

pytestmark = pytest.mark.integration

DEALER_CD001 = {"Authorization": "Bearer demo-dealer-cd001"}
KINDS = ("inventory", "receivables", "sales", "rebates")


def month_of(first: date | str) -> str:
    return first if isinstance(first, str) else f"{first.year:04d}-{first.month:02d}"


def last_day(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


@pytest.fixture(scope="module")
def company(postgres_server_url, bootstrap_servers, broker, tmp_path_factory) -> Iterator[dict]:
    with ExitStack() as stack:
        database_url = stack.enter_context(fresh_database(postgres_server_url))
        settings = migrated_settings(
            database_url, bootstrap_servers, broker, tmp_path_factory.mktemp("reports")
        )
        clients = {
            name: stack.enter_context(serving(build(settings)))
            for name, build in (
                ("orders", orders_process.build),
                ("inventory", inventory_process.build),
                ("finance", finance_process.build),
                ("query", query_process.build),
            )
        }
        erp = stack.enter_context(ErpRunning(settings))
        seeded: dict[str, int] = {}
        query = clients["query"]
        with one_business_month() as this_month:
            seed_demo_company(
                orders_url=str(clients["orders"].base_url).rstrip("/"),
                inventory_url=str(clients["inventory"].base_url).rstrip("/"),
                finance_url=str(clients["finance"].base_url).rstrip("/"),
                api_key="demo-hq-admin",
                positions=seeded,
            )
            for kind in KINDS:  # every report's read models have the whole seed
                for origin, number in seeded.items():
                    month = month_of(this_month)
                    params = {"month": month, "min_position": f"{origin}:{number}"}

                    def reached(kind=kind, params=params) -> bool:
                        answer = query.get(f"/hq/reports/{kind}", params=params, headers=HQ)
                        return answer.status_code in (200, 422)  # 422: not a service it reads

                    wait_until(reached, timeout=120, what=f"the {kind} report after the seed")
            caught_up(settings, erp)
        yield {
            "query": query,
            "erp": erp,
            "this_month": this_month,
            "last_month": (this_month - timedelta(days=1)).replace(day=1),
        }


def report(query, kind: str, month: date | str, path: str = "/hq", headers=HQ, **params) -> dict:
    answer = query.get(
        f"{path}/reports/{kind}", params={"month": month_of(month), **params}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def api(query, path: str, headers=HQ, **params) -> list[dict]:
    answer = query.get(path, params={"limit": 1000, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def money(value) -> Decimal:
    return Decimal(value or "0.00")


def total(rows: list[dict], name: str) -> Decimal:
    return sum((money(row[name]) for row in rows), Decimal("0.00"))


class TestInventoryReport:
    def test_closing_stock_is_the_query_apis_and_its_value_the_erp_ledgers_to_the_fen(
        self, company
    ):
        query, erp = company["query"], company["erp"]
        for month in (company["last_month"], company["this_month"]):
            body = report(query, "inventory", month)
            rows, end = body["items"], last_day(month)
            assert rows, "the demo company moves stock"
            for row in rows:  # every row adds up, in units and at cost
                flows = ("received", "transfer_in", "returned", "adjusted")
                outs = ("shipped", "transfer_out", "written_off")
                for unit in ("quantity", "value"):
                    opening = money(row[f"opening_{unit}"])
                    moved = sum(money(row[f"{f}_{unit}"]) for f in flows) - sum(
                        money(row[f"{f}_{unit}"]) for f in outs
                    )
                    assert opening + moved == money(row[f"closing_{unit}"]), row
            stock = api(query, "/hq/inventory", by="warehouse", as_of=end.isoformat())
            on_hand = {(s["warehouse"], s["sku"]): s["on_hand"] for s in stock if s["on_hand"]}
            closing = {
                (r["warehouse"], r["sku"]): r["closing_quantity"]
                for r in rows
                if r["closing_quantity"]
            }
            assert closing == on_hand
            nation = api(query, "/hq/inventory", by="nation", as_of=end.isoformat())  # per SKU
            assert body["totals"]["closing_quantity"] == sum(s["on_hand"] for s in nation)
            # The ERP's inventory at cost (1405) as of the month's last day, warehouse by SKU.
            with erp.ledger.conn.cursor() as curs:
                curs.execute(
                    "SELECT l.warehouse_code, l.sku, sum(l.debit - l.credit) "
                    "FROM erp.journal_lines l JOIN erp.journal_entries e USING (entry_id) "
                    "WHERE l.account = '1405' AND e.business_date <= %s GROUP BY 1, 2",
                    (end,),
                )
                ledger = {(w, sku): v for w, sku, v in curs.fetchall() if v}
            erp.ledger.conn.rollback()
            values = {
                (r["warehouse"], r["sku"]): money(r["closing_value"])
                for r in rows
                if money(r["closing_value"])
            }
            assert values == ledger
            assert money(body["totals"]["closing_value"]) == sum(ledger.values())
        # This month opens where last month closed.
        before = {
            (r["warehouse"], r["sku"]): r
            for r in report(query, "inventory", company["last_month"])["items"]
        }
        for row in report(query, "inventory", company["this_month"])["items"]:
            previous = before.get((row["warehouse"], row["sku"]))
            assert row["opening_quantity"] == (previous["closing_quantity"] if previous else 0)
            assert money(row["opening_value"]) == money(previous and previous["closing_value"])

    def test_the_month_shows_each_kind_of_movement(self, company):
        totals = report(company["query"], "inventory", company["this_month"])["totals"]
        for name in ("received", "shipped", "transfer_in", "transfer_out", "written_off"):
            assert totals[f"{name}_quantity"] > 0, name
            assert money(totals[f"{name}_value"]) > 0, name
        assert totals["returned_quantity"] > 0 and totals["damaged_quantity"] > 0
        assert totals["adjusted_quantity"] != 0


class TestReceivablesReport:
    def test_statement_and_aging_totals_are_the_query_apis(self, company):
        query = company["query"]
        for month in (company["last_month"], company["this_month"]):
            body = report(query, "receivables", month)
            end, before = last_day(month), month - timedelta(days=1)
            [closing] = api(query, "/hq/receivables", by="nation", as_of=end.isoformat())
            [opening] = api(query, "/hq/receivables", by="nation", as_of=before.isoformat())
            [aged] = api(query, "/hq/receivables/aging", by="nation", as_of=end.isoformat())
            totals = body["totals"]
            assert money(totals["closing_receivables"]) == money(closing["receivables"])
            assert money(totals["opening_receivables"]) == money(opening["receivables"])
            for name in ("invoiced", "received", "credited", "rebate_credited"):
                assert money(totals[name]) == money(closing[name]) - money(opening[name])
            for name in ("not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90"):
                assert money(totals[name]) == money(aged[name])
            assert money(totals["unapplied_cash"]) == money(aged["unapplied_cash"])
            for row in body["items"]:  # a statement of account adds up
                moved = money(row["invoiced"]) - money(row["received"]) - money(row["credited"])
                moved -= money(row["rebate_credited"])
                assert money(row["opening_receivables"]) + moved == money(
                    row["closing_receivables"]
                )
                assert money(row["open_invoices"]) - money(row["unapplied_cash"]) == money(
                    row["closing_receivables"]
                )

    def test_a_dealers_statement_is_the_query_apis(self, company):
        query = company["query"]
        body = report(
            query,
            "receivables",
            company["this_month"],
            path="/dealers/CD-001",
            headers=DEALER_CD001,
        )
        [row] = body["items"]
        end = last_day(company["this_month"]).isoformat()
        answer = query.get("/dealers/CD-001/statement", params={"as_of": end}, headers=DEALER_CD001)
        statement = answer.json()
        assert money(row["closing_receivables"]) == money(statement["receivables"]) > 0
        assert money(row["over_90"]) == money(statement["aging"]["over_90"])
        assert money(row["invoiced"]) > 0


class TestSalesReport:
    def test_totals_are_the_query_apis_by_every_dimension_and_branches_meet_their_targets(
        self, company
    ):
        query = company["query"]
        for month in (company["last_month"], company["this_month"]):
            span = {"date_from": month.isoformat(), "date_to": last_day(month).isoformat()}
            [nation] = api(query, "/hq/sales", by="nation", period="month", **span)
            for by in ("branch", "dealer", "category", "sku"):
                totals = report(query, "sales", month, by=by)["totals"]
                for name in ("invoiced_amount", "credited_amount", "net_sales"):
                    assert money(totals[name]) == money(nation[name]), (by, name)
                assert totals["invoiced_quantity"] == nation["invoiced_quantity"]
        rows = report(query, "sales", company["this_month"])["items"]
        answer = query.get(
            "/hq/targets", params={"month": month_of(company["this_month"])}, headers=HQ
        )
        targets = answer.json()["items"]
        assert targets
        for target in targets:
            [row] = [r for r in rows if r["branch"] == target["branch"]]
            assert money(row["net_sales"]) == money(target["net_sales"])
            assert row["target"] == target["target"] and row["reached"] == target["reached"]

    def test_a_branchs_report_is_its_own_sales(self, company):
        query = company["query"]
        month = month_of(company["this_month"])
        span = {
            "date_from": company["this_month"].isoformat(),
            "date_to": last_day(company["this_month"]).isoformat(),
        }
        body = report(
            query,
            "sales",
            company["this_month"],
            path="/branches/CD",
            headers=CHENGDU_CLERK,
            by="dealer",
        )
        assert body["items"] and all(r["dealer"].startswith("CD-") for r in body["items"])
        [cd] = api(query, "/branches/CD/sales", CHENGDU_CLERK, by="nation", period="month", **span)
        assert money(body["totals"]["net_sales"]) == money(cd["net_sales"]) > 0
        assert month


class TestRebatesReport:
    def test_pool_totals_are_the_query_apis(self, company):
        query = company["query"]
        for month in (company["last_month"], company["this_month"]):
            body = report(query, "rebates", month)
            end, before = last_day(month), month - timedelta(days=1)
            [closing] = api(query, "/hq/rebates/pools", by="nation", as_of=end.isoformat())
            [opening] = api(query, "/hq/rebates/pools", by="nation", as_of=before.isoformat()) or [
                {
                    name: "0.00"
                    for name in ("accrued", "settled", "claimed", "credited", "available")
                }
            ]
            totals = body["totals"]
            assert money(totals["closing"]) == money(closing["available"])
            assert money(totals["opening"]) == money(opening["available"])
            for name in ("accrued", "settled", "claimed", "credited"):
                assert money(totals[name]) == money(closing[name]) - money(opening[name])
            for row in body["items"]:
                moved = money(row["settled"]) - money(row["claimed"]) - money(row["credited"])
                assert money(row["opening"]) + moved == money(row["closing"])
        everything = report(query, "rebates", company["this_month"])["totals"]
        last = report(query, "rebates", company["last_month"])["totals"]
        assert (
            money(last["accrued"]) > 0 and money(last["settled"]) + money(everything["settled"]) > 0
        )
        assert money(last["credited"]) + money(everything["credited"]) > 0


class TestDownloads:
    @pytest.mark.parametrize("kind", KINDS)
    def test_csv_and_xlsx_read_back_to_the_same_numbers(self, company, kind):
        query = company["query"]
        body = report(query, kind, company["this_month"])
        columns = [c["name"] for c in body["columns"]]
        types = {c["name"]: c["type"] for c in body["columns"]}
        expected = [[row[name] for name in columns] for row in body["items"]] + [
            ["total", *(body["totals"].get(name) for name in columns[1:])]
        ]

        def same(cells: list[list]) -> list[list]:
            def cell(name, value):
                if value in (None, ""):
                    return None
                if types[name] in ("money", "unit_cost"):
                    return Decimal(str(value)).quantize(Decimal("0.01"))
                if types[name] == "quantity":
                    return int(value)
                return str(value)

            return [[cell(n, v) for n, v in zip(columns, line, strict=True)] for line in cells]

        answer = query.get(
            f"/hq/reports/{kind}",
            params={"month": month_of(company["this_month"]), "format": "csv"},
            headers=HQ,
        )
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        assert "attachment" in answer.headers["content-disposition"]
        lines = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert lines[0] == columns
        assert same(lines[1:]) == same(expected)

        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        answer = query.get(
            f"/hq/reports/{kind}",
            params={"month": month_of(company["this_month"])},
            headers={**HQ, "Accept": xlsx},
        )
        assert answer.status_code == 200 and answer.headers["content-type"] == xlsx
        sheet = load_workbook(io.BytesIO(answer.content)).active
        lines = [list(line) for line in sheet.iter_rows(values_only=True)]
        assert lines[0] == columns
        assert same(lines[1:]) == same(expected)


class TestScope:
    def test_each_caller_sees_what_the_query_api_lets_it(self, company):
        query = company["query"]
        month = {"month": month_of(company["this_month"])}

        def status(path: str, headers, **params) -> int:
            return query.get(path, params={**month, **params}, headers=headers).status_code

        assert status("/branches/CD/reports/inventory", CHENGDU_CLERK) == 200
        assert status("/branches/SH/reports/inventory", CHENGDU_CLERK) == 403
        assert status("/hq/reports/sales", CHENGDU_CLERK) == 403
        assert status("/dealers/CD-001/reports/rebates", DEALER_CD001) == 200
        assert status("/dealers/CD-002/reports/rebates", DEALER_CD001) == 403
        assert status("/dealers/SH-001/reports/receivables", CHENGDU_CLERK) == 403
        assert status("/dealers/CD-002/reports/receivables", CHENGDU_CLERK) == 200
        assert status("/branches/SH/reports/sales", SHANGHAI_CLERK) == 200
        # A branch's report holds only its own warehouses.
        rows = report(
            query, "inventory", company["this_month"], path="/branches/CD", headers=CHENGDU_CLERK
        )
        everything = report(query, "inventory", company["this_month"])["items"]
        cd = {r["warehouse"] for r in rows["items"]}
        assert cd and cd < {r["warehouse"] for r in everything}
        assert rows == report(query, "inventory", company["this_month"], branch="CD")

    def test_bad_input_is_a_clear_error_never_a_500(self, company):
        query = company["query"]

        def problem(path: str, **params) -> tuple[int, str | None]:
            answer = query.get(path, params=params, headers=HQ)
            assert answer.headers["content-type"].startswith("application/problem+json")
            return answer.status_code, answer.json().get("code")

        assert problem("/hq/reports/sales", month="2026-13")[0] == 422
        assert problem("/hq/reports/sales", month="November")[0] == 422
        assert problem("/hq/reports/sales")[0] == 422
        assert problem("/hq/reports/ledger", month="2026-11")[0] == 404
        assert problem("/hq/reports/sales", month="2026-11", format="pdf")[0] == 422
        assert problem("/hq/reports/sales", month="2026-11", by="region")[0] == 422
        assert problem("/branches/NOWHERE/reports/sales", month="2026-11") == (
            404,
            "unknown_branch",
        )
        assert problem("/hq/reports/sales", month="2026-11", branch="NOWHERE") == (
            404,
            "unknown_branch",
        )
        assert problem("/hq/reports/rebates", month="2026-11", dealer="XX-999")[0] == 404
        assert problem("/dealers/XX-999/reports/rebates", month="2026-11")[0] == 404
        for month in ("0001-01", "9999-12"):  # the calendar's ends answer like any month
            for kind in KINDS:
                assert report(query, kind, month)["month"] == month
