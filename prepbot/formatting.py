"""Locale-aware dates and times for messages, all via Babel (CLDR): no hand-written names."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from babel import Locale
from babel.dates import format_date, format_time

from prepbot import zones

# Drops the year field (and the punctuation or literal that belongs to it, e.g. Russian "y 'г'.",
# Japanese "y年") from a CLDR date pattern: "EEEE d MMMM y" -> "EEEE d MMMM". Weekday and month
# names still come from CLDR; only the year, pointless for a meeting one day away, goes.
_YEAR_FIELD = re.compile(r"[\s,.]*y+(?:年|\s*'[^']*'\.?)?")
# The formatters below are pure, and a day's meetings share a few days and clock times (slots on
# the hour and half hour): each distinct (value, zone, locale) is formatted by Babel once (issue 7:
# Babel was a fifth of a message's rendering).
_FORMATTED = 4096


@lru_cache(maxsize=64)
def _locale(locale: str) -> Locale:
    return Locale.parse(locale)


@lru_cache(maxsize=64)
def _day_pattern(locale: str) -> str:
    """The locale's full date pattern without the year, e.g. ``EEEE, MMMM d`` for ``en``."""
    full = _locale(locale).date_formats["full"].pattern
    return _YEAR_FIELD.sub("", full).strip(" ,")


@lru_cache(maxsize=_FORMATTED)
def format_day(day: date, locale: str) -> str:
    """Weekday and date without the year: "dinsdag 1 december", "Tuesday, December 1"."""
    return format_date(day, _day_pattern(locale), locale=_locale(locale))


@lru_cache(maxsize=_FORMATTED)
def format_day_month(day: date, locale: str) -> str:
    """Date and month only, in the form that follows a number: "1 december", "1 декабря"."""
    return format_date(day, _locale(locale).datetime_skeletons["MMMMd"].pattern, locale=_locale(locale))


@lru_cache(maxsize=_FORMATTED)
def format_weekday(day: date, locale: str) -> str:
    """The weekday's full name: "dinsdag", "Tuesday", "вторник"."""
    return format_date(day, "EEEE", locale=_locale(locale))


@lru_cache(maxsize=_FORMATTED)
def format_clock(at: datetime, zone: str, locale: str) -> str:
    """The local wall-clock time in the locale's short form: "10:00", "10:00 AM"."""
    return format_time(at, "short", tzinfo=zones.zone(zone), locale=_locale(locale))


def local_date(at: datetime, zone: str) -> date:
    """The calendar date of an aware instant in ``zone``."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: prepbot keeps instants timezone-aware UTC")
    return at.astimezone(zones.zone(zone)).date()


@lru_cache(maxsize=_FORMATTED)
def format_meeting_time(start_at: datetime, zone: str, locale: str) -> str:
    """The meeting's local day and time, joined by the locale's CLDR date-time pattern.

    ``2026-12-01T09:00Z``, ``Europe/Amsterdam``, ``nl`` -> "dinsdag 1 december, 10:00";
    ``en`` -> "Tuesday, December 1, 10:00 AM". Babel 2.19's CLDR data no longer carries the
    "at"/"om" joining words, so templates that want a sentence ("om 10:00") compose
    ``day_text`` and ``time_text`` themselves: the words live in the templates.
    """
    day = format_day(local_date(start_at, zone), locale)
    clock = format_clock(start_at, zone, locale)
    joiner = str(_locale(locale).datetime_formats["full"]).replace("'", "")
    return joiner.replace("{1}", day).replace("{0}", clock)
