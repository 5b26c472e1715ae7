"""Throughput of 1, 2 and 4 `prepbot run --role worker` processes on one PostgreSQL ledger.

Run: ``.venv/bin/python -m bench.scale_workers [--meetings N] [--workers 1,2,4]`` (default 10,000
meetings). For each worker count it starts a fresh PostgreSQL cluster and a sandbox org (HTTPS +
SMTP sink) seeded with N meetings due now, one `--role planner` and W `--role worker` processes,
waits until every confirmation is sent and logged, and prints a Markdown table:

- messages/s: N over the send phase (first to last message at the SMTP sink);
- end to end: from the processes' start to the last row logged (start-up and planning included).

The sandbox is one process on the same machine, so on a small host it, not prepbot, may be the limit:
read the figures as prepbot + sandbox on this machine, not as what a real relay and org allow.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.scale_stack import Stack, Timing, pg_available  # noqa: E402

OPEN = ("planned", "claimed", "sending", "sent")


def counts(url: str) -> dict[str, int]:
    """Rows per status in the ledger (an empty dict while it is not migrated yet)."""
    from prepbot.errors import LedgerError
    from prepbot.ledger.sql import SqlLedger

    try:
        ledger = SqlLedger(url, migrate=False)
    except LedgerError:
        return {}
    try:
        return {status.value: count for status, count in ledger.counts_by_status().items()}
    finally:
        ledger.close()


def wait_settled(stack: Stack, n: int, timeout: float) -> dict[str, int]:
    """Poll until all N rows exist and none is open; returns the last counts (also on timeout)."""
    deadline = time.monotonic() + timeout
    found: dict[str, int] = {}
    while time.monotonic() < deadline:
        found = counts(stack.url)
        if sum(found.values()) >= n and not any(found.get(state) for state in OPEN):
            return found
        dead = [p.name for p in stack.processes if not p.alive()]
        if dead:
            raise RuntimeError(f"prepbot processes exited: {dead}; see {stack.folder / 'logs'}")
        time.sleep(1.0)
    return found


def send_phase(stack: Stack) -> float:
    """Seconds from the first to the last message the sink stored (file modification times)."""
    times = sorted(path.stat().st_mtime for path in stack.outbox().glob("*.eml"))
    return times[-1] - times[0] if len(times) > 1 else 0.0


def measure(workers: int, n: int, *, timeout: float = 1800.0, folder: Path | None = None) -> dict[str, Any]:
    """One run: a planner and ``workers`` worker processes send ``n`` confirmations; the figures.

    Raises:
        RuntimeError: a prepbot process died, or the run did not finish within ``timeout`` seconds.
    """
    timing = Timing(sync=10, dispatch=5, lease=300, batch=100)
    with (
        tempfile.TemporaryDirectory(prefix="prepbot-scale-", dir=folder) as tmp,
        Stack(Path(tmp), n, timing) as stack,
    ):
        started = time.monotonic()
        stack.spawn("planner", "planner-1")
        for i in range(workers):
            stack.spawn("worker", f"worker-{i + 1}")
        final = wait_settled(stack, n, timeout)
        seconds = time.monotonic() - started
        delivered, phase = stack.sent_count(), send_phase(stack)
        stack.terminate_all()
    if any(final.get(state) for state in OPEN) or sum(final.values()) < n:
        raise RuntimeError(f"not settled within {timeout:.0f} s: {final}")
    return {
        "workers": workers,
        "meetings": n,
        "delivered": delivered,
        "logged": final.get("logged", 0),
        "other": {k: v for k, v in final.items() if v and k != "logged"},
        "send_seconds": round(phase, 1),
        "messages_per_second": round(delivered / phase, 1) if phase else 0.0,
        "end_to_end_seconds": round(seconds, 1),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of the runs."""
    lines = [
        "| workers | meetings | delivered | logged | other rows | send phase (s) | messages/s | end to end (s) |",  # noqa: E501
        "|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for r in rows:
        other = ", ".join(f"{state} {count}" for state, count in r.get("other", {}).items()) or "-"
        lines.append(
            f"| {r['workers']} | {r['meetings']} | {r['delivered']} | {r['logged']} | {other} | "
            f"{r['send_seconds']} | {r['messages_per_second']} | {r['end_to_end_seconds']} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the throughput table; exit 2 without PostgreSQL, 1 when a run does not settle."""
    parser = argparse.ArgumentParser(prog="bench.scale_workers", description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    args = parser.parse_args(argv)
    if not pg_available():
        print(
            "bench.scale_workers: needs PostgreSQL (server binaries or PREPBOT_TEST_PG_URL)", file=sys.stderr
        )
        return 2
    rows = []
    for workers in (int(w) for w in args.workers.split(",")):
        try:
            row = measure(workers, args.meetings)
        except RuntimeError as exc:
            print(f"bench.scale_workers: {workers} worker(s): {exc}", file=sys.stderr)
            return 1
        rows.append(row)
        print(f"  {workers} worker(s): {row}", file=sys.stderr, flush=True)
    print(f"\nThroughput on {os.cpu_count()} cores, one PostgreSQL, one sandbox org + SMTP sink:\n")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
