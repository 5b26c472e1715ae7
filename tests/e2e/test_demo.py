"""`prepbot demo` (what `make demo` runs), from a relative output folder as the README shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_runs_from_a_relative_folder_and_shows_the_method_at_work(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prepbot", "demo", "--output", "demo-output"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "demo-output"
    rows = json.loads((out / "ledger.json").read_text(encoding="utf-8"))
    statuses = Counter((r["kind"], r["status"]) for r in rows)
    assert statuses[("confirmation", "logged")] >= 30
    assert statuses[("confirmation", "superseded")] == 1  # the rep moved one meeting
    assert statuses[("confirmation", "cancelled")] == 1  # and deleted one
    assert any(kind.startswith("no_show") for kind, _ in statuses)  # the farmer who did not show up
    assert len(list((out / "outbox").glob("*.eml"))) >= statuses[("confirmation", "logged")]
    assert list((out / "org" / "notes").glob("*.html"))  # the prep notes on the opportunities
