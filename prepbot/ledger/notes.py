"""The SQL ledger's prep-note state: which ContentNote each meeting has, and a hash of what it says."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, delete, select, update

from prepbot.domain import NoteState
from prepbot.ledger.reads import SqlLedgerReads
from prepbot.ledger.rows import chunks, dialect_insert
from prepbot.ledger.schema import notes

# Statements are built once: reusing a statement object skips building and cache-keying it per call
# (issue 7). The b_* parameters are the WHERE's.
_ROWS_OF_EVENTS = (
    select(notes.c.id, notes.c.event_id)
    .where(notes.c.event_id.in_(bindparam("b_events", expanding=True)))
    .order_by(notes.c.id)
)
_ROWS_OF_EVENTS_LOCKED = _ROWS_OF_EVENTS.with_for_update()
_DELETE_ROWS = delete(notes).where(notes.c.id.in_(bindparam("b_ids", expanding=True)))
# No .values(): the SET clause is the columns named in the parameters (``_values``).
_UPDATE_ROW = update(notes).where(notes.c.id == bindparam("b_id"))
_READ = (
    select(notes)
    .where(notes.c.event_id.in_(bindparam("b_events", expanding=True)))
    .order_by(notes.c.updated_at, notes.c.id)
)


@cache
def _upsert(postgres: bool) -> Any:
    # Written with excluded.*, not the values: one statement for every row of an executemany.
    stmt = dialect_insert(notes, postgres=postgres)
    changed = {
        name: stmt.excluded[name] for name in ("linked_entity_id", "note_id", "content_hash", "updated_at")
    }
    return stmt.on_conflict_do_update(index_elements=["event_id", "occurrence"], set_=changed)


def _values(state: NoteState) -> dict[str, Any]:
    return {
        "event_id": state.event_id,
        "occurrence": state.occurrence,
        "linked_entity_id": state.linked_entity_id,
        "note_id": state.note_id,
        "content_hash": state.content_hash,
        "updated_at": state.updated_at,
    }


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
        with self._tx(write=False) as conn:
            for chunk in chunks(sorted({event_id for event_id, _ in keys})):
                for row in conn.execute(_READ, {"b_events": list(chunk)}).mappings():
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
        # A meeting named twice ends as its last state, as when they are stored one by one.
        latest = list({state.event_id: state for state in states}.values())
        # a create about to be attempted is on disk before the create (C6: never two notes)
        with self._tx(write=True, durable=any(s.note_id is None for s in states)) as conn:
            for chunk in chunks(latest):
                self._store_states(conn, chunk)

    def _store_states(self, conn: Connection, states: Sequence[NoteState]) -> None:
        # One read of the meetings' rows, then one executemany per kind of write.
        query = _ROWS_OF_EVENTS_LOCKED if self._postgres else _ROWS_OF_EVENTS
        found: dict[str, list[int]] = {}
        for row_id, event_id in conn.execute(query, {"b_events": [s.event_id for s in states]}):
            found.setdefault(event_id, []).append(row_id)  # by id: the first is kept
        extra = [row_id for ids in found.values() for row_id in ids[1:]]
        if extra:  # cannot happen through this class; heal rather than carry two states
            conn.execute(_DELETE_ROWS, {"b_ids": extra})
        updates = [{**_values(s), "b_id": found[s.event_id][0]} for s in states if s.event_id in found]
        if updates:
            conn.execute(_UPDATE_ROW, updates)
        inserts = [_values(s) for s in states if s.event_id not in found]
        if inserts:  # two workers storing the same new meeting at once: the UNIQUE key absorbs it
            conn.execute(_upsert(self._postgres), inserts)
