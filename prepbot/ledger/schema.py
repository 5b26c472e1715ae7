"""Ledger tables (SQLAlchemy Core): actions, their history, sync watermarks, prep notes, live workers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

VERSION_TABLE = "prepbot_alembic_version"  # not Alembic's default name: the database may be shared

# Named constraints so Alembic can address them later (batch mode on SQLite needs the names).
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant stored as UTC and always read back timezone-aware UTC.

    SQLite has no time zone type: the value is stored as naive UTC text (which also sorts
    correctly); PostgreSQL gets ``timestamptz``. Naive values are refused, never guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = _aware_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, the text SQLAlchemy's ``DATETIME`` stores, made in one call (issue 7: its own
        processor builds a dict per value, and a meeting's rows bind about twenty instants).
        Read back by SQLAlchemy's own processor, then :meth:`process_result_value`."""
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):  # pragma: no cover - drivers always give datetime
            raise TypeError(f"unexpected stored instant type {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _sqlite_text(value: datetime | None) -> str | None:
    """``2026-12-01 09:00:00.000000``: SQLAlchemy's SQLite storage format, of the instant in UTC."""
    if value is None:
        return None
    return _aware_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _aware_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive value is refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime refused by the ledger: pass an aware UTC instant")
    return value.astimezone(UTC)


actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column("occurrence", String(40), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("deadline_at", UtcDateTime(), nullable=False),
    # Fencing token: incremented by every claim; a settle carrying an older value is refused.
    Column("attempt", Integer, nullable=False, default=0),
    Column("reason", Text, nullable=False, default=""),
    Column("to_address", String(320)),
    Column("language", String(16)),
    Column("time_zone", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("worker", String(200)),
    Column("message_id", String(255)),
    Column("crm_id", String(40)),
    Column("template_version", String(64)),
    Column("sent_at", UtcDateTime()),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("event_id", "occurrence", "recipient", "kind"),
    Index(None, "status", "due_at"),
    Index(None, "event_id"),
)

# Append-only: one row per state change, so `prepbot log` can show the whole story of a key.
events_log = Table(
    "events_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("action_id", Integer, ForeignKey("actions.id", ondelete="CASCADE"), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("attempt", Integer, nullable=False, default=0),
    Column("worker", String(200)),
    Index(None, "action_id"),
)

watermarks = Table(
    "watermarks",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", UtcDateTime(), nullable=False),
)

# One prep note (ContentNote) per meeting: ContentNote cannot be upserted, so the Id and a hash of
# the content written live here (reliability fact 6). ``note_id`` NULL = a create whose outcome is
# unknown (C6). A moved meeting keeps its row (and its note): ``occurrence`` is updated in place.
notes = Table(
    "notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False),
    Column("occurrence", String(40), nullable=False),
    Column("linked_entity_id", String(40), nullable=False),
    Column("note_id", String(40)),
    Column("content_hash", String(64), nullable=False, default=""),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("event_id", "occurrence"),
    Index(None, "event_id"),
)

# The prepbot processes sharing this ledger, one row per process name (``heartbeat`` upserts it,
# ``forget_worker`` removes it on a clean exit). What they hold is not stored here: it is counted
# from ``actions.worker``, so it can never disagree with the rows themselves.
workers = Table(
    "workers",
    metadata,
    Column("name", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("seen_at", UtcDateTime(), nullable=False),
)
