"""The admin guide's variable tables are generated from the context models and must be current."""

from __future__ import annotations

from prepbot.docs import GUIDE, describe, main, render_guide


def test_the_committed_admin_guide_matches_the_context_models() -> None:
    assert main(["--check"]) == 0, "docs/admin-guide.md is out of date: run python -m prepbot.docs"


def test_a_new_variable_would_make_the_guide_out_of_date() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    stale = text.replace("| `meeting.when_text` |", "| `meeting.when_txt` |")
    assert stale != text and render_guide(stale) == text


def test_every_documented_confirmation_variable_has_a_description() -> None:
    from prepbot.context import ConfirmationContext

    rows = describe(ConfirmationContext)
    assert rows and all(doc for _path, _kind, doc in rows)
    assert ("meeting.is_all_day", "yes/no") in [(path, kind) for path, kind, _doc in rows]
