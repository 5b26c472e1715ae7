"""Planner election: at most one planner per ledger, by a PostgreSQL advisory lock or an flock for SQLite."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Connection, create_engine, exc, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from prepbot.ledger.engine import ErrorMapper

log = logging.getLogger(__name__)

# Any 64-bit constant ("prepplan"), unlike engine._PG_MIGRATION_LOCK. Advisory locks are per
# database, so two prepbot installations on two databases of one server do not contend.
PLANNER_LOCK_KEY = 0x70726570706C616E
DEFAULT_IDLE_TIMEOUT = timedelta(minutes=5)

# The lease's own connection must notice a vanished peer in seconds, not after the kernel's default
# two hours: client-side libpq keepalives and TCP user timeout, server-side the same per session.
_CLIENT_KEEPALIVE: dict[str, object] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}
_SERVER_KEEPALIVE = (
    "SET tcp_keepalives_idle = 10",
    "SET tcp_keepalives_interval = 5",
    "SET tcp_keepalives_count = 3",
)
_HELD = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND granted AND classid = :hi AND objid = :lo AND objsubid = 1"
)


class PgPlannerLease:
    """The planner lease on PostgreSQL: ``pg_try_advisory_lock`` on one dedicated session.

    The lock is session-level and lives on a connection of its own, outside the ledger's pool, kept
    open while the lease is held: when the planner dies (even SIGKILL) its connection closes and
    PostgreSQL frees the lock; a server restart frees it too, which ``held()`` reports as False.
    With ``idle_timeout`` the server also ends the session (``idle_session_timeout``, PostgreSQL 14+)
    when the holder has not called ``held()``/``acquire()`` for that long, so a frozen planner
    (SIGSTOP, a stuck host) cannot keep the lease forever.

    Args:
        url: the ledger's database URL.
        name: who holds the lease (for the logs).
        idle_timeout: end the lease's session after this long without a check; None = never.
    """

    def __init__(self, url: URL, name: str, *, idle_timeout: timedelta | None = DEFAULT_IDLE_TIMEOUT) -> None:
        self.name = name
        self._engine = create_engine(url, poolclass=NullPool, connect_args=_CLIENT_KEEPALIVE)
        self._errors = ErrorMapper(self._engine)
        self._idle_ms = int(idle_timeout.total_seconds() * 1000) if idle_timeout else 0
        self._conn: Connection | None = None  # open exactly while the lock is held
        self._mutex = threading.Lock()

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits. True while this lease holds it.

        Raises:
            LedgerError: the database cannot be reached (the planner's tick fails and is retried).
        """
        with self._mutex:
            if self._conn is not None and self._alive(self._conn):
                return True
            self._drop()
            with self._errors():
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                try:
                    won = bool(
                        conn.execute(
                            text("SELECT pg_try_advisory_lock(:key)"), {"key": PLANNER_LOCK_KEY}
                        ).scalar()
                    )
                    if won:
                        self._configure(conn)
                except BaseException:
                    conn.close()
                    raise
            if not won:
                conn.close()
                return False
            self._conn = conn
            log.info("planner lease taken by %s", self.name)
            return True

    def _configure(self, conn: Connection) -> None:
        for statement in _SERVER_KEEPALIVE:
            conn.exec_driver_sql(statement)
        if self._idle_ms and (conn.dialect.server_version_info or (0,)) >= (14,):
            conn.exec_driver_sql(f"SET idle_session_timeout = {self._idle_ms}")

    def held(self) -> bool:
        """Whether the lease is still this one's: its session is alive and owns the lock.

        Never raises: a session that fails to answer (server restarted, network gone) has lost the
        lock, so the lease is dropped and False returned; a later ``acquire()`` may win it again.
        """
        with self._mutex:
            if self._conn is None:
                return False
            if self._alive(self._conn):
                return True
            log.warning("planner lease of %s lost: its database session ended", self.name)
            self._drop()
            return False

    @staticmethod
    def _alive(conn: Connection) -> bool:
        params = {"hi": PLANNER_LOCK_KEY >> 32, "lo": PLANNER_LOCK_KEY & 0xFFFFFFFF}
        try:
            return bool(conn.execute(_HELD, params).scalar())
        except exc.SQLAlchemyError:
            return False

    def release(self) -> None:
        """Give the lease up (a no-op when not held).

        The lock is unlocked before its session is closed: closing alone frees it only once the
        server's backend has noticed and ended, a moment later, so a standby planner asking right
        after a clean stop could still find it taken.
        """
        with self._mutex:
            if self._conn is not None:
                with contextlib.suppress(exc.SQLAlchemyError):  # a dead session holds nothing
                    self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": PLANNER_LOCK_KEY})
                log.info("planner lease released by %s", self.name)
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(exc.SQLAlchemyError):  # a dead session closes quietly
                conn.close()


class FilePlannerLease:
    """The planner lease on SQLite: an exclusive ``flock`` on ``<database>.planner.lock``.

    SQLite serves processes of one host, and the kernel drops an flock when its holder dies, so
    this is the same guarantee as the advisory lock. The lock file is never deleted (deleting it
    would let a second process lock a new file); ``held()`` notices if someone did.
    """

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None
        self._mutex = threading.Lock()

    def acquire(self) -> bool:
        """Take the lease if no other process (or lease object) holds it; never waits.

        Raises:
            OSError: the lock file cannot be created.
        """
        with self._mutex:
            if self._fd is not None and self._same_file(self._fd):
                return True
            self._drop()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            log.info("planner lease taken by %s", self.name)
            return True

    def held(self) -> bool:
        """Whether this lease holds the lock (and the lock file is still the one locked)."""
        with self._mutex:
            if self._fd is None:
                return False
            if self._same_file(self._fd):
                return True
            log.warning("planner lease of %s lost: %s was removed", self.name, self.path)
            self._drop()
            return False

    def _same_file(self, fd: int) -> bool:
        try:
            held, named = os.fstat(fd), os.stat(self.path)
        except OSError:
            return False
        return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)

    def release(self) -> None:
        """Give the lease up (a no-op when not held)."""
        with self._mutex:
            self._drop()

    def _drop(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


class SoloPlannerLease:
    """The lease of an in-memory SQLite ledger: nobody else can see the database, so always held."""

    def __init__(self, name: str) -> None:
        self.name = name

    def acquire(self) -> bool:
        """Always True."""
        return True

    def held(self) -> bool:
        """Always True."""
        return True

    def release(self) -> None:
        """Nothing to release."""
