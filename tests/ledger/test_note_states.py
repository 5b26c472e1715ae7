"""Ledger contract: prep-note state (one note per meeting), and the 0001 -> 0002 migration."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from prepbot.domain import NoteState
from prepbot.ledger.sql import SqlLedger
from prepbot.ports import Ledger
from tests.ledger.conftest import NOW, key, planned

EVENT = "00U000000000001"
AT_10 = "2026-03-03T10:00:00Z"
AT_11 = "2026-03-03T11:00:00Z"


def save(ledger: SqlLedger, occurrence: str = AT_10, **kw: object) -> None:
    values: dict[str, object] = {
        "linked_entity_id": "006000000000001",
        "note_id": "069000000000001",
        "content_hash": "h1",
        "now": NOW,
    }
    values.update(kw)
    ledger.save_note_state(EVENT, occurrence, **values)  # type: ignore[arg-type]


def test_a_saved_note_state_is_read_back_by_its_key(ledger: SqlLedger) -> None:
    save(ledger)
    assert ledger.note_states([(EVENT, AT_10), ("00U000000000002", AT_10)]) == {
        (EVENT, AT_10): NoteState(EVENT, AT_10, "006000000000001", "069000000000001", "h1", NOW)
    }


def test_saving_again_replaces_the_state_and_a_moved_meeting_keeps_its_note(ledger: SqlLedger) -> None:
    save(ledger)
    later = NOW + timedelta(hours=1)
    save(ledger, AT_11, content_hash="h2", now=later)  # the meeting moved from 10:00 to 11:00
    states = ledger.note_states([(EVENT, AT_11), (EVENT, AT_10)])
    assert states[(EVENT, AT_11)] == NoteState(
        EVENT, AT_11, "006000000000001", "069000000000001", "h2", later
    )
    assert states[(EVENT, AT_10)] == states[(EVENT, AT_11)]  # one note per meeting, whatever the key
    save(ledger, AT_10, content_hash="h3")  # and back again: still one row
    assert ledger.note_states([(EVENT, AT_11)])[(EVENT, AT_11)].content_hash == "h3"


def test_a_pending_create_is_stored_without_a_note_id(ledger: SqlLedger) -> None:
    save(ledger, note_id=None, content_hash="")
    state = ledger.note_states([(EVENT, AT_10)])[(EVENT, AT_10)]
    assert state.note_id is None and state.content_hash == ""


def test_note_states_of_many_meetings_are_read_in_batches(ledger: SqlLedger) -> None:
    for i in range(1200):
        ledger.save_note_state(
            f"00U{i:012d}", AT_10, linked_entity_id="006", note_id=f"069{i:012d}", content_hash="h", now=NOW
        )
    keys = [(f"00U{i:012d}", AT_10) for i in range(1200)]
    states = ledger.note_states(keys)
    assert len(states) == 1200 and states[keys[777]].note_id == "069000000000777"


def test_note_states_survive_a_restart(open_ledger: Callable[..., SqlLedger]) -> None:
    first = open_ledger()
    save(first)
    first.close()
    assert open_ledger().note_states([(EVENT, AT_10)])[(EVENT, AT_10)].note_id == "069000000000001"


def test_an_existing_0001_database_is_upgraded_to_notes_keeping_its_rows(tmp_path: Path) -> None:
    from alembic import command

    from prepbot.ledger import engine as db

    path = tmp_path / "old.db"
    engine = db.build_engine(db.parse_url(f"sqlite:///{path}"))
    config = db._alembic_config()
    with db.transaction(engine, write=True) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    engine.dispose()
    conn_old = sqlite3.connect(path)
    tables = {row[0] for row in conn_old.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn_old.close()
    assert "notes" not in tables and "actions" in tables

    ledger = SqlLedger(f"sqlite:///{path}")  # opens and migrates 0001 -> 0002
    try:
        ledger.plan([planned(key())], NOW)
        save(ledger)
        assert ledger.note_states([(EVENT, AT_10)])[(EVENT, AT_10)].content_hash == "h1"
        assert len(ledger.rows()) == 1
    finally:
        ledger.close()


def test_the_sql_ledger_still_implements_the_ledger_port(ledger: SqlLedger) -> None:
    port: Ledger = ledger  # mypy checks note_states / save_note_state against the Protocol
    assert port.note_states([]) == {}
