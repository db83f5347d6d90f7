"""The dashboards' panels ask the query API for what the filters say, and their charts draw
exactly the figures of their tables (pure functions of console/pages/dashboard.py)."""

from __future__ import annotations

from console.i18n import translator
from console.pages.dashboard import (
    branch_audience,
    hq_audience,
    panel_chart,
    panels,
    request_params,
)


def panel(audience, name):
    return next(p for p in panels(audience) if p.name == name)


class TestRequestParams:
    def test_a_month_is_the_sales_date_range_and_the_planning_month(self):
        hq = hq_audience()
        filters = {"region": "SOUTHWEST", "branch": "", "month": "2028-02", "as_of": ""}
        sales = request_params(panel(hq, "category"), hq, filters)
        assert sales["date_from"] == "2028-02-01" and sales["date_to"] == "2028-02-29"
        assert sales["region"] == "SOUTHWEST" and "month" not in sales
        targets = request_params(panel(hq, "targets"), hq, filters)
        assert targets == {"by": "branch", "region": "SOUTHWEST", "branch": "", "month": "2028-02"}

    def test_as_of_goes_to_the_dated_panels_only(self):
        hq = hq_audience()
        filters = {"region": "", "branch": "CD", "month": "", "as_of": "2026-11-30"}
        assert request_params(panel(hq, "pools"), hq, filters)["as_of"] == "2026-11-30"
        assert request_params(panel(hq, "safety"), hq, filters)["as_of"] == "2026-11-30"
        assert "as_of" not in request_params(panel(hq, "plans"), hq, filters)
        assert "date_from" not in request_params(panel(hq, "sales"), hq, filters)

    def test_a_branchs_dashboard_asks_its_own_routes_without_region_or_branch(self):
        cd = branch_audience("CD")
        assert cd.prefix == "/branches/CD"
        filters = {"month": "2026-11", "as_of": ""}
        for each in panels(cd):
            params = request_params(each, cd, filters)
            assert "region" not in params and "branch" not in params, each.name
        assert request_params(panel(cd, "targets"), cd, filters)["by"] == "salesperson"
        assert request_params(panel(cd, "receivables"), cd, filters)["by"] == "dealer"


class TestCharts:
    def test_a_pivot_draws_the_tables_figures_and_zero_where_there_is_none(self):
        rows = [
            {"period_start": "2026-10-01", "key": "EAST", "net_sales": "1299.00"},
            {"period_start": "2026-11-01", "key": "EAST", "net_sales": "458.50"},
            {"period_start": "2026-11-01", "key": "SOUTHWEST", "net_sales": "38970.00"},
        ]
        drawn = panel_chart(panel(hq_audience(), "sales"), rows, translator("zh"))
        assert drawn["categories"] == ["2026-10", "2026-11"]
        assert drawn["series"] == [
            {"key": "EAST", "name": "EAST", "data": ["1299.00", "458.50"]},
            {"key": "SOUTHWEST", "name": "SOUTHWEST", "data": ["0", "38970.00"]},
        ]

    def test_bars_per_row_carry_the_fields_and_their_labels(self):
        rows = [
            {
                "region": "EAST",
                "accrued": "120.00",
                "settled": "100.00",
                "claimed": "0.00",
                "credited": "100.00",
                "available": "0.00",
            }
        ]
        drawn = panel_chart(panel(hq_audience(), "pools"), rows, translator("en"))
        assert drawn["categories"] == ["EAST"]
        assert [(s["key"], s["name"], s["data"]) for s in drawn["series"]][:2] == [
            ("accrued", "Accrued", ["120.00"]),
            ("settled", "Settled", ["100.00"]),
        ]
