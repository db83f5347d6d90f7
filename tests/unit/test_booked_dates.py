"""How far back a price or a promotion may be dated (history.py): from today on always; in
the past only after the last order booked of the grades it prices."""

from __future__ import annotations

from datetime import date

import pytest

from runtime.eventstore import Provenance
from services.orders.domain import PriceBackdated
from services.orders.history import BookedDates
from services.orders.promotions import PromotionBackdated

HQ = Provenance(actor="Wang Min", role="hq_admin")
TODAY = date(2026, 12, 4)
TIER1 = "tier1_distributor"
TIER2 = "tier2_distributor"


def booked(**latest: date) -> BookedDates:
    return BookedDates(latest={grade: day.isoformat() for grade, day in latest.items()})


class TestBackdating:
    def test_a_past_date_after_the_grades_last_booked_order_is_taken(self):
        dates = booked(tier1_distributor=date(2026, 11, 20))
        assert dates.check_may_take_effect(
            [TIER1], date(2026, 11, 21), today=TODAY, refuse=PriceBackdated, what="a price"
        )

    @pytest.mark.parametrize("on", [date(2026, 11, 20), date(2026, 11, 1)])
    def test_a_past_date_on_or_before_the_last_booked_order_is_refused(self, on):
        dates = booked(tier1_distributor=date(2026, 11, 20))
        with pytest.raises(PriceBackdated) as refused:
            dates.check_may_take_effect([TIER1], on, today=TODAY, refuse=PriceBackdated, what="x")
        assert refused.value.extra == {"last_booked": "2026-11-20"}

    def test_a_promotion_of_several_grades_looks_at_the_latest_of_them(self):
        dates = booked(tier1_distributor=date(2026, 11, 1), tier2_distributor=date(2026, 11, 25))
        with pytest.raises(PromotionBackdated):
            dates.check_may_take_effect(
                [TIER1, TIER2], date(2026, 11, 20), today=TODAY, refuse=PromotionBackdated, what="p"
            )
        assert dates.check_may_take_effect(
            [TIER1], date(2026, 11, 20), today=TODAY, refuse=PromotionBackdated, what="p"
        )

    def test_from_today_on_no_booked_order_is_in_the_way(self):
        dates = booked(tier1_distributor=date(2027, 1, 5))  # an order dated ahead
        assert not dates.check_may_take_effect(
            [TIER1], TODAY, today=TODAY, refuse=PriceBackdated, what="a price"
        )


class TestBooking:
    def test_only_a_later_date_moves_the_grade_on(self):
        dates = booked()
        assert dates.book(TIER1, date(2026, 11, 20))
        assert not dates.book(TIER1, date(2026, 11, 20))
        assert not dates.book(TIER1, date(2026, 11, 2))
        assert dates.book(TIER1, date(2026, 11, 21))
        assert dates.last_booked([TIER1, TIER2]) == date(2026, 11, 21)
        assert dates.last_booked([TIER2]) is None
