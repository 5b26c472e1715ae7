"""Crash tests C1–C6 (reliability.md): SIGKILL a real `prepbot tick` at each failpoint, restart it
after the lease, and check the invariants O1–O3 with the oracle plus what each row promises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prepbot.domain import Status
from tests.reliability.crash_env import LEASE, Scene, iso, make_scene, wait_for
from tests.reliability.oracle import Mail
from tests.smtp_server import Fault, SmtpTestServer

AFTER_LEASE = LEASE * 2


def scene(crash_org: Any, tmp_path: Path, n: int = 1, **settings: dict[str, Any]) -> Scene:
    return make_scene(crash_org, tmp_path / "bot", n, settings=settings)


def test_c1_killed_after_the_claim_the_row_is_claimed_again_after_the_lease_and_sent_once(
    crash_org: Any, tmp_path: Path
) -> None:
    s = scene(crash_org, tmp_path, 2)
    s.crash(s.due, "after_claim")
    assert [r.status for r in s.rows()] == [Status.CLAIMED] * 2
    assert s.mails() == []
    s.ok(s.due + LEASE / 2)  # the lease holds: nothing is taken over early
    assert s.mails() == []
    s.ok(s.due + AFTER_LEASE)
    assert sorted(m.to for m in s.mails()) == sorted(s.emails)
    assert {r.status for r in s.rows()} == {Status.LOGGED}
    assert s.violations(s.due + AFTER_LEASE) == []


def test_c2_killed_before_the_data_end_the_relay_has_nothing_and_the_retry_sends_one_with_the_same_id(
    crash_org: Any, tmp_path: Path
) -> None:
    s = scene(crash_org, tmp_path)
    s.crash(s.due, "before_data_end")
    assert s.mails() == []  # aiosmtpd keeps nothing without the terminator
    s.ok(s.due + AFTER_LEASE)
    [mail] = s.mails()
    [row] = s.rows()
    assert row.status is Status.LOGGED and row.message_id == mail.message_id
    assert s.violations(s.due + AFTER_LEASE) == []


def test_c3_killed_after_the_data_end_before_the_reply_the_row_is_held_in_doubt_and_the_owner_told(
    crash_org: Any, tmp_path: Path
) -> None:
    s = scene(crash_org, tmp_path)
    with SmtpTestServer(faults=[Fault("DATA_END", delay=30, times=1)]) as relay:
        s.smtp_port = relay.port
        s.write_config()
        proc = s.spawn("tick", "--now", iso(s.due))
        try:
            wait_for(lambda: len(relay.received) == 1, what="the relay to hold the message")
        finally:
            proc.kill()
        assert proc.wait(timeout=30) == -9
        alert = s.ok(s.due + AFTER_LEASE, code=1)
        mails = [Mail.parse(r.data) for r in relay.received]
    assert len(mails) == 1  # no silent resend under hold
    assert "in doubt" in alert.stderr and "the owner has a Task" in alert.stderr
    [row] = s.rows()
    assert row.status is Status.IN_DOUBT
    assert owner_tasks(s) == [row.crm_id]
    assert s.violations(s.due + AFTER_LEASE, mails) == []


def owner_tasks(s: Scene) -> list[str]:
    tasks = s.observation().tasks or []
    return [t.id for t in tasks if t.subtype == "Task"]


@pytest.mark.parametrize("point", ["after_smtp_250", "after_send"])
def test_c4_killed_after_the_relays_250_the_row_is_held_in_doubt_and_the_owner_told(
    crash_org: Any, tmp_path: Path, point: str
) -> None:
    s = scene(crash_org, tmp_path)
    s.crash(s.due, point)
    assert len(s.mails()) == 1
    s.ok(s.due + AFTER_LEASE, code=1)  # the alert
    s.ok(s.due + AFTER_LEASE * 2)  # a later tick neither resends nor writes a second Task
    assert len(s.mails()) == 1
    [row] = s.rows()
    assert row.status is Status.IN_DOUBT
    assert owner_tasks(s) == [row.crm_id]
    assert s.violations(s.due + AFTER_LEASE * 2) == []


def test_c4_with_the_resend_policy_an_in_doubt_row_is_sent_exactly_once_more(
    crash_org: Any, tmp_path: Path
) -> None:
    s = scene(crash_org, tmp_path, messages={"in_doubt_policy": "resend"})
    s.crash(s.due, "after_send")
    s.ok(s.due + AFTER_LEASE)
    s.ok(s.due + AFTER_LEASE * 2)
    mails = s.mails()
    assert len(mails) == 2 and mails[0].message_id == mails[1].message_id
    [row] = s.rows()
    assert row.status is Status.LOGGED
    assert owner_tasks(s) == []
    assert s.violations(s.due + AFTER_LEASE * 2) == []


def test_c5_killed_after_the_task_create_the_restart_adopts_the_task_instead_of_writing_another(
    crash_org: Any, tmp_path: Path
) -> None:
    s = scene(crash_org, tmp_path, 2)
    s.crash(s.due, "after_task_create")
    assert {r.status for r in s.rows()} == {Status.SENT}
    s.ok(s.due + AFTER_LEASE)
    tasks = s.observation().tasks or []
    assert len([t for t in tasks if t.subtype == "Email"]) == 2
    assert len(s.mails()) == 2
    rows = s.rows()
    assert {r.status for r in rows} == {Status.LOGGED}
    assert {r.crm_id for r in rows} == {t.id for t in tasks}
    assert s.violations(s.due + AFTER_LEASE) == []


def test_c6_killed_after_the_note_create_the_restart_finds_the_note_and_writes_no_second(
    crash_org: Any, tmp_path: Path
) -> None:
    s = scene(crash_org, tmp_path, 2)
    s.crash(s.due, "after_note_create")
    s.ok(s.due + AFTER_LEASE)
    notes = s.observation().notes or []
    assert sorted(n.linked_entity_id for n in notes) == sorted(s.contact_ids)
    assert len(s.mails()) == 2
    assert s.violations(s.due + AFTER_LEASE) == []
