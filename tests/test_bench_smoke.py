"""Smoke test of `python -m bench`: the whole harness at 20 meetings writes every table of RESULTS.md."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The sink's CPU is read from /proc in clock ticks of 10 ms: 20 messages (about 15 ms of its CPU
# on a fast machine) could read as none; 60 always take several ticks.
N = 60
TABLES = (
    "## Summary",
    "## 1. API calls for a day's cycle",
    "### What the measured tick did",
    "### Against a naive simple-salesforce client",
    "## 2. Throughput",
    "### CPU per meeting, and what the cores allow",
    "### Workers (1 / 2 / 4)",
    "## 3. Memory",
    "## 4. Rendering",
    "## 5. Start-up",
)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """Run the harness once, tiny: (RESULTS.md text, the JSON figures)."""
    folder = tmp_path_factory.mktemp("bench")
    out, figures = folder / "RESULTS.md", folder / "bench.json"
    args = [
        "--sizes",
        str(N),
        "--naive-sizes",
        str(N),
        "--sandbox-n",
        str(N),
        "--no-workers",
        "--startup-runs",
        "1",
        "--repeats",
        "2",
    ]
    args += ["--render-seconds", "0.1", "--out", str(out), "--json", str(figures)]
    subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=ROOT, check=True, capture_output=True, timeout=300
    )
    return out.read_text(encoding="utf-8"), json.loads(figures.read_text(encoding="utf-8"))


def test_results_md_has_every_table_with_a_verdict(bench_run: tuple[str, dict[str, Any]]) -> None:
    text, _ = bench_run
    for title in TABLES:
        assert title in text
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in summary.splitlines() if line.startswith("| ") and "verdict" not in line]
    assert len(rows) >= 5  # calls, steady state, naive, throughput, start-up
    assert all(re.search(r"\| (PASS|FAIL) \|$", row) for row in rows)
    assert "Not run: skipped (--no-workers)." in text


def test_the_naive_client_costs_more_calls_than_prepbot_and_both_handle_every_meeting(
    bench_run: tuple[str, dict[str, Any]],
) -> None:
    _, figures = bench_run
    day, naive = figures["day"][0], figures["naive"][0]
    assert day["meetings"] == naive["meetings"] == N
    # One query page plus five calls per meeting (two lookups, Task, ContentNote, link).
    assert naive["naive_calls"] == 1 + 5 * N
    assert 0 < day["day_calls"] < naive["naive_calls"]
    assert day["minimum_calls"] == 3  # one page, one Task collection, one notes composite
    assert day["steady_calls"] >= 1
    assert day["tick_exit_codes"] == [0, 0]
    assert day["messages_sent"] == N  # every meeting was confirmed through the sink


def test_the_smtp_loop_stores_every_message_and_every_measure_is_positive(
    bench_run: tuple[str, dict[str, Any]],
) -> None:
    _, figures = bench_run
    assert figures["smtp"][0]["stored"] == N
    assert figures["smtp"][0]["smtp_messages_per_second"] > 0
    assert figures["day"][0]["peak_rss_mib"] > 0
    assert figures["day"][0]["tick_cpu_ms_per_meeting"] > 0  # what the cores allow at best
    assert figures["smtp"][0]["sink_cpu_ms_per_message"] > 0
    assert figures["render"]["confirmation"]["renders"] > 0
    assert figures["render"]["prep_note"]["renders"] > 0
    assert figures["render"]["prep_note_with_scripts"]["renders"] > 0
    assert figures["startup"]["median_ms"] > 0
    assert figures["startup"]["imports"]
    assert figures["sandbox"]["tasks"]["calls"] == 1  # 20 Tasks: one collection


def test_the_mail_goes_to_a_sink_in_its_own_process_whose_cpu_is_counted_apart_from_the_org(
    bench_run: tuple[str, dict[str, Any]],
) -> None:
    """As a relay is not on Salesforce's servers: the org's work never holds up the sink's replies."""
    text, figures = bench_run
    day = figures["day"][0]
    assert day["messages_sent"] == N  # counted in the sink's own outbox
    assert day["sink_cpu_ms_per_meeting"] > 0 and day["sandbox_cpu_ms_per_meeting"] > 0
    table = text.split("### CPU per meeting, and what the cores allow", 1)[1].split("\n#", 1)[0]
    total = (
        day["tick_cpu_ms_per_meeting"] + day["sandbox_cpu_ms_per_meeting"] + day["sink_cpu_ms_per_meeting"]
    )
    assert "| SMTP sink CPU ms/meeting |" in table
    assert f"| {day['sink_cpu_ms_per_meeting']} | {total:.2f} |" in table


def test_each_day_cycle_runs_between_two_smtplib_loops_and_the_verdict_is_on_the_median(
    bench_run: tuple[str, dict[str, Any]],
) -> None:
    """The host's load drifts: each tick is compared with the loops just before and after it."""
    text, figures = bench_run
    days, loops = figures["day"][0]["runs"], figures["smtp"][0]["runs"]
    assert len(days) == 2 and len(loops) == 3 and all(v > 0 for v in days + loops)
    ratios = [d / ((loops[i] + loops[i + 1]) / 2) for i, d in enumerate(days)]
    assert f"| {ratios[0]:.2f}, {ratios[1]:.2f} |" in text  # each run's ratio, in run order


def test_throughput_is_shown_for_the_cycle_and_for_the_whole_process_against_the_same_loops(
    bench_run: tuple[str, dict[str, Any]],
) -> None:
    """The cycle's own seconds (from the tick's output) are within the process's wall time."""
    text, figures = bench_run
    day = figures["day"][0]
    assert 0 < day["cycle_seconds"] <= day["day_seconds"]
    assert day["cycle_meetings_per_second"] >= day["meetings_per_second"]
    assert len(day["cycle_runs"]) == len(day["runs"]) == 2 and all(v > 0 for v in day["cycle_runs"])
    summary = text.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert f"smtplib loop at {N}: the cycle, as `prepbot run` runs it" in summary
    assert f"smtplib loop at {N}: the whole `prepbot tick` process, start-up included" in summary
    loops = figures["smtp"][0]["runs"]
    cycle = [d / ((loops[i] + loops[i + 1]) / 2) for i, d in enumerate(day["cycle_runs"])]
    assert f"| {cycle[0]:.2f}, {cycle[1]:.2f} |" in text


def test_every_size_up_to_ten_thousand_is_decided_by_several_day_cycles() -> None:
    from bench.__main__ import parse_args, repeats_for

    default = parse_args([])
    assert [repeats_for(default, n) for n in (20, 1000, 10000, 50000)] == [5, 5, 3, 1]
    fewer = parse_args(["--repeats", "2", "--repeats-large", "1", "--repeat-max", "1000"])
    assert [repeats_for(fewer, n) for n in (1000, 10000)] == [2, 1]
