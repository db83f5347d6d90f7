"""The reports page in a real browser: HQ chooses a report, a month and a branch and sees
the query API's report for the same user to the fen, with CSV and XLSX downloads that hold
the same totals; a branch clerk sees its own branch only, a dealer its own figures; another
branch's dealer is the 403 page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from openpyxl import load_workbook

from tests.integration.console.support import BROWSER_TESTS, serious_violations, sign_in, token_of

pytestmark = BROWSER_TESTS


def api_report(platform, username: str, path: str, kind: str, **params) -> dict:
    answer = platform["query"].get(
        f"{path}/reports/{kind}",
        params={"month": platform["month"], **params},
        headers=token_of(platform, username),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def shown_totals(page) -> dict[str, str]:
    cells = page.locator("#report-totals td[data-field]")
    return {
        cells.nth(i).get_attribute("data-field"): cells.nth(i).get_attribute("data-value")
        for i in range(cells.count())
    }


def as_numbers(totals: dict) -> dict[str, Decimal]:
    return {name: Decimal(str(value)) for name, value in totals.items()}


def test_hq_chooses_a_report_month_and_branch_and_downloads_it(page, platform):
    month = platform["month"]
    sign_in(page, "hq.admin")
    page.get_by_role("link", name="月报").click()
    page.wait_for_load_state()
    assert page.locator("#report").get_attribute("data-kind") == "inventory"
    page.get_by_label("报表").select_option("receivables")
    page.get_by_label("月份").fill(month)
    page.get_by_label("分公司").select_option("CD")
    page.get_by_role("button", name="查看").click()
    page.wait_for_load_state()
    expected = api_report(platform, "hq.admin", "/hq", "receivables", branch="CD")
    assert expected["items"]
    assert page.locator("#report tbody tr").count() == len(expected["items"])
    assert shown_totals(page) == {k: str(v) for k, v in expected["totals"].items()}
    dealers = page.locator("#report tbody td[data-field='dealer']").all_inner_texts()
    assert dealers == [row["dealer"] for row in expected["items"]]

    with page.expect_download() as csv_download:
        page.locator("#download-csv").click()
    lines = list(csv.reader(io.StringIO(csv_download.value.path().read_text(encoding="utf-8-sig"))))
    header, total = lines[0], lines[-1]
    assert total[0] == "total"
    from_csv = {name: total[i] for i, name in enumerate(header) if name in expected["totals"]}
    assert as_numbers(from_csv) == as_numbers(expected["totals"])

    with page.expect_download() as xlsx_download:
        page.locator("#download-xlsx").click()
    assert xlsx_download.value.suggested_filename == f"receivables-{month}-CD.xlsx"
    rows = list(
        load_workbook(io.BytesIO(xlsx_download.value.path().read_bytes())).active.iter_rows(
            values_only=True
        )
    )
    from_xlsx = {name: rows[-1][i] for i, name in enumerate(rows[0]) if name in expected["totals"]}
    assert as_numbers(from_xlsx) == as_numbers(expected["totals"])


def test_a_branch_clerk_sees_its_branch_and_a_dealer_its_own_figures(page, platform):
    month = platform["month"]
    sign_in(page, "cd.clerk")
    page.goto(f"/reports?kind=sales&month={month}&by=dealer")
    expected = api_report(platform, "cd.clerk", "/branches/CD", "sales", by="dealer")
    shown = page.locator("#report tbody td[data-field='dealer']").all_inner_texts()
    assert shown == [row["dealer"] for row in expected["items"]]
    assert shown and all(dealer.startswith("CD-") for dealer in shown)
    assert shown_totals(page) == {k: str(v) for k, v in expected["totals"].items()}
    assert page.get_by_label("分公司").count() == 0  # its branch is not a choice

    page.goto(f"/reports?kind=rebates&month={month}&dealer=SH-001")
    assert page.locator("#report").count() == 0  # the API's 403: the forbidden page

    page.context.clear_cookies()
    sign_in(page, "dealer.cd001")
    page.goto(f"/reports?kind=rebates&month={month}")
    expected = api_report(platform, "dealer.cd001", "/dealers/CD-001", "rebates")
    assert page.locator("#report tbody td[data-field='dealer']").all_inner_texts() == ["CD-001"]
    assert shown_totals(page) == {k: str(v) for k, v in expected["totals"].items()}


def test_axe_finds_no_serious_violations_on_the_reports_page(browser, platform, axe_source):
    month = platform["month"]
    context = browser.new_context(base_url=platform["console"], bypass_csp=True)
    page = context.new_page()
    sign_in(page, "hq.admin")
    for kind in ("inventory", "receivables", "sales", "rebates"):
        page.goto(f"/reports?kind={kind}&month={month}")
        assert serious_violations(page, axe_source) == [], kind
    context.close()
