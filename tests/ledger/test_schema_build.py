"""A new ledger gets its schema in one step (issue 7); it must be the one the migrations build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect

from prepbot.ledger import engine as db
from prepbot.ledger.schema import metadata
from prepbot.ledger.sql import SqlLedger
from tests.ledger.conftest import _reset_postgres


def _migrated(url: str) -> None:
    """The database at head by the packaged Alembic scripts, from nothing."""
    engine = db.build_engine(db.parse_url(url))  # as a ledger opens it (SQLite: makes its folder)
    try:
        db.upgrade_to_head(engine, from_scratch=False)
    finally:
        engine.dispose()


def _schema(url: str) -> dict[str, Any]:
    """Everything the inspector reads of every table: columns, keys, indexes, constraints."""
    engine = create_engine(url)
    try:
        seen = inspect(engine)
        return {
            table: {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("autoincrement"))
                    for c in seen.get_columns(table)
                ],
                "primary key": seen.get_pk_constraint(table),
                "foreign keys": sorted(map(repr, seen.get_foreign_keys(table))),
                "indexes": sorted(map(repr, seen.get_indexes(table))),
                "unique": sorted(map(repr, seen.get_unique_constraints(table))),
                "checks": sorted(map(repr, seen.get_check_constraints(table))),
            }
            for table in sorted(seen.get_table_names())
        }
    finally:
        engine.dispose()


def _wipe(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    else:
        _reset_postgres(url)


def test_a_new_ledger_is_built_at_head_without_alembic_with_the_schema_the_migrations_build(
    ledger_url: str,
) -> None:
    _migrated(ledger_url)
    by_migrations = _schema(ledger_url)
    _wipe(ledger_url)
    SqlLedger(ledger_url).close()  # a new ledger: built in one step
    assert _schema(ledger_url) == by_migrations
    engine = create_engine(ledger_url)
    assert db.current_revision(engine) == db.HEAD_REVISION  # stamped as Alembic stamps it
    engine.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_uses(ledger_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    _migrated(ledger_url)
    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    engine.dispose()
    diff = [d for d in diff if "prepbot_alembic_version" not in repr(d)]
    assert diff == []


def test_a_new_ledger_is_not_built_over_tables_someone_else_made(tmp_path: Path) -> None:
    """Only an empty database is built in one step; one with tables goes through the migrations
    (which refuse what they do not know rather than add to it)."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE actions (id INTEGER PRIMARY KEY)")
    engine.dispose()
    try:
        SqlLedger(url).close()
    except Exception as error:  # the migrations' own refusal: the table exists already
        assert "actions" in str(error)
    else:
        raise AssertionError("a database with a foreign 'actions' table was opened as a ledger")
