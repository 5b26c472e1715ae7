"""`make bench`: issue 7's side-by-side measurements, written to bench/RESULTS.md (+ JSON).

Run: ``.venv/bin/python -m bench [--quick]``. Full: prepbot's day cycle at 1,000 / 10,000 / 50,000
meetings, the naive simple-salesforce client at 1,000 / 10,000, the smtplib loop at each day-cycle N,
renders/s, start-up, and 1/2/4 workers when ``bench/scale_workers.py`` and PostgreSQL are there.
``--quick`` runs the day cycle at 1,000 and 10,000 only. Every size can be overridden (the smoke
test runs everything at 20 meetings).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import day_cycle, naive_client, render_rate, sandbox_profile, smtp_loop, startup  # noqa: E402
from bench.results_md import machine, write_results  # noqa: E402


def _sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="day cycle at 1,000 and 10,000 only")
    parser.add_argument("--sizes", type=_sizes, help="day-cycle sizes (default 1000,10000,50000)")
    parser.add_argument("--naive-sizes", type=_sizes, help="naive-client sizes (default 1000,10000)")
    parser.add_argument("--workers-n", type=int, help="meetings per workers run (default 2000)")
    parser.add_argument("--sandbox-n", type=int, default=10000, help="meetings for the sandbox's own figures")
    parser.add_argument("--no-workers", action="store_true", help="skip the 1/2/4 workers runs")
    parser.add_argument("--from-json", type=Path, help="only write RESULTS.md from saved figures")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="day cycles (each between two smtplib loops) at sizes up to 1,000 (default 5)",
    )
    parser.add_argument(
        "--repeats-large",
        type=int,
        default=3,
        help="day cycles at sizes above 1,000 up to --repeat-max (default 3)",
    )
    parser.add_argument(
        "--repeat-max", type=int, default=10000, help="largest size repeated (default 10000; above: once)"
    )
    parser.add_argument("--startup-runs", type=int, default=10)
    parser.add_argument("--render-seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "bench.json")
    args = parser.parse_args(argv)
    if args.sizes is None:
        args.sizes = [1000, 10000] if args.quick else [1000, 10000, 50000]
    if args.naive_sizes is None:
        args.naive_sizes = [1000, 10000]
    if args.workers_n is None:
        args.workers_n = 2000
    return args


def _step(label: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {label}", file=sys.stderr, flush=True)


def run_workers(n: int) -> list[dict[str, Any]] | str:
    """1/2/4 workers through bench.scale_workers, or why they were not run."""
    if not (ROOT / "bench" / "scale_workers.py").exists():
        return "bench/scale_workers.py is not there"
    try:
        from bench import scale_workers
        from bench.scale_stack import pg_available
    except ImportError as exc:
        return f"bench.scale_workers cannot be imported: {exc}"
    if not pg_available():
        return "PostgreSQL is not available (scale_workers needs it)"
    rows = []
    for workers in (1, 2, 4):
        _step(f"workers: {workers} x {n} meetings")
        try:
            rows.append(scale_workers.measure(workers, n))
        except Exception as exc:  # reported in RESULTS.md
            rows.append({"workers": workers, "error": f"{type(exc).__name__}: {exc}"})
    return rows


def _guarded(label: str, measure: Callable[..., Any], *args: Any) -> Any:
    """Run one measurement; a failure becomes ``{"error": ...}`` so a long run keeps its other figures."""
    _step(label)
    try:
        return measure(*args)
    except Exception as exc:  # one failed measurement must not lose the others
        traceback.print_exc()
        return {"error": f"{type(exc).__name__}: {exc}"}


def repeats_for(args: argparse.Namespace, n: int) -> int:
    """How many day cycles decide the verdict at ``n``: one run alone swings with the host's load
    (the same 10,000-meeting cycle measured 0.40 and 0.58 of the loop an hour apart), so every size
    up to ``--repeat-max`` is repeated; the 50,000 run (about 8 minutes with its loops) is not."""
    if n <= 1000:
        return int(args.repeats)
    return int(args.repeats_large) if n <= args.repeat_max else 1


def side_by_side(n: int, repeats: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The day cycle at ``n`` meetings ``repeats`` times, each between two smtplib loops of ``n``
    messages (loop, day, loop, day, ..., loop): the host's load drifts over minutes, so each day
    cycle is compared with the loops run just before and after it, not minutes apart.

    Returns the first day cycle's figures with every run's throughput (``runs``: the tick process's;
    ``cycle_runs``: its cycle's), and the first loop's figures with every loop's rate (``runs``).
    """
    loops = [{"messages": n} | _guarded(f"smtplib loop: {n} messages", smtp_loop.measure, n)]
    days: list[dict[str, Any]] = []
    for i in range(repeats):
        label = f"day cycle: {n} meetings" + (f" ({i + 1} of {repeats})" if repeats > 1 else "")
        days.append({"meetings": n} | _guarded(label, day_cycle.measure, n))
        loops.append({"messages": n} | _guarded(f"smtplib loop: {n} messages", smtp_loop.measure, n))
    day, loop = dict(days[0]), dict(loops[0])
    day["runs"] = [d.get("meetings_per_second") for d in days]
    day["cycle_runs"] = [d.get("cycle_meetings_per_second") for d in days]
    loop["runs"] = [lp.get("smtp_messages_per_second") for lp in loops]
    return day, loop


def run_all(args: argparse.Namespace, save: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Every measurement, in the order the tables show them; ``save`` is called after each one."""
    started = time.perf_counter()
    r: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": " ".join([".venv/bin/python -m bench", *sys.argv[1:]]),
        "day": [],
        "naive": [],
        "smtp": [],
        "workers_n": args.workers_n,
    }
    for n in args.sizes:
        day, loop = side_by_side(n, repeats_for(args, n))
        r["day"].append(day)
        r["smtp"].append(loop)
        save(r)
    for n in args.naive_sizes:
        r["naive"].append({"meetings": n} | _guarded(f"naive client: {n} meetings", naive_client.measure, n))
        save(r)
    r["sandbox"] = _guarded(f"sandbox: {args.sandbox_n} meetings", sandbox_profile.measure, args.sandbox_n)
    r["render"] = _guarded("render rate", render_rate.measure, args.render_seconds)
    r["startup"] = _guarded("start-up", startup.measure, args.startup_runs)
    save(r)
    r["workers"] = "skipped (--no-workers)" if args.no_workers else run_workers(args.workers_n)
    r["elapsed_minutes"] = round((time.perf_counter() - started) / 60, 1)
    save(r)
    return r


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def save(figures: dict[str, Any]) -> None:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")

    results = (
        json.loads(args.from_json.read_text(encoding="utf-8")) if args.from_json else run_all(args, save)
    )
    verdicts = write_results(results, args.out)
    _step(f"wrote {args.out}")
    print(args.out.read_text(encoding="utf-8"))
    return 1 if args.strict and not all(verdicts) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
