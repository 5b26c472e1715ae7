"""The SQL ledger's settle on prebuilt statements: a fenced UPDATE first, the locked read if it misses."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, Update, bindparam, select, update

from prepbot.domain import Status
from prepbot.errors import LedgerStateError, StaleClaimError
from prepbot.ledger.rows import check_settle, chunks, is_replay, move
from prepbot.ledger.schema import actions, events_log
from prepbot.ledger.states import sources_of

log = logging.getLogger(__name__)

# Statements are built once: SQLAlchemy memoises a statement's cache key, so reusing the object
# skips building, coercing and cache-keying a new one per row (issue 7: most of a settle's CPU).
LOG_INSERT = events_log.insert()
_READ = select(actions).where(actions.c.id.in_(bindparam("b_ids", expanding=True))).order_by(actions.c.id)
_READ_LOCKED = _READ.with_for_update()  # PostgreSQL; SQLite's BEGIN IMMEDIATE holds the write lock
# No .values(): the SET clause is the columns named in the parameters (``settle_values``), each set
# of columns compiled once. The b_* parameters are the WHERE's.
_ROW = actions.c.id == bindparam("b_id")
_SOURCE = actions.c.status == bindparam("b_status")
_FENCED = update(actions).where(_ROW, _SOURCE, actions.c.attempt == bindparam("b_attempt"))
FAST_FENCED = _FENCED.returning(actions.c.attempt, actions.c.worker)
FAST_UNFENCED = update(actions).where(_ROW, _SOURCE).returning(actions.c.attempt, actions.c.worker)

# Targets reachable from one state only (SENDING, SENT, LOGGED: every message's path): there an
# UPDATE that matched already proves the move legal, and says where the row came from.
_ONLY_SOURCE: dict[Status, Status] = {
    target: next(iter(sources))
    for target in Status
    if len(sources := sources_of(target)) == 1 and target not in sources
}


@dataclass(frozen=True, slots=True)
class Move:
    """One settle of one row: its target, fencing token, the column values to write, and when."""

    row_id: int
    target: Status
    reason: str
    attempt: int | None
    values: dict[str, Any]
    at: datetime


def settle_one(conn: Connection, move_: Move, *, for_update: bool) -> None:
    """Make one move, or raise why it may not be made (see :func:`settle_checked`).

    The hot path is one UPDATE fenced on (id, source status, attempt) and the history row; only
    when it matches nothing is the row read, for a replay (no-op) or the precise refusal.
    """
    if _moved_fast(conn, move_):
        return
    outcome = settle_checked(conn, [move_], for_update=for_update)[0]
    if outcome is not None:
        raise outcome


def fast_move(m: Move) -> tuple[Update, dict[str, Any]] | None:
    """The one fenced UPDATE (RETURNING attempt, worker) that makes ``m``, with its parameters; None
    when ``m`` needs the checked path: its target has more than one source, or it sets the worker
    (the history needs the worker as it was)."""
    source = _ONLY_SOURCE.get(m.target)
    if source is None or "worker" in m.values:
        return None
    params = {**m.values, "b_id": m.row_id, "b_status": source.value}
    if m.attempt is None:
        return FAST_UNFENCED, params
    params["b_attempt"] = m.attempt
    return FAST_FENCED, params


def fast_log_entry(m: Move, attempt: int, worker: str | None) -> dict[str, Any]:
    """The history row of a :func:`fast_move` whose UPDATE returned ``attempt`` and ``worker``."""
    before = {"id": m.row_id, "status": _ONLY_SOURCE[m.target].value, "attempt": attempt, "worker": worker}
    return move(before, m.target, m.at, m.reason)


def _moved_fast(conn: Connection, m: Move) -> bool:
    fast = fast_move(m)
    if fast is None:
        return False
    found = conn.execute(*fast).first()
    if found is None:  # a stale attempt, a replay, another state or no row: the checked path says
        return False
    conn.execute(LOG_INSERT, [fast_log_entry(m, found.attempt, found.worker)])
    return True


def settle_checked(conn: Connection, moves: Sequence[Move], *, for_update: bool) -> list[Exception | None]:
    """Read the rows (``FOR UPDATE`` when asked), then make each move the token and states allow.

    ``moves`` must name distinct rows. A repeated settle already committed (same attempt, row in
    the target) is ignored.

    Returns:
        Per move, None (moved or ignored) or the StaleClaimError / LedgerStateError refusing it;
        nothing is written for a refused move.
    """
    current = _read(conn, [m.row_id for m in moves], for_update)
    outcomes: list[Exception | None] = []
    accepted: list[tuple[Move, RowMapping]] = []
    for m in moves:
        row = current.get(m.row_id)
        if is_replay(row, m.target, m.attempt):
            log.info(
                "ledger row %d is %s at attempt %s already: settle ignored", m.row_id, m.target, m.attempt
            )
            outcomes.append(None)
            continue
        try:
            check_settle(m.row_id, row, m.target, m.attempt)
        except (StaleClaimError, LedgerStateError) as exc:
            outcomes.append(exc)
            continue
        assert row is not None  # check_settle refused a missing row
        accepted.append((m, row))
        outcomes.append(None)
    _apply(conn, accepted)
    return outcomes


def _read(conn: Connection, row_ids: Sequence[int], for_update: bool) -> dict[int, RowMapping]:
    query = _READ_LOCKED if for_update else _READ
    found: dict[int, RowMapping] = {}
    for chunk in chunks(sorted(row_ids)):  # by id: one lock order for every locker
        found.update((row["id"], row) for row in conn.execute(query, {"b_ids": list(chunk)}).mappings())
    return found


def _apply(conn: Connection, accepted: Sequence[tuple[Move, RowMapping]]) -> None:
    # One executemany per set of columns written (an executemany's rows must name the same ones).
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for m, row in accepted:
        fence = {"b_id": m.row_id, "b_status": row["status"], "b_attempt": row["attempt"]}
        groups.setdefault(tuple(sorted(m.values)), []).append({**m.values, **fence})
    for params in groups.values():
        done = conn.execute(_FENCED, params)
        sane = len(params) == 1 or conn.dialect.supports_sane_multi_rowcount
        if sane and done.rowcount != len(params):  # pragma: no cover - the locks rule this out
            raise StaleClaimError("ledger rows changed while they were being settled")
    if accepted:
        conn.execute(LOG_INSERT, [move(row, m.target, m.at, m.reason) for m, row in accepted])
