"""Date arithmetic at the calendar's ends. A query may name any date from 0001-01-01 to
9999-12-31 (an as-of date, a range, a month); a window reaching past either end is cut at
it, so that such a date answers like any other instead of overflowing."""

from __future__ import annotations

from datetime import date, timedelta


def days_before(day: date, days: int) -> date:
    try:
        return day - timedelta(days=days)
    except OverflowError:
        return date.min


def days_after(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def first_of_next_month(day: date) -> date | None:
    """The first day of the month after ``day``'s; None after December 9999."""
    if day.year == date.max.year and day.month == 12:
        return None
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
