"""Crash tests C10–C12 (reliability.md): the ledger unavailable, `prepbot run` killed mid-job, and
clock jumps; each ends with the invariants O1–O3 checked by the oracle."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prepbot.domain import Status
from tests.reliability.crash_env import LEASE, Scene, local, make_scene, wait_for

MINUTE = timedelta(minutes=1)


def statuses(s: Scene) -> list[str]:
    """The rows' states, read without a write lock ([] while the ledger is still being created)."""
    try:
        with sqlite3.connect(f"file:{s.ledger_path}?mode=ro", uri=True) as conn:
            return [status for (status,) in conn.execute("SELECT status FROM actions ORDER BY id")]
    except sqlite3.OperationalError:
        return []


def test_c10_a_ledger_locked_past_the_busy_timeout_fails_the_tick_with_exit_3_and_skips_nothing(
    crash_org: Any, tmp_path: Path
) -> None:
    s = make_scene(crash_org, tmp_path / "bot", 2)
    s.ok(s.due - timedelta(hours=1))  # planned, not due yet
    holder = sqlite3.connect(s.ledger_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock longer than busy_timeout (5 s)
    try:
        locked = s.tick(s.due)
    finally:
        holder.rollback()
        holder.close()
    assert locked.returncode == 3, locked.stderr[-2000:]
    assert "prepbot: ledger unavailable" in locked.stderr and "database is locked" in locked.stderr
    assert "Traceback" not in locked.stderr
    assert s.mails() == [] and statuses(s) == ["planned", "planned"]
    s.ok(s.due + MINUTE)
    assert sorted(m.to for m in s.mails()) == sorted(s.emails)
    assert s.violations(s.due + MINUTE) == []


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file can't be written, even by root (chattr +i); mode 0444 is enough for anyone else."""
    path.chmod(0o444)
    immutable = False
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: a read-only file cannot be made")
        immutable = subprocess.run(["chattr", "+i", str(path)], check=False).returncode == 0
        if not immutable:
            pytest.skip("running as root and chattr +i is not permitted here")
    try:
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(0o644)


def test_c10_a_read_only_ledger_fails_the_tick_with_exit_3_and_the_next_tick_sends(
    crash_org: Any, tmp_path: Path
) -> None:
    s = make_scene(crash_org, tmp_path / "bot")
    s.ok(s.due - timedelta(hours=1))
    with read_only(s.ledger_path):
        refused = s.tick(s.due)
    assert refused.returncode == 3, refused.stderr[-2000:]
    assert "prepbot: ledger unavailable" in refused.stderr and "Traceback" not in refused.stderr
    assert s.mails() == []
    s.ok(s.due + MINUTE)
    assert len(s.mails()) == 1
    assert s.violations(s.due + MINUTE) == []


def test_c11_killing_prepbot_run_mid_job_loses_nothing_and_the_next_tick_sends_the_due_rows(
    crash_org: Any, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)  # `run` has no --now: the real clock
    s = make_scene(
        crash_org,
        tmp_path / "bot",
        starts=[now + timedelta(hours=5)],
        settings={"schedule": {"sync_interval_seconds": 600, "dispatch_interval_seconds": 600}},
    )
    proc = s.spawn("run", failpoints="after_claim=sleep:60")
    try:
        wait_for(lambda: s.ledger_path.exists() and statuses(s) == ["claimed"], what="a claimed row")
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert proc.returncode == -9
    assert s.mails() == []
    after = datetime.now(UTC) + LEASE * 2
    s.ok(after)
    assert len(s.mails()) == 1 and statuses(s) == ["logged"]
    assert s.violations(after) == []


def test_c12_the_clock_stepping_back_after_a_send_or_a_crash_sends_nothing_twice(
    crash_org: Any, tmp_path: Path
) -> None:
    s = make_scene(crash_org, tmp_path / "bot", 2)
    s.crash(s.due, "after_claim")  # both claimed; leases until due + 30 s
    s.ok(s.due - 10 * MINUTE)  # NTP steps back: the leases look young, nothing is taken over
    assert s.mails() == [] and statuses(s) == ["claimed", "claimed"]
    s.ok(s.due + LEASE * 2)
    assert len(s.mails()) == 2
    s.ok(s.due - 10 * MINUTE)  # and back again after the send
    s.ok(s.due + LEASE * 3)
    assert len(s.mails()) == 2
    assert {r.status for r in s.rows()} == {Status.LOGGED}
    assert s.violations(s.due + LEASE * 3) == []


def test_c12_a_jump_forward_past_the_windows_still_sends_before_the_start_and_skips_a_past_meeting(
    crash_org: Any, tmp_path: Path
) -> None:
    s = make_scene(crash_org, tmp_path / "bot", 2)
    wednesday = s.wednesday
    s.starts[1] = local(wednesday - timedelta(days=1), 11)  # move the second meeting to Tuesday 11:00
    crash_org.client().Event.update(s.event_ids[1], {"StartDateTime": s.starts[1].isoformat()})
    s.truths = [t if i == 0 else type(t)(t.event_id, s.starts[1], t.since) for i, t in enumerate(s.truths)]
    s.ok(local(wednesday - timedelta(days=2), 9))  # Monday 09:00: both planned
    jumped = local(wednesday, 8)  # suspend/resume: the next tick reads Wednesday 08:00
    s.ok(jumped)
    [mail] = s.mails()
    assert mail.to == s.emails[0]  # late, but 6 hours before its start: sent
    rows = {r.key.event_id: r for r in s.rows()}
    assert rows[s.event_ids[1]].status is Status.SKIPPED and rows[s.event_ids[1]].reason
    assert s.violations(jumped) == []
