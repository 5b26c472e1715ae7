"""Reliability rows D1-D9, T1-T5 and M1 at the system level: `prepbot tick` against the sandbox org.

Already covered elsewhere and not repeated here (see the coverage table in the issue note):
D1 tests/e2e/test_confirmations.py::test_a_deleted_meeting_is_never_confirmed,
D2 ...::test_a_moved_meeting_is_confirmed_once_for_its_new_time,
D8 (opt-out) ...::test_an_opted_out_client_is_never_written_to_even_when_opting_out_after_planning,
zone arithmetic tests/test_timing.py and tests/test_timing_properties.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Prepbot, contact, event
from tests.reliability._cli_org import (
    assert_invariants,
    configure,
    contact_id,
    event_ids,
    mails_to,
    plain,
    prepbot_fixture,
    rows_of,
)


@pytest.fixture
def prepbot_org(sandbox_factory: Any, tmp_path: Path) -> Any:
    """The e2e ``prepbot_org`` fixture (tests/e2e/conftest.py), for this folder."""
    return prepbot_fixture(sandbox_factory, tmp_path)


def statuses(bot: Prepbot, event_id: str) -> list[tuple[str, str]]:
    return sorted((row["status"], row["reason"]) for row in rows_of(bot, event_id))


# -- D: data changes between planning and sending -----------------------------------------------


def test_d3_a_meeting_moved_by_half_an_hour_after_its_confirmation_gets_no_second_mail(
    prepbot_org: Any,
) -> None:
    bot = prepbot_org(
        [contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl")],
        [event("ams", "2026-12-02T13:00:00Z")],  # Wednesday 14:00 in Amsterdam
    )
    configure(bot, "notes", "owner_brief = true")
    bot.tick("2026-12-01T09:00:00Z")
    [first] = mails_to(bot, "sjoerd@farm.test")
    assert "14:00" in plain(first)
    [moved] = event_ids(bot, "Subject = 'Visit ams'")
    bot.org.client().Event.update(moved, {"StartDateTime": "2026-12-02T13:30:00Z", "DurationInMinutes": 60})
    for now in (
        "2026-12-01T09:30:00Z",
        "2026-12-01T15:00:00Z",
        "2026-12-02T06:30:00Z",
        "2026-12-02T10:00:00Z",
    ):
        bot.tick(now)
    assert len(mails_to(bot, "sjoerd@farm.test")) == 1
    confirmations = [r for r in rows_of(bot, moved) if r["kind"] == "confirmation"]
    assert sorted((r["status"], r["reason"]) for r in confirmations) == [
        ("logged", ""),
        ("skipped", "already_confirmed"),
    ]
    # Whatever prepbot writes after the move states the new time only (cal#19594).
    [brief] = mails_to(bot, "anouk@team.test")
    assert "14:30" in plain(brief) and "14:00" not in plain(brief)
    assert_invariants(bot)


def test_d4_a_group_meeting_mails_one_external_address_once(prepbot_org: Any) -> None:
    """Decision: the confirmation goes to the Event's Who only (the primary contact, method §1).

    Invitees got Salesforce's invitation already; the shipped question asks the Who who else
    joins. Child copies (IsChild) of the invitees' calendars and contacts sharing the Who's
    address must never turn into a second mail.
    """
    contacts = [
        contact("who", "Piet", "Jansen", "piet@farm.test", "Europe/Amsterdam", "nl"),
        contact("twin", "Piet", "Jansen (dup)", "piet@farm.test", "Europe/Amsterdam", "nl"),
        contact("colleague", "Anna", "Berg", "anna@farm.test", "Europe/Amsterdam", "nl"),
        contact("boss", "Kees", "Berg", "kees@farm.test", "Europe/Amsterdam", "nl"),
    ]
    group = event("who", "2026-12-02T13:00:00Z", **{"$key": "group"})
    copies = [  # the invitees' child copies: same meeting, other calendars
        event("who", "2026-12-02T13:00:00Z", owner="@mike", IsChild=True),
        event("twin", "2026-12-02T13:00:00Z", owner="@mike", IsChild=True),
    ]
    bot = prepbot_org(
        contacts,
        [group, *copies],
        EventRelation=[
            {"EventId": "@group", "RelationId": who, "IsInvitee": True}
            for who in ("@twin", "@colleague", "@boss", "@mike")
        ],
    )
    bot.tick("2026-12-01T09:00:00Z")
    bot.tick("2026-12-01T12:00:00Z")
    assert [str(s.rcpt_tos) for s in bot.org.smtp_messages] == ["('piet@farm.test',)"]
    [parent] = event_ids(bot, "IsChild = false")
    assert {row["event_id"] for row in bot.log()} == {parent}
    assert_invariants(bot)


def test_d5_a_recurring_series_is_confirmed_once_per_occurrence_and_never_for_its_master(
    prepbot_org: Any,
) -> None:
    starts = ["2026-12-01T13:00:00Z", "2026-12-02T13:00:00Z", "2026-12-03T13:00:00Z"]
    master = event("rec", starts[0], IsRecurrence=True, **{"$key": "master", "Subject": "Series"})
    occurrences = [event("rec", at, RecurrenceActivityId="@master") for at in starts]
    bot = prepbot_org(
        [contact("rec", "Ria", "Reeks", "ria@farm.test", "Europe/Amsterdam", "nl")], [master, *occurrences]
    )
    for now in (
        "2026-11-30T09:00:00Z",
        "2026-12-01T09:00:00Z",
        "2026-12-02T09:00:00Z",
        "2026-12-02T09:30:00Z",
    ):
        bot.tick(now)
    mails = mails_to(bot, "ria@farm.test")
    assert len(mails) == 3
    [master_id] = event_ids(bot, "Subject = 'Series'")
    assert master_id not in {row["event_id"] for row in bot.log()}
    occurrences_logged = sorted(r["occurrence"] for r in bot.log() if r["status"] == "logged")
    assert occurrences_logged == starts
    assert_invariants(bot)


@pytest.mark.parametrize(
    ("zone", "due_at"),
    [
        ("Pacific/Kiritimati", "2026-11-30T20:00:00Z"),  # UTC+14: 10:00 on 1 December
        ("Pacific/Pago_Pago", "2026-12-01T21:00:00Z"),  # UTC-11: 10:00 on 1 December
    ],
)
def test_d6_an_all_day_meeting_keeps_its_calendar_date_in_far_east_and_far_west_zones(
    prepbot_org: Any, zone: str, due_at: str
) -> None:
    bot = prepbot_org(
        [contact("far", "Tia", "Far", "tia@far.test", zone, "en")],
        [
            {
                "Subject": "Farm day",
                "OwnerId": "@anouk",
                "WhoId": "@far",
                "IsAllDayEvent": True,
                "ActivityDate": "2026-12-02",
                "Location": "Main street 1",
            }
        ],
    )
    early = bot.tick(due_at.replace(":00:00Z", ":00:00Z").replace("T2", "T1", 1))
    assert early.exit_code == 0 and mails_to(bot, "tia@far.test") == []
    bot.tick(due_at)
    [mail] = mails_to(bot, "tia@far.test")
    assert str(mail["Subject"]).startswith("Tomorrow")
    [row] = bot.log()
    assert (row["occurrence"], row["status"], row["due_at"]) == (
        "2026-12-02",
        "logged",
        due_at.replace("Z", "+00:00"),
    )


def test_d7_bad_addresses_are_skipped_or_failed_with_a_reason_and_the_batch_goes_on(
    prepbot_org: Any,
) -> None:
    good = [
        contact(f"ok{i}", "Good", f"Client{i}", f"client{i}@farm.test", "Europe/Amsterdam", "en")
        for i in range(9)
    ]
    bad = [
        contact("dash", "Dash", "Dash", "dash@-farm.test", "Europe/Amsterdam", "en"),  # refused at send
        contact("dots", "Dot", "Dot", "dot..dot@farm.test", "Europe/Amsterdam", "en"),
        contact("none", "No", "Mail", None, "Europe/Amsterdam", "en"),
        contact("utf", "Jörg", "Umlaut", "jörg@farm.test", "Europe/Amsterdam", "en"),
    ]
    events = [event(k, "2026-12-02T12:00:00Z") for k in ("dash", "dots", "none", "utf")]
    events += [event(f"ok{i}", f"2026-12-02T13:{i:02d}:00Z") for i in range(9)]
    bot = prepbot_org([*bad, *good], events)
    configure(bot, "schedule", "batch_size = 10")  # the bad record is the first of a batch of ten
    result = bot.tick("2026-12-01T09:00:00Z")
    assert sorted(bot.recipients()) == sorted(f"client{i}@farm.test" for i in range(9))
    reasons = {row["recipient"]: (row["status"], row["reason"]) for row in bot.log()}
    status, reason = reasons["dash@-farm.test"]
    assert status == "failed" and "not a usable mail domain" in reason
    assert result.exit_code == 1 and "dash" not in result.stdout  # alerted on stderr
    assert "failed" in result.stderr
    assert reasons["dot..dot@farm.test"] == ("skipped", "invalid_address")
    assert [v for k, v in reasons.items() if "jörg" in k] == [("skipped", "invalid_address")]
    assert ("skipped", "no_address") in reasons.values()
    bot.tick("2026-12-01T09:10:00Z")  # nothing is retried or resent
    assert len(bot.messages()) == 9
    assert_invariants(bot)


def test_d8_a_bounce_or_a_lead_opt_out_after_planning_stops_the_send(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [contact("bounce", "Bob", "Bounce", "bob@farm.test", "Europe/Amsterdam", "en")],
        [
            event("bounce", "2026-12-02T13:00:00Z"),
            {**event("lead", "2026-12-02T13:00:00Z"), "Subject": "Lead visit"},
        ],
        Lead=[
            {
                "$key": "lead",
                "FirstName": "Lia",
                "LastName": "Lead",
                "Company": "Agro BV",
                "Email": "lia@agro.test",
            }
        ],
    )
    bot.tick("2026-11-30T09:00:00Z")
    assert {r["status"] for r in bot.log()} == {"planned"}
    sf = bot.org.client()
    sf.Contact.update(contact_id(bot, "bob@farm.test"), {"IsEmailBounced": True})
    lead = sf.query("SELECT Id FROM Lead WHERE Email = 'lia@agro.test'")["records"][0]["Id"]
    sf.Lead.update(lead, {"HasOptedOutOfEmail": True})
    bot.tick("2026-12-01T09:00:00Z")
    assert bot.recipients() == []
    assert sorted((r["status"], r["reason"]) for r in bot.log()) == [
        ("skipped", "bounced"),
        ("skipped", "opted_out"),
    ]


def test_d9_an_inactive_owner_never_signs_a_mail_and_the_skip_is_alerted(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [
            contact("a", "Ann", "Early", "ann@farm.test", "Europe/Amsterdam", "en"),
            contact("b", "Ben", "Later", "ben@farm.test", "America/New_York", "en"),
        ],
        [
            event("a", "2026-12-02T13:00:00Z", owner="@mike"),
            event("b", "2026-12-02T20:00:00Z", owner="@mike"),
        ],
    )
    bot.tick("2026-11-30T09:00:00Z")  # planned while Mike is active
    sf = bot.org.client()
    mike = sf.query("SELECT Id FROM User WHERE Username = 'mike@team.test'")["records"][0]["Id"]
    sf.User.update(mike, {"IsActive": False})
    result = bot.tick("2026-12-01T09:00:00Z")  # Ann is due: re-read at claim
    assert bot.recipients() == []
    assert result.exit_code == 1 and "owner" in result.stderr.lower()
    again = bot.tick("2026-12-01T16:00:00Z")  # Ben is due too
    assert bot.recipients() == []
    assert again.exit_code == 1
    assert sorted(r["reason"] for r in bot.log()) == ["owner_inactive", "owner_inactive"]


# -- T: time ------------------------------------------------------------------------------------

# (zone, meeting start UTC, expected local text, expected send moment UTC)
DST_DAYS = [
    (
        "America/New_York",
        "2026-03-08T19:00:00Z",
        "15:00",
        "2026-03-07T15:00:00Z",
    ),  # on the spring-forward day
    ("America/New_York", "2026-03-09T19:00:00Z", "15:00", "2026-03-08T14:00:00Z"),  # sent on it (EDT)
    ("America/New_York", "2026-11-01T20:00:00Z", "15:00", "2026-10-31T14:00:00Z"),  # on the fall-back day
    ("America/New_York", "2026-11-02T20:00:00Z", "15:00", "2026-11-01T15:00:00Z"),  # sent on it (EST)
    ("Europe/London", "2026-03-29T13:00:00Z", "14:00", "2026-03-28T10:00:00Z"),
    ("Europe/London", "2026-03-30T13:00:00Z", "14:00", "2026-03-29T09:00:00Z"),
    ("Europe/London", "2026-10-25T14:00:00Z", "14:00", "2026-10-24T09:00:00Z"),
    ("Europe/London", "2026-10-26T14:00:00Z", "14:00", "2026-10-25T10:00:00Z"),
    ("Australia/Lord_Howe", "2026-04-05T03:30:00Z", "14:00", "2026-04-03T23:00:00Z"),  # 30-min DST ends
    ("Australia/Lord_Howe", "2026-04-06T03:30:00Z", "14:00", "2026-04-04T23:30:00Z"),
    ("Australia/Lord_Howe", "2026-10-04T03:00:00Z", "14:00", "2026-10-02T23:30:00Z"),  # begins
    ("Australia/Lord_Howe", "2026-10-05T03:00:00Z", "14:00", "2026-10-03T23:00:00Z"),
    ("America/Vancouver", "2026-11-10T17:00:00Z", "10:00", "2026-11-09T17:00:00Z"),  # T3: UTC-7 all year
]
# Meetings at 00:15 and 23:45 in the client's zone; owners in Amsterdam and New York (T2).
EDGE_HOURS = [
    ("Asia/Kolkata", "2026-12-01T18:45:00Z", "00:15", "2026-12-01T04:30:00Z"),
    ("Asia/Kolkata", "2026-12-02T18:15:00Z", "23:45", "2026-12-01T04:30:00Z"),
    ("Pacific/Chatham", "2026-12-01T10:30:00Z", "00:15", "2026-11-30T20:15:00Z"),
    ("Pacific/Chatham", "2026-12-02T10:00:00Z", "23:45", "2026-11-30T20:15:00Z"),
    ("America/Santiago", "2026-12-02T03:15:00Z", "00:15", "2026-12-01T13:00:00Z"),
    ("America/Santiago", "2026-12-03T02:45:00Z", "23:45", "2026-12-01T13:00:00Z"),
]


def _minus_a_minute(at: str) -> str:
    from datetime import datetime, timedelta

    moment = datetime.fromisoformat(at.replace("Z", "+00:00")) - timedelta(minutes=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _walk_send_moments(bot: Prepbot, cases: list[tuple[str, str, str, str]]) -> None:
    """Tick a minute before and at each expected moment: nobody early, each one exactly on time."""
    for due in sorted({case[3] for case in cases}):
        group = [i for i, case in enumerate(cases) if case[3] == due]
        bot.tick(_minus_a_minute(due))
        for i in group:
            assert mails_to(bot, f"c{i}@client.test") == [], f"{cases[i]} was sent early"
        bot.tick(due)
        for i in group:
            [mail] = mails_to(bot, f"c{i}@client.test")
            assert f"morgen om {cases[i][2]}" in plain(mail), (cases[i], plain(mail))


@pytest.mark.parametrize(
    ("cases", "owner"), [(DST_DAYS, "@anouk"), (EDGE_HOURS, "@mike")], ids=["T1_T3", "T2"]
)
def test_t1_t2_t3_the_send_moment_and_the_stated_time_are_right_in_the_clients_zone(
    prepbot_org: Any, cases: list[tuple[str, str, str, str]], owner: str
) -> None:
    contacts = [
        contact(f"c{i}", "Klant", f"Nr{i}", f"c{i}@client.test", z, "nl") for i, (z, *_r) in enumerate(cases)
    ]
    events = [event(f"c{i}", start, owner=owner) for i, (_z, start, *_r) in enumerate(cases)]
    bot = prepbot_org(contacts, events)
    configure(bot, "schedule", 'working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]')
    _walk_send_moments(bot, cases)
    assert len(bot.messages()) == len(cases)
    assert_invariants(bot)


def test_t4_late_bookings_go_at_once_wait_for_quiet_hours_to_end_or_are_too_late(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [
            contact("soon", "Sam", "Soon", "sam@farm.test", "Europe/Amsterdam", "en"),
            contact("tight", "Tim", "Tight", "tim@farm.test", "Europe/Amsterdam", "en"),
            contact("night", "Nina", "Night", "nina@farm.test", "Europe/Amsterdam", "en"),
            contact("dawn", "Dan", "Dawn", "dan@farm.test", "Europe/Amsterdam", "en"),
        ],
        [
            event("soon", "2026-12-01T17:00:00Z"),  # 18:00 today; booked at 13:00: sent at once
            event("tight", "2026-12-01T14:00:00Z"),  # 15:00 today: within the 3 h notice
        ],
    )
    bot.tick("2026-12-01T12:00:00Z")
    assert bot.recipients() == ["sam@farm.test"]
    sf = bot.org.client()
    # Booked at 21:00 (quiet hours) for tomorrow 12:00 and tomorrow 09:00.
    for who, start in (("night", "2026-12-02T11:00:00Z"), ("dawn", "2026-12-02T08:00:00Z")):
        sf.Event.create(
            {
                **event("x", start),
                "WhoId": contact_id(
                    bot, f"{who[:3] if who != 'night' else 'nina'}@farm.test".replace("daw", "dan")
                ),
                "OwnerId": sf.query("SELECT OwnerId FROM Event LIMIT 1")["records"][0]["OwnerId"],
            }
        )
    bot.tick("2026-12-01T20:00:00Z")
    bot.tick("2026-12-02T06:59:00Z")
    assert sorted(bot.recipients()) == ["sam@farm.test"]
    bot.tick("2026-12-02T07:00:00Z")  # 08:00: the quiet hours end
    assert sorted(bot.recipients()) == ["nina@farm.test", "sam@farm.test"]
    reasons = {r["recipient"]: (r["status"], r["reason"]) for r in bot.log()}
    assert reasons["tim@farm.test"] == ("skipped", "too_late")
    assert reasons["dan@farm.test"] == ("skipped", "too_late")
    assert_invariants(bot)


def test_t5_a_backfill_long_after_an_outage_never_mails_a_past_meeting(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [
            contact("past", "Paul", "Past", "paul@farm.test", "Europe/Amsterdam", "en"),
            contact("close", "Cleo", "Close", "cleo@farm.test", "Europe/Amsterdam", "en"),
            contact("late", "Lars", "Late", "lars@farm.test", "Europe/Amsterdam", "en"),
        ],
        [
            event("past", "2026-12-02T09:00:00Z"),  # started before the backfill
            event("close", "2026-12-02T12:00:00Z"),  # 1 h after the backfill: within min_notice
            event("late", "2026-12-02T16:00:00Z"),  # 5 h after: still worth confirming, at once
        ],
    )
    bot.tick("2026-11-30T09:00:00Z")  # planned, then prepbot is down until well after 10:00 the day before
    result = bot.tick("2026-12-02T11:00:00Z")
    assert result.exit_code in (0, 1)
    assert bot.recipients() == ["lars@farm.test"]
    reasons = {r["recipient"]: (r["status"], r["reason"]) for r in bot.log() if r["kind"] == "confirmation"}
    assert reasons["paul@farm.test"] == ("skipped", "past_meeting")
    assert reasons["cleo@farm.test"] == ("skipped", "too_late")
    bot.tick("2026-12-09T11:00:00Z")  # a much later backfill: still nothing for past meetings
    assert bot.recipients() == ["lars@farm.test"]
    assert_invariants(bot, settled_before="2026-12-09T11:00:00Z")


def test_m1_a_confirmation_a_prep_note_and_an_owner_brief_are_distinct_keys(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl")],
        [event("ams", "2026-12-02T13:00:00Z")],
    )
    configure(bot, "notes", "owner_brief = true")
    for now in ("2026-12-01T09:00:00Z", "2026-12-02T06:30:00Z", "2026-12-02T06:40:00Z"):
        bot.tick(now)
    [event_id] = event_ids(bot, "Subject = 'Visit ams'")
    kinds = sorted(row["kind"] for row in rows_of(bot, event_id))
    assert "confirmation" in kinds and "owner_brief" in kinds
    assert len(kinds) == len(set(kinds))
    assert sorted(bot.recipients()) == ["anouk@team.test", "sjoerd@farm.test"]
    notes = bot.org.client().query("SELECT Id FROM ContentNote")["records"]
    assert len(notes) == 1
    assert_invariants(bot)
