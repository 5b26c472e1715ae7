"""The SQL ledger's connection handling and read side (reports, history, watermarks)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from prepbot.domain import ActionKey, ActionRow, MessageKind, Status, Transition
from prepbot.ledger import engine as db
from prepbot.ledger.rows import chunks, to_action_row, to_transition
from prepbot.ledger.schema import actions, events_log, watermarks
from prepbot.ledger.states import OPEN


class SqlLedgerReads:
    """Opens (and migrates) the database; everything that only reads. SqlLedger adds the writes."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        busy_timeout_ms: int = 5000,
        idle_in_transaction_ms: int = 60_000,
    ) -> None:
        self._engine = db.build_engine(
            db.parse_url(url), busy_timeout_ms=busy_timeout_ms, idle_in_transaction_ms=idle_in_transaction_ms
        )
        self._errors = db.ErrorMapper(self._engine)
        self._postgres = self._engine.dialect.name == "postgresql"
        try:
            with self._errors():
                if migrate:
                    db.upgrade_to_head(self._engine)
                else:
                    db.require_head(self._engine)
        except BaseException:
            self._engine.dispose()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Close every pooled connection; the ledger cannot be used afterwards."""
        self._engine.dispose()

    @contextmanager
    def _tx(self, *, write: bool, durable: bool = False) -> Iterator[Connection]:
        with self._errors(), db.transaction(self._engine, write=write, durable=durable) as conn:
            yield conn

    def _locked(self, query: Select[Any], *, skip_locked: bool = False) -> Select[Any]:
        # SQLite renders no FOR UPDATE: its BEGIN IMMEDIATE already holds the database write lock.
        return query.with_for_update(skip_locked=skip_locked) if self._postgres else query

    def _select_rows(self, query: Select[Any]) -> list[ActionRow]:
        with self._tx(write=False) as conn:
            return [to_action_row(row) for row in conn.execute(query).mappings().all()]

    def open_rows(self, event_ids: Sequence[str] | None = None) -> list[ActionRow]:
        """Rows not yet in a terminal state (PLANNED, CLAIMED, SENDING, SENT), of all or these Events.

        Raises:
            LedgerError: the database failed.
        """
        query = select(actions).where(actions.c.status.in_([status.value for status in OPEN]))
        query = query.order_by(actions.c.due_at, actions.c.id)
        if event_ids is None:
            return self._select_rows(query)
        found: list[ActionRow] = []
        for chunk in chunks(sorted(set(event_ids))):
            found.extend(self._select_rows(query.where(actions.c.event_id.in_(chunk))))
        return sorted(found, key=lambda row: (row.due_at, row.id))

    def rows_for_events(
        self, event_ids: Sequence[str], statuses: Iterable[Status] | None = None
    ) -> list[ActionRow]:
        """Every row of these Events (in ``statuses``, if given), by Event then due time.

        Raises:
            LedgerError: the database failed.
        """
        query = select(actions).order_by(actions.c.event_id, actions.c.due_at, actions.c.id)
        if statuses is not None:
            query = query.where(actions.c.status.in_([status.value for status in statuses]))
        found: list[ActionRow] = []
        for chunk in chunks(sorted(set(event_ids))):
            found.extend(self._select_rows(query.where(actions.c.event_id.in_(chunk))))
        return found

    def rows(
        self,
        *,
        event_id: str | None = None,
        status: Status | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[ActionRow]:
        """Rows for reporting, most recently changed first; ``since`` filters on the last change.

        Raises:
            LedgerError: the database failed.
        """
        query = select(actions).order_by(actions.c.updated_at.desc(), actions.c.id.desc())
        if event_id is not None:
            query = query.where(actions.c.event_id == event_id)
        if status is not None:
            query = query.where(actions.c.status == status.value)
        if since is not None:
            query = query.where(actions.c.updated_at >= since)
        if limit is not None:
            query = query.limit(limit)
        return self._select_rows(query)

    def changed_events(self, since: datetime, kind: MessageKind) -> list[str]:
        """The Event Ids with a row of ``kind`` changed at or after ``since`` (ids only: a day's
        worth of rows is never held in memory for this).

        Raises:
            LedgerError: the database failed.
        """
        query = (
            select(actions.c.event_id)
            .where(actions.c.updated_at >= since, actions.c.kind == kind.value)
            .distinct()
            .order_by(actions.c.event_id)
        )
        with self._tx(write=False) as conn:
            return [str(event_id) for event_id in conn.execute(query).scalars()]

    def get(self, key: ActionKey) -> ActionRow | None:
        """The row with this key, if any.

        Raises:
            LedgerError: the database failed.
        """
        query = select(actions).where(
            actions.c.event_id == key.event_id,
            actions.c.occurrence == key.occurrence,
            actions.c.recipient == key.recipient,
            actions.c.kind == key.kind.value,
        )
        found = self._select_rows(query)
        return found[0] if found else None

    def history(self, row_id: int) -> list[Transition]:
        """Every recorded move of this row, oldest first (its creation has ``from_status`` None).

        Raises:
            LedgerError: the database failed.
        """
        query = select(events_log).where(events_log.c.action_id == row_id).order_by(events_log.c.id)
        with self._tx(write=False) as conn:
            return [to_transition(row) for row in conn.execute(query).mappings()]

    def counts_by_status(self) -> dict[Status, int]:
        """How many rows are in each state (every state present, zero when empty).

        Raises:
            LedgerError: the database failed.
        """
        query = select(actions.c.status, func.count()).group_by(actions.c.status)
        counts = dict.fromkeys(Status, 0)
        with self._tx(write=False) as conn:
            for status, count in conn.execute(query):
                counts[Status(status)] = count
        return counts

    def get_watermark(self, name: str) -> datetime | None:
        """A stored sync watermark, aware UTC, or None.

        Raises:
            LedgerError: the database failed.
        """
        with self._tx(write=False) as conn:
            value: datetime | None = conn.execute(
                select(watermarks.c.value).where(watermarks.c.name == name)
            ).scalar_one_or_none()
        return value
