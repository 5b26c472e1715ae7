"""A confirmation sent whose meeting is deleted before its email Task is written still ends visibly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import reliability_oracle as oracle
from bench.reliability_stack import Stack
from prepbot.domain import Status

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
START = datetime(2026, 10, 23, 6, 0, tzinfo=UTC)  # Friday 08:00 in Amsterdam


def test_a_sent_confirmation_whose_meeting_is_deleted_before_its_task_ends_logged_with_a_reason(
    tmp_path: Path,
) -> None:
    contacts = [("c0", "client0@example.test", "Europe/Amsterdam")]
    stack = Stack(tmp_path, start=START, contacts=contacts)
    try:
        event = stack.create_event("client0@example.test", START + timedelta(hours=7))  # booked late
        stack.arm_crash("after_task_create")  # sent, the Task written, its Id never stored
        assert stack.tick() is None
        [row] = stack.app.ledger.rows()
        assert row.status is Status.SENT
        stack.delete_event(event)
        for _ in range(3):
            report = stack.tick()
            assert report is not None
            stack.clock.advance(timedelta(minutes=15))
        [row] = stack.app.ledger.rows()
        assert row.status is Status.LOGGED and "deleted" in row.reason
        assert len(stack.relay.stored) == 1
        obs = oracle.observe(stack, with_tasks=True)
        assert oracle.violations(obs, stack.now, settled=True, final=True) == []
    finally:
        stack.close()
