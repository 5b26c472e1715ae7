"""Query locators: open query cursors addressed by `nextRecordsUrl` (`/query/0r8...-<offset>`)."""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from typing import Any, Protocol

# Salesforce keeps locators for 2 days with no cap on open cursors (v56+); a test sandbox keeps the
# most recent ones only, so memory stays bounded.
MAX_CURSORS = 500
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


class QueryCursorLike(Protocol):
    """What the data layer's QueryCursor offers."""

    total_size: int

    def fetch(self, offset: int, limit: int) -> list[dict[str, Any]]: ...


def _to18(id15: str) -> str:
    """The 18-character form of a 15-character id (salesforce-api.md §1.1)."""
    suffix = ""
    for k in range(3):
        chunk = id15[k * 5 : (k + 1) * 5]
        suffix += _ALPHABET[sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")]
    return id15 + suffix


class CursorRegistry:
    """Open cursors by locator, with their page size (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, tuple[QueryCursorLike, int]] = OrderedDict()
        self._seq = itertools.count(1)

    def open(self, cursor: QueryCursorLike, batch_size: int) -> str:
        """Register a cursor; returns its 18-character `0r8` locator."""
        locator = _to18(f"0r8SB{next(self._seq):010d}")
        with self._lock:
            self._cursors[locator] = (cursor, batch_size)
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return locator

    def get(self, locator: str) -> tuple[QueryCursorLike, int] | None:
        """The cursor and page size of a locator, or None when unknown or dropped."""
        with self._lock:
            return self._cursors.get(locator)

    def clear(self) -> None:
        """Forget every cursor (their locators become INVALID_QUERY_LOCATOR)."""
        with self._lock:
            self._cursors.clear()
