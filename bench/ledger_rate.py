"""CPU cost per row of the SQL ledger's per-message hot paths (settle, settle_many, save_note_states).

Run: ``.venv/bin/python -m bench.ledger_rate [N]`` (default 2,000 rows). On a temporary SQLite ledger,
and on PostgreSQL too when PREPBOT_TEST_PG_URL is set (in a database created for the run and dropped
after it), it plans N rows, claims them in batches of 200 and times, per row: the settle to SENDING
(durable, as before a mail leaves), the settle to SENT, one settle_many to LOGGED per batch; then
save_note_states for N meetings in batches of 200, first as creates about to be attempted (note_id
None, durable), then with the note ids. Prints JSON: microseconds per row (wall clock and process CPU).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from prepbot.domain import (  # noqa: E402
    ActionKey,
    ActionRow,
    MessageKind,
    NoteState,
    PlannedAction,
    Settlement,
    Status,
)
from prepbot.ledger.sql import SqlLedger  # noqa: E402

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)
BATCH = 200


class Timer:
    """Wall-clock and process-CPU seconds summed over the timed sections of one operation."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    @contextmanager
    def __call__(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu

    def per_row(self, rows: int) -> dict[str, float]:
        return {"wall_us": round(self.wall / rows * 1e6, 1), "cpu_us": round(self.cpu / rows * 1e6, 1)}


def planned(i: int) -> PlannedAction:
    key = ActionKey(f"00U{i:012d}", "2026-03-03T10:00:00Z", f"guest{i}@example.nl", MessageKind.CONFIRMATION)
    return PlannedAction(
        key=key,
        status=Status.PLANNED,
        due_at=NOW,
        deadline_at=NOW + timedelta(days=1),
        to_address=key.recipient,
        language="nl",
        time_zone="Europe/Amsterdam",
    )


def measure_settles(ledger: SqlLedger, n: int) -> dict[str, dict[str, float]]:
    """Plan n rows, claim them per BATCH and send each (SENDING, SENT), then log the batch at once."""
    ledger.plan([planned(i) for i in range(n)], NOW)
    timers = {name: Timer() for name in ("settle_sending", "settle_sent", "settle_many_logged")}
    while rows := ledger.claim_due(NOW, limit=BATCH, lease=LEASE, worker="bench"):
        for row in rows:
            with timers["settle_sending"]():
                ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt, message_id=f"m{row.id}@x")
            with timers["settle_sent"]():
                ledger.settle(row.id, Status.SENT, NOW, attempt=row.attempt, template_version="v1")
        moves = [_logged(row) for row in rows]
        with timers["settle_many_logged"]():
            refused = [outcome for outcome in ledger.settle_many(moves, NOW) if outcome is not None]
        if refused:
            raise RuntimeError(f"settle_many refused moves: {refused[:3]}")
    return {name: timer.per_row(n) for name, timer in timers.items()}


def _logged(row: ActionRow) -> Settlement:
    return Settlement(row.id, Status.LOGGED, attempt=row.attempt, crm_id=f"00T{row.id:012d}")


def measure_notes(ledger: SqlLedger, n: int) -> dict[str, dict[str, float]]:
    """save_note_states for n meetings per BATCH: creates about to be attempted, then their ids."""
    figures: dict[str, dict[str, float]] = {}
    for name, note_id in (("save_note_states_pending", None), ("save_note_states_ids", "069")):
        timer = Timer()
        for start in range(0, n, BATCH):
            states = [_note(i, note_id) for i in range(start, min(start + BATCH, n))]
            with timer():
                ledger.save_note_states(states)
        figures[name] = timer.per_row(n)
    return figures


def _note(i: int, note_id: str | None) -> NoteState:
    note = f"{note_id}{i:012d}" if note_id else None
    return NoteState(f"00U{i:012d}", "2026-03-03T10:00:00Z", f"001{i:012d}", note, f"{i:064x}", NOW)


def run(url: str, n: int) -> dict[str, Any]:
    ledger = SqlLedger(url)
    try:
        return {**measure_settles(ledger, n), **measure_notes(ledger, n)}
    finally:
        ledger.close()


@contextmanager
def pg_database(base: str) -> Iterator[str]:
    """A database created on the server of ``base`` for this run, dropped afterwards."""
    name = f"prepbot_ledger_rate_{os.getpid()}_{int(time.time())}"
    _admin_sql(base, f'CREATE DATABASE "{name}"')
    try:
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        _admin_sql(base, f'DROP DATABASE "{name}" WITH (FORCE)')


def _admin_sql(url: str, statement: str) -> None:
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 2000
    results: dict[str, Any] = {"rows": n, "batch": BATCH}
    with tempfile.TemporaryDirectory(prefix="prepbot-ledger-rate.") as folder:
        results["sqlite"] = run(f"sqlite:///{folder}/ledger.db", n)
    pg_base = os.environ.get("PREPBOT_TEST_PG_URL")
    if pg_base:
        with pg_database(pg_base) as url:
            results["postgresql"] = run(url, n)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
