"""Time zones from the pinned ``tzdata`` package, never from the system's (possibly stale) tz database.

Why: ``zoneinfo.ZoneInfo(key)`` searches ``zoneinfo.TZPATH`` (``/usr/share/zoneinfo`` ...) first
and uses the ``tzdata`` package only as a fallback, so a host with old system data silently gets
old rules (reliability.md T3: America/Vancouver keeps UTC-7 all year from 2026-11-01, tzdb 2026b;
cal.com#30104 is that bug). Changing ``TZPATH`` with ``zoneinfo.reset_tzpath([])`` would work too,
but it is process-global and would change every other library's zones behind its back. Instead
:func:`zone` reads the compiled zone file straight out of the ``tzdata`` package with
``ZoneInfo.from_file`` and caches one instance per key, so prepbot's results depend only on the
pinned ``tzdata`` version (:data:`TZDATA_VERSION`), whatever the host has.

Keys are checked against the package's own list of zones, so a lookup never touches a path built
from CRM data and is case-exact on every file system.
"""

from __future__ import annotations

import functools
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tzdata

__all__ = ["TZDATA_VERSION", "is_known_zone", "known_zones", "zone"]

#: The IANA tz database release prepbot computes with, e.g. ``"2026f"``.
TZDATA_VERSION: str = str(tzdata.IANA_VERSION)


@functools.cache
def known_zones() -> frozenset[str]:
    """Every zone key the pinned ``tzdata`` package holds (canonical names and backward links)."""
    listing = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in listing.splitlines() if line.strip())


def is_known_zone(key: str) -> bool:
    """True when ``key`` names a zone in the pinned ``tzdata`` package (exact spelling)."""
    return key in known_zones()


@functools.cache
def zone(key: str) -> ZoneInfo:
    """The zone ``key`` with the rules of the pinned ``tzdata`` package; one shared instance per key.

    Raises:
        ZoneInfoNotFoundError: ``key`` is not a zone of the pinned ``tzdata`` (a ``KeyError``).
    """
    if not is_known_zone(key):
        raise ZoneInfoNotFoundError(f"unknown time zone {key!r} (not in tzdata {TZDATA_VERSION})")
    # tzdata lays the zones out as package resources: "America/Vancouver" -> zoneinfo/America/Vancouver.
    resource = resources.files("tzdata").joinpath("zoneinfo")
    for part in key.split("/"):
        resource = resource.joinpath(part)
    with resource.open("rb") as data:
        return ZoneInfo.from_file(data, key=key)
