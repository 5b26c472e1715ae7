"""`python -m prepbot.sandbox serve` and `smtp` as subprocesses: the JSON line, SIGTERM, state, config."""

from __future__ import annotations

import json
import smtplib
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce

from prepbot.sandbox.runner import SandboxProcess, client_session
from tests.conftest import RUNNING_USER

KEYS = {"instance_url", "access_token", "ca_bundle", "smtp_host", "smtp_port", "outbox", "config"}


@pytest.fixture
def seed_file(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"User": [RUNNING_USER], "Account": [{"Name": "Boerderij De Hoeve"}]}))
    return path


def _client(info: dict[str, Any]) -> Salesforce:
    return Salesforce(
        session_id=info["access_token"],
        instance_url=info["instance_url"],
        session=client_session(info["ca_bundle"]),
        version="62.0",
    )


def test_serve_prints_one_json_line_and_stops_on_sigterm(seed_file: Path, tmp_path: Path) -> None:
    with SandboxProcess("--seed", str(seed_file), "--state", str(tmp_path / "state")) as proc:
        assert set(proc.info) == KEYS
        assert proc.info["instance_url"].startswith("https://127.0.0.1:")
        assert proc.info["config"] is None
        assert (
            _client(proc.info).query("SELECT Name FROM Account")["records"][0]["Name"] == "Boerderij De Hoeve"
        )
        assert proc.control("GET", "api-usage")["used"] == 1
        code = proc.stop()
        assert proc.proc.stdout is not None
    assert code == 0


def test_state_survives_a_restart(seed_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with SandboxProcess("--seed", str(seed_file), "--state", str(state)) as first:
        new_id = _client(first.info).Contact.create({"LastName": "Blijft"})["id"]
        token, ca = first.info["access_token"], Path(first.info["ca_bundle"]).read_bytes()
    with SandboxProcess("--seed", str(seed_file), "--state", str(state)) as second:
        assert second.info["access_token"] == token
        assert Path(second.info["ca_bundle"]).read_bytes() == ca
        sf = _client(second.info)
        assert sf.Contact.get(new_id)["LastName"] == "Blijft"
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 1  # the seed was not loaded twice


def test_write_config_points_prepbot_at_the_sandbox(seed_file: Path, tmp_path: Path) -> None:
    state, config = tmp_path / "state", tmp_path / "cfg" / "prepbot.toml"
    args = ("--seed", str(seed_file), "--state", str(state), "--write-config", str(config))
    with SandboxProcess(*args) as proc:
        assert proc.info["config"] == str(config.resolve())
        text = config.read_text()
        assert text.startswith("# Written by `prepbot sandbox serve`")
        cfg = tomllib.loads(text)
        assert cfg["salesforce"] == {
            "auth": "session",
            "instance_url": proc.info["instance_url"],
            "session_id_file": str(state.resolve() / "access_token"),
            "ca_bundle": proc.info["ca_bundle"],
            "api_version": "62.0",
        }
        assert cfg["smtp"] == {"host": "127.0.0.1", "port": proc.info["smtp_port"], "security": "none"}
        assert cfg["ledger"] == {"url": f"sqlite:///{state.resolve()}/ledger.sqlite"}
        token_file = Path(cfg["salesforce"]["session_id_file"])
        assert token_file.read_text().strip() == proc.info["access_token"]
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_serve_without_state_uses_a_temporary_folder(seed_file: Path) -> None:
    with SandboxProcess("--seed", str(seed_file)) as proc:
        ca = Path(proc.info["ca_bundle"])
        assert ca.exists()
    assert not ca.exists()


def test_smtp_serves_a_sink_alone_that_stores_what_it_accepts(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    with SandboxProcess("--outbox", str(outbox), command="smtp") as sink:
        assert set(sink.info) == {"smtp_host", "smtp_port", "outbox"}
        assert sink.info["outbox"] == str(outbox.resolve())
        with smtplib.SMTP(sink.smtp_host, sink.smtp_port, timeout=30) as client:
            refused = client.sendmail(
                "rep@example.com", ["client@example.com"], b"Subject: Morgen\r\n\r\nTot dan.\r\n"
            )
        assert refused == {}
        code = sink.stop()
    assert code == 0
    [stored] = outbox.glob("*.eml")
    assert b"Subject: Morgen" in stored.read_bytes()


def test_smtp_on_a_port_in_use_says_so_and_exits_1(tmp_path: Path) -> None:
    with SandboxProcess("--outbox", str(tmp_path / "a"), command="smtp") as first:
        taken = str(first.smtp_port)
        with pytest.raises(RuntimeError, match=f"listen on 127.0.0.1:{taken}") as caught:
            SandboxProcess("--outbox", str(tmp_path / "b"), "--port", taken, command="smtp")
    assert "Traceback" not in str(caught.value)


def test_smtp_without_outbox_uses_a_temporary_folder() -> None:
    with SandboxProcess(command="smtp") as sink:
        folder = Path(sink.outbox)
        assert folder.is_dir()
    assert not folder.exists()


def test_smtp_with_an_outbox_it_cannot_create_says_so_and_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(RuntimeError, match="cannot store into") as caught:
        SandboxProcess("--outbox", str(blocker / "outbox"), command="smtp")
    assert "Traceback" not in str(caught.value)
