"""Indexes of the sandbox store: live-row filters use the selective indexes, never an IsDeleted scan."""

from __future__ import annotations

from pathlib import Path

from prepbot.sandbox.store import Store


def _plan(store: Store, sql: str, params: tuple[object, ...]) -> str:
    return " ".join(str(row[3]) for row in store._db.execute("EXPLAIN QUERY PLAN " + sql, params))


def test_the_duplicate_check_of_a_note_link_searches_by_reference_not_by_is_deleted(store: Store) -> None:
    plan = _plan(
        store,
        'SELECT "Id" FROM "ContentDocumentLink" WHERE "ContentDocumentId" = ? AND "LinkedEntityId" = ? '
        'AND "IsDeleted" = 0 AND "Id" IS NOT ?',
        ("069", "006", None),
    )
    assert (
        "ix_ContentDocumentLink_ContentDocumentId" in plan or "ix_ContentDocumentLink_LinkedEntityId" in plan
    )
    assert "IsDeleted" not in plan


def test_an_older_state_file_loses_its_is_deleted_indexes_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "org.sqlite"
    Store(path).close()
    old = Store(path)
    old._db.execute('CREATE INDEX "ix_Event_IsDeleted" ON "Event" ("IsDeleted")')
    old.close()
    reopened = Store(path)
    names = {row[0] for row in reopened._db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    reopened.close()
    assert "ix_Event_IsDeleted" not in names
    assert "ix_Event_StartDateTime" in names
