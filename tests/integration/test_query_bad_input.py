"""Bad input to the HQ query API gets a problem+json 4xx and never a 500: NUL characters
(PostgreSQL cannot hold one), a month of year 0, a filter that matches no dealer in the
national roll-up."""

from __future__ import annotations

import pytest

from projections import bootstrap as query_process
from tests.platform import HQ, serving

pytestmark = pytest.mark.integration


def test_bad_input_is_refused_and_an_empty_roll_up_is_zero(settings):
    with serving(query_process.build(settings, with_projectors=False)) as query:
        for path in (
            "/hq/receivables?dealer=%00",
            "/branches/%00/receivables",
            "/hq/inventory?warehouse=WH-CD%00",
            "/hq/sales?sku=WULIANGYE-52-500ML%00&by=sku",
            "/hq/targets?month=0000-01",
            "/branches/CD/targets?month=0000-01",
            "/hq/demand-plans?month=0000-11",
            "/hq/receivables?as_of=0",
            "/hq/sales?date_from=2026-11-20T00:00:00",
            "/hq/receivables?min_position=orders:１２",
        ):
            answer = query.get(path, headers=HQ)
            assert answer.status_code == 422, (path, answer.text)
            assert answer.headers["content-type"] == "application/problem+json", path
            assert answer.json()["code"] == "invalid_request", path

        nation = query.get("/hq/receivables?by=nation&branch=NOPE", headers=HQ)
        assert nation.status_code == 200, nation.text
        (row,) = nation.json()["items"]
        assert row["nation"] == "CN"
        assert row["receivables"] == row["exposure"] == row["credit_limit"] == "0.00"
        assert row["utilisation"] is None


def test_the_first_and_last_days_of_the_calendar_are_dates_like_any_other(settings):
    """Fuzzing found `as_of=0001-01-01` a 500 (90 days before it is no date): a window
    reaching past either end of the calendar is cut there."""
    with serving(query_process.build(settings, with_projectors=False)) as query:
        for day in ("0001-01-01", "9999-12-31"):
            for path in (
                f"/hq/channel-health?as_of={day}",
                f"/hq/channel-health/counts?by=branch&as_of={day}",
                f"/branches/CD/channel-health/counts?by=branch&as_of={day}",
                f"/hq/receivables/aging?by=region&as_of={day}",
                f"/hq/receivables?as_of={day}",
                f"/dealers/CD-001/statement?as_of={day}",
                f"/hq/sales?by=region&period=month&date_from={day}&date_to={day}",
                f"/hq/sales?by=branch&period=week&date_from={day}",
                f"/hq/sales?by=category&period=month&date_to={day}",
            ):
                answer = query.get(path, headers=HQ)
                assert answer.status_code in (200, 404), (path, answer.text)
        for month in ("0001-01", "9999-12"):
            for path in (f"/hq/targets?month={month}", f"/hq/demand-plans?month={month}"):
                answer = query.get(path, headers=HQ)
                assert answer.status_code == 200, (path, answer.text)
