"""One SQLite writer at a time in a process: a second writer waits its turn on a lock, not in
SQLite's busy handler, which sleeps 1, 2, 5 ms... between tries (issue 7)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from prepbot.domain import Status
from prepbot.ledger import engine as db
from prepbot.ledger.sql import SqlLedger
from tests.ledger.conftest import LEASE, NOW, key, planned


def while_a_write_is_open(ledger: SqlLedger, other_write: Callable[[], object]) -> None:
    """Hold a write transaction open while another thread of this process writes; the other write
    must wait for it and succeed. With no busy timeout, SQLite itself would refuse it at once."""
    inside, started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def other() -> None:
        inside.wait(10)
        started.set()
        try:
            other_write()
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    with db.transaction(ledger._engine, write=True) as conn:
        conn.execute(text("UPDATE watermarks SET name = name"))
        inside.set()
        started.wait(10)
        thread.join(0.2)  # the other writer is now waiting (or has failed)
    thread.join(10)
    assert errors == []


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[SqlLedger]:
    made = SqlLedger(f"sqlite:///{tmp_path / 'ledger.db'}", busy_timeout_ms=0)
    yield made
    made.close()


def test_a_plan_waits_for_another_thread_s_write(ledger: SqlLedger) -> None:
    while_a_write_is_open(ledger, lambda: ledger.plan([planned(key("00U000000000001"))], NOW))
    assert [row.key for row in ledger.rows()] == [key("00U000000000001")]


def test_a_send_s_move_on_the_driver_waits_for_another_thread_s_write(ledger: SqlLedger) -> None:
    ledger.plan([planned(key("00U000000000001"))], NOW)
    [row] = ledger.claim_due(NOW, limit=1, lease=LEASE, worker="w1")
    move = lambda: ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt, message_id="m@x")  # noqa: E731
    while_a_write_is_open(ledger, move)
    assert ledger.rows()[0].status is Status.SENDING
