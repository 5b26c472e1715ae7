"""The reliability runner itself: a tiny seeded run meets every target and writes its figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import reliability

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def test_a_small_seeded_run_meets_every_target_and_writes_json_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--seed", "7", "--meetings", "40", "--faults", "15", "--days", "1", "--step", "30"]
    code = reliability.main([*args, "--out", str(tmp_path)])

    found = json.loads((tmp_path / "reliability.json").read_text(encoding="utf-8"))
    failed = [t for t in found["targets"] if not t["pass"]]
    assert code == 0, (failed, found["violations"])
    assert found["meetings"] >= 40 and found["faults_injected"] >= 12
    assert found["messages_at_relay"] > 0 and found["salesforce_api_calls"] > 0
    assert "--seed 7" in found["replay"]
    summary = (tmp_path / "reliability.md").read_text(encoding="utf-8")
    assert "| 0 duplicates | PASS |" in summary and summary.strip() in capsys.readouterr().out
