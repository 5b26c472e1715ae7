"""Two processes that start together on a new SQLite ledger both open it.

A new database file is in rollback-journal mode until a connection switches it to WAL. The switch
reads the file, then needs its exclusive lock; while another connection is writing, SQLite answers
SQLITE_BUSY at once instead of waiting for the busy timeout. A `prepbot run` worker started at the
same moment as its planner once exited with "database is locked" on that (issue 7's CI run).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from prepbot.errors import LedgerError
from prepbot.ledger.sql import SqlLedger


@contextmanager
def _another_writer(path: Path, *, holds_for: float) -> Iterator[None]:
    """Another connection in the middle of a write transaction on a rollback-journal database,
    committed after ``holds_for`` seconds."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE someone_elses (i INTEGER)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO someone_elses VALUES (1)")
    done = threading.Timer(holds_for, lambda: other.execute("COMMIT"))
    done.start()
    try:
        yield
    finally:
        done.join()
        other.close()


def test_a_ledger_opened_while_another_process_writes_the_new_file_waits_for_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with _another_writer(path, holds_for=0.3):
        ledger = SqlLedger(f"sqlite:///{path}")  # failed at once before the fix: database is locked
    try:
        assert ledger.open_rows() == []
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    finally:
        ledger.close()


def test_a_lock_held_longer_than_the_busy_timeout_is_still_an_error_that_says_so(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with _another_writer(path, holds_for=1.0), pytest.raises(LedgerError, match="database is locked"):
        SqlLedger(f"sqlite:///{path}", busy_timeout_ms=100)
