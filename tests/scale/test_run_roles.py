"""`prepbot run --role planner|worker` as real processes on one ledger, seen through `prepbot status`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bench.scale_stack import SCALE_CONFIG, seed
from prepbot.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(sandbox_factory: Callable[..., Any], tmp_path: Path) -> tuple[Path, Any]:
    """A sandbox org with three meetings due now, and a config for it (SQLite ledger, short intervals)."""
    from prepbot.sandbox.cli import write_sandbox_config

    org = sandbox_factory(seed_data=seed(3, datetime.now(UTC)), state_dir=tmp_path / "org")
    extra = SCALE_CONFIG.format(sync=10, dispatch=5, lease=30, batch=50, zone="UTC")
    return write_sandbox_config(tmp_path / "prepbot.toml", org, tmp_path, extra=extra), org


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start `prepbot run` processes; every one is stopped at teardown, also when the test fails."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        log = (tmp_path / f"run-{len(started)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "prepbot", "run", *args], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


def status(config: Path, *, starting: bool = False) -> dict[str, Any]:
    """`prepbot status --json`; ``starting``: the ledger may not exist or be migrated yet (exit 3)."""
    result = CliRunner().invoke(app, ["status", "--json", "--config", str(config)])
    if starting and result.exit_code == 3 and "not migrated" in result.output:
        return {"workers": [], "counts": {}}
    assert result.exit_code == 0, result.output
    try:
        return dict(json.loads(result.output))
    except json.JSONDecodeError:  # "the ledger is empty": nothing has run yet
        return {"workers": [], "counts": {}}


def wait_for(check: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_a_planner_and_a_worker_share_the_work_and_status_shows_both(
    config: tuple[Path, Any], spawn: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    path, org = config
    planner = spawn("--config", str(path), "--role", "planner", "--name", "plan-1")
    worker = spawn("--config", str(path), "--role", "worker", "--name", "work-1")

    wait_for(lambda: len(org.smtp_messages) == 3, "three confirmations at the sink")
    wait_for(lambda: status(path, starting=True)["counts"].get("logged") == 3, "three rows logged")
    workers = {w["name"]: w for w in status(path)["workers"]}
    assert set(workers) == {"plan-1", "work-1"}
    assert workers["plan-1"]["role"] == "planner" and workers["plan-1"]["planner"] is True
    assert workers["work-1"]["role"] == "worker" and workers["work-1"]["planner"] is False
    assert workers["work-1"]["pid"] == worker.pid and workers["work-1"]["state"] == "live"

    text = CliRunner().invoke(app, ["status", "--config", str(path)], env={"COLUMNS": "200"})
    assert "prepbot processes (2 live, 0 stale)" in text.output
    assert "plan-1" in text.output and "planner" in text.output and "work-1" in text.output

    for proc in (planner, worker):
        proc.send_signal(signal.SIGTERM)
    assert [planner.wait(60), worker.wait(60)] == [0, 0]
    assert status(path)["workers"] == []  # a clean stop leaves the list
    logs = "".join(p.read_text("utf-8") for p in tmp_path.glob("run-*.log"))
    assert "plan-1 stopped" in logs and "work-1 stopped" in logs
    assert "salesforce daily api usage" in logs  # each cycle's line carries the org's API usage
    # and how long it took
    assert re.search(r"sync meetings [1-9]\d*, .*; cycle \d+\.\d\d s, [\d.]+ meetings/s", logs)


def test_a_second_planner_stands_by_and_takes_over_when_the_first_is_killed(
    config: tuple[Path, Any], spawn: Callable[..., subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    path, _ = config
    first = spawn("--config", str(path), "--role", "planner", "--name", "plan-1")
    wait_for(lambda: any(w["planner"] for w in status(path, starting=True)["workers"]), "a leading planner")
    spawn("--config", str(path), "--role", "planner", "--name", "plan-2")
    wait_for(lambda: len(status(path)["workers"]) == 2, "both planners")
    by_name = {w["name"]: w for w in status(path)["workers"]}
    assert by_name["plan-1"]["planner"] and by_name["plan-2"]["standby"]
    assert "standby" in (tmp_path / "run-1.log").read_text("utf-8")

    os.kill(first.pid, signal.SIGKILL)  # no clean stop: its row stays until it goes stale
    first.wait(30)
    wait_for(
        lambda: {w["name"]: w["planner"] for w in status(path)["workers"]}.get("plan-2") is True,
        "the standby planner taking over",
    )
    by_name = {w["name"]: w for w in status(path)["workers"]}
    assert by_name["plan-1"]["planner"] is False and by_name["plan-1"]["pid"] == first.pid


def test_an_unknown_role_is_refused_with_exit_2(config: tuple[Path, Any]) -> None:
    result = CliRunner().invoke(app, ["run", "--config", str(config[0]), "--role", "boss"])
    assert result.exit_code == 2 and "use one of all, planner, worker" in result.output


def test_run_help_explains_the_roles() -> None:
    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for words in ("planner: sync only", "worker: dispatch only", "all: sync and dispatch", "--name"):
        assert words in result.output
