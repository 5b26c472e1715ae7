"""Ledger contract fixtures: the same tests on SQLite and on PostgreSQL (the env URL or a local server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prepbot.domain import ActionKey, MessageKind, PlannedAction, Status
from prepbot.ledger.sql import SqlLedger
from tests.conftest import PG_AVAILABLE, PG_SKIP_REASON

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=pytest.mark.skipif(not PG_AVAILABLE, reason=PG_SKIP_REASON),
    ),
]


def _reset_postgres(url: str) -> None:
    # Each test starts from an empty database (a new ledger is built at head in one step).
    from sqlalchemy import create_engine, text  # only the PostgreSQL reset needs it

    engine = create_engine(url)
    with engine.begin() as conn:
        tables = "events_log, actions, watermarks, notes, workers, prepbot_alembic_version"
        conn.execute(text(f"DROP TABLE IF EXISTS {tables}"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty ledger database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"
        return
    url: str = request.getfixturevalue("pg_url")
    _reset_postgres(url)
    yield url
    _reset_postgres(url)


@pytest.fixture
def open_ledger(ledger_url: str) -> Iterator[Callable[..., SqlLedger]]:
    """Opens ledgers on the test's database; every one opened is closed after the test."""
    opened: list[SqlLedger] = []

    def _open(**kwargs: object) -> SqlLedger:
        ledger = SqlLedger(ledger_url, **kwargs)  # type: ignore[arg-type]
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: Callable[..., SqlLedger]) -> SqlLedger:
    """A migrated, empty ledger."""
    return open_ledger()


def key(event_id: str = "00U000000000001", *, recipient: str = "anna@example.nl", **kw: object) -> ActionKey:
    """A confirmation key for an Event (other kinds or occurrences by keyword)."""
    occurrence = str(kw.get("occurrence", "2026-03-03T10:00:00Z"))
    kind = kw.get("kind", MessageKind.CONFIRMATION)
    assert isinstance(kind, MessageKind)
    return ActionKey(event_id, occurrence, recipient, kind)


def planned(
    k: ActionKey, *, due_in: timedelta = timedelta(0), status: Status = Status.PLANNED
) -> PlannedAction:
    """A PlannedAction for ``k`` due ``due_in`` after NOW, deadline a day after NOW."""
    reason = "" if status is Status.PLANNED else "opted_out"
    return PlannedAction(
        key=k,
        status=status,
        due_at=NOW + due_in,
        deadline_at=NOW + timedelta(days=1),
        reason=reason,
        to_address=k.recipient,
        language="nl",
        time_zone="Europe/Amsterdam",
    )
