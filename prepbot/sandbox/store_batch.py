"""The creates of one collections request: validated one by one in order, their rows inserted together.

Inserting a request's rows with one ``executemany`` per table instead of a savepoint and an ``INSERT``
per record costs a third of the CPU. What a record's validation reads must still be what it would read
if every earlier record had been inserted already, so the pending rows are written first whenever a
read could see them: a lookup of a pending Id, or a duplicate check that a pending row might match.
An insert that fails (a duplicate Id) is retried row by row, so only that record fails, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prepbot.sandbox.errors import SfApiError

if TYPE_CHECKING:
    from prepbot.sandbox.schema import ObjectDef
    from prepbot.sandbox.store import Store

# Objects whose insert changes other rows (EventRelation marks its Event a group event): written at once.
_IMMEDIATE = frozenset({"EventRelation"})


@dataclass(slots=True)
class _Pending:
    slot: int
    obj: ObjectDef
    rec: dict[str, Any]
    # Id counters to persist once this row is inserted (what a per-record flush would have written).
    counters: dict[str, int]


@dataclass(slots=True)
class _KeyIndex:
    """Case-folded duplicate-check keys of a table's pending rows (rows[:indexed])."""

    indexed: int = 0
    keys: set[tuple[str, ...]] = field(default_factory=set)
    anything: bool = False  # a row with a non-text key value: it might match any query


def _folded(values: list[Any]) -> tuple[str, ...] | None:
    """The key as SFCI compares it, or None when a value is not text (then it might match anything)."""
    if not all(isinstance(v, str) for v in values):
        return None
    return tuple(v.casefold() for v in values)


class CreateBatch:
    """Creates records of any type in order; `outcomes` holds each one's new Id or its error.

    Used through `Store.create_batch`, which holds the store lock and a transaction around it.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writer = store._writer
        self.outcomes: list[str | SfApiError] = []
        self._pending: list[_Pending] = []
        self._ids: set[str] = set()
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._key_index: dict[tuple[str, tuple[str, ...]], _KeyIndex] = {}
        self._carry: dict[str, int] = {}  # counters of records that failed, for the next success

    # --- records ------------------------------------------------------------------------------------

    def add(self, sobject: str, fields: dict[str, Any]) -> None:
        """Validate one record (as `Store.create` would) and queue its row; a failure is its outcome."""
        slot = len(self.outcomes)
        try:
            obj = self.store._createable(sobject)
            rec = self.writer.prepare_insert(obj, fields)
        except SfApiError as exc:
            self.outcomes.append(exc)
            self._carry.update(self._take_counters())
            return
        self.outcomes.append(str(rec["Id"]))
        counters = self._carry | self._take_counters()
        self._carry = {}
        self._pending.append(_Pending(slot, obj, rec, counters))
        self._ids.add(rec["Id"])
        self._tables.setdefault(obj.table, []).append(rec)
        if obj.name in _IMMEDIATE:
            self.flush()

    def add_error(self, exc: SfApiError) -> None:
        """A record that failed before it reached the store (a lock fault, an unknown type)."""
        self.outcomes.append(exc)

    def _take_counters(self) -> dict[str, int]:
        """The Id counters this record moved; the per-record flush they replace would clear them."""
        writer = self.writer
        taken = {p: writer._counters[p] for p in writer._dirty_counters}
        writer._dirty_counters.clear()
        return taken

    # --- reads that might see pending rows ----------------------------------------------------------

    def before_lookup(self, record_id: str) -> None:
        """A lookup by Id sees a pending row only if it is that row: then write the rows first."""
        if record_id in self._ids:
            self.flush()

    def before_duplicate_check(self, table: str, values: dict[str, Any]) -> None:
        """Write the pending rows first if one of them might match ``values`` (a superset of SQL's
        ``=`` under the SFCI collation: case-folded text, anything for non-text values)."""
        rows = self._tables.get(table)
        if not rows:
            return
        names = tuple(values)
        index = self._key_index.setdefault((table, names), _KeyIndex())
        for rec in rows[index.indexed :]:
            row_values = [rec.get(n) for n in names]
            if any(v is None for v in row_values):
                continue  # NULL equals nothing
            key = _folded(row_values)
            if key is None:
                index.anything = True
            else:
                index.keys.add(key)
        index.indexed = len(rows)
        wanted = _folded(list(values.values()))
        if index.anything or wanted is None or wanted in index.keys:
            self.flush()

    # --- writing ------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Insert the pending rows (one statement per table), then persist the counters they moved."""
        pending, self._pending = self._pending, []
        self._ids.clear()
        self._tables.clear()
        self._key_index.clear()
        if not pending:
            return
        by_table: dict[str, list[_Pending]] = {}
        for p in pending:
            by_table.setdefault(p.obj.table, []).append(p)
        failed: set[int] = set()
        for rows in by_table.values():
            failed |= self._insert(rows)
        persist: dict[str, int] = {}
        carry: dict[str, int] = {}
        for p in pending:
            if p.slot in failed:
                carry.update(p.counters)
            else:
                persist.update(carry)
                persist.update(p.counters)
                carry = {}
        # Records that failed validation after the last pending one moved their counters later.
        self._carry = carry | self._carry
        self.writer.persist_counters(persist)
        for rows in by_table.values():
            self.store._after_insert(rows[0].obj, [p.rec for p in rows if p.slot not in failed])

    def _insert(self, rows: list[_Pending]) -> set[int]:
        """Insert rows of one table; the slots whose insert failed (their outcome becomes the error)."""
        try:
            with self.store.transaction():
                self.writer.insert_rows(rows[0].obj, [p.rec for p in rows])
            return set()
        except SfApiError:
            pass
        failed: set[int] = set()
        for p in rows:
            try:
                with self.store.transaction():
                    self.writer.insert_rows(p.obj, [p.rec])
            except SfApiError as exc:
                self.outcomes[p.slot] = exc
                failed.add(p.slot)
        return failed

    def finish(self) -> None:
        """Write what is pending; counters of trailing failed records wait for the next success."""
        self.flush()
        self.writer._dirty_counters.update(self._carry)
        self._carry = {}

    def abandon(self) -> None:
        """The request failed (its transaction rolls back): every counter moved is still unsaved."""
        for p in self._pending:
            self.writer._dirty_counters.update(p.counters)
        self.writer._dirty_counters.update(self._carry)
        self._pending, self._carry = [], {}
