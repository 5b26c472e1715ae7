"""The no-show flow through the real service, SalesforceCrm (sandbox org), SqlLedger and SMTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from prepbot.domain import MessageKind, Status
from prepbot.report import Report
from prepbot.transports.smtp import SmtpTransport
from tests.flows.conftest import MISSED_AT, NOW, Rig, meeting, person
from tests.flows.test_noshow_templates import BLAME
from tests.smtp_server import Fault, SmtpTestServer

TASK, EMAIL = MessageKind.NO_SHOW_TASK, MessageKind.NO_SHOW_EMAIL
Build = Callable[..., Rig]

PEOPLE = [
    person("jan", "Jan", "Bakker", "jan@farm.test", "nl", Salutation="Mr.", Phone="+31 6 1111 2222"),
    person("emily", "Emily", "Carter", "emily@harvest.test", "en"),
]


def body(message: Any) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(Path(message.path).read_bytes())
    part = parsed.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_a_missed_meeting_gets_one_owner_task_and_one_client_email_and_a_second_tick_adds_nothing(
    rig: Build,
) -> None:
    bot = rig(PEOPLE, [meeting("jan", WhatId=None), meeting("emily", outcome="Held")])
    bot.service.tick(NOW)
    assert [list(m.rcpt_tos) for m in bot.emails()] == [["jan@farm.test"]]
    text = body(bot.emails()[0])
    assert "Beste heer Bakker" in text and "welke dag en welk tijdstip" in text.casefold()
    assert not any(word in text.casefold() for word in BLAME["nl"])
    calls = bot.tasks("Task")
    assert len(calls) == 1 and len(bot.tasks("Email")) == 1
    assert [r.status for r in bot.rows(TASK)] == [Status.LOGGED] == [r.status for r in bot.rows(EMAIL)]
    assert bot.rows(TASK)[0].crm_id == calls[0]["Id"]
    bot.service.tick(NOW + timedelta(minutes=5))
    bot.service.tick(NOW + timedelta(hours=3))
    assert len(bot.emails()) == 1 and len(bot.tasks()) == 2


def test_the_owners_task_is_open_urgent_due_today_in_the_owners_zone_with_both_scripts_in_her_language(
    rig: Build,
) -> None:
    bot = rig(PEOPLE, [meeting("emily")])
    late = MISSED_AT.replace(hour=23, minute=30)  # already 2 December in Amsterdam
    bot.service.tick(late)
    (task,) = bot.tasks("Task")
    assert (task["Status"], task["Priority"], task["ActivityDate"]) == ("Not Started", "High", "2026-12-02")
    assert task["Subject"].startswith("Bel Emily Carter: afspraak van 1 december")  # the owner writes Dutch
    assert "<<no_show script in nl>>" in task["Description"]
    assert "<<referral_permission script in nl>>" in task["Description"]
    assert (
        task["WhoId"]
        == bot.org.client().query("SELECT Id FROM Contact WHERE LastName = 'Carter'")["records"][0]["Id"]
    )
    assert "Dear Emily" in body(bot.emails()[0])  # the client reads English


def test_a_call_meeting_gets_the_remote_call_script(rig: Build) -> None:
    bot = rig(PEOPLE, [meeting("jan", Type="Call", Location="+31 6 1111 2222")])
    bot.service.tick(NOW)
    assert [names for _, names, _ in bot.scripts.calls] == [("no_show_remote", "referral_permission")]
    assert "<<no_show_remote script in nl>>" in bot.tasks("Task")[0]["Description"]


def test_no_email_when_the_client_already_booked_a_new_meeting_but_the_owner_still_gets_the_task(
    rig: Build,
) -> None:
    again = meeting("jan", start=NOW + timedelta(days=9), outcome=None, Subject="Second visit")
    bot = rig(PEOPLE, [meeting("jan"), again])
    bot.service.tick(NOW)
    assert bot.emails() == []
    (row,) = bot.rows(EMAIL)
    assert (row.status, row.reason) == (Status.SKIPPED, "new_meeting_booked")
    assert len(bot.tasks("Task")) == 1


def test_an_opt_out_between_planning_and_sending_stops_the_email(rig: Build) -> None:
    bot = rig(PEOPLE, [meeting("jan")])
    bot.service.sync(NOW)
    assert [r.status for r in bot.rows(EMAIL)] == [Status.PLANNED]
    sf = bot.org.client()
    jan = sf.query("SELECT Id FROM Contact WHERE LastName = 'Bakker'")["records"][0]["Id"]
    sf.Contact.update(jan, {"HasOptedOutOfEmail": True})
    bot.service.dispatch(NOW)
    assert bot.emails() == []
    assert [(r.status, r.reason) for r in bot.rows(EMAIL)] == [(Status.SKIPPED, "opted_out")]
    assert len(bot.tasks("Task")) == 1


def test_a_client_without_an_address_or_with_email_off_gets_only_the_task(rig: Build) -> None:
    people = [person("nomail", "Piet", "Zonder", None, "nl")]
    bot = rig(people, [meeting("nomail")])
    bot.service.tick(NOW)
    assert [(r.status, r.reason) for r in bot.rows(EMAIL)] == [(Status.SKIPPED, "no_address")]
    quiet = rig(PEOPLE, [meeting("jan")], email_client=False)
    quiet.service.tick(NOW)
    assert quiet.emails() == [] and quiet.rows(EMAIL) == [] and len(quiet.tasks("Task")) == 1


def test_meetings_not_marked_or_marked_long_ago_get_no_follow_up(rig: Build) -> None:
    bot = rig(PEOPLE, [meeting("jan", outcome=None), meeting("emily", start=NOW - timedelta(days=5))])
    bot.service.tick(NOW)
    assert bot.ledger.rows() == [] and bot.tasks() == []


def test_a_meeting_deleted_after_planning_gets_nothing(rig: Build) -> None:
    bot = rig(PEOPLE, [meeting("jan")])
    bot.service.sync(NOW)
    bot.org.client().Event.delete(bot.event_id("Visit jan"))
    bot.service.dispatch(NOW)
    assert {r.status for r in bot.ledger.rows()} == {Status.CANCELLED}
    assert bot.emails() == [] and bot.tasks() == []


def test_a_worker_whose_claim_was_taken_over_sends_nothing(rig: Build) -> None:
    bot = rig(PEOPLE, [meeting("jan")])
    bot.service.sync(NOW)
    lease = timedelta(minutes=1)
    stale = bot.ledger.claim_due(NOW, limit=10, lease=lease, worker="paused")
    later = NOW + timedelta(minutes=2)
    bot.ledger.recover(later)  # the paused worker's lease ran out: planned again
    bot.ledger.claim_due(later, limit=10, lease=lease, worker="other")
    report = Report()
    fresh = bot.crm.meetings_by_id([bot.event_id("Visit jan")])
    bot.flow.dispatch(stale, fresh, later, report)
    assert report.counts == {"stale_claim": 2}
    assert bot.emails() == [] and bot.tasks() == []


def test_a_busy_relay_retries_the_email_later_and_a_refusing_one_fails_it(rig: Build) -> None:
    with SmtpTestServer(faults=[Fault("RCPT", reply="451 4.3.0 try later", message=1)]) as server:
        transport = SmtpTransport(host=server.host, port=server.port, security="none")
        bot = rig(PEOPLE, [meeting("jan")], transport=transport)
        bot.service.tick(NOW)
        (row,) = bot.rows(EMAIL)
        assert row.status is Status.PLANNED and row.due_at > NOW and "451" in row.reason
        bot.service.tick(row.due_at)
        assert [r.status for r in bot.rows(EMAIL)] == [Status.LOGGED]
        assert len(server.accepted) == 1
    with SmtpTestServer(faults=[Fault("RCPT", reply="550 5.1.1 no such user")]) as server:
        transport = SmtpTransport(host=server.host, port=server.port, security="none")
        bot = rig(PEOPLE, [meeting("jan")], transport=transport)
        bot.service.tick(NOW)
        assert [(r.status, r.reason[:11]) for r in bot.rows(EMAIL)] == [(Status.FAILED, "delivery 55")]
        assert [r.status for r in bot.rows(TASK)] == [Status.LOGGED]
