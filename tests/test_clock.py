"""The system clock reads aware UTC; the fixed clock reads what tests set, forward or back (C12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from prepbot.clock import FixedClock, SystemClock
from prepbot.ports import Clock


def test_the_system_clock_reads_aware_utc() -> None:
    clock: Clock = SystemClock()
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now().tzinfo is UTC


def test_a_fixed_clock_reads_its_instant_in_utc_whatever_zone_it_was_given() -> None:
    clock: Clock = FixedClock(datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC


def test_a_fixed_clock_steps_forward_and_back_like_ntp() -> None:
    clock = FixedClock(datetime(2026, 6, 1, 10, 0, tzinfo=UTC))
    assert clock.advance(timedelta(minutes=10)) == datetime(2026, 6, 1, 10, 10, tzinfo=UTC)
    assert clock.advance(timedelta(minutes=-20)) == datetime(2026, 6, 1, 9, 50, tzinfo=UTC)
    clock.set(datetime(2026, 6, 2, tzinfo=UTC))
    assert clock.now() == datetime(2026, 6, 2, tzinfo=UTC)


def test_a_fixed_clock_refuses_naive_instants() -> None:
    with pytest.raises(ValueError, match="naive"):
        FixedClock(datetime(2026, 6, 1))
    clock = FixedClock(datetime(2026, 6, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        clock.set(datetime(2026, 6, 2))
