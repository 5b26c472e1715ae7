"""SQLite plumbing of the store: connection, collation and LIKE function, tables, indexes, savepoints."""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prepbot.sandbox.schema import NUMBER_TYPES, TEXT_TYPES, FieldDef, ObjectDef, Schema

# Indexed besides every reference field: what prepbot's queries filter and sort on.
_EXTRA_INDEXES = {
    "Event": ("StartDateTime", "ActivityDate", "EndDateTime"),
    "Task": ("ActivityDate",),
    "User": ("Username",),
}
_ALWAYS_INDEXED = ("SystemModstamp",)
# Not indexed: nearly every row has IsDeleted = 0, and without statistics SQLite took that index for
# every "live rows only" filter, scanning the whole table (a duplicate check per ContentDocumentLink
# made writing N notes O(N^2)); the reference and date indexes are the selective ones.
_UNSELECTIVE = ("IsDeleted",)


def _casefold_compare(a: str, b: str) -> int:
    fa, fb = a.casefold(), b.casefold()
    return (fa > fb) - (fa < fb)


@functools.lru_cache(maxsize=512)
def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | re.IGNORECASE)


def sf_like(value: object, pattern: object) -> int | None:
    """SOQL LIKE: case-insensitive for every script (SQLite's own LIKE folds ASCII only)."""
    if value is None or pattern is None:
        return None
    return int(_like_regex(str(pattern).casefold()).fullmatch(str(value).casefold()) is not None)


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the store database with the SFCI collation and sf_like() registered."""
    db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.create_collation("SFCI", _casefold_compare)
    db.create_function("sf_like", 2, sf_like, deterministic=True)
    if str(path) != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS _custom_fields (sobject TEXT, name TEXT, spec TEXT, "
        "PRIMARY KEY (sobject, name))"
    )
    return db


def column_type(f: FieldDef) -> str:
    if f.type in TEXT_TYPES:
        return "TEXT COLLATE SFCI"
    if f.type in ("boolean", "int"):
        return "INTEGER"
    if f.type in NUMBER_TYPES:
        return "REAL"
    return "TEXT"


def table_fields(schema: Schema) -> dict[str, dict[str, FieldDef]]:
    """Every table with its stored columns (objects sharing a table contribute their fields)."""
    tables: dict[str, dict[str, FieldDef]] = {}
    for obj in schema.objects.values():
        cols = tables.setdefault(obj.table, {})
        for f in obj.stored_fields():
            cols.setdefault(f.name, f)
    return tables


def ensure_tables(db: sqlite3.Connection, schema: Schema) -> None:
    """Create missing tables, columns and indexes (an older state file gains new columns)."""
    for table, cols in table_fields(schema).items():
        ensure_table(db, table, cols)


def ensure_table(db: sqlite3.Connection, table: str, cols: dict[str, FieldDef]) -> None:
    defs = [f'"{n}" {column_type(f)}' + (" PRIMARY KEY" if n == "Id" else "") for n, f in cols.items()]
    if table == "ContentDocument":
        defs.append('"_Content" BLOB')
    db.execute(f'CREATE TABLE IF NOT EXISTS "{table}" ({", ".join(defs)})')
    present = {r[1] for r in db.execute(f'PRAGMA table_info("{table}")')}
    for name, f in cols.items():
        if name not in present:
            db.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {column_type(f)}')
    for name in _UNSELECTIVE:
        db.execute(f'DROP INDEX IF EXISTS "ix_{table}_{name}"')  # state folders from older versions
    for name, f in cols.items():
        if f.type == "reference" or name in _ALWAYS_INDEXED or name in _EXTRA_INDEXES.get(table, ()):
            db.execute(f'CREATE INDEX IF NOT EXISTS "ix_{table}_{name}" ON "{table}" ("{name}")')


def objects_of_table(schema: Schema, table: str) -> list[ObjectDef]:
    return [o for o in schema.objects.values() if o.table == table]


class Savepoints:
    """Nestable transactions on one connection, guarded by one re-entrant lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._lock:
            self._depth += 1
            name = f"sp{self._depth}"
            self._db.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self._db.execute(f"ROLLBACK TO {name}")
                self._db.execute(f"RELEASE {name}")
                raise
            else:
                self._db.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
