"""Dates as the bureau counts them: in China Standard Time, whatever the server's zone."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def local_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def local_time(moment: datetime) -> datetime:
    """The moment on the bureau's clock."""
    return moment.astimezone(CHINA)


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in China time (a register 'as of' a date includes that day)."""
    return datetime.combine(day, time.max, tzinfo=CHINA)
