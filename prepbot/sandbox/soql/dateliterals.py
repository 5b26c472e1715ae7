"""SOQL date literals (TODAY, NEXT_N_DAYS:n, ...) as half-open date ranges in the running user's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _week_start(day: date) -> date:
    # en_US weeks start on Sunday; Salesforce derives the week start from the user's locale.
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _month_start(day: date, months: int = 0) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def date_range(name: str, n: int | None, today: date) -> tuple[date, date]:
    """The ``[first day, day after the last)`` range a date literal covers, relative to ``today``.

    Raises:
        KeyError: for a literal this engine does not know.
    """
    week = _week_start(today)
    fixed: dict[str, tuple[date, date]] = {
        "YESTERDAY": (today - timedelta(days=1), today),
        "TODAY": (today, today + timedelta(days=1)),
        "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
        "LAST_WEEK": (week - timedelta(days=7), week),
        "THIS_WEEK": (week, week + timedelta(days=7)),
        "NEXT_WEEK": (week + timedelta(days=7), week + timedelta(days=14)),
        "LAST_MONTH": (_month_start(today, -1), _month_start(today)),
        "THIS_MONTH": (_month_start(today), _month_start(today, 1)),
        "NEXT_MONTH": (_month_start(today, 1), _month_start(today, 2)),
        # "starts with the current day and continues for the past n days": today is included.
        "LAST_90_DAYS": (today - timedelta(days=90), today + timedelta(days=1)),
        # "starts with the next day and continues for the next n days": today is not.
        "NEXT_90_DAYS": (today + timedelta(days=1), today + timedelta(days=91)),
    }
    if name in fixed:
        return fixed[name]
    count = n or 0
    ranged: dict[str, tuple[date, date]] = {
        "LAST_N_DAYS": (today - timedelta(days=count), today + timedelta(days=1)),
        "NEXT_N_DAYS": (today + timedelta(days=1), today + timedelta(days=1 + count)),
        "LAST_N_WEEKS": (week - timedelta(days=7 * count), week),
        "NEXT_N_WEEKS": (week + timedelta(days=7), week + timedelta(days=7 + 7 * count)),
    }
    return ranged[name]


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The running user's calendar date at the instant ``now``."""
    return now.astimezone(tz).date()


def instant_bounds(days: tuple[date, date], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight at the start and end of a date range."""
    start, end = days
    return (
        datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC),
        datetime.combine(end, time(0), tzinfo=tz).astimezone(UTC),
    )
