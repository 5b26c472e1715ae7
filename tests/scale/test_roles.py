"""Roles on a shared ledger (prepbot/roles.py, admin_views worker lines), with the real SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from prepbot.admin_views import ago_text, stale_after, worker_lines
from prepbot.domain import WorkerInfo, WorkerRow
from prepbot.ledger.sql import SqlLedger
from prepbot.report import Report
from prepbot.roles import Member, jobs_for

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Cycles:
    """Stands in for the service: records which cycles ran (the service has tests of its own)."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def sync(self, now: datetime) -> Report:
        self.ran.append("sync")
        return Report(meetings=1)

    def dispatch(self, now: datetime) -> Report:
        self.ran.append("dispatch")
        return Report(claimed=1)

    def request_stop(self) -> None:
        self.ran.append("stop")


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


@pytest.fixture
def ledgers(ledger_url: str) -> Iterator[list[SqlLedger]]:
    """One ledger object per simulated process (as separate processes would have)."""
    opened: list[SqlLedger] = []
    yield opened
    for ledger in opened:
        ledger.close()


def member(ledgers: list[SqlLedger], url: str, name: str, role: str) -> tuple[Member, Cycles]:
    ledger = SqlLedger(url)
    ledgers.append(ledger)
    cycles = Cycles()
    info = WorkerInfo(name=name, role=role, host="host-a", pid=100 + len(ledgers), started_at=NOW)
    return Member(ledger=ledger, cycles=cycles, info=info, role=role), cycles  # type: ignore[arg-type]


def roles(ledger: SqlLedger) -> dict[str, str]:
    return {row.name: row.role for row in ledger.workers()}


def test_each_role_runs_its_own_jobs() -> None:
    assert jobs_for("all") == ("sync", "dispatch")
    assert jobs_for("planner") == ("sync",)
    assert jobs_for("worker") == ("dispatch",)


def test_of_two_planners_one_plans_and_the_other_stands_by_until_it_leaves(
    ledgers: list[SqlLedger], ledger_url: str
) -> None:
    first, first_ran = member(ledgers, ledger_url, "planner-1", "planner")
    second, second_ran = member(ledgers, ledger_url, "planner-2", "planner")

    assert first.sync(NOW) is not None
    assert second.sync(NOW) is None
    assert (first_ran.ran, second_ran.ran) == (["sync"], [])
    assert roles(ledgers[0]) == {"planner-1": "planner:leader", "planner-2": "planner:standby"}

    first.leave()  # a clean stop: lease released, heartbeat row gone
    assert second.sync(NOW + timedelta(seconds=10)) is not None
    assert second_ran.ran == ["sync"]
    assert roles(ledgers[0]) == {"planner-2": "planner:leader"}


def test_a_leader_keeps_planning_at_every_tick(ledgers: list[SqlLedger], ledger_url: str) -> None:
    planner, ran = member(ledgers, ledger_url, "solo", "all")
    for minute in range(3):
        planner.sync(NOW + timedelta(minutes=minute))
        planner.dispatch(NOW + timedelta(minutes=minute))
    assert ran.ran == ["sync", "dispatch"] * 3
    assert roles(ledgers[0]) == {"solo": "all:leader"}


def test_a_worker_heartbeats_at_each_dispatch_and_is_forgotten_on_a_clean_stop(
    ledgers: list[SqlLedger], ledger_url: str
) -> None:
    worker, ran = member(ledgers, ledger_url, "worker-1", "worker")
    assert worker.lease is None
    worker.dispatch(NOW)
    worker.beat(NOW + timedelta(seconds=30))
    (seen,) = ledgers[0].workers()
    assert (seen.name, seen.role, seen.host) == ("worker-1", "worker", "host-a")
    assert seen.seen_at == NOW + timedelta(seconds=30)
    worker.leave()
    assert ledgers[0].workers() == [] and ran.ran == ["dispatch"]


def test_a_lost_lease_is_noticed_between_cycles_and_the_heartbeat_says_standby(
    ledgers: list[SqlLedger], ledger_url: str, tmp_path: Path
) -> None:
    planner, _ = member(ledgers, ledger_url, "planner-1", "planner")
    planner.sync(NOW)
    (tmp_path / "ledger.sqlite.planner.lock").unlink()  # the lease's lock file vanished: lease lost
    planner.beat(NOW + timedelta(seconds=5))
    assert roles(ledgers[0]) == {"planner-1": "planner:standby"}
    assert planner.sync(NOW + timedelta(seconds=10)) is not None  # and it takes the lease again
    assert roles(ledgers[0]) == {"planner-1": "planner:leader"}


def row(name: str, role: str, seen_ago: int, claims: int = 0) -> WorkerRow:
    return WorkerRow(
        name=name,
        role=role,
        host="h",
        pid=1,
        started_at=NOW - timedelta(hours=1),
        seen_at=NOW - timedelta(seconds=seen_ago),
        claims=claims,
    )


def test_status_lines_mark_the_live_leader_as_planner_and_old_heartbeats_as_stale() -> None:
    stale = stale_after(timedelta(seconds=300), timedelta(seconds=60))
    assert stale == timedelta(seconds=900)
    lines = worker_lines(
        [
            row("w-1", "worker", 20, claims=50),
            row("p-2", "planner:standby", 30),
            row("p-1", "planner:leader", 10),
            row("gone", "planner:leader", 901),  # crashed while leading: not the planner any more
        ],
        NOW,
        stale,
    )
    assert [line.name for line in lines] == ["p-1", "p-2", "w-1", "gone"]
    by_name = {line.name: line for line in lines}
    assert by_name["p-1"].planner and not by_name["p-2"].planner and by_name["p-2"].standby
    assert by_name["w-1"].live and by_name["w-1"].claims == 50 and by_name["w-1"].role == "worker"
    assert not by_name["gone"].live and not by_name["gone"].planner
    # killed while leading, not stale yet: the newer leader's heartbeat wins
    both = worker_lines([row("p-1", "planner:leader", 25), row("p-2", "planner:leader", 3)], NOW, stale)
    assert [(line.name, line.planner) for line in both] == [("p-2", True), ("p-1", False)]
    shown = by_name["gone"].as_json()
    assert shown["state"] == "stale" and shown["role"] == "planner" and shown["seen_seconds_ago"] == 901


def test_ago_text_reads_naturally() -> None:
    assert ago_text(timedelta(seconds=42)) == "42 s ago"
    assert ago_text(timedelta(minutes=7)) == "7 min ago"
    assert ago_text(timedelta(hours=3)) == "3 h ago"
    assert ago_text(timedelta(days=2)) == "2 d ago"
