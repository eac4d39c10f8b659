"""The policy clock: China Standard Time, and the 'from 00:00 of the day after entry' count.

Every arrival instant is converted to UTC+08:00 first, whatever offset it came in; the arrival
*date* is the calendar date in China Standard Time. A visa-free stay starts at 00:00 CST of the
day after arrival (the arrival day itself is free) and ends, exclusive, ``stay`` later.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta, timezone

CST = timezone(timedelta(hours=8), "CST")


def to_cst(instant: datetime) -> datetime:
    """The same instant in China Standard Time; naive datetimes are refused."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a policy instant needs a UTC offset")
    return instant.astimezone(CST)


def cst_date(instant: datetime) -> date:
    """The calendar date of an instant in China Standard Time."""
    return to_cst(instant).date()


def cst_midnight(day: date) -> datetime:
    """00:00 China Standard Time at the start of ``day``."""
    return datetime.combine(day, time(0, 0), tzinfo=CST)


def stay_start(arrival: datetime) -> datetime:
    """00:00 CST of the day after the arrival date (in CST)."""
    return cst_midnight(cst_date(arrival) + timedelta(days=1))


def stay_end(arrival: datetime, stay: timedelta) -> datetime:
    """The instant a stay of ``stay`` that began on arrival ends (exclusive)."""
    return stay_start(arrival) + stay


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months; a day past the new month's end becomes its last day.

    2026-11-30 plus 3 months is 2027-02-28.
    """
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))
