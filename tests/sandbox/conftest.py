"""Shared fixtures for the sandbox data-layer tests: a store with a fixed clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from prepbot.sandbox.store import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class FakeClock:
    """A settable clock for the store."""

    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> Iterator[Store]:
    st = Store(":memory:", clock=clock)
    yield st
    st.close()
