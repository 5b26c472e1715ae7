"""Ledger database plumbing: engine per backend, SQLite pragmas, migrations, error mapping."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
    exc,
    inspect,
    make_url,
    text,
)
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from prepbot.errors import ConfigError, LedgerError, LedgerStateError
from prepbot.ledger.schema import VERSION_TABLE, metadata

# One writer at a time per SQLite engine, in this process. SQLite lets one connection write at a
# time; another that tries waits in SQLite's busy handler, which sleeps 1, 2, 5, 10 ms... between
# tries. The sending thread and the background writer collided about every 30 messages, and the
# sender slept there 0.08 ms a message on average (issue 7). A lock hands the turn over at once.
# Other processes (workers) still meet SQLite's busy handler.
_WRITERS: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def writer_turn(engine: Engine) -> AbstractContextManager[object]:
    """Held around every write transaction on ``engine``: this process's writers take turns."""
    lock = _WRITERS.get(engine)
    return lock if lock is not None else nullcontext()


if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest migration in MIGRATIONS_DIR: a database already there is opened without loading Alembic
# (a tenth of a second of every run's start-up). tests/ledger checks it against the scripts.
HEAD_REVISION = "0003"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
# Any 64-bit constant: serialises concurrent migrations of workers starting together on PostgreSQL.
_PG_MIGRATION_LOCK = 0x70726570626F74  # "prepbot"
_BEGIN_OPTION = "prepbot_sqlite_begin"


def parse_url(url: str) -> URL:
    """Parse a ledger URL, refusing backends the ledger does not support (password never shown)."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise ConfigError("the ledger URL cannot be parsed", hint="e.g. sqlite:///var/prepbot.db") from None
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"unsupported ledger backend {parsed.get_backend_name()!r}",
            hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        )
    return parsed


def build_engine(url: URL, *, busy_timeout_ms: int = 5000, idle_in_transaction_ms: int = 60_000) -> Engine:
    """An engine for ``url``: SQLite gets WAL, a busy timeout, foreign keys and explicit BEGINs;
    PostgreSQL sessions end a transaction left idle for ``idle_in_transaction_ms`` (0 = never).

    Raises:
        ConfigError: the database driver is not installed, or the SQLite folder cannot be made.
    """
    try:
        return _build_engine(url, busy_timeout_ms, idle_in_transaction_ms)
    except ImportError as error:
        raise ConfigError(
            f"the database driver for {url.drivername!r} is not installed ({error.name})",
            hint="pip install 'psycopg[binary]' for postgresql+psycopg://",
        ) from None
    except OSError as error:
        raise ConfigError(f"cannot create the ledger folder: {error.strerror} ({error.filename})") from None


def _build_engine(url: URL, busy_timeout_ms: int, idle_in_transaction_ms: int) -> Engine:
    if url.get_backend_name() == "postgresql":
        # pre_ping: a PostgreSQL restart (C10) must cost one failed tick, not a poisoned pool.
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        if idle_in_transaction_ms:
            _configure_postgres(engine, idle_in_transaction_ms)
        return engine
    database = url.database or ""
    if database in ("", ":memory:"):
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
    _configure_sqlite(engine, busy_timeout_ms)
    _WRITERS[engine] = threading.RLock()
    return engine


def _configure_postgres(engine: Engine, idle_in_transaction_ms: int) -> None:
    # Ledger transactions never wait for anything outside the database, so one left idle belongs to
    # a frozen process (SIGSTOP, a stuck host): the server ends it and frees its row locks, which
    # would otherwise stall the planner's supersede/cancel until that process wakes up.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET idle_in_transaction_session_timeout = {int(idle_in_transaction_ms)}")
        cursor.close()
        dbapi_connection.autocommit = autocommit


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot do BEGIN IMMEDIATE; take it
    # over as the SQLAlchemy docs recommend ("Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        _switch_to_wal(cursor, busy_timeout_ms / 1000)
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL: a commit survives a crash of prepbot without an fsync of its own; the WAL is
        # synced by the next durable transaction (see ``transaction``) and at checkpoints.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred read-then-write transaction would
        # fail with SQLITE_BUSY on the lock upgrade instead of waiting for busy_timeout.
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def _switch_to_wal(cursor: Any, timeout_s: float) -> None:
    """``PRAGMA journal_mode=WAL``, retried while another connection holds a lock, up to ``timeout_s``.

    On a new database (still in rollback-journal mode) the switch reads the file, then needs its
    exclusive lock: when another process is writing it at that moment (two prepbot processes started
    together on a new ledger), SQLite answers SQLITE_BUSY at once rather than call the busy handler,
    which could deadlock there. Waiting and trying again is what the busy timeout would have done.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def transaction(engine: Engine, *, write: bool, durable: bool = False) -> Iterator[Connection]:
    """One transaction; ``write`` transactions hold SQLite's write lock from their start.

    ``durable``: on SQLite, the commit is synced to disk (``synchronous=FULL``) — for the step
    before an effect outside the ledger that cannot be taken back (a row marked SENDING before
    its mail goes out). The WAL is appended in order, so that sync makes every earlier commit
    durable too; the other commits skip their own fsync (issue 7: it was most of a send's time).
    PostgreSQL commits are durable as configured on the server.
    """
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection if durable and conn.dialect.name == "sqlite" else None
        if write:
            conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        if raw is not None:
            raw.execute("PRAGMA synchronous=FULL")
        try:
            with writer_turn(engine) if write else nullcontext(), conn.begin():
                yield conn
        finally:
            if raw is not None:
                raw.execute("PRAGMA synchronous=NORMAL")


class MigrationError(Exception):
    """Alembic refused or failed a migration (its CommandError, without importing Alembic up front)."""


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    # Config is a ConfigParser: a '%' in the install path would be read as interpolation.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The schema revision stamped in the database, or None when it has none yet."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        revisions = list(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    return revisions[0] if len(revisions) == 1 else None


def scripts_head() -> str | None:
    """The head revision of the packaged migration scripts, as Alembic reads them."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def upgrade_to_head(engine: Engine, *, from_scratch: bool = True) -> None:
    """Bring the database to the head revision, in one transaction (a no-op when current).

    A database with no tables yet (``from_scratch``) gets the head schema at once, from
    :data:`prepbot.ledger.schema.metadata`, and the head stamp, without Alembic: importing it and
    replaying every migration was a quarter of a second of a first start (issue 7). Any other
    database is migrated by the packaged Alembic scripts. tests/ledger checks that both ways build
    the same schema, on SQLite and PostgreSQL.
    """
    if current_revision(engine) == HEAD_REVISION:
        return
    with transaction(engine, write=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        if from_scratch and not inspect(conn).get_table_names():  # checked again under the lock
            _create_at_head(conn)
        else:
            _migrate(conn)


def _create_at_head(conn: Connection) -> None:
    metadata.create_all(conn)
    # the version table as Alembic makes it, so that the next migration finds the stamp it expects
    version = Table(
        VERSION_TABLE,
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name=f"{VERSION_TABLE}_pkc"),
    )
    version.create(conn)
    conn.execute(version.insert().values(version_num=HEAD_REVISION))


def _migrate(conn: Connection) -> None:
    from alembic import command
    from alembic.util.exc import CommandError

    config = _alembic_config()
    config.attributes["connection"] = conn
    try:
        command.upgrade(config, "head")
    except CommandError as error:
        raise MigrationError(str(error)) from None


def require_head(engine: Engine) -> None:
    """Refuse a database whose schema is not the revision this code was written for."""
    current = current_revision(engine)
    if current != HEAD_REVISION:
        raise LedgerStateError(
            f"the ledger schema is at revision {current or 'none'}, this prepbot expects {HEAD_REVISION}: "
            "open it once with migrate=True"
        )


class ErrorMapper:
    """Maps every database, driver and migration error to LedgerError, once, without secrets."""

    def __init__(self, engine: Engine) -> None:
        self._where = engine.url.render_as_string(hide_password=True)
        self._password = engine.url.password
        dbapi = engine.dialect.loaded_dbapi
        self._driver_errors: tuple[type[BaseException], ...] = (dbapi.Error,) if dbapi else ()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        try:
            yield
        except exc.StatementError as error:
            if isinstance(error, exc.DBAPIError):
                raise LedgerError(self.describe(error.orig)) from None
            # Not the database: a value the ledger refused on the way in (a naive datetime...).
            raise LedgerStateError(self.describe(error.orig)) from None
        except (exc.SQLAlchemyError, MigrationError) as error:
            raise LedgerError(self.describe(error)) from None
        except Exception as error:
            if isinstance(error, self._driver_errors):  # a raw driver error SQLAlchemy did not wrap
                raise LedgerError(self.describe(error)) from None
            raise

    def describe(self, error: BaseException | None) -> str:
        """One line naming the failure and the (password-masked) database; no SQL, no parameters."""
        name = type(error).__name__
        lines = str(error).strip().splitlines() if error is not None else []
        detail = lines[0] if lines else name
        if self._password:
            detail = detail.replace(str(self._password), "***")
        return f"ledger database error on {self._where} ({name}): {detail}"
