"""The SQL ledger's prep-note state: which ContentNote each meeting has, and a hash of what it says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from prepbot.domain import NoteState
from prepbot.ledger.reads import SqlLedgerReads
from prepbot.ledger.rows import chunks
from prepbot.ledger.schema import notes


def _to_state(row: RowMapping) -> NoteState:
    return NoteState(
        event_id=row["event_id"],
        occurrence=row["occurrence"],
        linked_entity_id=row["linked_entity_id"],
        note_id=row["note_id"],
        content_hash=row["content_hash"],
        updated_at=row["updated_at"],
    )


class SqlNoteStates(SqlLedgerReads):
    """Note state on the ledger database: one row per meeting (Event), whatever its occurrence."""

    def note_states(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], NoteState]:
        """The note state of each (Event Id, occurrence) key's meeting, for the keys that have one.

        A meeting has one note whatever its time: a key whose Event moved gets the Event's state,
        whose ``occurrence`` is the one the note last described.

        Raises:
            LedgerError: the database failed.
        """
        by_event: dict[str, NoteState] = {}
        query = select(notes).order_by(notes.c.updated_at, notes.c.id)
        with self._tx(write=False) as conn:
            for chunk in chunks(sorted({event_id for event_id, _ in keys})):
                for row in conn.execute(query.where(notes.c.event_id.in_(chunk))).mappings():
                    by_event[row["event_id"]] = _to_state(row)  # the newest wins (ordered)
        return {key: by_event[key[0]] for key in keys if key[0] in by_event}

    def save_note_state(
        self,
        event_id: str,
        occurrence: str,
        *,
        linked_entity_id: str,
        note_id: str | None,
        content_hash: str,
        now: datetime,
    ) -> None:
        """Store the meeting's note state (replacing its earlier one, moved meetings included).

        ``note_id`` None records a create about to be attempted (see ``NoteState``).

        Raises:
            LedgerError: the database failed.
        """
        self.save_note_states([NoteState(event_id, occurrence, linked_entity_id, note_id, content_hash, now)])

    def save_note_states(self, states: Sequence[NoteState]) -> None:
        """:meth:`save_note_state` for many meetings in one transaction (``updated_at`` as given).

        Raises:
            LedgerError: the database failed.
        """
        if not states:
            return
        # a create about to be attempted is on disk before the create (C6: never two notes)
        with self._tx(write=True, durable=any(s.note_id is None for s in states)) as conn:
            for state in states:
                self._store_state(conn, state)

    def _store_state(self, conn: Connection, state: NoteState) -> None:
        values = {
            "event_id": state.event_id,
            "occurrence": state.occurrence,
            "linked_entity_id": state.linked_entity_id,
            "note_id": state.note_id,
            "content_hash": state.content_hash,
            "updated_at": state.updated_at,
        }
        query = select(notes.c.id).where(notes.c.event_id == state.event_id).order_by(notes.c.id)
        found = list(conn.execute(self._locked(query)).scalars())
        if not found:
            self._insert_state(conn, values)
            return
        keep, *extra = found
        if extra:  # cannot happen through this method; heal rather than carry two states
            conn.execute(delete(notes).where(notes.c.id.in_(extra)))
        conn.execute(update(notes).where(notes.c.id == keep).values(**values))

    def _insert_state(self, conn: Connection, values: dict[str, Any]) -> None:
        # Two workers storing the same new meeting at once: the UNIQUE key absorbs the second.
        stmt: Any = postgresql.insert(notes) if self._postgres else sqlite.insert(notes)
        stmt = stmt.values(**values)
        changed = {k: v for k, v in values.items() if k not in ("event_id", "occurrence")}
        conn.execute(stmt.on_conflict_do_update(index_elements=["event_id", "occurrence"], set_=changed))
