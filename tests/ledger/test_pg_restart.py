"""Reliability C10 on PostgreSQL: the server restarts and is down a while mid-run; nothing lost or doubled."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, text

from prepbot.domain import ActionRow, Status
from prepbot.errors import LedgerError
from prepbot.ledger.sql import SqlLedger
from prepbot.ports import PlannerLease
from tests import pgserver
from tests.ledger.conftest import LEASE, NOW, key, planned

T = TypeVar("T")
S = Status
ROWS = 500
BATCH = 40

pytestmark = pytest.mark.skipif(pgserver.bindir() is None, reason="no PostgreSQL server binaries")


@pytest.fixture
def own_pg() -> Iterator[pgserver.PgServer]:
    """A PostgreSQL server of this test alone (the shared one must not be restarted)."""
    folder = Path(tempfile.mkdtemp(prefix="prepbot-test-pg-c10."))
    folder.chmod(0o755)  # the server may run as the postgres user
    server = pgserver.PgServer(folder / "cluster")
    server.start()
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


class Run:
    """One worker sending everything; every ledger call goes through ``call`` (a tick retried later)."""

    def __init__(self, ledger: SqlLedger) -> None:
        self.ledger = ledger
        self.sent: list[int] = []
        self.failures: list[LedgerError] = []

    def call(self, operation: Callable[[], T]) -> T:
        for _ in range(3):
            try:
                return operation()
            except LedgerError as error:
                assert error.retryable
                self.failures.append(error)
        raise AssertionError(f"the ledger kept failing: {self.failures[-1]}")

    def send(self, rows: list[ActionRow]) -> None:
        for row in rows:
            self.call(partial(self.ledger.settle, row.id, S.SENDING, NOW, attempt=row.attempt))
            self.sent.append(row.id)  # the relay accepted it
            self.call(partial(self.ledger.settle, row.id, S.SENT, NOW, attempt=row.attempt))

    def claim(self) -> list[ActionRow]:
        return self.call(lambda: self.ledger.claim_due(NOW, limit=BATCH, lease=LEASE, worker="w1"))

    def send_until(self, count: int) -> None:
        while len(self.sent) < count and (rows := self.claim()):
            self.send(rows)


def sent_transitions(url: str) -> dict[int, int]:
    engine = create_engine(url)
    query = text("SELECT action_id, count(*) FROM events_log WHERE to_status = 'sent' GROUP BY action_id")
    with engine.connect() as conn:
        found = {int(row_id): int(count) for row_id, count in conn.execute(query)}
    engine.dispose()
    return found


def assert_down(run: Run, lease: PlannerLease) -> None:
    with pytest.raises(LedgerError) as failed:
        run.ledger.claim_due(NOW, limit=BATCH, lease=LEASE, worker="w1")
    assert failed.value.retryable
    assert not lease.held()
    with pytest.raises(LedgerError):
        lease.acquire()


@pytest.mark.slow
def test_a_postgresql_restart_mid_run_loses_nothing_and_sends_nothing_twice(
    own_pg: pgserver.PgServer,
) -> None:
    ledger = SqlLedger(own_pg.url)
    run = Run(ledger)
    try:
        lease = ledger.planner_lease("planner")
        assert lease.acquire()
        assert ledger.plan([planned(key(f"E{i:04}")) for i in range(ROWS)], NOW) == ROWS
        run.send_until(150)
        in_flight = run.claim()  # claimed before the restart, sent after it
        own_pg.restart()
        assert not lease.held()  # the restart ended the lease's session and freed the lock
        run.send(in_flight)
        assert len(run.failures) <= 1
        run.send_until(350)
        own_pg.stop()  # down for a while: calls fail as retryable LedgerErrors, nobody plans
        assert_down(run, lease)
        own_pg.start()
        failures_before = len(run.failures)
        run.send_until(ROWS)
        assert len(run.failures) - failures_before <= 1
        assert lease.acquire() and lease.held()
        assert sorted(run.sent) == sorted(set(run.sent)) and len(run.sent) == ROWS
        assert ledger.counts_by_status() == {**dict.fromkeys(Status, 0), S.SENT: ROWS}
        assert set(sent_transitions(own_pg.url).values()) == {1}
        assert len(sent_transitions(own_pg.url)) == ROWS
    finally:
        ledger.close()


class PatientWorker(Run):
    """A worker thread that, like a tick, retries after a LedgerError (briefly, a bounded number of times)."""

    def __init__(self, ledger: SqlLedger) -> None:
        super().__init__(ledger)
        self.stop = threading.Event()

    def call(self, operation: Callable[[], T]) -> T:
        deadline = time.monotonic() + 60  # a bound, so a ledger that never recovers fails the test
        while True:
            try:
                return operation()
            except LedgerError as error:
                assert error.retryable
                self.failures.append(error)
                assert time.monotonic() < deadline, f"the ledger never came back: {error}"
                time.sleep(0.1)

    def work(self) -> None:
        while not self.stop.is_set():
            rows = self.claim()
            if rows:
                self.send(rows)
            else:
                time.sleep(0.01)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 120  # a bound so a stuck worker fails instead of hanging
    while not condition():
        assert time.monotonic() < deadline, "the worker stopped making progress"
        time.sleep(0.01)


@pytest.mark.slow
def test_restarts_while_a_worker_is_busy_lose_nothing_and_send_nothing_twice(
    own_pg: pgserver.PgServer,
) -> None:
    ledger = SqlLedger(own_pg.url)
    worker = PatientWorker(ledger)
    thread = threading.Thread(target=worker.work)
    try:
        assert ledger.plan([planned(key(f"E{i:04}")) for i in range(ROWS)], NOW) == ROWS
        thread.start()
        for mark in (100, 250):
            wait_for(lambda mark=mark: len(worker.sent) >= mark)  # type: ignore[misc]
            own_pg.restart()  # whatever the worker was doing: a claim, a settle, a commit
        wait_for(lambda: ledger.counts_by_status()[S.PLANNED] == 0)
        worker.stop.set()
        thread.join()
        # A claim whose reply was lost stays CLAIMED until its lease runs out; then it is sent.
        later = NOW + LEASE
        ledger.recover(later)
        while rows := ledger.claim_due(later, limit=BATCH, lease=LEASE, worker="w2"):
            for row in rows:
                ledger.settle(row.id, S.SENDING, later, attempt=row.attempt)
                worker.sent.append(row.id)
                ledger.settle(row.id, S.SENT, later, attempt=row.attempt)
        assert sorted(worker.sent) == sorted(set(worker.sent)) and len(worker.sent) == ROWS
        assert ledger.counts_by_status() == {**dict.fromkeys(Status, 0), S.SENT: ROWS}
        assert set(sent_transitions(own_pg.url).values()) == {1}
    finally:
        worker.stop.set()
        if thread.is_alive():
            thread.join()
        ledger.close()
