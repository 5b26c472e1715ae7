"""Confirmations sent through Salesforce (`[delivery] transport = "salesforce"`), end to end via the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.conftest import Prepbot, contact, event


def through_salesforce(bot: Prepbot, extra: str = "") -> Prepbot:
    """Switch the bot's config to the emailSimple transport (``extra`` lands in ``[messages]``)."""
    with bot.config.open("a", encoding="utf-8") as fh:
        fh.write(f'{extra}\n[delivery]\ntransport = "salesforce"\n')
    return bot


def team(prepbot_org: Any) -> Prepbot:
    contacts = [
        contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl"),
        contact("nyc", "Emily", "Carter", "emily@harvest.test", "America/New_York", "en"),
    ]
    events = [event("ams", "2026-12-02T13:00:00Z"), event("nyc", "2026-12-02T19:00:00Z", owner="@mike")]
    return through_salesforce(prepbot_org(contacts, events))


def one_meeting(prepbot_org: Any, extra: str = "") -> Prepbot:
    bot = prepbot_org(
        [contact("nyc", "Emily", "Carter", "emily@harvest.test", "America/New_York", "en")],
        [event("nyc", "2026-12-02T19:00:00Z")],
    )
    return through_salesforce(bot, extra)


def contact_ids(bot: Prepbot) -> dict[str, str]:
    records = bot.org.client().query("SELECT Id, Email FROM Contact")["records"]
    return {r["Email"]: r["Id"] for r in records}


def test_each_confirmation_goes_out_through_salesforce_and_is_logged_once(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T16:00:00Z")  # after 10:00 in Amsterdam and in New York
    bot.tick("2026-12-01T16:10:00Z")
    assert bot.org.smtp_messages == []
    assert sorted(e["to"][0] for e in bot.org.emails) == ["emily@harvest.test", "sjoerd@farm.test"]
    tasks = bot.org.client().query("SELECT Id, Subject, TaskSubtype, Status, WhoId FROM Task")["records"]
    ids = contact_ids(bot)
    assert sorted(t["WhoId"] for t in tasks) == sorted(ids.values())  # exactly one Task per confirmation
    assert {(t["TaskSubtype"], t["Status"]) for t in tasks} == {("Email", "Completed")}
    rows = bot.log()
    assert [(r["status"], r["reason"]) for r in rows] == [("logged", "logged by Salesforce")] * 2


def test_a_second_tick_sends_nothing_through_salesforce(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T16:00:00Z")
    bot.tick("2026-12-01T16:00:00Z")
    bot.tick("2026-12-01T17:00:00Z")
    assert len(bot.org.emails) == 2
    assert bot.org.client().query("SELECT COUNT() FROM Task")["totalSize"] == 2


def test_the_daily_email_limit_defers_the_confirmation_until_it_resets(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    bot.org.api_calls.single_email_max = 0
    bot.tick("2026-12-01T15:00:00Z")
    [row] = bot.log()
    assert row["status"] == "planned" and "SINGLE_EMAIL_LIMIT_EXCEEDED" in row["reason"]
    bot.org.api_calls.reset()
    bot.org.api_calls.single_email_max = 10
    bot.tick("2026-12-01T15:30:00Z")
    bot.tick("2026-12-01T15:40:00Z")
    assert len(bot.org.emails) == 1
    assert bot.log()[0]["status"] == "logged"
    assert bot.org.client().query("SELECT COUNT() FROM Task")["totalSize"] == 1


def test_a_message_salesforce_refuses_fails_with_the_status_code_and_is_not_retried(
    prepbot_org: Any, tmp_path: Path
) -> None:
    # An admin template whose HTML body is too long for the EmailMessage Salesforce logs (32,000).
    admin = tmp_path / "templates" / "en"
    admin.mkdir(parents=True)
    (admin / "confirmation.html").write_text(
        "<p>{% for i in range(4000) %}See you. {% endfor %}</p>\n", encoding="utf-8"
    )
    bot = one_meeting(prepbot_org, extra=f'templates_dir = "{admin.parent}"\n')
    bot.tick("2026-12-01T15:00:00Z")
    bot.tick("2026-12-01T15:30:00Z")
    [row] = bot.log()
    assert row["status"] == "failed" and "STRING_TOO_LONG" in row["reason"]
    assert bot.org.emails == [] and bot.org.smtp_messages == []
