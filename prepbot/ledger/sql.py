"""SqlLedger: the Ledger port on SQLAlchemy Core (SQLite by default, PostgreSQL for several workers)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, RowMapping, select, text, update

from prepbot.domain import ActionKey, ActionRow, MessageKind, PlannedAction, Settlement, Status
from prepbot.errors import LedgerStateError
from prepbot.ledger.driver_moves import DriverMoves
from prepbot.ledger.rows import (
    chunks,
    created,
    dialect_insert,
    key_of,
    move,
    settle_values,
    to_action_row,
)
from prepbot.ledger.schema import actions, watermarks
from prepbot.ledger.settling import LOG_INSERT, Move, settle_checked, settle_one
from prepbot.ledger.states import PLANNABLE, WITHDRAWABLE
from prepbot.ledger.workers import SqlWorkers

log = logging.getLogger(__name__)

KEY_COLUMNS = ("event_id", "occurrence", "recipient", "kind")
IN_DOUBT_REASON = "crashed while sending: the relay may have accepted it (RFC 1047)"
REPLANNED_REASON = "lease expired before sending: planned again"
RESENT_REASON = "in doubt: crashed while sending; planned again by the in_doubt_policy 'resend'"
PLAN_LOCK_KEY = 0x70726570706C6E31  # any 64-bit constant ("preppln1"), unlike the other advisory locks


class SqlLedger(SqlWorkers):
    """The ledger on a SQL database: one row per key, moved through the state machine.

    SQLite (``sqlite:///path``) is for one process; PostgreSQL (``postgresql+psycopg://...``) lets
    several workers claim with ``FOR UPDATE SKIP LOCKED``. Every claim bumps ``attempt``, the
    fencing token a worker must present to settle the row. Every change is recorded in the
    append-only ``events_log`` (see ``history()``).

    Args:
        url: SQLAlchemy database URL.
        migrate: upgrade the schema to the newest revision on open; otherwise refuse an old schema.
        busy_timeout_ms: how long SQLite waits for another writer's lock.
        idle_in_transaction_ms: PostgreSQL ends a transaction left idle this long (a frozen
            process's) and frees its row locks; 0 = never.

    Raises:
        ConfigError: the URL cannot be parsed or names an unsupported backend.
        LedgerError: the database cannot be opened or migrated.
        LedgerStateError: ``migrate=False`` and the schema is not at the newest revision.
    """

    def _insert(self, table: Any = actions) -> Any:
        return dialect_insert(table, postgres=self._postgres)

    @staticmethod
    def _log(conn: Connection, moves: Iterable[dict[str, Any]]) -> None:
        entries = list(moves)
        if entries:
            conn.execute(LOG_INSERT, entries)

    # -- planning ----------------------------------------------------------------------------

    def plan(self, actions_: Iterable[PlannedAction], now: datetime) -> int:
        """Insert the actions whose key is new; existing keys are left as they are.

        The UNIQUE key absorbs a double plan (two planners, or one re-planning): ``ON CONFLICT DO
        NOTHING``, so nothing is read first and nothing races. On PostgreSQL concurrent plans are
        serialised by a transaction-level advisory lock, so two of them never deadlock.

        Returns:
            The number of rows added.

        Raises:
            LedgerStateError: an action's status is not one a plan may start in.
            LedgerError: the database failed.
        """
        values = [self._plan_values(action, now) for action in actions_]
        added = 0
        with self._tx(write=True) as conn:
            if self._postgres:
                # Two planners inserting overlapping keys in different orders deadlock (PostgreSQL
                # aborts one): plans take turns instead. SQLite's write lock already does this.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLAN_LOCK_KEY})
            for chunk in chunks(values):
                stmt = (
                    self._insert()
                    .on_conflict_do_nothing(index_elements=KEY_COLUMNS)
                    .returning(actions.c.id, actions.c.status, actions.c.reason)
                )
                inserted = conn.execute(stmt, list(chunk)).mappings().all()
                self._log(conn, (created(row, now) for row in inserted))
                added += len(inserted)
        log.debug("planned %d new of %d actions", added, len(values))
        return added

    @staticmethod
    def _plan_values(action: PlannedAction, now: datetime) -> dict[str, Any]:
        if action.status not in PLANNABLE:
            raise LedgerStateError(f"a planned action cannot start as {action.status.value}")
        key = action.key
        return {
            "event_id": key.event_id,
            "occurrence": key.occurrence,
            "recipient": key.recipient,
            "kind": key.kind.value,
            "status": action.status.value,
            "due_at": action.due_at,
            "deadline_at": action.deadline_at,
            "attempt": 0,
            "reason": action.reason,
            "to_address": action.to_address,
            "language": action.language,
            "time_zone": action.time_zone,
            "created_at": now,
            "updated_at": now,
        }

    def supersede_others(
        self,
        event_id: str,
        keep: Collection[ActionKey],
        kinds: Iterable[MessageKind] | None,
        now: datetime,
        reason: str = "meeting moved",
    ) -> int:
        """Withdraw this Event's open rows (of ``kinds``, or all kinds) whose key is not in ``keep``.

        Only PLANNED and CLAIMED rows move (to SUPERSEDED): a row already SENDING or SENT went out
        or may have, and stays as it is. A worker holding a superseded claim gets StaleClaimError.

        Returns:
            The number of rows superseded.
        """
        query = select(actions).where(actions.c.event_id == event_id, self._withdrawable())
        query = query.order_by(actions.c.id)  # one lock order for every locker: no deadlock
        if kinds is not None:
            query = query.where(actions.c.kind.in_([kind.value for kind in kinds]))
        keep = set(keep)
        with self._tx(write=True) as conn:
            found = conn.execute(self._locked(query)).mappings().all()
            doomed = [row for row in found if key_of(row) not in keep]
            return self._withdraw(conn, doomed, Status.SUPERSEDED, now, reason)

    def cancel_events(self, event_ids: Iterable[str], now: datetime, reason: str = "meeting deleted") -> int:
        """Move the open (PLANNED, CLAIMED) rows of these deleted Events to CANCELLED.

        Returns:
            The number of rows cancelled.
        """
        ids = sorted(set(event_ids))
        cancelled = 0
        with self._tx(write=True) as conn:
            for chunk in chunks(ids):
                query = select(actions).where(actions.c.event_id.in_(chunk), self._withdrawable())
                query = query.order_by(actions.c.id)  # one lock order for every locker
                found = conn.execute(self._locked(query)).mappings().all()
                cancelled += self._withdraw(conn, found, Status.CANCELLED, now, reason)
        return cancelled

    @staticmethod
    def _withdrawable() -> Any:
        return actions.c.status.in_([status.value for status in WITHDRAWABLE])

    def _withdraw(
        self, conn: Connection, found: Sequence[RowMapping], status: Status, now: datetime, reason: str
    ) -> int:
        ids = [row["id"] for row in found]
        if ids:
            conn.execute(
                update(actions)
                .where(actions.c.id.in_(ids), self._withdrawable())
                .values(status=status.value, reason=reason, lease_until=None, updated_at=now)
            )
            self._log(conn, (move(row, status, now, reason) for row in found))
        return len(ids)

    # -- the worker's side -------------------------------------------------------------------

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        worker: str,
        event_ids: Sequence[str] | None = None,
    ) -> list[ActionRow]:
        """Claim up to ``limit`` PLANNED rows due at ``now``, oldest due first (only rows of
        ``event_ids`` when given: the meetings a sync has just read).

        Each claimed row gets ``attempt + 1`` (its new fencing token), ``lease_until = now + lease``
        and ``worker``. On PostgreSQL the rows are picked with ``FOR UPDATE SKIP LOCKED`` so
        concurrent workers never claim the same row; on SQLite the transaction holds the write lock.

        Returns:
            The claimed rows, as they are now.
        """
        if limit <= 0:
            return []
        due = (
            select(actions.c.id)
            .where(actions.c.status == Status.PLANNED.value, actions.c.due_at <= now)
            .order_by(actions.c.due_at, actions.c.id)
            .limit(limit)
        )
        if event_ids is not None:
            due = due.where(actions.c.event_id.in_(list(event_ids)))
        with self._tx(write=True) as conn:
            ids = list(conn.execute(self._locked(due, skip_locked=True)).scalars())
            if not ids:
                return []
            conn.execute(
                update(actions)
                .where(actions.c.id.in_(ids), actions.c.status == Status.PLANNED.value)
                .values(
                    status=Status.CLAIMED.value,
                    attempt=actions.c.attempt + 1,
                    lease_until=now + lease,
                    worker=worker,
                    reason="",
                    updated_at=now,
                )
            )
            claimed = conn.execute(
                select(actions).where(actions.c.id.in_(ids)).order_by(actions.c.due_at, actions.c.id)
            ).mappings()
            rows = [to_action_row(row) for row in claimed]
            self._log(conn, (move(row, Status.CLAIMED, now, "") for row in rows))
        return rows

    def settle(
        self,
        row_id: int,
        status: Status,
        now: datetime,
        *,
        reason: str = "",
        attempt: int | None = None,
        message_id: str | None = None,
        crm_id: str | None = None,
        template_version: str | None = None,
        due_at: datetime | None = None,
        lease: timedelta | None = None,
    ) -> None:
        """Move a row to ``status``; with ``attempt`` (fencing token) the row must still hold it.

        ``reason`` replaces the row's reason (the history keeps the old ones). ``message_id``,
        ``crm_id``, ``template_version`` and ``due_at`` are stored when given. ``lease`` renews the
        lease of a CLAIMED/SENDING row to ``now + lease`` (a long batch must not look crashed).
        SENT stamps ``sent_at``; leaving CLAIMED/SENDING drops the lease. Repeating a settle with the
        same ``attempt`` after it committed (its reply was lost) changes nothing and is no error.

        Raises:
            StaleClaimError: another attempt owns the row now, or its claim was taken away
                (recovered, superseded, cancelled) since ``attempt`` was granted.
            LedgerStateError: the move is not allowed by the state machine, or there is no such row.
            LedgerError: the database failed.
        """
        extra = {
            "message_id": message_id,
            "crm_id": crm_id,
            "template_version": template_version,
            "due_at": due_at,
        }
        m = Move(row_id, status, reason, attempt, settle_values(status, now, reason, extra, lease), now)
        # SENDING comes right before a mail leaves: that commit must reach the disk first.
        durable = status is Status.SENDING
        driver = self._driver_moves
        if driver is not None and self._all_on_driver(driver, [m], durable):
            return
        with self._tx(write=True, durable=durable) as conn:
            settle_one(conn, m, for_update=self._postgres)

    def close(self) -> None:
        """Close every pooled connection; the ledger cannot be used afterwards."""
        driver = self.__dict__.get("_driver_moves")  # only if a move made one
        if driver is not None:
            driver.close()
        super().close()

    @cached_property
    def _driver_moves(self) -> DriverMoves | None:
        """On SQLite, every message's moves skip SQLAlchemy's per-statement machinery (issue 7)."""
        return None if self._postgres else DriverMoves(self._engine)

    def _all_on_driver(self, driver: DriverMoves, batch: Sequence[Move], durable: bool) -> bool:
        try:
            with self._errors():
                return driver.moved_all(batch, durable=durable)
        except ValueError as exc:  # a value refused on the way in, as SQLAlchemy's StatementError
            raise LedgerStateError(self._errors.describe(exc)) from None

    def settle_many(self, moves: Sequence[Settlement], now: datetime) -> list[Exception | None]:
        """:meth:`settle` for many rows in ONE transaction (e.g. a batch's rows LOGGED once their
        Tasks are written); a row that may not move is reported, the others move.

        Returns:
            Per move, None or the StaleClaimError / LedgerStateError :meth:`settle` would raise.

        Raises:
            LedgerError: the database failed (no move was stored).
        """
        batch = [self._move_of(m, now) for m in moves]
        durable = any(m.status is Status.SENDING for m in moves)
        distinct = len({m.row_id for m in batch}) == len(batch)
        driver = self._driver_moves
        if batch and distinct and driver is not None and self._all_on_driver(driver, batch, durable):
            return [None] * len(batch)
        with self._tx(write=True, durable=durable) as conn:
            if distinct:  # one read and one write for them all
                return settle_checked(conn, batch, for_update=self._postgres)
            # A row named twice: its second move must see the first, so one at a time.
            return [settle_checked(conn, [m], for_update=self._postgres)[0] for m in batch]

    @staticmethod
    def _move_of(m: Settlement, now: datetime) -> Move:
        extra = {"crm_id": m.crm_id, "message_id": None, "template_version": None, "due_at": None}
        return Move(
            m.row_id, m.status, m.reason, m.attempt, settle_values(m.status, now, m.reason, extra, None), now
        )

    def recover(self, now: datetime, *, resend_in_doubt: bool = False) -> tuple[int, int]:
        """Expired leases: CLAIMED rows back to PLANNED, SENDING rows to IN_DOUBT.

        A CLAIMED row never reached the relay (C1), so it is simply planned again. A SENDING row
        may have been accepted by the relay before the worker died (C3/C4, RFC 1047): it becomes
        IN_DOUBT and is never resent blindly; with ``resend_in_doubt`` (the ``resend`` policy) it is
        planned again instead, at most one extra message per crash.

        Returns:
            (rows planned again, rows now in doubt).
        """
        with self._tx(write=True) as conn:
            replanned = self._expire(conn, Status.CLAIMED, Status.PLANNED, now, REPLANNED_REASON)
            if resend_in_doubt:
                in_doubt = self._expire(conn, Status.SENDING, Status.PLANNED, now, RESENT_REASON)
            else:
                in_doubt = self._expire(conn, Status.SENDING, Status.IN_DOUBT, now, IN_DOUBT_REASON)
        if replanned or in_doubt:
            log.warning("recovered expired leases: %d planned again, %d in doubt", replanned, in_doubt)
        return replanned, in_doubt

    def _expire(self, conn: Connection, source: Status, target: Status, now: datetime, reason: str) -> int:
        query = select(actions).where(actions.c.status == source.value, actions.c.lease_until <= now)
        found = conn.execute(self._locked(query, skip_locked=True)).mappings().all()
        ids = [row["id"] for row in found]
        for chunk in chunks(ids):
            values: dict[str, Any] = {"status": target.value, "reason": reason, "lease_until": None}
            if target is Status.PLANNED:
                values["worker"] = None
            conn.execute(
                update(actions)
                .where(actions.c.id.in_(chunk), actions.c.status == source.value)
                .values(updated_at=now, **values)
            )
        self._log(conn, (move(row, target, now, reason) for row in found))
        return len(ids)

    def set_watermark(self, name: str, value: datetime) -> None:
        """Store a sync watermark (insert or replace)."""
        stmt = self._insert(watermarks).values(name=name, value=value)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": stmt.excluded.value})
        with self._tx(write=True) as conn:
            conn.execute(stmt)
