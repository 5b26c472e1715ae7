"""bench/RESULTS.md from the figures of `python -m bench`: the machine, each table, its target and verdict."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from bench.results_tables import (
    Verdict,
    api_table,
    cpu_budget_table,
    good,
    mark,
    memory_table,
    n_,
    naive_table,
    render_table,
    sandbox_table,
    startup_table,
    throughput_table,
    work_table,
    workers_table,
)

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """Cores, CPU model, RAM, Python, load and the commit measured."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if "model name" in line
        ),
        platform.processor() or "unknown",
    )
    mem_kib = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if "MemTotal" in line), 0
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "prepbot"], cwd=ROOT, capture_output=True, text=True
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": commit.stdout.strip()
        + (" (prepbot/ has uncommitted changes)" if dirty.stdout.strip() else ""),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def render_results(r: dict[str, Any]) -> tuple[str, list[Verdict]]:
    """The whole RESULTS.md text and every verdict."""
    api, v_api = api_table(r)
    naive, v_naive = naive_table(r)
    throughput, v_tp = throughput_table(r)
    memory, v_mem = memory_table(r)
    start, v_start = startup_table(r)
    verdicts = v_api + v_naive + v_tp + v_mem + v_start
    m = r["machine"]
    summary = ["| target | measured | verdict |", "|---|---|:--:|"]
    summary += [f"| {t} | {measured} | {mark(ok)} |" for t, measured, ok in verdicts]
    seeding = ", ".join(f"{n_(row['meetings'])}: {row['seed_seconds']} s" for row in good(r["day"]))
    header = [
        f"- Date: {r['date']} (the whole run took {r.get('elapsed_minutes', '?')} min)",
        f"- Machine: {m['cores']} cores, {m['cpu']}, {m['ram_gib']} GiB RAM, Python {m['python']}, "
        f"{m['os']}; load average at start {m['load_average']} (the cores are shared with other work)",
        f"- Code: commit {m['commit']}",
        f"- Command: `{r['command']}` (`make bench`)",
        "- Everything runs against the sandbox org (`prepbot sandbox serve`, its own process: HTTPS + "
        "SQLite) and an SMTP sink in a process of its own (`prepbot sandbox smtp`, as a relay runs on its "
        "own machine), on this machine; each comparison is measured in the same run.",
    ]
    parts = [
        "# prepbot benchmark results (issue 7)",
        "\n".join(header),
        "## Summary\n\n" + "\n".join(summary),
        "## 1. API calls for a day's cycle\n\n" + api,
        "### What the measured tick did\n\n" + work_table(r),
        "### Against a naive simple-salesforce client\n\n" + naive,
        "## 2. Throughput\n\n" + throughput,
        "### CPU per meeting, and what the cores allow\n\n" + cpu_budget_table(r),
        "### Workers (1 / 2 / 4)\n\n" + workers_table(r),
        "## 3. Memory\n\n" + memory,
        "## 4. Rendering\n\n" + render_table(r),
        "## 5. Start-up\n\n" + start,
        f"## Sandbox\n\nSeeding the org took {seeding} (before each tick, not timed in it).\n\n"
        + sandbox_table(r),
    ]
    return "\n\n".join(parts) + "\n", verdicts


def write_results(r: dict[str, Any], path: Path) -> list[bool]:
    """Write RESULTS.md; returns the verdicts (True = PASS)."""
    text, verdicts = render_results(r)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return [ok for _, _, ok in verdicts]


__all__ = ["machine", "render_results", "write_results"]
