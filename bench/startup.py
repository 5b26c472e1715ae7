"""Start-up: wall time of `prepbot --help` (median of several runs) and the heaviest imports.

Run: ``.venv/bin/python -m bench.startup [RUNS]`` (default 10). Each run is a fresh process of the
installed ``prepbot`` console script, as a user types it. ``python -X importtime -m prepbot --help``
then names the modules whose import (cumulative, microseconds) costs the most.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def prepbot_command() -> list[str]:
    """The console script next to this interpreter (``.venv/bin/prepbot``), else ``python -m prepbot``."""
    script = Path(sys.executable).with_name("prepbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "prepbot"]


def help_seconds(runs: int) -> list[float]:
    """Wall seconds of ``prepbot --help``, one fresh process per run."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([*prepbot_command(), "--help"], cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def import_offenders(top: int = 10) -> list[dict[str, Any]]:
    """The ``top`` imports by cumulative time (``-X importtime``), with prepbot's own first-level modules."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "prepbot", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rows: list[tuple[float, str]] = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split("|")
        rows.append((int(parts[1]) / 1000, parts[2].strip()))
    rows.sort(reverse=True)
    skip = ("prepbot", "prepbot.__main__", "runpy")
    return [{"module": m, "cumulative_ms": round(ms, 1)} for ms, m in rows if m not in skip][:top]


def measure(runs: int = 10, top: int = 10) -> dict[str, Any]:
    """Median/min/max of ``prepbot --help`` in milliseconds and the import offenders."""
    times = help_seconds(runs)
    return {
        "runs": runs,
        "median_ms": round(statistics.median(times) * 1000, 1),
        "min_ms": round(min(times) * 1000, 1),
        "max_ms": round(max(times) * 1000, 1),
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(prepbot_command()))
        + " --help",
        "imports": import_offenders(top),
    }


def main(argv: list[str]) -> int:
    print(json.dumps(measure(int(argv[0]) if argv else 10), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
