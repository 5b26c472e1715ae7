"""Configuration: every bad or missing key is named with its fix; secrets come from env or private files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prepbot.config import load_config
from prepbot.errors import ConfigError

SESSION = """
[salesforce]
auth = "session"
instance_url = "https://127.0.0.1:8443"
session_id_file = "token"
"""


def write(tmp_path: Path, text: str, name: str = "prepbot.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def private(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    os.chmod(path, 0o600)
    return path


def test_the_shipped_config_file_is_valid(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "prepbot.toml"
    settings = load_config(shipped, environ={})
    assert settings.salesforce.auth == "jwt"
    assert settings.schedule.send_at.hour == 10
    assert settings.schedule.working_day_numbers == frozenset({0, 1, 2, 3, 4})


def test_a_missing_and_an_unknown_key_are_both_named_with_a_fix(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[salesforce]\nauth = "jwt"\ninstance_url = "https://x.my.salesforce.com"\n[smtp]\nhots = "mail"\n',
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    text = str(info.value)
    assert "smtp.hots" in text and "remove it" in text
    assert "salesforce" in text and "username" in text


def test_plain_http_org_urls_are_refused_because_salesforce_speaks_https_only(tmp_path: Path) -> None:
    path = write(tmp_path, SESSION.replace("https://", "http://"))
    with pytest.raises(ConfigError, match=r"salesforce\.instance_url.*https://"):
        load_config(path, environ={})


def test_secrets_come_from_environment_variables(tmp_path: Path) -> None:
    path = write(tmp_path, SESSION.replace('session_id_file = "token"', ""))
    settings = load_config(
        path, environ={"PREPBOT_SALESFORCE_SESSION_ID": "s3cret", "PREPBOT_SMTP_PASSWORD": "pw"}
    )
    assert settings.session_id() == "s3cret"
    assert settings.smtp_password() == "pw"
    assert "s3cret" not in repr(settings) and "pw'" not in repr(settings)


def test_relative_secret_files_are_read_next_to_the_config_file(tmp_path: Path) -> None:
    private(tmp_path / "token", "tok-123\n")
    settings = load_config(write(tmp_path, SESSION), environ={})
    assert settings.session_id() == "tok-123"


def test_a_key_file_readable_by_others_is_refused_naming_the_path_not_the_content(tmp_path: Path) -> None:
    key = tmp_path / "jwt.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nCANARY-SECRET\n-----END PRIVATE KEY-----\n")
    os.chmod(key, 0o644)
    path = write(
        tmp_path,
        '[salesforce]\nauth = "jwt"\ninstance_url = "https://x.my.salesforce.com"\n'
        'username = "u@x"\nconsumer_key = "ck"\nprivate_key_file = "jwt.key"\n',
    )
    settings = load_config(path, environ={})
    with pytest.raises(ConfigError) as info:
        settings.private_key_pem()
    assert str(key) in str(info.value) and "chmod 600" in str(info.value)
    assert "CANARY" not in str(info.value)


def test_a_bad_weekday_and_a_bad_time_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, SESSION + '[schedule]\nworking_days = ["mon", "fnday"]\nsend_at = "25:00"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "schedule.working_days" in str(info.value) and "fnday" in str(info.value)
    assert "schedule.send_at" in str(info.value)


def test_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        load_config(tmp_path / "nope.toml", environ={})


@pytest.mark.parametrize(("line", "expected"), [("", True), ("pipelining = false\n", False)])
def test_smtp_pipelining_is_used_when_offered_unless_switched_off(
    tmp_path: Path, line: str, expected: bool
) -> None:
    from prepbot.app import build_transport
    from prepbot.clock import SystemClock

    private(tmp_path / "token", "00Dtoken")
    text = SESSION + f'[smtp]\nhost = "127.0.0.1"\nport = 2525\nsecurity = "none"\n{line}'
    settings = load_config(write(tmp_path, text))
    transport = build_transport(settings, SystemClock())
    assert settings.smtp.pipelining is expected
    assert transport._settings.pipelining is expected  # type: ignore[attr-defined]
