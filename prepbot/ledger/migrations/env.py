"""Alembic environment: runs on the connection SqlLedger hands over (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context

from prepbot.ledger.schema import VERSION_TABLE, metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("prepbot ledger migrations run through SqlLedger(url, migrate=True)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        # SqlLedger runs the upgrade inside its own BEGIN (SQLite included), so DDL is transactional:
        # a migration that fails half-way leaves the database as it was.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (--sql) migrations are not supported for the prepbot ledger")
run_migrations_online()
