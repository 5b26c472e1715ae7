"""The command line itself: exit codes, clear errors, the daemon's clean shutdown."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from prepbot.cli import EXIT_CONFIG, app
from tests.e2e.conftest import contact, event


def test_config_check_names_each_bad_key_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[salesforce]\nauth = "password"\ninstance_url = "http://x"\n[smtp]\nprot = 25\n')
    result = CliRunner().invoke(app, ["config", "check", "--config", str(bad)])
    assert result.exit_code == EXIT_CONFIG
    assert "salesforce.auth" in result.output and "smtp.prot" in result.output


def test_config_check_accepts_a_sandbox_config(prepbot_org: Any) -> None:
    bot = prepbot_org([], [])
    result = bot.cli("config", "check")
    assert result.exit_code == 0 and "OK" in result.output


def test_tick_refuses_a_now_without_an_offset(prepbot_org: Any) -> None:
    bot = prepbot_org([], [])
    result = bot.cli("tick", "--now", "2026-12-01T09:00")
    assert result.exit_code == 2 and "offset" in result.output


def test_tick_says_how_long_the_cycle_took_and_at_what_rate(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [contact(k, k.upper(), k, f"{k}@a.test", "Europe/Amsterdam", "en") for k in "abc"],
        [event(k, "2026-12-02T13:00:00Z") for k in "abc"],
    )
    lines = bot.tick("2026-12-01T09:00:00Z").output.splitlines()
    found = re.fullmatch(r"  cycle (\d+\.\d\d) s, ([\d.]+) meetings/s", lines[1])
    assert "meetings 3," in lines[0] and found, lines
    seconds, rate = float(found[1]), float(found[2])
    # both are rounded: the rate is 3 over some time within half a hundredth of the seconds shown
    assert seconds > 0 and 3 / (seconds + 0.005) - 0.05 <= rate <= 3 / max(seconds - 0.005, 1e-9) + 0.05
    assert lines[2].startswith("  salesforce api:")


def test_log_filters_by_status_and_refuses_an_unknown_one(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [contact("a", "Ann", "A", None, "Europe/Amsterdam", "en")], [event("a", "2026-12-02T13:00:00Z")]
    )
    bot.tick("2026-12-01T09:00:00Z")
    assert bot.cli("log", "--status", "skipped", "--json").output.count("no_address") == 1
    assert bot.cli("log", "--status", "planned", "--json").output.strip() == ""
    assert bot.cli("log", "--status", "bogus").exit_code == 2


def test_the_daemon_runs_cycles_and_stops_cleanly_on_sigterm(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [contact("a", "Ann", "A", "ann@a.test", "Europe/Amsterdam", "en")],
        [event("a", (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"))],
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "prepbot", "run", "--config", str(bot.config)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.stderr is not None:
            lines.append(proc.stderr.readline())
            text = "".join(lines)
            if "sync meetings 1" in text and "dispatch meetings" in text:
                break
        assert "sync meetings 1, planned 1" in "".join(lines), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
