"""The routine rules' date and figure arithmetic (services/warnings/checks.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from services.warnings.checks import month_start, percent
from services.warnings.routine import ROUTINE_RULES
from services.warnings.rules import CATALOGUE


class TestMonthStart:
    def test_last_month_of_a_january_day_is_december_of_the_year_before(self):
        assert month_start(date(2027, 1, 20), 1) == date(2026, 12, 1)

    def test_the_months_before_last_for_a_top_dealers_average(self):
        assert month_start(date(2026, 11, 20), 4) == date(2026, 7, 1)
        assert month_start(date(2026, 11, 30)) == date(2026, 11, 1)


class TestPercent:
    def test_utilisation_is_shown_to_one_place_half_up(self):
        assert percent(Decimal("19485.00"), Decimal("20000.00")) == Decimal("97.4")
        assert percent(Decimal("1"), Decimal("8")) == Decimal("12.5")


def test_every_routine_rule_is_a_catalogue_rule_without_a_delay_and_its_default_in_range():
    for code in ROUTINE_RULES:
        spec = CATALOGUE[code]
        assert spec.delay_unit is None, code
        assert spec.in_range(spec.threshold), code
