"""The start-up check is remembered by content: unchanged templates start fast, any edit is checked again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from prepbot.config import load_config
from prepbot.preflight import preflight_stamp


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


def test_a_start_whose_templates_passed_before_imports_neither_the_checker_nor_the_admin_tables(
    tmp_path: Path,
) -> None:
    """`tick` and `run` start with this check; when its stamp is there they need nothing more."""
    admin = tmp_path / "admin" / "en"
    admin.mkdir(parents=True)
    settings_with(tmp_path, admin.parent)  # writes prepbot.toml and its token
    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from prepbot.admin_cli import preflight\n"
        "from prepbot.config import load_config\n"
        "from prepbot.preflight import preflight_stamp\n"
        f"settings = load_config(Path({str(tmp_path / 'prepbot.toml')!r}), environ={{}})\n"
        "stamp = preflight_stamp(settings)\n"
        "stamp.parent.mkdir(parents=True, exist_ok=True)\n"
        "stamp.touch()\n"
        "preflight(settings)\n"
        "print(sorted(m for m in ('rich', 'prepbot.admin_check', 'prepbot.admin_io') if m in sys.modules))\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
