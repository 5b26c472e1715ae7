"""Ledger contract: what every SqlLedger backend must do (state machine, fencing, recovery, history)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from prepbot.domain import ActionRow, MessageKind, Status
from prepbot.errors import ConfigError, LedgerError, LedgerStateError, StaleClaimError
from prepbot.ledger.sql import IN_DOUBT_REASON, SqlLedger
from prepbot.ports import Ledger
from tests.ledger.conftest import LEASE, NOW, key, planned

S = Status


def claim_one(ledger: SqlLedger, *, now: datetime = NOW, worker: str = "w1") -> ActionRow:
    rows = ledger.claim_due(now, limit=1, lease=LEASE, worker=worker)
    assert len(rows) == 1
    return rows[0]


def status_of(ledger: SqlLedger, row_id: int) -> Status:
    (row,) = [row for row in ledger.rows() if row.id == row_id]
    return row.status


# -- planning ------------------------------------------------------------------------------------


def test_the_unique_key_absorbs_a_double_plan(ledger: SqlLedger) -> None:
    actions = [planned(key("E1")), planned(key("E2")), planned(key("E1"))]  # E1 twice in one batch too
    assert ledger.plan(actions, NOW) == 2
    assert ledger.plan(actions, NOW + timedelta(minutes=5)) == 0
    assert len(ledger.rows()) == 2
    assert ledger.counts_by_status()[S.PLANNED] == 2


def test_two_planners_at_once_create_no_duplicate_rows(open_ledger: Callable[..., SqlLedger]) -> None:
    first, second = open_ledger(), open_ledger()
    actions = [planned(key(f"E{i}")) for i in range(200)]
    added: list[int] = []
    threads = [
        threading.Thread(target=lambda lg=lg: added.append(lg.plan(actions, NOW))) for lg in (first, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(added) == 200
    assert len(first.rows()) == 200


def test_a_key_planned_again_keeps_its_state_and_due_time(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    row = claim_one(ledger)
    assert ledger.plan([planned(key(), due_in=timedelta(hours=3))], NOW) == 0
    again = ledger.get(key())
    assert again is not None
    assert (again.status, again.due_at, again.attempt) == (S.CLAIMED, row.due_at, 1)


def test_a_decision_taken_at_plan_time_is_stored_with_its_reason(ledger: SqlLedger) -> None:
    ledger.plan([planned(key(), status=S.SKIPPED)], NOW)
    row = ledger.get(key())
    assert row is not None
    assert (row.status, row.reason) == (S.SKIPPED, "opted_out")
    assert ledger.claim_due(NOW + timedelta(days=1), limit=10, lease=LEASE, worker="w1") == []


def test_a_plan_cannot_start_a_row_in_flight(ledger: SqlLedger) -> None:
    with pytest.raises(LedgerStateError, match="sent"):
        ledger.plan([planned(key(), status=S.SENT)], NOW)
    assert ledger.rows() == []


# -- claiming and the happy path -----------------------------------------------------------------


def test_claim_takes_due_planned_rows_oldest_first_up_to_the_limit(ledger: SqlLedger) -> None:
    ledger.plan(
        [
            planned(key("LATE"), due_in=timedelta(minutes=-1)),
            planned(key("EARLY"), due_in=timedelta(minutes=-30)),
            planned(key("NOW")),
            planned(key("FUTURE"), due_in=timedelta(seconds=1)),
        ],
        NOW,
    )
    first = ledger.claim_due(NOW, limit=2, lease=LEASE, worker="w1")
    assert [row.key.event_id for row in first] == ["EARLY", "LATE"]
    second = ledger.claim_due(NOW, limit=10, lease=LEASE, worker="w2")
    assert [row.key.event_id for row in second] == ["NOW"]
    assert ledger.claim_due(NOW, limit=0, lease=LEASE, worker="w2") == []


def test_a_claim_bumps_the_attempt_and_sets_lease_and_worker(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    row = claim_one(ledger, worker="host-a:123")
    assert (row.status, row.attempt, row.worker) == (S.CLAIMED, 1, "host-a:123")
    assert row.lease_until == NOW + LEASE


def test_a_row_goes_claimed_sending_sent_logged(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    row = claim_one(ledger)
    later = NOW + timedelta(seconds=30)
    ledger.settle(row.id, S.SENDING, NOW, attempt=row.attempt, message_id="prepbot.abc@example.nl")
    ledger.settle(row.id, S.SENT, later, attempt=row.attempt, template_version="v3")
    ledger.settle(row.id, S.LOGGED, later, attempt=row.attempt, crm_id="00T000000000001")
    done = ledger.get(key())
    assert done is not None
    assert done.status is S.LOGGED
    assert (done.message_id, done.template_version, done.crm_id) == (
        "prepbot.abc@example.nl",
        "v3",
        "00T000000000001",
    )
    assert done.sent_at == later
    assert done.lease_until is None
    assert ledger.open_rows() == []


def test_concurrent_claimers_never_claim_a_row_twice(open_ledger: Callable[..., SqlLedger]) -> None:
    ledgers = [open_ledger() for _ in range(4)]
    ledgers[0].plan([planned(key(f"E{i:03}")) for i in range(120)], NOW)
    claimed: list[list[int]] = [[] for _ in ledgers]

    def work(index: int) -> None:
        while rows := ledgers[index].claim_due(NOW, limit=7, lease=LEASE, worker=f"w{index}"):
            claimed[index].extend(row.id for row in rows)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(ledgers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [row_id for ids in claimed for row_id in ids]
    assert len(ids) == len(set(ids)) == 120


# -- retries -------------------------------------------------------------------------------------


def test_a_claimed_row_can_be_planned_again_for_later(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    row = claim_one(ledger)
    retry_at = NOW + timedelta(minutes=10)
    ledger.settle(row.id, S.PLANNED, NOW, attempt=row.attempt, due_at=retry_at, reason="crm unavailable")
    back = ledger.get(key())
    assert back is not None
    assert (back.status, back.due_at, back.worker, back.lease_until) == (S.PLANNED, retry_at, None, None)
    assert ledger.claim_due(NOW, limit=5, lease=LEASE, worker="w1") == []
    assert claim_one(ledger, now=retry_at).attempt == 2


def test_a_send_that_reached_nobody_can_be_retried(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    row = claim_one(ledger)
    ledger.settle(row.id, S.SENDING, NOW, attempt=row.attempt)
    ledger.settle(row.id, S.PLANNED, NOW, attempt=row.attempt, reason="smtp 451", due_at=NOW + LEASE)
    assert status_of(ledger, row.id) is S.PLANNED


# -- the state machine ---------------------------------------------------------------------------

ILLEGAL = [
    ([], S.SENDING),
    ([], S.SENT),
    ([], S.LOGGED),
    ([], S.IN_DOUBT),
    ([], S.CLAIMED),  # claiming is claim_due's job: it bumps the fencing token
    ([S.CLAIMED], S.SENT),
    ([S.CLAIMED], S.IN_DOUBT),
    ([S.CLAIMED, S.SENDING], S.SUPERSEDED),
    ([S.CLAIMED, S.SENDING], S.SKIPPED),
    ([S.CLAIMED, S.SENDING, S.SENT], S.PLANNED),
    ([S.CLAIMED, S.SENDING, S.SENT], S.FAILED),
    ([S.CLAIMED, S.SENDING, S.SENT, S.LOGGED], S.PLANNED),
    ([S.CLAIMED, S.SENDING, S.FAILED], S.PLANNED),
    ([S.CLAIMED, S.SENDING, S.IN_DOUBT], S.SENT),
    ([S.SKIPPED], S.PLANNED),
    ([S.CANCELLED], S.PLANNED),
]


@pytest.mark.parametrize(("path", "target"), ILLEGAL, ids=lambda v: "-".join(map(str, v)) if v else "planned")
def test_illegal_transitions_are_refused_naming_both_states(
    ledger: SqlLedger, path: list[Status], target: Status
) -> None:
    ledger.plan([planned(key())], NOW)
    row_id = ledger.rows()[0].id
    for step in path:
        if step is S.CLAIMED:
            claim_one(ledger)
        else:
            ledger.settle(row_id, step, NOW, reason="test")
    source = path[-1] if path else S.PLANNED
    steps = len(ledger.history(row_id))
    with pytest.raises(LedgerStateError) as refused:
        ledger.settle(row_id, target, NOW, reason="refused")
    assert f"{source.value} -> {target.value}" in str(refused.value)
    assert not refused.value.retryable
    assert status_of(ledger, row_id) is source
    assert len(ledger.history(row_id)) == steps


def test_settling_an_unknown_row_is_refused(ledger: SqlLedger) -> None:
    with pytest.raises(LedgerStateError, match="no ledger row 4242"):
        ledger.settle(4242, S.SKIPPED, NOW)


# -- fencing -------------------------------------------------------------------------------------


def test_a_worker_whose_expired_claim_was_taken_over_cannot_settle(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    paused = claim_one(ledger, worker="paused")
    later = NOW + LEASE + timedelta(seconds=1)
    assert ledger.recover(later) == (1, 0)
    taker = claim_one(ledger, now=later, worker="taker")
    assert taker.attempt == paused.attempt + 1
    ledger.settle(taker.id, S.SENDING, later, attempt=taker.attempt)
    for target in (S.SENDING, S.SENT, S.PLANNED, S.FAILED):
        with pytest.raises(StaleClaimError, match="stale"):
            ledger.settle(paused.id, target, later, attempt=paused.attempt)
    ledger.settle(taker.id, S.SENT, later, attempt=taker.attempt)
    row = ledger.get(key())
    assert row is not None
    assert (row.status, row.worker, row.attempt) == (S.SENT, "taker", 2)


def test_a_worker_whose_claim_was_recovered_cannot_start_sending(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    paused = claim_one(ledger)
    ledger.recover(NOW + LEASE)
    with pytest.raises(StaleClaimError, match="planned"):
        ledger.settle(paused.id, S.SENDING, NOW + LEASE, attempt=paused.attempt)
    assert status_of(ledger, paused.id) is S.PLANNED


def test_a_worker_cannot_turn_an_in_doubt_row_into_sent(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    paused = claim_one(ledger)
    ledger.settle(paused.id, S.SENDING, NOW, attempt=paused.attempt)
    ledger.recover(NOW + LEASE)
    with pytest.raises(StaleClaimError, match="in_doubt"):
        ledger.settle(paused.id, S.SENT, NOW + LEASE, attempt=paused.attempt)
    assert status_of(ledger, paused.id) is S.IN_DOUBT


def test_a_worker_holding_a_superseded_claim_cannot_send(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    held = claim_one(ledger)
    assert ledger.supersede_others(held.key.event_id, set(), None, NOW) == 1
    with pytest.raises(StaleClaimError, match="superseded"):
        ledger.settle(held.id, S.SENDING, NOW, attempt=held.attempt)


# -- recovery ------------------------------------------------------------------------------------


def test_recover_replans_expired_claims_and_marks_expired_sends_in_doubt(ledger: SqlLedger) -> None:
    ledger.plan([planned(key(f"E{i}")) for i in range(4)], NOW)
    claimed, sending, fresh_claim, fresh_send = ledger.claim_due(NOW, limit=4, lease=LEASE, worker="w1")
    ledger.settle(sending.id, S.SENDING, NOW, attempt=sending.attempt)
    later = NOW + LEASE
    # Renewed leases (claimed again / renewed on SENDING) must survive the same recover().
    ledger.settle(fresh_send.id, S.SENDING, later - timedelta(seconds=1), attempt=1, lease=LEASE)
    ledger.settle(fresh_claim.id, S.PLANNED, NOW, attempt=1)
    claim_one(ledger, now=later - timedelta(seconds=1))
    assert ledger.recover(later) == (1, 1)
    assert status_of(ledger, claimed.id) is S.PLANNED
    doubtful = ledger.rows(status=S.IN_DOUBT)
    assert [row.id for row in doubtful] == [sending.id]
    assert doubtful[0].reason == IN_DOUBT_REASON
    assert status_of(ledger, fresh_send.id) is S.SENDING
    assert status_of(ledger, fresh_claim.id) is S.CLAIMED
    assert ledger.recover(later) == (0, 0)


def test_a_recovered_claim_is_claimed_again_and_sent_once(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    claim_one(ledger)
    later = NOW + LEASE
    ledger.recover(later)
    row = claim_one(ledger, now=later)
    ledger.settle(row.id, S.SENDING, later, attempt=row.attempt)
    ledger.settle(row.id, S.SENT, later, attempt=row.attempt)
    assert ledger.counts_by_status()[S.SENT] == 1
    assert len(ledger.rows()) == 1


# -- supersede and cancel ------------------------------------------------------------------------


def test_supersede_others_withdraws_open_rows_but_leaves_sending_and_sent_alone(ledger: SqlLedger) -> None:
    old = [key("E1", recipient=f"r{i}@example.nl") for i in range(4)]
    prep = key("E1", kind=MessageKind.PREP_NOTE)
    ledger.plan([*(planned(k) for k in old), planned(prep)], NOW)
    sent_row, sending_row, claimed_row = ledger.claim_due(NOW, limit=3, lease=LEASE, worker="w1")
    ledger.settle(sent_row.id, S.SENDING, NOW, attempt=1)
    ledger.settle(sent_row.id, S.SENT, NOW, attempt=1)
    ledger.settle(sending_row.id, S.SENDING, NOW, attempt=1)
    moved = key("E1", occurrence="2026-03-04T10:00:00Z")
    ledger.plan([planned(moved)], NOW)

    count = ledger.supersede_others("E1", {moved}, [MessageKind.CONFIRMATION], NOW, reason="meeting moved")
    assert count == 2  # the claimed one and the still-planned one
    by_key = {row.key: row for row in ledger.rows(event_id="E1")}
    assert by_key[sent_row.key].status is S.SENT
    assert by_key[sending_row.key].status is S.SENDING
    assert by_key[claimed_row.key].status is S.SUPERSEDED
    assert by_key[claimed_row.key].reason == "meeting moved"
    assert by_key[moved].status is S.PLANNED
    assert by_key[prep].status is S.PLANNED  # another kind: not touched


def test_cancel_events_cancels_open_rows_of_deleted_events_only(ledger: SqlLedger) -> None:
    ledger.plan([planned(key("GONE", recipient=f"r{i}@example.nl")) for i in range(3)], NOW)
    ledger.plan([planned(key("KEPT"))], NOW + timedelta(seconds=1))
    first = claim_one(ledger)
    ledger.settle(first.id, S.SENDING, NOW, attempt=1)
    ledger.settle(first.id, S.SENT, NOW, attempt=1)
    claim_one(ledger)

    assert ledger.cancel_events(["GONE", "NEVER-PLANNED"], NOW) == 2
    statuses = sorted(row.status.value for row in ledger.rows(event_id="GONE"))
    assert statuses == ["cancelled", "cancelled", "sent"]
    assert {row.reason for row in ledger.rows(status=S.CANCELLED)} == {"meeting deleted"}
    assert [row.status for row in ledger.rows(event_id="KEPT")] == [S.PLANNED]
    assert ledger.cancel_events([], NOW) == 0


# -- history -------------------------------------------------------------------------------------


def test_history_records_every_transition_in_order(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    first = claim_one(ledger, worker="w1")
    ledger.recover(NOW + LEASE)
    second = claim_one(ledger, now=NOW + LEASE, worker="w2")
    ledger.settle(second.id, S.SENDING, NOW + LEASE, attempt=2)
    ledger.settle(second.id, S.IN_DOUBT, NOW + LEASE, attempt=2, reason="no reply after DATA")
    steps = ledger.history(first.id)
    assert [(t.from_status, t.to_status, t.attempt, t.worker) for t in steps] == [
        (None, S.PLANNED, 0, None),
        (S.PLANNED, S.CLAIMED, 1, "w1"),
        (S.CLAIMED, S.PLANNED, 1, "w1"),
        (S.PLANNED, S.CLAIMED, 2, "w2"),
        (S.CLAIMED, S.SENDING, 2, "w2"),
        (S.SENDING, S.IN_DOUBT, 2, "w2"),
    ]
    assert steps[-1].reason == "no reply after DATA"
    assert steps[2].at == NOW + LEASE
    assert ledger.history(first.id + 100) == []


# -- reading -------------------------------------------------------------------------------------


def test_open_rows_and_reports_filter_by_event_status_and_time(ledger: SqlLedger) -> None:
    ledger.plan([planned(key("A")), planned(key("B")), planned(key("C"), status=S.SKIPPED)], NOW)
    row = claim_one(ledger)  # A
    ledger.settle(row.id, S.FAILED, NOW + timedelta(hours=1), attempt=1, reason="smtp 550 5.1.1")
    assert [r.key.event_id for r in ledger.open_rows()] == ["B"]
    assert ledger.open_rows(["A", "C"]) == []
    assert [r.key.event_id for r in ledger.rows()] == ["A", "C", "B"]  # newest change first
    assert [r.key.event_id for r in ledger.rows(limit=1)] == ["A"]
    assert [r.reason for r in ledger.rows(status=S.FAILED)] == ["smtp 550 5.1.1"]
    assert [r.key.event_id for r in ledger.rows(since=NOW + timedelta(minutes=1))] == ["A"]
    assert [r.status for r in ledger.rows_for_events(["A", "B"], [S.FAILED])] == [S.FAILED]
    assert len(ledger.rows_for_events(["A", "B", "C"])) == 3
    assert ledger.get(key("Z")) is None
    counts = ledger.counts_by_status()
    assert (counts[S.FAILED], counts[S.PLANNED], counts[S.SKIPPED], counts[S.LOGGED]) == (1, 1, 1, 0)


def test_watermarks_are_stored_and_replaced(ledger: SqlLedger) -> None:
    assert ledger.get_watermark("events") is None
    ledger.set_watermark("events", NOW)
    ledger.set_watermark("events", NOW + timedelta(minutes=5))
    ledger.set_watermark("other", NOW)
    assert ledger.get_watermark("events") == NOW + timedelta(minutes=5)


def test_datetimes_come_back_aware_utc(ledger: SqlLedger) -> None:
    amsterdam = timezone(timedelta(hours=1))
    local_now = NOW.astimezone(amsterdam)
    ledger.plan([planned(key())], local_now)
    ledger.set_watermark("events", local_now)
    row = claim_one(ledger, now=local_now)
    instants = [row.due_at, row.deadline_at, row.lease_until, row.created_at, ledger.get_watermark("events")]
    instants += [step.at for step in ledger.history(row.id)]
    for instant in instants:
        assert instant is not None
        assert instant.tzinfo is UTC
    assert row.created_at == NOW


def test_a_naive_datetime_is_refused(ledger: SqlLedger) -> None:
    with pytest.raises(LedgerStateError, match="naive"):
        ledger.set_watermark("events", datetime(2026, 3, 2, 9, 0))
    assert ledger.get_watermark("events") is None


# -- restart and migrations ----------------------------------------------------------------------


def test_a_new_ledger_on_the_same_database_keeps_everything(open_ledger: Callable[..., SqlLedger]) -> None:
    first = open_ledger()
    first.plan([planned(key("A")), planned(key("B"))], NOW)
    row = claim_one(first)
    first.settle(row.id, S.SENDING, NOW, attempt=1)
    first.set_watermark("events", NOW)
    before = (first.rows(), first.history(row.id))
    first.close()

    second = open_ledger()
    assert (second.rows(), second.history(row.id)) == before
    assert second.get_watermark("events") == NOW
    assert second.recover(NOW + LEASE) == (0, 1)  # the crashed send is found after the restart


def test_migrations_run_on_an_empty_database_and_are_idempotent(
    open_ledger: Callable[..., SqlLedger],
) -> None:
    with pytest.raises(LedgerStateError, match="revision none"):
        open_ledger(migrate=False)
    first = open_ledger()
    first.plan([planned(key())], NOW)
    open_ledger()  # re-open: upgrade to head is a no-op
    checked = open_ledger(migrate=False)
    assert len(checked.rows()) == 1


def test_the_head_the_ledger_checks_without_alembic_is_the_scripts_head() -> None:
    from prepbot.ledger import engine

    assert engine.scripts_head() == engine.HEAD_REVISION


def test_a_sqlite_ledger_never_loads_the_postgresql_dialect(tmp_path: Path) -> None:
    """Issue 7: loading it was about 50 ms of every start; a SQLite ledger's writes do without it."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from prepbot.domain import NoteState, Status, WorkerInfo\n"
        "from prepbot.ledger.sql import SqlLedger\n"
        "from tests.ledger.conftest import LEASE, NOW, key, planned\n"
        f"ledger = SqlLedger('sqlite:///{tmp_path / 'ledger.db'}')\n"
        "ledger.plan([planned(key())], NOW)\n"
        "row = ledger.claim_due(NOW, limit=1, lease=LEASE, worker='w')[0]\n"
        "ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt)\n"
        "ledger.save_note_states([NoteState(row.key.event_id, row.key.occurrence, '006', None, '', NOW)])\n"
        "ledger.heartbeat(WorkerInfo('w', 'worker', 'host', 1, NOW), NOW)\n"
        "ledger.close()\n"
        "print('sqlalchemy.dialects.postgresql' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_older_schema_is_still_upgraded_and_a_current_one_opens_without_alembic(ledger_url: str) -> None:
    import subprocess
    import sys

    from alembic import command
    from sqlalchemy import create_engine

    from prepbot.ledger import engine as db

    SqlLedger(ledger_url).close()
    raw = create_engine(ledger_url)
    config = db._alembic_config()
    with raw.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    assert db.current_revision(raw) == "0002"
    SqlLedger(ledger_url).close()  # migrate=True: back to head, not skipped
    assert db.current_revision(raw) == db.HEAD_REVISION
    raw.dispose()
    probe = (
        "import sys; from prepbot.ledger.sql import SqlLedger; "
        f"SqlLedger({ledger_url!r}, migrate=False).close(); SqlLedger({ledger_url!r}).close(); "
        "print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- failures ------------------------------------------------------------------------------------


def test_a_locked_sqlite_database_fails_as_a_retryable_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = SqlLedger(f"sqlite:///{path}", busy_timeout_ms=50)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock (C10)
    try:
        with pytest.raises(LedgerError) as failed:
            ledger.plan([planned(key())], NOW)
        assert failed.value.retryable
        assert "locked" in str(failed.value)
        assert "INSERT" not in str(failed.value)  # no SQL, no parameters in the message
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ledger.plan([planned(key())], NOW) == 1
    ledger.close()


def test_a_bad_postgresql_url_never_shows_its_password() -> None:
    with pytest.raises((ConfigError, LedgerError)) as failed:
        SqlLedger("postgresql+psycopg://prepbot:canary-s3cret@127.0.0.1:1/prepbot")
    assert "canary-s3cret" not in str(failed.value)
    assert "canary-s3cret" not in repr(failed.value)


def test_an_unsupported_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported ledger backend"):
        SqlLedger("mysql://user:pw@localhost/db")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        SqlLedger("not a url")


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "ledger.db"
    SqlLedger(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_repr_hides_the_password() -> None:
    ledger = SqlLedger("sqlite://")  # in memory
    assert repr(ledger) == "SqlLedger('sqlite://')"
    ledger.close()


def test_sql_ledger_implements_the_ledger_port(ledger: SqlLedger) -> None:
    port: Ledger = ledger  # mypy checks the structural match with prepbot.ports.Ledger
    assert port.counts_by_status() == dict.fromkeys(Status, 0)


def test_changed_events_lists_each_event_once_with_rows_of_the_kind_changed_since(ledger: SqlLedger) -> None:
    early, late = key("00U000000000001"), key("00U000000000002")
    other_kind = key("00U000000000003", kind=MessageKind.NO_SHOW_TASK)
    ledger.plan([planned(early)], NOW - timedelta(hours=1))
    ledger.plan([planned(late), planned(late_twin := key("00U000000000002", recipient="b@x.nl"))], NOW)
    ledger.plan([planned(other_kind)], NOW)
    assert late_twin.event_id == late.event_id
    assert ledger.changed_events(NOW, MessageKind.CONFIRMATION) == ["00U000000000002"]
    assert ledger.changed_events(NOW - timedelta(hours=2), MessageKind.CONFIRMATION) == [
        "00U000000000001",
        "00U000000000002",
    ]


def test_settle_many_moves_every_row_that_may_move_and_reports_the_others(ledger: SqlLedger) -> None:
    from prepbot.domain import Settlement

    keys = [key(f"00U00000000000{i}") for i in range(3)]
    ledger.plan([planned(k) for k in keys], NOW)
    rows = ledger.claim_due(NOW, limit=3, lease=LEASE, worker="w1")
    for row in rows[:2]:
        ledger.settle(row.id, S.SENDING, NOW, attempt=row.attempt)
        ledger.settle(row.id, S.SENT, NOW, attempt=row.attempt)
    moves = [
        Settlement(rows[0].id, S.LOGGED, "", crm_id="00T000000000001"),
        Settlement(rows[1].id, S.LOGGED, "fallback: de→en", crm_id="00T000000000002"),
        Settlement(rows[2].id, S.LOGGED),  # still claimed, never sent: may not be logged
    ]
    outcomes = ledger.settle_many(moves, NOW)
    assert outcomes[:2] == [None, None] and isinstance(outcomes[2], LedgerStateError)
    done = [ledger.get(k) for k in keys]
    assert [(r.status, r.crm_id) for r in done if r] == [
        (S.LOGGED, "00T000000000001"),
        (S.LOGGED, "00T000000000002"),
        (S.CLAIMED, None),
    ]
    assert done[1] is not None and done[1].reason == "fallback: de→en"
