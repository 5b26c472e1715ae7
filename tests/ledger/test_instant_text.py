"""Instants on SQLite: stored as the text SQLAlchemy's DATETIME stores, of the instant in UTC (the
ledger's own bind processor makes it in one call; issue 7), and read back aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite

from prepbot.ledger.schema import UtcDateTime

DIALECT = sqlite.dialect()
ZONES = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
INSTANTS = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC) | ZONES
)


@settings(max_examples=300, deadline=None)
@given(INSTANTS)
def test_an_instant_is_stored_as_sqlalchemy_stores_its_utc_time_and_read_back(value: datetime) -> None:
    bind = UtcDateTime()._cached_bind_processor(DIALECT)
    read = UtcDateTime()._cached_result_processor(DIALECT, None)
    assert bind is not None and read is not None
    utc = value.astimezone(UTC)
    text = bind(value)
    assert text == sqlite.DATETIME().bind_processor(DIALECT)(utc.replace(tzinfo=None))
    assert read(text) == utc and read(text).tzinfo is UTC
    assert bind(None) is None


def test_a_naive_instant_is_refused() -> None:
    bind = UtcDateTime()._cached_bind_processor(DIALECT)
    assert bind is not None
    with pytest.raises(ValueError, match="naive datetime refused"):
        bind(datetime(2026, 12, 1, 9, 0))
