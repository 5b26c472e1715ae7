"""The no-show follow-up end to end: `prepbot tick` and `prepbot no-show` against the sandbox org."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import FIELDS, Prepbot, contact, event
from tests.flows.test_noshow_templates import BLAME

SEED_FIELDS = {**FIELDS, "Event": {"Meeting_Outcome__c": {"type": "picklist", "values": ["Held", "No Show"]}}}
MISSED = "2026-12-01T09:00:00Z"  # 10:00 in Amsterdam, Tuesday 1 December 2026
AFTER = "2026-12-01T15:00:00Z"
BEFORE = "2026-12-01T08:00:00Z"


def start(prepbot_org: Any, events: list[dict[str, Any]], **contact_fields: Any) -> Prepbot:
    contacts = [
        contact("jan", "Jan", "Bakker", "jan@farm.test", "Europe/Amsterdam", "nl", Salutation="Mr."),
        contact("olga", "Olga", "Ivanova", "olga@agro.test", "Europe/Moscow", "ru", **contact_fields),
    ]
    bot: Prepbot = prepbot_org(contacts, events, **{"$fields": SEED_FIELDS})
    text = bot.config.read_text(encoding="utf-8")
    mapped = 'contact_language = "Preferred_Language__c"\n'
    bot.config.write_text(
        text.replace(mapped, mapped + 'event_no_show = "Meeting_Outcome__c"\n'), encoding="utf-8"
    )
    return bot


def tasks(bot: Prepbot, subtype: str) -> list[dict[str, Any]]:
    rows = bot.org.client().query_all("SELECT Id, Subject, Description, TaskSubtype, OwnerId FROM Task")
    return [r for r in rows["records"] if r["TaskSubtype"] == subtype]


def plain(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content())


def no_show(bot: Prepbot, event_id: str, now: str = AFTER) -> Any:
    return bot.cli("no-show", event_id, "--now", now)


def test_a_meeting_marked_no_show_gets_one_task_and_one_kind_email_and_nothing_more_later(
    prepbot_org: Any,
) -> None:
    bot = start(prepbot_org, [event("olga", MISSED, Meeting_Outcome__c="No Show")])
    bot.tick(AFTER)
    assert bot.recipients() == ["olga@agro.test"]
    text = plain(bot.messages()[0]).casefold()
    assert "здравствуйте, olga" in text and "какой день и время" in text and "поблизости" in text
    assert not [word for word in BLAME["ru"] + BLAME["en"] if word in text]
    assert str(bot.messages()[0]["X-Prepbot-Template"]).startswith("no_show_email/ru@")
    (call,) = tasks(bot, "Task")
    assert call["Subject"].startswith("Bel Olga Ivanova")  # the owner, Anouk, works in Dutch
    description = call["Description"].casefold()
    assert "voordat je wegrijdt" in description  # the in-person no-show call script
    assert "hecht ik veel waarde aan mijn reputatie" in description  # and the referral-permission script
    assert len(tasks(bot, "Email")) == 1
    bot.tick("2026-12-01T15:05:00Z")
    again = no_show(bot, bot.event_id("olga@agro.test"), "2026-12-01T16:00:00Z")
    assert again.exit_code == 0 and "already followed up" in again.output
    assert len(bot.messages()) == 1 and len(tasks(bot, "Task")) == 1 and len(tasks(bot, "Email")) == 1


def test_the_command_follows_up_an_unmarked_meeting_once(prepbot_org: Any) -> None:
    bot = start(prepbot_org, [event("jan", MISSED)])
    bot.tick(AFTER)
    assert bot.messages() == [] and tasks(bot, "Task") == []
    first = no_show(bot, bot.event_id("jan@farm.test"))
    assert first.exit_code == 0, first.output
    assert "Task created" in first.output and "Email sent to jan@farm.test" in first.output
    assert bot.recipients() == ["jan@farm.test"]
    text = plain(bot.messages()[0]).casefold()
    assert "beste heer bakker" in text and "in de buurt" in text
    assert not [word for word in BLAME["nl"] + BLAME["en"] if word in text]
    second = no_show(bot, bot.event_id("jan@farm.test"))
    assert second.exit_code == 0 and "already followed up" in second.output
    bot.tick("2026-12-01T15:30:00Z")
    assert len(bot.messages()) == 1 and len(tasks(bot, "Task")) == 1


def test_no_email_when_the_contact_already_has_a_new_meeting_but_the_task_is_created(
    prepbot_org: Any,
) -> None:
    bot = start(
        prepbot_org,
        [
            event("jan", MISSED, Meeting_Outcome__c="No Show"),
            event("jan", "2026-12-14T09:00:00Z", Subject="Again"),
        ],
    )
    bot.tick(AFTER)
    assert bot.messages() == []
    assert len(tasks(bot, "Task")) == 1
    skipped = [r for r in bot.log() if r["kind"] == "no_show_email"]
    assert [(r["status"], r["reason"]) for r in skipped] == [("skipped", "new_meeting_booked")]


def test_no_email_after_an_opt_out(prepbot_org: Any) -> None:
    bot = start(prepbot_org, [event("olga", MISSED)], HasOptedOutOfEmail=True)
    result = no_show(bot, bot.event_id("olga@agro.test"))
    assert result.exit_code == 0 and "Email not sent to olga@agro.test: opted_out" in result.output
    assert bot.messages() == [] and len(tasks(bot, "Task")) == 1


def test_a_video_meeting_gets_the_remote_call_script(prepbot_org: Any) -> None:
    video = event("jan", MISSED, Location="https://example.zoom.us/j/1", Meeting_Outcome__c="No Show")
    bot = start(prepbot_org, [video])
    bot.tick(AFTER)
    (call,) = tasks(bot, "Task")
    description = call["Description"].casefold()
    assert "komt niet online" in description  # the remote script (Dutch, the owner's language)
    assert "voordat je wegrijdt" not in description  # not the in-person one
    assert "in de buurt" not in plain(bot.messages()[0]).casefold()  # no travel talk to the client


def test_the_command_refuses_a_meeting_that_has_not_started_and_an_unknown_id(prepbot_org: Any) -> None:
    bot = start(prepbot_org, [event("jan", MISSED)])
    early = no_show(bot, bot.event_id("jan@farm.test"), BEFORE)
    assert early.exit_code == 2 and "has not started yet" in early.output
    unknown = no_show(bot, "00U000000000000AAA")
    assert unknown.exit_code == 2 and "no Event with Id" in unknown.output
    assert bot.messages() == [] and tasks(bot, "Task") == [] and bot.log() == []


def test_a_meeting_marked_no_show_after_the_last_sync_is_found_by_the_one_read_of_what_changed(
    prepbot_org: Any,
) -> None:
    from datetime import UTC, datetime, timedelta

    bot = start(prepbot_org, [event("olga", MISSED)])
    bot.org.set_now(datetime.now(UTC) + timedelta(hours=1))  # booked a while ago
    bot.tick(BEFORE)  # the whole window is read; nothing missed yet
    bot.org.client().Event.update(bot.event_id("olga@agro.test"), {"Meeting_Outcome__c": "No Show"})
    before = bot.org.api_calls.used
    bot.tick(AFTER)  # an incremental sync: the marked Event is among what changed
    checks = 1  # has the client booked a new meeting since? (no email then)
    writes = 2  # the owner's call Task, and the email's Task
    assert bot.org.api_calls.used - before == 1 + checks + writes  # no no-show query of its own
    assert bot.recipients() == ["olga@agro.test"] and len(tasks(bot, "Task")) == 1
