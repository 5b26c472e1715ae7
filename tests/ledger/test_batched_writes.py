"""Ledger contract where writes are batched: settle_many and save_note_states act as one call per item."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from prepbot.domain import NoteState, Settlement
from prepbot.domain import Status as S
from prepbot.errors import LedgerStateError, StaleClaimError
from prepbot.ledger.schema import notes
from prepbot.ledger.sql import SqlLedger
from tests.ledger.conftest import LEASE, NOW, key, planned

AT_10 = "2026-03-03T10:00:00Z"
AT_11 = "2026-03-03T11:00:00Z"


def sent_rows(ledger: SqlLedger, n: int) -> list[int]:
    """Ids of n rows claimed, marked sending and sent (attempt 1)."""
    ledger.plan([planned(key(f"E{i:03}")) for i in range(n)], NOW)
    rows = ledger.claim_due(NOW, limit=n, lease=LEASE, worker="w1")
    for row in rows:
        ledger.settle(row.id, S.SENDING, NOW, attempt=row.attempt)
        ledger.settle(row.id, S.SENT, NOW, attempt=row.attempt)
    return [row.id for row in rows]


def test_settle_many_naming_a_row_twice_moves_it_in_order(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    (row,) = ledger.claim_due(NOW, limit=1, lease=LEASE, worker="w1")
    moves = [
        Settlement(row.id, S.SENDING, attempt=row.attempt),
        Settlement(row.id, S.SENT, attempt=row.attempt),
        Settlement(row.id, S.LOGGED, attempt=row.attempt, crm_id="00T000000000001"),
    ]
    assert ledger.settle_many(moves, NOW) == [None, None, None]
    steps = [(t.from_status, t.to_status) for t in ledger.history(row.id)][2:]
    assert steps == [(S.CLAIMED, S.SENDING), (S.SENDING, S.SENT), (S.SENT, S.LOGGED)]


def test_settle_many_ignores_a_replay_and_refuses_a_stale_attempt_alone(ledger: SqlLedger) -> None:
    first, second, third = sent_rows(ledger, 3)
    ledger.settle(first, S.LOGGED, NOW, attempt=1)
    moves = [
        Settlement(first, S.LOGGED, attempt=1),  # its reply was lost: repeated
        Settlement(second, S.LOGGED, attempt=7),  # not this row's attempt
        Settlement(third, S.LOGGED, attempt=1, crm_id="00T000000000003"),
    ]
    outcomes = ledger.settle_many(moves, NOW + timedelta(seconds=1))
    assert outcomes[0] is None and isinstance(outcomes[1], StaleClaimError) and outcomes[2] is None
    assert [len(ledger.history(row_id)) for row_id in (first, second, third)] == [5, 4, 5]
    statuses = [r.status for r in ledger.rows_for_events(["E000", "E001", "E002"])]
    assert statuses == [S.LOGGED, S.SENT, S.LOGGED]


def test_settle_many_moves_more_rows_than_one_read_holds(ledger: SqlLedger) -> None:
    ids = sent_rows(ledger, 520)  # more than one IN (...) list of ids
    outcomes = ledger.settle_many([Settlement(row_id, S.LOGGED, attempt=1) for row_id in ids], NOW)
    assert outcomes == [None] * 520
    assert ledger.counts_by_status()[S.LOGGED] == 520


def test_settling_a_missing_row_to_sent_is_refused(ledger: SqlLedger) -> None:
    with pytest.raises(LedgerStateError, match="no ledger row 4242"):
        ledger.settle(4242, S.SENT, NOW, attempt=1)


def test_sending_twice_with_the_same_attempt_records_one_move(ledger: SqlLedger) -> None:
    ledger.plan([planned(key())], NOW)
    (row,) = ledger.claim_due(NOW, limit=1, lease=LEASE, worker="w1")
    ledger.settle(row.id, S.SENDING, NOW, attempt=row.attempt)
    ledger.settle(row.id, S.SENDING, NOW, attempt=row.attempt)
    with pytest.raises(StaleClaimError, match="stale"):
        ledger.settle(row.id, S.SENT, NOW, attempt=row.attempt + 1)
    history = ledger.history(row.id)
    assert [(t.to_status, t.worker, t.attempt) for t in history[-1:]] == [(S.SENDING, "w1", 1)]
    assert len(history) == 3


# -- note states -----------------------------------------------------------------------------------


def state(i: int, occurrence: str = AT_10, note_id: str | None = "069", content: str = "h") -> NoteState:
    return NoteState(f"00U{i:012d}", occurrence, "006000000000001", note_id and f"{note_id}{i}", content, NOW)


def test_a_new_meeting_named_twice_in_one_batch_keeps_its_last_state(ledger: SqlLedger) -> None:
    ledger.save_note_states([state(1, AT_10, None, ""), state(1, AT_11, "069", "h2")])
    found = ledger.note_states([(state(1).event_id, AT_11)])
    assert list(found.values()) == [state(1, AT_11, "069", "h2")]
    assert _note_rows(ledger) == 1


def test_a_batch_of_new_and_known_meetings_over_several_reads(ledger: SqlLedger) -> None:
    ledger.save_note_states([state(i, note_id=None, content="") for i in range(0, 1100, 2)])
    ledger.save_note_states([state(i, AT_11, content="h2") for i in range(1100)])
    found = ledger.note_states([(state(i).event_id, AT_11) for i in range(1100)])
    expected = [state(i, AT_11, content="h2") for i in range(1100)]
    assert sorted(found.values(), key=lambda s: s.event_id) == expected
    assert _note_rows(ledger) == 1100


def test_saving_heals_a_meeting_stored_twice(ledger: SqlLedger) -> None:
    ledger.save_note_states([state(1)])
    with ledger._tx(write=True) as conn:  # two rows for one meeting: older code, or a hand edit
        conn.execute(insert(notes).values(**asdict(state(1, AT_11, content="other"))))
    ledger.save_note_states([state(1, content="h3"), state(2)])
    assert _note_rows(ledger) == 2
    assert ledger.note_states([(state(1).event_id, AT_10)])[(state(1).event_id, AT_10)].content_hash == "h3"


def _note_rows(ledger: SqlLedger) -> int:
    with ledger._tx(write=False) as conn:
        return int(conn.execute(select(func.count()).select_from(notes)).scalar_one())
