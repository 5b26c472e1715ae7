"""Zones come from the pinned tzdata package, whatever the host's tz database says (reliability.md T3)."""

from __future__ import annotations

import shutil
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from prepbot.timing import SendPolicy, confirmation_due_at, to_local
from prepbot.zones import TZDATA_VERSION, is_known_zone, known_zones, zone

STALE_HINT = (
    "the pinned tzdata package ({version}) predates tzdb 2026b, where British Columbia keeps "
    "UTC-7 all year from 2026-11-01; upgrade the 'tzdata' dependency (pip install -U tzdata)"
)


def test_vancouver_stays_on_utc_minus_7_after_2026_11_01_with_the_pinned_tzdata() -> None:
    winter = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    offset = winter.astimezone(zone("America/Vancouver")).utcoffset()
    assert offset == timedelta(hours=-7), STALE_HINT.format(version=TZDATA_VERSION)


def test_a_vancouver_confirmation_in_december_is_due_at_ten_on_the_permanent_dst_clock() -> None:
    start = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # Wed 10:00 at UTC-7
    due = confirmation_due_at(start, None, "America/Vancouver", SendPolicy())
    assert due == datetime(2026, 12, 1, 17, 0, tzinfo=UTC), STALE_HINT.format(version=TZDATA_VERSION)


@pytest.fixture
def stale_system_tzdata(tmp_path: Path) -> Iterator[Path]:
    """A host tz database whose Vancouver still falls back to UTC-8 (Los Angeles' rules), first on TZPATH."""
    (tmp_path / "America").mkdir()
    source = resources.files("tzdata").joinpath("zoneinfo").joinpath("America").joinpath("Los_Angeles")
    with source.open("rb") as src, (tmp_path / "America" / "Vancouver").open("wb") as dst:
        shutil.copyfileobj(src, dst)
    saved = zoneinfo.TZPATH
    zoneinfo.reset_tzpath([str(tmp_path)])
    zone.cache_clear()
    try:
        yield tmp_path
    finally:
        zoneinfo.reset_tzpath(list(saved))
        zone.cache_clear()


def test_stale_system_tzdata_does_not_change_prepbots_zones(stale_system_tzdata: Path) -> None:
    winter = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)
    system_offset = winter.astimezone(zoneinfo.ZoneInfo.no_cache("America/Vancouver")).utcoffset()
    assert system_offset == timedelta(hours=-8)  # what a plain ZoneInfo() would have used
    assert to_local(winter, "America/Vancouver").utcoffset() == timedelta(hours=-7)


def test_one_instance_is_shared_per_zone_key() -> None:
    assert zone("Europe/Amsterdam") is zone("Europe/Amsterdam")
    assert str(zone("Europe/Amsterdam")) == "Europe/Amsterdam"


@pytest.mark.parametrize(
    "key", ["Nowhere/Land", "", "../../etc/passwd", "America", "europe/amsterdam", "/UTC"]
)
def test_an_unknown_zone_key_raises_a_clear_error(key: str) -> None:
    assert not is_known_zone(key)
    with pytest.raises(zoneinfo.ZoneInfoNotFoundError, match=f"unknown time zone.*tzdata {TZDATA_VERSION}"):
        zone(key)


@pytest.mark.parametrize(
    "key", ["UTC", "GMT", "US/Eastern", "Asia/Calcutta", "America/Argentina/Buenos_Aires"]
)
def test_salesforce_style_keys_including_backward_links_are_known(key: str) -> None:
    assert zone(key).utcoffset(datetime(2026, 1, 1)) is not None


def test_every_zone_the_package_lists_loads() -> None:
    assert len(known_zones()) > 400
    for key in known_zones():
        assert str(zone(key)) == key
