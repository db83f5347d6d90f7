"""The dashboards in a real browser (headless Chromium, Playwright): every figure of every
panel, read from the tables one click under the charts, equals what the query API answers the
same user, to the fen; unfiltered, with a region and a month, and a branch manager's view of
its own branch. axe-core finds no serious violation on them."""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from console.i18n import CHINA, percent, yuan
from tests.integration.console.support import (
    BROWSER_TESTS,
    WULIANGYE,
    serious_violations,
    sign_in,
    token_of,
)
from tests.platform import wait_until

pytestmark = BROWSER_TESTS

BUCKETS = ["not_yet_due", "days_1_30", "days_31_60", "days_61_90", "over_90", "receivables"]
POOL = ["accrued", "settled", "claimed", "credited", "available"]
TARGET = ["net_sales", "floor", "target", "stretch", "target_ratio", "reached"]
PLAN = ["approved_quantity", "pending_quantity", "ordered_quantity", "variance", "ordered_to_plan"]
RATIOS = {"utilisation", "target_ratio", "ordered_to_plan"}
# Panels whose figures are counts (of dealers, bottles), and counts in other panels.
COUNTED_PANELS = {"health", "safety", "plans"}
COUNTS = {"invoiced_quantity"}


def panels(level: str, people: str, plans_by: str, sales_by: str) -> dict[str, tuple]:
    """Per panel: the query API's path and parameters, the fields naming a row (the API's
    field and the page's attribute), and the figures shown."""
    money = ["credit_limit", "receivables", "reserved", "exposure", "utilisation"]
    return {
        "sales": (
            "/sales",
            {"by": sales_by, "period": "month"},
            [("period_start", "month"), ("key", sales_by)],
            ["net_sales"],
        ),
        "category": (
            "/sales",
            {"by": "category", "period": "month"},
            [("period_start", "month"), ("key", "category")],
            ["net_sales", "invoiced_quantity"],
        ),
        "receivables": ("/receivables", {"by": level}, [(level, level)], money),
        "aging": ("/receivables/aging", {"by": level}, [(level, level)], BUCKETS),
        "health": (
            "/channel-health/counts",
            {"by": "branch"},
            [("branch", "branch")],
            ["green", "yellow", "red"],
        ),
        "safety": (
            "/inventory",
            {"by": "warehouse", "below_safety": "true", "limit": 50},
            [("warehouse", "warehouse"), ("sku", "sku")],
            ["on_hand", "reserved", "available", "safety_stock"],
        ),
        "pools": ("/rebates/pools", {"by": level}, [(level, level)], POOL),
        "targets": ("/targets", {"by": people}, [("key", people)], TARGET),
        "plans": ("/demand-plans", {"by": plans_by}, [("key", plans_by)], PLAN),
    }


HQ_PANELS = panels("region", "branch", "branch", "region")
BRANCH_PANELS = panels("dealer", "salesperson", "dealer", "branch")
# Which of the dashboard's filters each panel's API takes.
DATED = {"receivables", "aging", "health", "safety", "pools"}
MONTHLY = {"targets", "plans"}
RANGED = {"sales", "category"}


def api_params(name: str, params: dict, filters: dict[str, str]) -> dict:
    params = {**params}
    for scope in ("region", "branch"):
        if filters.get(scope):
            params[scope] = filters[scope]
    if name in DATED and filters.get("as_of"):
        params["as_of"] = filters["as_of"]
    if name in MONTHLY:
        # the page's own default: the month it is asked in
        params["month"] = filters.get("month") or datetime.now(CHINA).strftime("%Y-%m")
    if name in RANGED and filters.get("month"):
        month = filters["month"]
        last = calendar.monthrange(*(int(part) for part in month.split("-")))[1]
        params.update(date_from=f"{month}-01", date_to=f"{month}-{last:02d}")
    return params


def every_row(query, path: str, params: dict, headers: dict) -> list[dict]:
    if "limit" in params or path.endswith(("/counts", "/targets")):
        answer = query.get(path, params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]
    rows, cursor = [], None
    while True:
        answer = query.get(path, params={**params, "limit": 200, "cursor": cursor}, headers=headers)
        assert answer.status_code == 200, answer.text
        rows.extend(answer.json()["items"])
        cursor = answer.json().get("next_cursor")
        if not cursor:
            return rows


READ_TABLES = """(names) => Object.fromEntries(names.map((name) => [name,
  [...document.querySelectorAll(`#${name}-table tbody tr`)]
    .filter((tr) => tr.querySelector('td[data-field]'))
    .map((tr) => ({
      attrs: {...tr.dataset},
      cells: Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map(
        (td) => [td.dataset.field, [td.dataset.value, td.innerText.trim()]])),
    }))]))"""


def shown_text(name: str, field: str, value) -> str | None:
    if value is None:  # no target set, no plan to compare with
        return "—"
    if field in RATIOS:
        return percent(value)
    if name in COUNTED_PANELS or field in COUNTS:
        return str(value)
    if field == "reached":
        return None  # a message; its value is compared
    return yuan(value)


def assert_panels_equal_api(page, query, headers, prefix: str, specs: dict, filters: dict) -> int:
    """Every panel's table against the API's answer with the same filters; the number of
    figures compared."""
    closed = page.locator("details:not([open]) > summary")
    while closed.count():
        closed.first.click()  # the figures, one click under each chart
    tables = page.evaluate(READ_TABLES, list(specs))
    compared = 0
    for name, (path, params, keys, figures) in specs.items():
        expected_rows = every_row(query, prefix + path, api_params(name, params, filters), headers)
        shown = {
            tuple(row["attrs"].get(attr, "") for _, attr in keys): row["cells"]
            for row in tables[name]
        }
        expected = {}
        for row in expected_rows:
            key = tuple(
                (str(row[field])[:7] if field == "period_start" else (row[field] or ""))
                for field, _ in keys
            )
            expected[key] = row
        assert set(shown) == set(expected), name
        for key, row in expected.items():
            for field in figures:
                value, text = shown[key][field]
                wanted = "" if row[field] is None else str(row[field])
                assert value == wanted, (name, key, field)
                if (want_text := shown_text(name, field, row[field])) is not None:
                    assert text == want_text, (name, key, field)
                compared += 1
    return compared


def test_hq_sees_every_panel_with_the_query_apis_figures(page, platform):
    month = platform["month"]
    hq = token_of(platform, "hq.admin")
    query = platform["query"]
    # Chengdu's Wuliangye wanted at twice what the warehouse can ever hold: below safety.
    set_level = platform["inventory"].post(
        f"/stock/WH-CD/{WULIANGYE}/safety-stock",
        json={"quantity": 100_000},
        headers={**hq, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert set_level.status_code < 300, set_level.text
    wait_until(
        lambda: query.get(
            "/hq/inventory",
            params={"by": "warehouse", "below_safety": "true", "warehouse": "WH-CD"},
            headers=hq,
        ).json()["items"],
        what="Chengdu's Wuliangye below safety stock",
    )
    sign_in(page, "hq.admin")
    assert page.url.endswith("/hq")
    compared = assert_panels_equal_api(page, query, hq, "/hq", HQ_PANELS, {})
    # The demo company has figures in every panel: sales, receivables, a rebate pool, the
    # month's targets and plans, the stock just set below safety.
    tables = page.evaluate(READ_TABLES, list(HQ_PANELS))
    assert all(tables[name] for name in HQ_PANELS), {n: len(r) for n, r in tables.items()}
    pools = {r["attrs"]["region"]: r["cells"] for r in tables["pools"]}
    assert Decimal(pools["SOUTHWEST"]["credited"][0]) > 0
    assert compared > 60
    # Every chart drawn, by the console's own ECharts.
    assert page.evaluate("typeof window.echarts") == "object"
    for name in HQ_PANELS:
        assert page.locator(f"#{name}-chart canvas").count() == 1, name

    # A region and a month, through the form.
    page.get_by_label("大区", exact=True).fill("SOUTHWEST")
    page.get_by_label("月份", exact=True).fill(month)
    page.get_by_role("button", name="筛选").click()
    page.wait_for_load_state()
    assert "region=SOUTHWEST" in page.url and f"month={month}" in page.url
    filters = {"region": "SOUTHWEST", "month": month}
    assert assert_panels_equal_api(page, query, hq, "/hq", HQ_PANELS, filters) > 20
    tables = page.evaluate(READ_TABLES, list(HQ_PANELS))
    # SOUTHWEST's branches only (Chongqing's orders among the demo's live warnings count).
    targets = {r["attrs"]["branch"] for r in tables["targets"]}
    assert "CD" in targets and targets <= {"CD", "CQ"}, targets
    assert {r["attrs"]["region"] for r in tables["sales"]} == {"SOUTHWEST"}
    assert {r["attrs"]["month"] for r in tables["sales"]} == {month}

    # A branch and an as-of date.
    page.goto("/hq?branch=SH&as_of=" + datetime.now(CHINA).strftime("%Y-%m-%d"))
    filters = {"branch": "SH", "as_of": datetime.now(CHINA).strftime("%Y-%m-%d")}
    assert assert_panels_equal_api(page, query, hq, "/hq", HQ_PANELS, filters) > 10

    # A month that is not one is the API's kind of error, not a crash.
    page.goto("/hq?month=2026-13")
    assert page.get_by_text("YYYY-MM").is_visible()


def test_a_branch_manager_sees_its_branchs_dashboard_and_not_anothers(page, platform):
    manager = token_of(platform, "cd.manager")
    sign_in(page, "cd.manager")
    page.get_by_role("link", name="分公司看板").click()
    page.wait_for_load_state()
    assert page.url.endswith("/branches/CD")
    assert page.get_by_role("heading", name="分公司看板").is_visible()
    compared = assert_panels_equal_api(
        page, platform["query"], manager, "/branches/CD", BRANCH_PANELS, {}
    )
    assert compared > 20
    tables = page.evaluate(READ_TABLES, list(BRANCH_PANELS))
    assert {r["attrs"]["dealer"] for r in tables["receivables"]} >= {"CD-001"}
    assert all(r["attrs"]["dealer"].startswith("CD-") for r in tables["aging"])
    assert {r["attrs"]["salesperson"] for r in tables["targets"]} >= {"SP-CD-01", "SP-CD-02"}
    # No region or branch filter here: the branch is the scope.
    assert page.get_by_label("大区", exact=True).count() == 0
    page.goto("/branches/SH")
    assert page.get_by_role("heading", name="无权访问").is_visible()
    assert page.locator("table").count() == 0


@pytest.mark.parametrize(
    ("username", "path"), [("hq.admin", "/hq?region=SOUTHWEST"), ("cd.manager", "/branches/CD")]
)
def test_axe_finds_no_serious_violations_on_the_dashboards(
    browser,
    platform,
    axe_source,  # noqa: F811 (the fixture imported above)
    username,
    path,
):
    context = browser.new_context(base_url=platform["console"], bypass_csp=True)
    page = context.new_page()
    sign_in(page, username)
    page.goto(path)
    for summary in page.locator("summary").all():
        summary.click()
    assert serious_violations(page, axe_source) == [], path
    context.close()
