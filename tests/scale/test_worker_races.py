"""Two workers with no fault at all (PostgreSQL): what a long dispatch cycle and a shared relog do.

Two defects these runs found in prepbot/service.py (issue 8), fixed; pinned here:

1. ``dispatch(now)`` claims batch after batch with the cycle's ``now``, so the lease of a claim made
   ``lease_seconds`` into a long cycle has already expired when it is made; another process's
   ``recover()`` takes such rows back while they are being sent (stale claims, and a row that was
   SENDING becomes in doubt although nothing failed). Now each claim is timed when it is made.
2. ``TaskLog.relog_sent`` (then ``Service._relog_sent``) of every worker picks up the SENT rows of
   the others (sent in this cycle, their Task not written yet) and writes their email Task too:
   two Tasks for one message. Now only rows sent more than a lease ago are adopted.

Neither sends an email twice (the fencing holds; the chaos test counts Message-IDs).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from bench.scale_stack import Stack, Timing, pg_available
from bench.scale_workers import wait_settled
from tests.scale.test_chaos import task_counts

MEETINGS = 1500  # at ~30 messages/s, each worker's dispatch cycle outlasts the 30 s lease

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not pg_available(), reason="no PostgreSQL: binaries or PREPBOT_TEST_PG_URL"),
]


@pytest.mark.timeout(900)
def test_two_workers_without_faults_write_one_email_task_each_and_leave_nothing_in_doubt() -> None:
    folder = Path(tempfile.mkdtemp(prefix="prepbot-races-"))
    try:
        with Stack(folder, MEETINGS, Timing(sync=10, dispatch=5, lease=30, batch=25)) as stack:
            stack.spawn("planner", "planner-1")
            for i in range(2):
                stack.spawn("worker", f"worker-{i + 1}")
            final = wait_settled(stack, MEETINGS, timeout=600)
            email, _ = task_counts(stack)
            stack.terminate_all()
            logs = "".join(path.read_text("utf-8") for path in (folder / "logs").glob("*.log"))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert final.get("logged") == MEETINGS, final
    assert "stale_claim" not in logs and "recovered expired leases" not in logs
    assert sum(email.values()) == MEETINGS and max(email.values()) == 1
