"""`prepbot preview`, `plan`, `send-test`, `status` and `log` filters through the CLI, against the sandbox."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Prepbot, contact, event
from tests.e2e.test_delivery_faults import relay_for
from tests.smtp_server import Fault, SmtpTestServer


def team(prepbot_org: Any) -> Prepbot:
    bot: Prepbot = prepbot_org(
        [
            contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl"),
            contact("nyc", "Emily", "Carter", "emily@harvest.test", "America/New_York", "en"),
            contact(
                "out", "Otto", "Out", "otto@client.test", "Europe/Amsterdam", "en", HasOptedOutOfEmail=True
            ),
        ],
        [
            event("ams", "2026-12-02T13:00:00Z"),
            event("nyc", "2026-12-02T19:00:00Z", owner="@mike", Location="https://zoom.us/j/1"),
            event("out", "2026-12-02T10:00:00Z"),
            event("ams", "2026-12-03T13:00:00Z", Subject="Second visit"),
        ],
    )
    return bot


def org_state(bot: Prepbot) -> dict[str, Any]:
    """Everything a command could change: records written to the org, mail, and the ledger file."""
    sf = bot.org.client()
    objects = ("Task", "ContentNote", "Event")
    counts = {obj: sf.query(f"SELECT COUNT() FROM {obj}")["totalSize"] for obj in objects}
    ledger = bot.config.parent / "ledger.sqlite"
    rows: Any = None
    if ledger.exists():
        with sqlite3.connect(ledger) as db:
            rows = db.execute("SELECT * FROM actions ORDER BY id").fetchall()
            rows = (rows, db.execute("SELECT COUNT(*) FROM events_log").fetchone())
    return {"org": counts, "mail": len(bot.org.smtp_messages), "emails": len(bot.org.emails), "ledger": rows}


# -- preview --------------------------------------------------------------------------------------


def test_preview_renders_the_real_meeting_and_changes_nothing(prepbot_org: Any, tmp_path: Path) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-11-30T09:00:00Z")  # a ledger exists, nothing due yet
    before = org_state(bot)
    html = tmp_path / "preview.html"
    event_id = bot.event_id("emily@harvest.test")
    result = bot.cli("preview", event_id, "--html", str(html), "--now", "2026-11-30T09:00:00Z")
    assert result.exit_code == 0, result.output
    assert "Subject: " in result.output and "Emily" in result.output
    assert "video" in result.output.lower() and "zone America/New_York" in result.output
    assert "<html" in html.read_text(encoding="utf-8").lower() or "<p" in html.read_text(encoding="utf-8")
    assert org_state(bot) == before


def test_preview_in_another_language_and_of_other_kinds(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    event_id = bot.event_id("emily@harvest.test")
    russian = bot.cli("preview", event_id, "--lang", "ru", "--json", "--now", "2026-11-30T09:00:00Z")
    shown = json.loads(russian.output)
    assert shown["language"] == "ru" and "Emily" in shown["text"]
    for kind in ("no-show", "prep-note", "no-show-task"):
        result = bot.cli("preview", event_id, "--kind", kind, "--now", "2026-11-30T09:00:00Z")
        assert result.exit_code == 0, (kind, result.output)
    assert bot.cli("preview", event_id, "--kind", "bogus").exit_code == 1


def test_preview_of_a_sample_needs_no_org_record(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    before = org_state(bot)
    result = bot.cli("preview", "anything", "--sample", "--lang", "nl")
    assert result.exit_code == 0, result.output
    assert "Piet" in result.output or "Jansen" in result.output
    assert org_state(bot) == before


def test_preview_of_an_unknown_event_says_so(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    result = bot.cli("preview", "00U000000000999AAA")
    assert result.exit_code == 1 and "no Event 00U000000000999AAA" in result.output


def test_preview_shows_a_broken_template_with_its_line(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    folder = bot.config.parent / "tpl" / "en"
    folder.mkdir(parents=True)
    (folder / "confirmation.subject.txt").write_text("Hello {{ client.frist_name }}\n", encoding="utf-8")
    with bot.config.open("a", encoding="utf-8") as fh:
        fh.write(f'templates_dir = "{folder.parent}"\n')
    result = bot.cli("preview", "x", "--sample", "--lang", "en")
    assert result.exit_code == 1
    assert "confirmation.subject.txt:1" in result.output and "frist_name" in result.output


# -- plan -----------------------------------------------------------------------------------------


def test_plan_shows_each_meeting_of_the_day_and_changes_nothing(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    before = org_state(bot)
    result = bot.cli("plan", "--date", "2026-12-02", "--json", "--now", "2026-11-30T09:00:00Z")
    assert result.exit_code == 0, result.output
    lines = {line["recipient"]: line for line in map(json.loads, result.output.splitlines())}
    assert set(lines) == {"sjoerd@farm.test", "emily@harvest.test", "otto@client.test"}
    sjoerd = lines["sjoerd@farm.test"]
    assert sjoerd["outcome"] == "will send" and sjoerd["language"] == "nl"
    assert sjoerd["send_at_utc"] == "2026-12-01T09:00:00+00:00"
    assert sjoerd["send_at_local"] == "2026-12-01 10:00 Europe/Amsterdam"
    assert lines["emily@harvest.test"]["send_at_local"].startswith("2026-12-01 10:00 America/New_York")
    otto = lines["otto@client.test"]
    assert otto["outcome"] == "skipped" and otto["reason"] == "opted_out"
    assert all("scripts" in line for line in lines.values())
    assert org_state(bot) == before  # no ledger was created, nothing written to the org


def test_plan_after_a_tick_shows_what_was_sent(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T09:05:00Z")
    before = org_state(bot)
    result = bot.cli("plan", "--date", "2026-12-02", "--json", "--now", "2026-12-01T09:10:00Z")
    lines = {line["recipient"]: line for line in map(json.loads, result.output.splitlines())}
    assert lines["sjoerd@farm.test"]["outcome"] == "logged"
    assert lines["emily@harvest.test"]["outcome"] == "will send"
    assert org_state(bot) == before
    table = bot.cli("plan", "--date", "2026-12-02", "--now", "2026-12-01T09:10:00Z")
    assert table.exit_code == 0 and "opted_out" in table.output


def test_plan_refuses_a_bad_date(prepbot_org: Any) -> None:
    assert team(prepbot_org).cli("plan", "--date", "tomorrow").exit_code == 2


# -- send-test ------------------------------------------------------------------------------------


def test_send_test_reaches_only_the_given_address_and_is_never_the_real_send(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    event_id = bot.event_id("sjoerd@farm.test")
    result = bot.cli("send-test", "--to", "admin@team.test", "--event", event_id)
    assert result.exit_code == 0, result.output
    [mail] = bot.messages()
    assert [sink.rcpt_tos for sink in bot.org.smtp_messages] == [("admin@team.test",)]
    assert str(mail["Subject"]).startswith("[TEST] ") and mail["X-Prepbot-Test"] == "yes"
    assert str(mail["X-Prepbot-Template"]).startswith("confirmation/nl@")
    assert org_state(bot)["org"]["Task"] == 0
    assert bot.cli("log", "--json").output.strip() == ""
    bot.tick("2026-12-01T09:05:00Z")  # the real confirmation still goes out, with its own Message-ID
    real = [m for m in bot.messages() if m["To"].addresses[0].addr_spec == "sjoerd@farm.test"]
    assert len(real) == 1 and real[0]["Message-ID"] != mail["Message-ID"]


def test_send_test_of_a_sample_and_a_refused_address(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    ok = bot.cli("send-test", "--to", "admin@team.test", "--kind", "no-show")
    assert ok.exit_code == 0, ok.output
    assert bot.cli("send-test", "--to", "not an address").exit_code == 2
    assert len(bot.org.smtp_messages) == 1


# -- status and log -------------------------------------------------------------------------------


def test_status_lists_failed_rows_first_with_what_to_do(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    with SmtpTestServer(faults=[Fault("RCPT", reply="550 5.1.1 no such user", times=1)]) as relay:
        relay_for(bot, relay)
        bot.tick("2026-12-01T09:05:00Z")
    result = bot.cli("status", "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.output)
    assert set(view["counts"]) >= {"planned", "sent", "logged", "skipped", "failed", "in_doubt", "superseded"}
    assert view["counts"]["failed"] == 1 and view["counts"]["skipped"] == 1
    [failed] = view["attention"]
    assert failed["status"] == "failed" and "check the client's email address" in failed["advice"]
    assert [row["recipient"] for row in view["upcoming"]][:1] == ["emily@harvest.test"]
    assert view["last_change_at"].startswith("2026-12-01T09:05")
    table = bot.cli("status")
    assert table.exit_code == 0 and "Needs attention" in table.output


def test_status_before_the_first_run(prepbot_org: Any) -> None:
    result = team(prepbot_org).cli("status")
    assert result.exit_code == 0 and "has not run yet" in result.output


def test_log_filters_by_meeting_day_and_by_last_change(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T09:05:00Z")
    on_2nd = [json.loads(x) for x in bot.cli("log", "--day", "2026-12-02", "--json").output.splitlines()]
    expected = {"sjoerd@farm.test", "emily@harvest.test", "otto@client.test"}
    assert {row["recipient"] for row in on_2nd} == expected
    on_3rd = [json.loads(x) for x in bot.cli("log", "--day", "2026-12-03", "--json").output.splitlines()]
    assert [row["recipient"] for row in on_3rd] == ["sjoerd@farm.test"]
    assert bot.cli("log", "--since", "2026-12-02", "--json").output.strip() == ""
    assert bot.cli("log", "--since", "2026-12-01T09:00:00Z", "--json").output.strip() != ""
    assert bot.cli("log", "--since", "yesterday").exit_code == 2
