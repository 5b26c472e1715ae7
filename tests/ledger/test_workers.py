"""Several processes on one ledger (issue 8): heartbeats, claims, the planner lease, fencing, double plans."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from prepbot.domain import PlannedAction, Status, WorkerInfo, WorkerRow
from prepbot.errors import StaleClaimError
from prepbot.ledger.leader import PLANNER_LOCK_KEY
from prepbot.ledger.sql import SqlLedger
from prepbot.ports import Ledger
from tests.ledger.conftest import LEASE, NOW, key, planned

S = Status
HOUR = timedelta(hours=1)

# A planner process that takes the lease and then waits to be killed.
PLANNER_CHILD = """
import sys, time
from prepbot.ledger.leader import PLANNER_LOCK_KEY
from prepbot.ledger.sql import SqlLedger
lease = SqlLedger(sys.argv[1]).planner_lease("doomed")
print("acquired" if lease.acquire() else "refused", flush=True)
time.sleep(300)
"""


def worker(name: str = "host1:101", *, role: str = "worker", pid: int = 101) -> WorkerInfo:
    return WorkerInfo(name=name, role=role, host=name.split(":")[0], pid=pid, started_at=NOW - HOUR)


# -- heartbeats ----------------------------------------------------------------------------------


def test_a_heartbeat_registers_a_worker_and_a_later_one_refreshes_it(ledger: SqlLedger) -> None:
    ledger.heartbeat(worker(), NOW)
    ledger.heartbeat(worker(), NOW + timedelta(seconds=30))
    assert ledger.workers() == [
        WorkerRow("host1:101", "worker", "host1", 101, NOW - HOUR, NOW + timedelta(seconds=30), claims=0)
    ]


def test_a_restarted_worker_with_the_same_name_replaces_its_row(ledger: SqlLedger) -> None:
    ledger.heartbeat(worker(pid=101), NOW)
    restarted = WorkerInfo("host1:101", "all", "host1", 202, NOW)
    ledger.heartbeat(restarted, NOW + timedelta(minutes=1))
    (row,) = ledger.workers()
    assert (row.role, row.pid, row.started_at, row.seen_at) == ("all", 202, NOW, NOW + timedelta(minutes=1))


def test_workers_count_only_the_rows_each_holds_claimed_or_sending(ledger: SqlLedger) -> None:
    ledger.heartbeat(worker("host1:101"), NOW)
    ledger.heartbeat(worker("host2:7", role="planner", pid=7), NOW)
    ledger.plan([planned(key(f"E{i}")) for i in range(6)], NOW)
    mine = ledger.claim_due(NOW, limit=4, lease=LEASE, worker="host1:101")
    ledger.claim_due(NOW, limit=1, lease=LEASE, worker="gone:1")  # a worker without heartbeat
    ledger.settle(mine[0].id, S.SENDING, NOW, attempt=mine[0].attempt)  # still held
    ledger.settle(mine[1].id, S.SKIPPED, NOW, attempt=mine[1].attempt, reason="opted_out")  # let go
    claims = {row.name: row.claims for row in ledger.workers()}
    assert claims == {"host1:101": 3, "host2:7": 0}


def test_a_recovered_claim_no_longer_counts_for_its_worker(ledger: SqlLedger) -> None:
    ledger.heartbeat(worker(), NOW)
    ledger.plan([planned(key())], NOW)
    ledger.claim_due(NOW, limit=1, lease=LEASE, worker="host1:101")
    ledger.recover(NOW + LEASE)
    assert [row.claims for row in ledger.workers()] == [0]


def test_a_forgotten_worker_is_gone_and_forgetting_twice_is_harmless(ledger: SqlLedger) -> None:
    ledger.heartbeat(worker("host1:101"), NOW)
    ledger.heartbeat(worker("host2:7", pid=7), NOW)
    ledger.forget_worker("host1:101")
    ledger.forget_worker("host1:101")
    ledger.forget_worker("never-seen")
    assert [row.name for row in ledger.workers()] == ["host2:7"]


def test_every_ledger_on_the_database_sees_the_same_workers(open_ledger: Callable[..., SqlLedger]) -> None:
    first, second = open_ledger(), open_ledger()
    first.heartbeat(worker("host1:101"), NOW)
    second.heartbeat(worker("host2:7", pid=7), NOW)
    assert [row.name for row in first.workers()] == [row.name for row in second.workers()]
    assert len(first.workers()) == 2


# -- the planner lease ---------------------------------------------------------------------------


def test_one_planner_lease_at_a_time_and_release_hands_it_over(open_ledger: Callable[..., SqlLedger]) -> None:
    first, second = open_ledger(), open_ledger()
    mine, theirs = first.planner_lease("p1"), second.planner_lease("p2")
    assert mine.acquire()
    assert not theirs.acquire()
    assert mine.acquire()  # its holder may ask again
    assert mine.held() and not theirs.held()
    mine.release()
    mine.release()  # twice is harmless
    assert not mine.held()
    assert theirs.acquire() and theirs.held()
    assert not mine.acquire()


def test_leases_racing_for_the_planner_role_elect_exactly_one(open_ledger: Callable[..., SqlLedger]) -> None:
    ledgers = [open_ledger() for _ in range(3)]
    leases = [ledgers[i % 3].planner_lease(f"p{i}") for i in range(6)]  # some share a ledger
    won: list[bool] = []
    start = threading.Barrier(len(leases))

    def race(index: int) -> None:
        start.wait()
        won.append(leases[index].acquire())

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(leases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * 5 + [True]
    assert sum(lease.held() for lease in leases) == 1


def test_closing_a_ledger_releases_its_planner_lease(open_ledger: Callable[..., SqlLedger]) -> None:
    first, second = open_ledger(), open_ledger()
    assert first.planner_lease("p1").acquire()
    lease = second.planner_lease("p2")
    assert not lease.acquire()
    first.close()
    assert lease.acquire()


def test_a_released_planner_lease_can_be_taken_at_once_every_time(
    open_ledger: Callable[..., SqlLedger],
) -> None:
    """A clean stop hands the lease over with no delay: the standby's very next try wins it."""
    first, second = open_ledger(), open_ledger()
    leases = [first.planner_lease("p1"), second.planner_lease("p2")]
    assert leases[0].acquire()
    for turn in range(30):
        holder, standby = leases[turn % 2], leases[(turn + 1) % 2]
        assert not standby.acquire()
        holder.release()
        assert standby.acquire(), f"handover {turn} found the lease still taken"


def test_a_killed_planner_frees_the_lease_for_another(
    open_ledger: Callable[..., SqlLedger], ledger_url: str
) -> None:
    lease = open_ledger().planner_lease("survivor")
    child = subprocess.Popen(
        [sys.executable, "-c", PLANNER_CHILD, ledger_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "acquired"
        assert not lease.acquire()
        child.kill()  # SIGKILL: no release, no clean close
        child.wait(timeout=60)
        deadline = time.monotonic() + 60  # a bound so a broken lease fails instead of hanging
        while not lease.acquire():
            assert time.monotonic() < deadline, "the dead planner's lease was never freed"
            time.sleep(0.05)
        assert lease.held()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_an_in_memory_ledger_is_always_its_own_planner() -> None:
    ledger = SqlLedger("sqlite://")
    try:
        lease = ledger.planner_lease("solo")
        assert lease.acquire() and lease.held()
    finally:
        ledger.close()


def test_the_sqlite_lease_is_a_lock_file_next_to_the_database(tmp_path: Path) -> None:
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        lease = ledger.planner_lease("p1")
        assert lease.acquire()
        lock_file = tmp_path / "ledger.db.planner.lock"
        assert lock_file.exists()
        lock_file.unlink()  # someone removed it: another process could now lock a new file
        assert not lease.held()
        assert lease.acquire()
    finally:
        ledger.close()


# -- fencing across processes --------------------------------------------------------------------


def test_a_worker_paused_past_its_lease_cannot_settle_over_the_one_that_took_over(
    open_ledger: Callable[..., SqlLedger],
) -> None:
    planner, paused, taker = open_ledger(), open_ledger(), open_ledger()  # three connection pools
    planner.plan([planned(key())], NOW)
    (stale,) = paused.claim_due(NOW, limit=1, lease=LEASE, worker="A")
    assert planner.recover(NOW + LEASE) == (1, 0)  # A's lease ran out while it was paused
    (fresh,) = taker.claim_due(NOW + LEASE, limit=1, lease=LEASE, worker="B")
    assert fresh.attempt == stale.attempt + 1
    with pytest.raises(StaleClaimError):
        paused.settle(stale.id, S.SENDING, NOW + LEASE, attempt=stale.attempt)
    taker.settle(fresh.id, S.SENDING, NOW + LEASE, attempt=fresh.attempt)
    taker.settle(fresh.id, S.SENT, NOW + LEASE, attempt=fresh.attempt, message_id="<b@x>")
    for target in (S.SENT, S.FAILED, S.PLANNED):
        with pytest.raises(StaleClaimError):
            paused.settle(stale.id, target, NOW + LEASE, attempt=stale.attempt)
    row = planner.get(key())
    assert row is not None
    assert (row.status, row.worker, row.attempt, row.message_id) == (S.SENT, "B", 2, "<b@x>")
    assert [t.to_status for t in planner.history(row.id)].count(S.SENT) == 1


# -- double planning (C7) ------------------------------------------------------------------------


def test_two_planners_planning_overlapping_keys_in_opposite_orders_neither_fails(
    open_ledger: Callable[..., SqlLedger],
) -> None:
    first, second = open_ledger(), open_ledger()
    errors: list[Exception] = []
    added: list[int] = []

    def plan(ledger: SqlLedger, actions: list[PlannedAction], start: threading.Barrier) -> None:
        start.wait()
        try:
            added.append(ledger.plan(actions, NOW))
        except Exception as error:  # collected, and asserted on below
            errors.append(error)

    for batch in range(3):
        actions = [planned(key(f"E{batch}-{i:04}")) for i in range(1000)]
        start = threading.Barrier(2)
        threads = [
            threading.Thread(target=plan, args=(first, actions, start)),
            threading.Thread(target=plan, args=(second, actions[::-1], start)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []  # before key-ordered inserts, PostgreSQL aborted one as a deadlock
    assert sum(added) == 3000
    assert len(first.rows()) == 3000


def test_sql_ledger_implements_the_worker_side_of_the_ledger_port(ledger: SqlLedger) -> None:
    port: Ledger = ledger  # mypy checks heartbeat / workers / forget_worker / planner_lease
    port.heartbeat(worker(), NOW)
    assert [row.name for row in port.workers()] == ["host1:101"]


def _postgres_only(ledger_url: str) -> None:
    if not ledger_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL session property")


def test_a_planner_that_stops_checking_its_lease_loses_it_after_the_idle_timeout(
    open_ledger: Callable[..., SqlLedger], ledger_url: str
) -> None:
    _postgres_only(ledger_url)
    frozen = open_ledger().planner_lease("frozen", idle_timeout=timedelta(seconds=1))
    waiting = open_ledger().planner_lease("waiting")
    assert frozen.acquire()
    deadline = time.monotonic() + 60  # a bound so a lease that never expires fails instead of hanging
    while not waiting.acquire():  # the frozen planner never calls held(): like a SIGSTOPped one
        assert time.monotonic() < deadline, "the idle planner kept its lease"
        time.sleep(0.2)
    assert not frozen.held()
    assert not frozen.acquire()


def test_a_lease_whose_session_was_killed_is_no_longer_held(
    open_ledger: Callable[..., SqlLedger], ledger_url: str
) -> None:
    _postgres_only(ledger_url)
    from sqlalchemy import create_engine, text

    lease = open_ledger().planner_lease("p1")
    assert lease.acquire()
    engine = create_engine(ledger_url)
    with engine.begin() as conn:  # what an admin, or a dropped network, does to the session
        killed = (
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND objid = :lo AND pid <> pg_backend_pid()"
                ),
                {"lo": PLANNER_LOCK_KEY & 0xFFFFFFFF},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert killed == [True]
    assert not lease.held()
    assert lease.acquire() and lease.held()


# -- retries after a lost reply (C10) ------------------------------------------------------------


def test_a_settle_repeated_after_a_lost_reply_changes_nothing(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    (row,) = ledger.claim_due(NOW, limit=1, lease=LEASE, worker="w1")
    for target in (S.SENDING, S.SENT):
        ledger.settle(row.id, target, NOW, attempt=row.attempt, message_id="<a@x>")
        ledger.settle(row.id, target, NOW + timedelta(seconds=1), attempt=row.attempt, reason="again")
    after = ledger.get(key())
    assert after is not None
    assert (after.status, after.reason, after.sent_at, after.message_id) == (S.SENT, "", NOW, "<a@x>")
    assert [t.to_status for t in ledger.history(row.id)] == [S.PLANNED, S.CLAIMED, S.SENDING, S.SENT]


def test_a_repeated_settle_with_a_stale_attempt_is_still_refused(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    (stale,) = ledger.claim_due(NOW, limit=1, lease=LEASE, worker="A")
    ledger.recover(NOW + LEASE)
    (fresh,) = ledger.claim_due(NOW + LEASE, limit=1, lease=LEASE, worker="B")
    ledger.settle(fresh.id, S.SENDING, NOW + LEASE, attempt=fresh.attempt)
    with pytest.raises(StaleClaimError):
        ledger.settle(stale.id, S.SENDING, NOW + LEASE, attempt=stale.attempt)


def test_a_process_frozen_inside_a_transaction_does_not_stall_the_planner(
    open_ledger: Callable[..., SqlLedger], ledger_url: str
) -> None:
    _postgres_only(ledger_url)
    from sqlalchemy import select

    from prepbot.errors import LedgerError
    from prepbot.ledger.schema import actions

    frozen, planner = open_ledger(idle_in_transaction_ms=500), open_ledger()
    planner.plan([planned(key("E1"))], NOW)
    cancelled: list[int] = []
    with pytest.raises(LedgerError), frozen._tx(write=True) as conn:  # the path every ledger call takes
        conn.execute(select(actions).with_for_update())  # then the process is stopped (SIGSTOP)
        thread = threading.Thread(target=lambda: cancelled.append(planner.cancel_events(["E1"], NOW)))
        thread.start()
        thread.join(timeout=60)  # a bound: without the server-side timeout this waits forever
        assert not thread.is_alive(), "the planner is still waiting for the frozen transaction"
    assert cancelled == [1]  # ... and the frozen one's commit fails when it wakes up
    row = planner.get(key("E1"))
    assert row is not None and row.status is S.CANCELLED
