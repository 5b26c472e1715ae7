"""Clocks for the ``Clock`` port: the system clock, and a fixed one for tests and ``--now``."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["FixedClock", "SystemClock"]


class SystemClock:
    """The host's wall clock, in UTC; it can step (NTP, suspend), and the ledger, not it, prevents repeats."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that reads what it was set to; tests move it forward or back (reliability.md C12).

    Args:
        at: the starting instant; must be timezone-aware (it is stored as UTC).

    Raises:
        ValueError: ``at`` (or a later ``set``) is naive.
    """

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._at = _aware_utc(at)

    def now(self) -> datetime:
        """Return the instant the clock was set to, timezone-aware UTC."""
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        """Jump to ``at`` (earlier or later)."""
        at = _aware_utc(at)
        with self._lock:
            self._at = at

    def advance(self, delta: timedelta) -> datetime:
        """Move by ``delta`` (negative steps back, as NTP can) and return the new instant."""
        with self._lock:
            self._at += delta
            return self._at

    def __repr__(self) -> str:
        return f"FixedClock({self._at.isoformat()})"


def _aware_utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: a clock reads timezone-aware UTC")
    return at.astimezone(UTC)
