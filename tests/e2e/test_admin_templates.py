"""`prepbot templates check`, the start-up check of tick/run, fallbacks and template versions, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prepbot.cli import EXIT_CONFIG, EXIT_PROBLEMS, app
from prepbot.rendering import shipped_templates_dir
from tests.e2e.conftest import Prepbot, contact, event


def with_admin_folder(bot: Prepbot, files: dict[str, str]) -> Path:
    """Write ``files`` into an admin templates folder and point the config at it."""
    folder = bot.config.parent / "my-templates"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    folder.mkdir(exist_ok=True)
    with bot.config.open("a", encoding="utf-8") as fh:  # the config file ends in [messages]
        fh.write(f'templates_dir = "{folder}"\n')
    return folder


def shipped(name: str) -> str:
    return (shipped_templates_dir() / name).read_text(encoding="utf-8")


def one_meeting(prepbot_org: Any, lang: str = "en") -> Prepbot:
    bot: Prepbot = prepbot_org(
        [contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", lang)],
        [event("ams", "2026-12-02T13:00:00Z")],
    )
    return bot


def test_the_shipped_templates_and_rules_pass_the_check(prepbot_org: Any) -> None:
    result = one_meeting(prepbot_org).cli("templates", "check")
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_an_undefined_variable_is_reported_with_file_line_and_hint_and_tick_refuses_to_start(
    prepbot_org: Any,
) -> None:
    bot = one_meeting(prepbot_org)
    text = shipped("en/confirmation.txt").replace("{{ owner.name }}", "{{ owner.nmae }}")
    folder = with_admin_folder(bot, {"en/confirmation.txt": text})
    line = text.splitlines().index("{{ owner.nmae }}") + 1
    check = bot.cli("templates", "check")
    assert check.exit_code == EXIT_PROBLEMS
    expected = f"{folder / 'en/confirmation.txt'}:{line}: error:"
    assert expected in check.output and "nmae" in check.output and "(hint: " in check.output
    tick = bot.cli("tick", "--now", "2026-12-01T09:00:00Z")
    assert tick.exit_code == EXIT_CONFIG
    assert "refusing to start" in tick.output and expected in tick.output
    assert bot.org.smtp_messages == [] and bot.cli("log", "--json").output.strip() == ""


def test_a_sandbox_escape_is_refused_by_check_and_by_run(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}\n"
    with_admin_folder(bot, {"nl/confirmation.subject.txt": escape})
    check = bot.cli("templates", "check")
    assert check.exit_code == EXIT_PROBLEMS
    assert "nl/confirmation.subject.txt:1: error:" in check.output
    assert "sandbox violation: access to attribute '__class__' of 'str' object is unsafe" in check.output
    assert "<class" not in check.output  # nothing of the interpreter's internals leaks
    run = bot.cli("run")
    assert run.exit_code == EXIT_CONFIG and "refusing to start" in run.output


def test_a_syntax_error_is_reported_with_its_line(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    with_admin_folder(bot, {"ru/no_show_email.txt": "Здравствуйте\n{% if client.name %}\n"})
    check = bot.cli("templates", "check")
    assert check.exit_code == EXIT_PROBLEMS
    assert "ru/no_show_email.txt:" in check.output and "(hint: check the {{ }}" in check.output


def test_a_broken_rule_is_reported_by_name_and_line_and_tick_refuses_to_start(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    source = Path(__file__).resolve().parents[2] / "config" / "playbooks.toml"
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines()
    first_when = next(i for i, line in enumerate(lines) if line.strip().startswith("when"))
    rule_line = max(i for i in range(first_when) if lines[i].strip().startswith("name"))
    rule = lines[rule_line].split("=", 1)[1].strip().strip('"')
    lines[first_when] = 'when = "in_person and and contact.title"'
    broken = bot.config.parent / "playbooks.toml"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with bot.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[playbooks]\nfile = "{broken}"\n')
    check = bot.cli("templates", "check")
    assert check.exit_code == EXIT_PROBLEMS
    assert f"{broken}:{rule_line + 1}: error:" in check.output and rule in check.output
    tick = bot.cli("tick", "--now", "2026-12-01T09:00:00Z")
    assert tick.exit_code == EXIT_CONFIG and rule in tick.output


def test_a_language_with_one_kind_only_is_reported_as_falling_back_for_the_others(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    with_admin_folder(
        bot,
        {f"de/confirmation.{part}": shipped(f"en/confirmation.{part}").replace('"en/', '"de/')
         for part in ("subject.txt", "txt", "html", "parts.txt")},
    )  # fmt: skip
    check = bot.cli("templates", "check")
    assert check.exit_code == 0, check.output
    assert "warning: no_show_email has no de template; de falls back to en" in check.output
    assert "warning: prep_note has no de template" in check.output


def test_overriding_one_language_says_the_others_keep_the_shipped_text(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    with_admin_folder(bot, {"nl/confirmation.txt": shipped("nl/confirmation.txt") + "\nTot morgen!\n"})
    check = bot.cli("templates", "check")
    assert check.exit_code == 0
    assert "warning: confirmation: your folder overrides nl only; en, ru use the shipped text" in check.output


def test_a_fallback_is_visible_in_the_message_header_and_the_ledger(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org, lang="de")  # no German templates; Anouk (the owner) writes Dutch
    bot.tick("2026-12-01T09:00:00Z")
    [mail] = bot.messages()
    assert str(mail["X-Prepbot-Template"]).startswith("confirmation/nl@")
    assert str(mail["X-Prepbot-Template"]).endswith("(fallback from de)")
    [row] = bot.log()
    assert row["language"] == "nl" and row["reason"] == "fallback: de\u2192nl"


def test_a_message_in_the_asked_language_has_no_fallback_marker(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org, lang="ru")
    bot.tick("2026-12-01T09:00:00Z")
    [mail] = bot.messages()
    assert "fallback" not in str(mail["X-Prepbot-Template"])
    assert str(mail["X-Prepbot-Template"]).startswith("confirmation/ru@")


def test_an_edited_template_applies_to_messages_not_yet_sent(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [
            contact("a", "Ann", "Early", "ann@client.test", "Europe/Amsterdam", "en"),
            contact("b", "Bob", "Later", "bob@client.test", "Europe/Amsterdam", "en"),
        ],
        [event("a", "2026-12-02T13:00:00Z"), event("b", "2026-12-03T13:00:00Z")],
    )
    folder = with_admin_folder(bot, {"en/confirmation.txt": shipped("en/confirmation.txt")})
    bot.tick("2026-12-01T09:00:00Z")
    (folder / "en/confirmation.txt").write_text(
        shipped("en/confirmation.txt") + "\nP.S. Coffee is on me.\n", encoding="utf-8"
    )
    bot.tick("2026-12-02T09:00:00Z")
    by_to = {str(m["To"].addresses[0].addr_spec): m for m in bot.messages()}
    assert "Coffee" not in by_to["ann@client.test"].get_body(("plain",)).get_content()
    assert "Coffee is on me" in by_to["bob@client.test"].get_body(("plain",)).get_content()
    log = [row for row in bot.log() if row["kind"] == "confirmation"]
    versions = {row["recipient"]: row["template_version"] for row in log}
    assert versions["ann@client.test"] and versions["bob@client.test"]
    assert versions["ann@client.test"] != versions["bob@client.test"]


def test_templates_vars_lists_the_documented_variables(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    result = bot.runner.invoke(app, ["templates", "vars", "--kind", "confirmation"])
    assert result.exit_code == 0
    assert "| `meeting.when_text` | text |" in result.output and "| `client.last_name` |" in result.output


def test_check_json_free_output_names_every_problem_once(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    text = shipped("en/confirmation.txt").replace("{{ owner.name }}", "{{ owner.nmae }}")
    with_admin_folder(bot, {"en/confirmation.txt": text})
    lines = [line for line in bot.cli("templates", "check").output.splitlines() if ": error:" in line]
    assert len(lines) == len(set(lines))
    assert json.dumps(lines)  # plain text lines, one per problem


def test_a_template_failing_for_one_client_fails_only_that_message_in_a_batch(prepbot_org: Any) -> None:
    """Each confirmation after the first is rendered while the relay handles the one before it
    (issue 7); a render that fails there still fails only its own row, with the template named."""
    bot = prepbot_org(
        [
            contact("a", "Ann", "Early", "ann@client.test", "Europe/Amsterdam", "en"),
            contact("b", "Bob", "Broken", "bob@client.test", "Europe/Amsterdam", "en"),
            contact("c", "Cid", "Later", "cid@client.test", "Europe/Amsterdam", "en"),
        ],
        [
            event("a", "2026-12-02T13:00:00Z"),
            event("b", "2026-12-02T14:00:00Z"),
            event("c", "2026-12-02T15:00:00Z"),
        ],
    )
    text = (
        shipped("en/confirmation.txt") + '{% if client.first_name == "Bob" %}{{ client.nope }}{% endif %}\n'
    )
    with_admin_folder(bot, {"en/confirmation.txt": text})
    result = bot.cli("tick", "--now", "2026-12-01T09:00:00Z")
    assert result.exit_code == EXIT_PROBLEMS, result.output
    sent = sorted(str(m["To"].addresses[0].addr_spec) for m in bot.messages())
    assert sent == ["ann@client.test", "cid@client.test"]
    rows = {row["recipient"]: row for row in bot.log() if row["kind"] == "confirmation"}
    assert rows["bob@client.test"]["status"] == "failed"
    assert "template" in rows["bob@client.test"]["reason"] and "nope" in rows["bob@client.test"]["reason"]
    assert {rows[r]["status"] for r in ("ann@client.test", "cid@client.test")} == {"logged"}
