"""The SQL ledger's view of the processes sharing it: heartbeats, live claims, the planner lease."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select

from prepbot.domain import WorkerInfo, WorkerRow
from prepbot.ledger.leader import DEFAULT_IDLE_TIMEOUT, FilePlannerLease, PgPlannerLease, SoloPlannerLease
from prepbot.ledger.notes import SqlNoteStates
from prepbot.ledger.rows import dialect_insert
from prepbot.ledger.schema import actions, workers
from prepbot.ledger.states import LEASED
from prepbot.ports import PlannerLease

log = logging.getLogger(__name__)


class SqlWorkers(SqlNoteStates):
    """Workers announce themselves with ``heartbeat``; one of them at a time may plan (``planner_lease``)."""

    def __init__(
        self,
        url: str,
        *,
        migrate: bool = True,
        busy_timeout_ms: int = 5000,
        idle_in_transaction_ms: int = 60_000,
    ) -> None:
        super().__init__(
            url,
            migrate=migrate,
            busy_timeout_ms=busy_timeout_ms,
            idle_in_transaction_ms=idle_in_transaction_ms,
        )
        self._leases: list[PlannerLease] = []

    def close(self) -> None:
        """Release the planner leases handed out, then close every pooled connection."""
        for lease in self._leases:
            lease.release()
        super().close()

    def heartbeat(self, worker: WorkerInfo, now: datetime) -> None:
        """Record that ``worker`` is alive at ``now`` (insert its row, or refresh it).

        Raises:
            LedgerError: the database failed.
        """
        values = {
            "name": worker.name,
            "role": worker.role,
            "host": worker.host,
            "pid": worker.pid,
            "started_at": worker.started_at,
            "seen_at": now,
        }
        stmt: Any = dialect_insert(workers, postgres=self._postgres)
        stmt = stmt.values(**values)
        changed = {column: value for column, value in values.items() if column != "name"}
        with self._tx(write=True) as conn:
            conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_=changed))

    def workers(self) -> list[WorkerRow]:
        """Every process that has sent a heartbeat and not been forgotten, by name, with its claims.

        ``claims`` counts the rows now CLAIMED or SENDING under the worker's name.

        Raises:
            LedgerError: the database failed.
        """
        held = (
            select(actions.c.worker, func.count().label("claims"))
            .where(actions.c.status.in_([status.value for status in LEASED]))
            .group_by(actions.c.worker)
            .subquery()
        )
        query = (
            select(workers, func.coalesce(held.c.claims, 0).label("claims"))
            .outerjoin(held, held.c.worker == workers.c.name)
            .order_by(workers.c.name)
        )
        with self._tx(write=False) as conn:
            return [WorkerRow(**dict(row)) for row in conn.execute(query).mappings()]

    def forget_worker(self, name: str) -> None:
        """Remove a worker's row (on a clean shutdown); unknown names are ignored.

        Raises:
            LedgerError: the database failed.
        """
        with self._tx(write=True) as conn:
            conn.execute(delete(workers).where(workers.c.name == name))

    def planner_lease(
        self, name: str, *, idle_timeout: timedelta | None = DEFAULT_IDLE_TIMEOUT
    ) -> PlannerLease:
        """The lease that makes one process at a time the planner of this ledger (not yet acquired).

        PostgreSQL: a session-level advisory lock on a dedicated connection (see ``PgPlannerLease``;
        ``idle_timeout`` ends a holder that stopped checking). SQLite: an flock on
        ``<database>.planner.lock``. In-memory SQLite: always held. The lease is an optimisation,
        not what keeps mail single: two planners at once are absorbed by the UNIQUE key (C7).
        ``close()`` releases every lease this ledger handed out.
        """
        url = self._engine.url
        lease: PlannerLease
        if self._postgres:
            lease = PgPlannerLease(url, name, idle_timeout=idle_timeout)
        elif not url.database or url.database == ":memory:":
            lease = SoloPlannerLease(name)
        else:
            path = Path(url.database).expanduser()
            lease = FilePlannerLease(path.with_name(path.name + ".planner.lock"), name)
        self._leases.append(lease)
        return lease
