"""The start-up check is remembered by content: unchanged templates start fast, any edit is checked again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prepbot.admin_io import preflight_stamp
from prepbot.config import load_config


def settings_with(tmp_path: Path, admin: Path) -> object:
    token = tmp_path / "token"
    token.write_text("t")
    os.chmod(token, 0o600)
    config = tmp_path / "prepbot.toml"
    config.write_text(
        '[salesforce]\nauth = "session"\ninstance_url = "https://127.0.0.1:1"\nsession_id_file = "token"\n'
        f'[messages]\ntemplates_dir = "{admin}"\n'
    )
    return load_config(config, environ={})


def test_an_edited_admin_template_gets_a_new_stamp_so_it_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    admin = tmp_path / "admin" / "en"
    admin.mkdir(parents=True)
    template = admin / "confirmation.subject.txt"
    template.write_text("Tomorrow")
    settings = settings_with(tmp_path, admin.parent)
    first = preflight_stamp(settings)  # type: ignore[arg-type]
    assert first is not None and first.parent == tmp_path / "cache" / "prepbot"
    assert preflight_stamp(settings) == first  # type: ignore[arg-type]
    template.write_text("Tomorrow {{ ''.__class__ }}")
    assert preflight_stamp(settings) != first  # type: ignore[arg-type]


def test_a_passing_start_up_check_leaves_a_stamp_and_a_broken_one_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from prepbot.admin_cli import preflight

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    admin = tmp_path / "admin" / "en"
    admin.mkdir(parents=True)
    settings = settings_with(tmp_path, admin.parent)
    preflight(settings)  # type: ignore[arg-type]
    assert preflight_stamp(settings).exists()  # type: ignore[arg-type, union-attr]
    (admin / "confirmation.subject.txt").write_text("{{ client.nmae }}")
    with pytest.raises(typer.Exit):
        preflight(settings)  # type: ignore[arg-type]
    assert not preflight_stamp(settings).exists()  # type: ignore[arg-type, union-attr]
