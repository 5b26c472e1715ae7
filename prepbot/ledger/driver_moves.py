"""Every message's two moves (CLAIMED -> SENDING -> SENT) on SQLite's driver directly.

The statements are SQLAlchemy's own (:mod:`prepbot.ledger.settling`), compiled once per set of
columns for the SQLite dialect, with SQLAlchemy's bind processors. What is skipped is the
per-statement machinery around them (connection and transaction objects, events, execution
contexts, result objects): about 0.4 ms of CPU per move, most of a move's cost (issue 7).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Dialect, Engine, PoolProxiedConnection, Update
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from prepbot.ledger.engine import writer_turn
from prepbot.ledger.settling import LOG_INSERT, Move, fast_log_entry, fast_move

_Prepared = tuple[Move, str, list[Any]]  # a move, its UPDATE's SQL and the driver's parameters
_LOG_COLUMNS = ("action_id", "at", "from_status", "to_status", "reason", "attempt", "worker")


@dataclass(frozen=True, slots=True)
class _Statement:
    """One compiled statement: its SQL and how to turn named parameters into the driver's."""

    sql: str
    order: tuple[str, ...]
    processors: Mapping[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, statement: ClauseElement, dialect: Dialect, columns: tuple[str, ...]) -> _Statement:
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        # pysqlite's paramstyle is positional (qmark): the parameters go in positiontup's order
        assert isinstance(compiled, SQLCompiler) and compiled.positiontup is not None
        # _bind_processors: the processors SQLAlchemy's own execution applies (UtcDateTime's check
        # and conversion, then SQLite's DATETIME text); tests/ledger/test_driver_moves.py checks
        # that the rows written are the ones SQLAlchemy writes.
        processors = compiled._bind_processors
        assert all(callable(p) for p in processors.values())  # no tuple-typed parameter here
        order = tuple(compiled.positiontup)
        return cls(str(compiled), order, cast(Mapping[str, Callable[[Any], Any]], processors))

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The driver's parameters, in order. Raises ValueError for a value the ledger refuses.

        Every parameter of these statements is a bind named by its key, with no value embedded in
        the statement, so each is read from ``params`` by name (SQLAlchemy's ``construct_params``
        did the same, at a few microseconds a statement; issue 7).

        Raises:
            KeyError: a parameter of the statement is not in ``params`` (a bug).
        """
        out = []
        for name in self.order:
            value = params[name]
            processor = self.processors.get(name)
            out.append(value if processor is None else processor(value))
        return out


class DriverMoves:
    """The fenced one-UPDATE moves of :func:`prepbot.ledger.settling.settle_one`, on the driver.

    Only moves whose target has one source (SENDING, SENT, LOGGED) and that keep the row's worker
    are made here; for the others, and when the UPDATE matches nothing (a stale attempt, a
    replay, a row in another state), :meth:`moved_all` writes nothing and returns False: the checked
    path (:func:`prepbot.ledger.settling.settle_one`) then makes the move or says why not.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._updates: dict[tuple[Update, tuple[str, ...]], _Statement] = {}
        self._log = _Statement.of(LOG_INSERT, self._dialect, _LOG_COLUMNS)
        # One connection kept for the moves, not one taken from the pool and given back per move
        # (a tenth of a millisecond a message); the lock makes the moves of several threads take turns.
        self._lock = threading.Lock()
        self._kept: PoolProxiedConnection | None = None

    def moved_all(self, moves: Sequence[Move], *, durable: bool) -> bool:
        """Make every move of ``moves`` (distinct rows) in one transaction, synced to disk when
        ``durable``, or none of them (False) when one of them is not a one-UPDATE move or its
        UPDATE matches nothing.

        A send's SENDING and SENT moves go this way one at a time, and a batch's LOGGED moves
        together (issue 7: the background writer then holds the write lock, which every send's
        moves need, for half as long as on SQLAlchemy).

        Raises:
            ValueError: a value the ledger refuses (a naive datetime).
            sqlite3.Error: the database failed (nothing was written).
        """
        prepared: list[_Prepared] = []
        for m in moves:
            fast = fast_move(m)
            if fast is None:
                return False
            statement, params = fast
            update = self._update(statement, tuple(m.values))
            prepared.append((m, update.sql, update.args(params)))
        with self._lock:
            if self._kept is None:
                self._kept = self._engine.raw_connection()
            raw = self._kept
            try:
                cursor = raw.cursor()
                if durable:  # as prepbot.ledger.engine.transaction(durable=True)
                    cursor.execute("PRAGMA synchronous=FULL")
                try:
                    with writer_turn(self._engine):
                        return self._in_transaction(raw.dbapi_connection, cursor, prepared)
                finally:
                    if durable:
                        cursor.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                self._give_back()  # a connection that failed is not kept
                raise

    def close(self) -> None:
        """Give the kept connection back to the pool (before the engine is disposed)."""
        with self._lock:
            self._give_back()

    def _give_back(self) -> None:
        kept, self._kept = self._kept, None
        if kept is not None:
            kept.close()

    def _in_transaction(self, dbapi: Any, cursor: Any, prepared: Sequence[_Prepared]) -> bool:
        cursor.execute("BEGIN IMMEDIATE")  # the write lock up front, as every ledger write
        try:
            entries = []
            for m, sql, args in prepared:
                found = cursor.execute(sql, args).fetchone()
                if found is None:  # a stale attempt, a replay, another state or no row
                    cursor.execute("ROLLBACK")
                    return False
                entries.append(self._log.args(fast_log_entry(m, found[0], found[1])))
            cursor.executemany(self._log.sql, entries)
            cursor.execute("COMMIT")
            return True
        except BaseException:
            if dbapi.in_transaction:
                dbapi.rollback()
            raise

    def _update(self, statement: Update, columns: tuple[str, ...]) -> _Statement:
        key = (statement, columns)
        found = self._updates.get(key)
        if found is None:
            found = self._updates[key] = _Statement.of(statement, self._dialect, columns)
        return found
