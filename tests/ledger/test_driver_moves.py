"""SENDING and SENT on SQLite's driver (issue 7): the same rows and history as SQLAlchemy writes,
one transaction each, and every refusal still made by the checked path."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from prepbot.domain import ActionRow, Settlement, Status
from prepbot.errors import LedgerError, LedgerStateError, StaleClaimError
from prepbot.ledger.sql import SqlLedger
from tests.ledger.conftest import LEASE, NOW, key, planned

LATER = NOW.replace(minute=1)


def _open(path: Path, *, driver: bool) -> SqlLedger:
    ledger = SqlLedger(f"sqlite:///{path}")
    if not driver:  # the SQLAlchemy path alone: what the driver path must write too
        ledger.__dict__["_driver_moves"] = None
    return ledger


def _claimed(ledger: SqlLedger, n: int = 1) -> list[ActionRow]:
    ledger.plan([planned(key(f"00U00000000000{i}")) for i in range(n)], NOW)
    return ledger.claim_due(NOW, limit=n, lease=LEASE, worker="w1")


def _tables(ledger: SqlLedger) -> tuple[list[Any], list[Any]]:
    with ledger._engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM actions ORDER BY id")).all()
        history = conn.execute(text("SELECT * FROM events_log ORDER BY id")).all()
    return rows, history


def _send_through(ledger: SqlLedger) -> None:
    row = _claimed(ledger)[0]
    ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt, message_id="m1@prepbot")
    ledger.settle(row.id, Status.SENT, LATER, attempt=row.attempt, reason="250 ok", template_version="v7")


@pytest.fixture
def pair(tmp_path: Path) -> Callable[[], tuple[SqlLedger, SqlLedger]]:
    opened: list[SqlLedger] = []

    def make() -> tuple[SqlLedger, SqlLedger]:
        ledgers = (_open(tmp_path / "driver.db", driver=True), _open(tmp_path / "sqla.db", driver=False))
        opened.extend(ledgers)
        return ledgers

    yield make
    for ledger in opened:
        ledger.close()


def test_driver_path_writes_the_rows_and_history_sqlalchemy_writes(
    pair: Callable[[], tuple[SqlLedger, SqlLedger]],
) -> None:
    driver, sqla = pair()
    assert driver._driver_moves is not None
    for ledger in (driver, sqla):
        _send_through(ledger)
    assert _tables(driver) == _tables(sqla)
    row = driver.rows_for_events(["00U000000000000"])[0]
    assert (row.status, row.message_id, row.template_version) == (Status.SENT, "m1@prepbot", "v7")
    assert row.sent_at == LATER and row.lease_until is None
    moves = [(t.from_status, t.to_status) for t in driver.history(row.id)]
    assert moves[-2:] == [(Status.CLAIMED, Status.SENDING), (Status.SENDING, Status.SENT)]


def test_a_batch_logged_on_the_driver_writes_what_sqlalchemy_writes(
    pair: Callable[[], tuple[SqlLedger, SqlLedger]],
) -> None:
    """settle_many's LOGGED moves (the background writer's, every batch) in one driver transaction."""
    driver, sqla = pair()
    moves_on_driver = driver._driver_moves
    assert moves_on_driver is not None
    made: list[bool] = []
    moved_all = moves_on_driver.moved_all

    def recorded(*args: Any, **kwargs: Any) -> bool:
        made.append(moved_all(*args, **kwargs))
        return made[-1]

    moves_on_driver.moved_all = recorded  # type: ignore[method-assign]
    for ledger in (driver, sqla):
        rows = _claimed(ledger, 3)
        for row in rows:
            ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt, message_id=f"m{row.id}@x")
            ledger.settle(row.id, Status.SENT, NOW, attempt=row.attempt)
        logged = [Settlement(r.id, Status.LOGGED, attempt=r.attempt, crm_id=f"00T{r.id}") for r in rows]
        assert ledger.settle_many(logged, LATER) == [None, None, None]
    assert made[-1] is True  # the batch went in one driver transaction
    assert _tables(driver) == _tables(sqla)
    assert {row.status for row in driver.rows()} == {Status.LOGGED}


def test_a_batch_with_a_stale_move_is_settled_on_the_checked_path(tmp_path: Path) -> None:
    """One move of the batch cannot be made: nothing of the driver's try stays, and the checked path
    moves the others and says why not that one."""
    ledger = _open(tmp_path / "driver.db", driver=True)
    try:
        rows = _claimed(ledger, 2)
        for row in rows:
            ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt, message_id=f"m{row.id}@x")
            ledger.settle(row.id, Status.SENT, NOW, attempt=row.attempt)
        moves = [
            Settlement(rows[0].id, Status.LOGGED, attempt=rows[0].attempt, crm_id="00T1"),
            Settlement(rows[1].id, Status.LOGGED, attempt=rows[1].attempt + 1, crm_id="00T2"),
        ]
        outcomes = ledger.settle_many(moves, LATER)
        assert outcomes[0] is None and isinstance(outcomes[1], StaleClaimError)
        assert [row.status for row in ledger.rows_for_events([r.key.event_id for r in rows])] == [
            Status.LOGGED,
            Status.SENT,
        ]
    finally:
        ledger.close()


def test_a_failed_history_write_leaves_the_row_as_it_was(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "l.db", driver=True)
    try:
        row = _claimed(ledger)[0]
        with ledger._engine.begin() as conn:  # the INSERT after the UPDATE fails
            conn.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON events_log BEGIN SELECT RAISE(ABORT, 'no'); END")
            )
        with pytest.raises(LedgerError, match=r"\): no$"):
            ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt)
        assert ledger.rows_for_events([row.key.event_id])[0].status is Status.CLAIMED
        with ledger._engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse"))
        ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt)
        assert ledger.rows_for_events([row.key.event_id])[0].status is Status.SENDING
    finally:
        ledger.close()


def test_a_durable_move_leaves_the_connection_at_normal_sync(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "l.db", driver=True)
    try:
        row = _claimed(ledger)[0]
        ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt)
        driver = ledger._driver_moves
        assert driver is not None and driver._kept is not None  # the connection the moves keep
        assert driver._kept.dbapi_connection.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    finally:
        ledger.close()


def test_the_moves_keep_one_connection_and_give_it_back_when_the_ledger_closes(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "l.db", driver=True)
    rows = _claimed(ledger, 4)
    pool = ledger._engine.pool
    for row in rows[:2]:
        ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt)
    assert pool.checkedout() == 1  # kept between moves, not one per move
    threads = [
        threading.Thread(
            target=ledger.settle, args=(row.id, Status.SENDING, NOW), kwargs={"attempt": row.attempt}
        )
        for row in rows[2:]
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status for r in ledger.rows_for_events([r.key.event_id for r in rows])} == {Status.SENDING}
    ledger.close()
    assert pool.checkedout() == 0  # nothing left open behind the closed ledger


def test_a_move_that_fails_does_not_keep_its_connection(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "l.db", driver=True)
    try:
        row = _claimed(ledger)[0]
        with ledger._engine.begin() as conn:
            conn.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON events_log BEGIN SELECT RAISE(ABORT, 'no'); END")
            )
        with pytest.raises(LedgerError):
            ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt)
        assert ledger._engine.pool.checkedout() == 0
    finally:
        ledger.close()


def test_refusals_still_come_from_the_checked_path(tmp_path: Path) -> None:
    ledger = _open(tmp_path / "l.db", driver=True)
    try:
        first, second = _claimed(ledger, 2)
        ledger.settle(first.id, Status.SENDING, NOW, attempt=first.attempt)
        ledger.settle(first.id, Status.SENDING, NOW, attempt=first.attempt)  # a replay: no error
        with pytest.raises(StaleClaimError):
            ledger.settle(second.id, Status.SENDING, NOW, attempt=second.attempt - 1)
        with pytest.raises(LedgerStateError):
            ledger.settle(second.id, Status.SENT, NOW, attempt=second.attempt)  # not SENDING yet
        naive = datetime(2026, 3, 2, 9, 0)
        with pytest.raises(LedgerStateError, match="naive"):
            ledger.settle(second.id, Status.SENDING, naive, attempt=second.attempt)
        statuses = [r.status for r in ledger.rows_for_events([first.key.event_id, second.key.event_id])]
        assert sorted(s.value for s in statuses) == ["claimed", "sending"]
        assert len(ledger.history(first.id)) == 3  # planned, claimed, sending: the replay wrote nothing
    finally:
        ledger.close()
