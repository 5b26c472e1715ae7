"""Day-before confirmations end to end: `prepbot tick` against the sandbox org and its SMTP sink."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Prepbot, contact, event


def team(prepbot_org: Any) -> Prepbot:
    contacts = [
        contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl"),
        contact("nyc", "Emily", "Carter", "emily@harvest.test", "America/New_York", "en"),
        contact("kol", "Priya", "Sharma", "priya@agro.test", "Asia/Kolkata", "en"),
    ]
    events = [  # all on Wednesday 2 December 2026, 14:00 local
        event("ams", "2026-12-02T13:00:00Z"),
        event("nyc", "2026-12-02T19:00:00Z", owner="@mike"),
        event("kol", "2026-12-02T08:30:00Z"),
    ]
    return prepbot_org(contacts, events)


def test_each_client_is_confirmed_at_ten_local_time_on_the_day_before(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T04:29:00Z")
    assert bot.recipients() == []
    bot.tick("2026-12-01T04:30:00Z")  # 10:00 in Kolkata
    assert bot.recipients() == ["priya@agro.test"]
    bot.tick("2026-12-01T08:59:00Z")
    assert len(bot.recipients()) == 1
    bot.tick("2026-12-01T09:00:00Z")  # 10:00 in Amsterdam
    assert sorted(bot.recipients()) == ["priya@agro.test", "sjoerd@farm.test"]
    bot.tick("2026-12-01T15:00:00Z")  # 10:00 in New York
    assert sorted(bot.recipients()) == ["emily@harvest.test", "priya@agro.test", "sjoerd@farm.test"]


def test_a_second_tick_at_the_same_time_sends_nothing(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T04:30:00Z")  # 10:00 in Kolkata
    bot.tick("2026-12-01T15:30:00Z")  # after 10:00 in Amsterdam and New York
    first = sorted(bot.recipients())
    assert len(first) == 3
    again = bot.tick("2026-12-01T15:30:00Z")
    bot.tick("2026-12-01T15:35:00Z")
    assert sorted(bot.recipients()) == first
    assert "sent" not in again.output.split("claimed")[1]


def test_the_text_names_the_agreed_time_in_the_clients_zone_and_language(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T16:00:00Z")
    by_to = {str(m["To"].addresses[0].addr_spec): m for m in bot.messages()}
    dutch = by_to["sjoerd@farm.test"].get_body(("plain",)).get_content()
    assert "morgen om 14:00" in dutch.lower()
    english = by_to["emily@harvest.test"].get_body(("plain",)).get_content()
    assert "tomorrow at 2:00" in english.lower().replace("\u202f", " ")
    assert by_to["emily@harvest.test"]["Reply-To"].addresses[0].addr_spec == "mike@team.test"
    assert by_to["emily@harvest.test"]["From"].addresses[0].display_name == "Mike Stone"


def test_every_sent_message_is_logged_as_one_completed_email_task(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-12-01T04:30:00Z")
    bot.tick("2026-12-01T15:30:00Z")
    bot.tick("2026-12-01T15:50:00Z")
    tasks = bot.org.client().query("SELECT Id, Subject, Status, TaskSubtype, WhoId, OwnerId FROM Task")[
        "records"
    ]
    assert len(tasks) == 3
    assert {t["TaskSubtype"] for t in tasks} == {"Email"} and {t["Status"] for t in tasks} == {"Completed"}
    assert all(t["Subject"].startswith("Email: ") for t in tasks)
    logged = [row for row in bot.log() if row["status"] == "logged"]
    assert sorted(row["crm_id"] for row in logged) == sorted(t["Id"] for t in tasks)


def test_a_meeting_across_the_end_of_summer_time_is_confirmed_at_ten_local(prepbot_org: Any) -> None:
    # Monday 2 November 2026, New York: the day before is Friday 30 October, still on EDT (UTC-4).
    bot = prepbot_org(
        [contact("nyc", "Emily", "Carter", "emily@harvest.test", "America/New_York", "en")],
        [event("nyc", "2026-11-02T15:00:00Z", owner="@mike")],
    )
    bot.tick("2026-10-30T13:59:00Z")
    assert bot.recipients() == []
    bot.tick("2026-10-30T14:00:00Z")
    assert bot.recipients() == ["emily@harvest.test"]


def test_a_moved_meeting_is_confirmed_once_for_its_new_time(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-11-30T08:00:00Z")  # plans all three for Tuesday
    moved = bot.event_id("sjoerd@farm.test")
    bot.org.client().Event.update(moved, {"StartDateTime": "2026-12-03T10:00:00Z", "DurationInMinutes": 60})
    bot.tick("2026-12-01T09:00:00Z")  # the old due moment: nothing for Sjoerd
    assert "sjoerd@farm.test" not in bot.recipients()
    bot.tick("2026-12-02T09:00:00Z")  # the new one
    bot.tick("2026-12-02T09:20:00Z")
    mails = [m for m in bot.messages() if m["To"].addresses[0].addr_spec == "sjoerd@farm.test"]
    assert len(mails) == 1
    assert "11:00" in mails[0].get_body(("plain",)).get_content()
    statuses = sorted(row["status"] for row in bot.log() if row["event_id"] == moved)
    assert statuses == ["logged", "superseded"]


def test_a_deleted_meeting_is_never_confirmed(prepbot_org: Any) -> None:
    bot = team(prepbot_org)
    bot.tick("2026-11-30T08:00:00Z")
    gone = bot.event_id("emily@harvest.test")
    bot.org.client().Event.delete(gone)
    bot.tick("2026-12-01T16:00:00Z")
    assert "emily@harvest.test" not in bot.recipients()
    assert [row["status"] for row in bot.log() if row["event_id"] == gone] == ["cancelled"]


def test_an_opted_out_client_is_never_written_to_even_when_opting_out_after_planning(
    prepbot_org: Any,
) -> None:
    bot = prepbot_org(
        [
            contact(
                "out", "Greg", "Miller", "greg@garden.test", "Europe/Amsterdam", "en", HasOptedOutOfEmail=True
            ),
            contact("late", "Ann", "Late", "ann@late.test", "Europe/Amsterdam", "en"),
            contact(
                "bounce", "Bob", "Bounce", "bob@bounce.test", "Europe/Amsterdam", "en", IsEmailBounced=True
            ),
            contact("none", "Nora", "Noaddress", None, "Europe/Amsterdam", "en"),
            contact("inside", "Ian", "Colleague", "ian@team.test", "Europe/Amsterdam", "en"),
        ],
        [event(k, "2026-12-02T13:00:00Z") for k in ("out", "late", "bounce", "none", "inside")],
    )
    bot.tick("2026-11-30T08:00:00Z")
    contact_id = bot.org.client().query("SELECT Id FROM Contact WHERE Email = 'ann@late.test'")["records"][0][
        "Id"
    ]
    bot.org.client().Contact.update(contact_id, {"HasOptedOutOfEmail": True})
    bot.tick("2026-12-01T16:00:00Z")
    assert bot.recipients() == []
    reasons = sorted(row["reason"] for row in bot.log())
    assert reasons == ["bounced", "internal_only", "no_address", "opted_out", "opted_out"]


def test_a_malicious_name_adds_no_header_and_is_escaped_in_html(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [
            contact(
                "evil",
                "<script>alert(1)</script>",
                "Evil\r\nBcc: victim@evil.test =?UTF-8?Q?=0A?=X-Injected: 1",
                "evil@client.test",
                "Europe/Amsterdam",
                "en",
            )
        ],
        [event("evil", "2026-12-02T13:00:00Z")],
    )
    bot.tick("2026-12-01T16:00:00Z")
    [mail] = bot.messages()
    names = [name.lower() for name in mail]
    assert "bcc" not in names and "x-injected" not in names
    assert mail["To"].addresses[0].addr_spec == "evil@client.test"
    html = mail.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert [sink.rcpt_tos for sink in bot.org.smtp_messages] == [("evil@client.test",)]


def test_cyrillic_and_accented_names_arrive_intact(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [
            contact("olga", "Ольга", "Смирнова", "olga@zerno.test", "Europe/Moscow", "ru"),
            contact("zoe", "Zoë", "Müller-Lüdenscheidt", "zoe@example.test", "Europe/Amsterdam", "nl"),
        ],
        [event("olga", "2026-12-02T08:00:00Z"), event("zoe", "2026-12-02T13:00:00Z")],
    )
    bot.tick("2026-12-01T16:00:00Z")
    names = sorted(str(m["To"].addresses[0].display_name) for m in bot.messages())
    assert names == sorted(["Ольга Смирнова", "Zoë Müller-Lüdenscheidt"])
    russian = next(m for m in bot.messages() if "zerno" in str(m["To"]))
    assert "Ольга" in russian.get_body(("plain",)).get_content()
    assert russian["From"].addresses[0].display_name == "Anouk de Vries"
