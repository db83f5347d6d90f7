"""Business dates: the brand keeps its books in China Standard Time. Timestamps stay UTC;
a business date is the calendar day in that zone unless the client names one."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

BUSINESS_TIMEZONE = ZoneInfo("Asia/Shanghai")


def business_today() -> date:
    return datetime.now(BUSINESS_TIMEZONE).date()
