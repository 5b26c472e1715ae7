"""Fault injection for the sandbox: per route pattern and per call number (tests only).

A fault matches a *route key*: the request path relative to the API root, without the leading slash
and trailing slash, e.g. ``query``, ``query/0r8xx-200``, ``sobjects/Contact/003...``,
``composite/sobjects``, ``composite``, ``actions/standard/emailSimple``; the token endpoint is
``oauth2/token``. Patterns are `fnmatch` globs (``query*``, ``sobjects/Contact*``, ``*``).

Calls are counted per fault from the moment it is added: ``nth=3, times=1`` fires on the third
matching call only; ``nth=1, times=2`` on the next two; ``times=None`` for ever.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

# Fault kinds. The first five and insufficient_access replace the response; "slow" delays it;
# "truncated" cuts its body;
# "lock_record" makes one record of a collection (or the single DML) fail with UNABLE_TO_LOCK_ROW.
SESSION_EXPIRED = "session_expired"  # 401 INVALID_SESSION_ID
LIMIT_EXCEEDED = "limit_exceeded"  # 403 REQUEST_LIMIT_EXCEEDED
UNAVAILABLE = "unavailable"  # 503
SERVER_ERROR = "server_error"  # 500 UNKNOWN_EXCEPTION
LOCK_ROW = "lock_row"  # 400 UNABLE_TO_LOCK_ROW for a single request
LOCK_RECORD = "lock_record"  # one record inside a collection fails with UNABLE_TO_LOCK_ROW
SLOW = "slow"  # sleep `delay` seconds, then answer normally
TRUNCATED = "truncated"  # answer normally but cut the body in half (invalid JSON)
NO_ACCESS = "insufficient_access"  # 403 INSUFFICIENT_ACCESS_OR_READONLY (a missing permission)

KINDS = frozenset(
    {
        SESSION_EXPIRED,
        LIMIT_EXCEEDED,
        UNAVAILABLE,
        SERVER_ERROR,
        LOCK_ROW,
        LOCK_RECORD,
        SLOW,
        TRUNCATED,
        NO_ACCESS,
    }
)
REPLACING = frozenset({SESSION_EXPIRED, LIMIT_EXCEEDED, UNAVAILABLE, SERVER_ERROR, LOCK_ROW, NO_ACCESS})


@dataclass
class Fault:
    """One injected fault; `seen` counts the matching calls so far."""

    id: int
    route: str
    kind: str
    nth: int = 1
    times: int | None = 1
    method: str | None = None
    delay: float = 0.0
    record: int = 0
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, route: str) -> bool:
        """True when this fault's method and route pattern cover the call."""
        if self.method and self.method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(route, self.route)

    def exhausted(self) -> bool:
        """True once the fault has fired `times` times."""
        return self.times is not None and self.fired >= self.times

    def as_dict(self) -> dict[str, Any]:
        """JSON form, for the control endpoint."""
        return {
            "id": self.id,
            "route": self.route,
            "kind": self.kind,
            "nth": self.nth,
            "times": self.times,
            "method": self.method,
            "delay": self.delay,
            "record": self.record,
            "seen": self.seen,
            "fired": self.fired,
        }


@dataclass
class Faults:
    """The set of active faults of one sandbox (thread-safe)."""

    _faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        route: str,
        kind: str,
        *,
        nth: int = 1,
        times: int | None = 1,
        method: str | None = None,
        delay: float = 0.0,
        record: int = 0,
    ) -> Fault:
        """Inject a fault.

        Args:
            route: fnmatch pattern over the route key (see the module docstring).
            kind: one of `KINDS`.
            nth: the first matching call (1-based, counted from now) that gets the fault.
            times: how many consecutive matching calls get it; None = every call from `nth` on.
            method: only calls with this HTTP method (default: any).
            delay: seconds to sleep, for `slow`.
            record: the index of the failing record, for `lock_record` on a collection.

        Returns:
            The fault (its `id` can be passed to `remove`).

        Raises:
            ValueError: unknown kind or nonsensical numbers.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(KINDS)}")
        if nth < 1 or (times is not None and times < 1) or delay < 0 or record < 0:
            raise ValueError("nth and times must be >= 1, delay and record >= 0")
        with self._lock:
            fault = Fault(next(self._ids), route, kind, nth, times, method, float(delay), record)
            self._faults.append(fault)
            return fault

    def take(self, method: str, route: str) -> list[Fault]:
        """Count this call against every matching fault; return those that fire on it."""
        firing: list[Fault] = []
        with self._lock:
            for fault in self._faults:
                if fault.exhausted() or not fault.matches(method, route):
                    continue
                fault.seen += 1
                if fault.seen >= fault.nth:
                    fault.fired += 1
                    firing.append(fault)
        return firing

    def remove(self, fault_id: int) -> None:
        """Drop one fault."""
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def clear(self) -> None:
        """Drop every fault."""
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        """All faults (exhausted ones too) as dicts."""
        with self._lock:
            return [f.as_dict() for f in self._faults]
