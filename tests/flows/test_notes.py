"""Prep notes through the sandbox org (real adapter over HTTPS) and a real SqlLedger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.crm.salesforce import SalesforceCrm, SessionAuth
from prepbot.crm.sf_notes import find_notes
from prepbot.flows.notes import NoteFlow, Timing
from prepbot.ledger.sql import SqlLedger
from prepbot.planner import Audience
from prepbot.prepnote import ScriptLike
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.report import Report
from prepbot.service import Service
from prepbot.timing import SendPolicy
from prepbot.transports.smtp import SmtpTransport
from tests.crm.orgdata import MAPPING, base_org, event, sf_time

MEETING_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # Tuesday 10:00 in Amsterdam
BEFORE_DUE = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Monday 09:00: the confirmation is due at 10:00
AFTER_DUE = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Script:
    """A hand-made rendered script (the shape of prepbot.scripts.RenderedScript)."""

    script: str
    title: str
    reason: str
    text: str
    language: str
    template_version: str = "test"


SCRIPTS = [
    Script(
        "no_show", "If the client is not there", "an in-person visit", "Call: no blame.\nAsk who else.", "nl"
    )
]


def seed() -> dict[str, Any]:
    org = base_org()
    org["Account"].append({"$key": "shop", "Name": "Winkel & Co"})
    org["Contact"] += [
        {"$key": "shopkeeper", "AccountId": "@shop", "LastName": "Bakker", "Email": "b@shop.example"},
        {"$key": "loner", "LastName": "Alleen", "Email": "a@loner.example"},
        {
            "$key": "evil",
            "AccountId": "@farm",
            "FirstName": "<script>",
            "LastName": '"O\'Brien"',
            "Email": "obrien@example.test",
            "Time_Zone__c": "Europe/Amsterdam",
        },
    ]
    org["Event"] = [
        event("deal_meeting", MEETING_AT, WhoId="@farmer", WhatId="@deal", Location="Dorpsweg 1"),
        event("account_meeting", MEETING_AT + timedelta(hours=1), WhoId="@shopkeeper", WhatId="@shop"),
        event("contact_meeting", MEETING_AT + timedelta(hours=2), WhoId="@loner"),
        event("lead_meeting", MEETING_AT + timedelta(hours=3), WhoId="@lead"),
        event("evil_meeting", MEETING_AT + timedelta(hours=4), WhoId="@evil", WhatId="@deal"),
    ]
    return org


@dataclass
class Rig:
    """The org, one SalesforceCrm, and a way to open ledger + flow + service on the same files."""

    org: Any
    crm: SalesforceCrm
    ledger_url: str
    opened: list[SqlLedger]
    render_process: bool = False  # the notes rendered in a forked process: the same notes
    flows: list[NoteFlow] = field(default_factory=list)

    def service(
        self, create: Timing = "on_sync", scripts: list[Any] | None = None
    ) -> tuple[Service, NoteFlow]:
        ledger = SqlLedger(self.ledger_url)
        self.opened.append(ledger)
        renderer = Renderer(shipped_dir=shipped_templates_dir())
        chosen: list[ScriptLike] = list(SCRIPTS if scripts is None else scripts)
        flow = NoteFlow(
            crm=self.crm,
            ledger=ledger,
            renderer=renderer,
            scripts=lambda meeting: chosen,
            create=create,
            find_notes=partial(find_notes, self.crm),
            org_time_zone="Europe/Amsterdam",
            render_process=self.render_process,
        )
        self.flows.append(flow)
        transport = SmtpTransport(host=self.org.smtp_host, port=self.org.smtp_port, security="none")
        service = Service(
            crm=self.crm,
            ledger=ledger,
            transport=transport,
            composer=Composer(renderer, Sender(), LanguagePolicy(default="en")),
            policy=SendPolicy(),
            audience=Audience(org_time_zone="Europe/Amsterdam"),
            flows=[flow],
        )
        return service, flow

    def one(self, soql: str) -> str:
        return str(self.org.client().query(soql)["records"][0]["Id"])

    def notes_on(self, record_id: str) -> list[str]:
        """ContentNote Ids linked to a record."""
        rows = self.org.client().query(
            f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{record_id}'"
        )["records"]
        return [str(r["ContentDocumentId"]) for r in rows]

    def note_count(self) -> int:
        return int(self.org.client().query("SELECT Id FROM ContentNote")["totalSize"])

    def content(self, note_id: str) -> str:
        with self.org.session() as session:
            raw = session.get(
                f"{self.org.instance_url}/services/data/v62.0/sobjects/ContentNote/{note_id}/Content",
                headers={"Authorization": f"Bearer {self.org.access_token}"},
                timeout=30,
            )
        return str(raw.content.decode("utf-8"))

    def deal_note(self) -> str:
        [note_id] = self.notes_on(self.one("SELECT Id FROM Opportunity WHERE Name = 'Milking robots'"))[:1]
        return str(note_id)


@pytest.fixture(params=[False, True], ids=["inline", "render_process"])
def rig(sandbox_factory: Callable[..., Any], tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Rig]:
    org = sandbox_factory(seed_data=seed())
    crm = SalesforceCrm(
        instance_url=org.instance_url,
        auth=SessionAuth(org.access_token),
        ca_bundle=str(org.ca_bundle),
        fields=MAPPING,
        sleep=lambda _s: None,
    )
    made = Rig(org, crm, f"sqlite:///{tmp_path / 'ledger.db'}", [], render_process=request.param)
    yield made
    for flow in made.flows:
        flow.close()
    for ledger in made.opened:
        ledger.close()
    crm.close()


def read_cost(rig: Rig, now: datetime) -> int:
    """API calls a sync spends reading the meetings (the notes must add nothing to it)."""
    before = rig.org.api_calls.used
    list(rig.crm.meetings_between(now, now + timedelta(days=4)))
    return int(rig.org.api_calls.used - before)


def by_subject(rig: Rig, subject: str) -> str:
    return rig.one(f"SELECT Id FROM Event WHERE Subject = '{subject}'")


def test_each_meeting_gets_one_note_on_its_opportunity_else_account_else_contact_or_lead(rig: Rig) -> None:
    service, _ = rig.service()
    report = service.sync(BEFORE_DUE)
    assert report.counts.get("note_created") == 5, report.errors
    deal = rig.one("SELECT Id FROM Opportunity WHERE Name = 'Milking robots'")
    shop = rig.one("SELECT Id FROM Account WHERE Name = 'Winkel & Co'")
    loner = rig.one("SELECT Id FROM Contact WHERE LastName = 'Alleen'")
    lead = rig.one("SELECT Id FROM Lead WHERE LastName = 'Ivanova'")
    assert len(rig.notes_on(deal)) == 2  # the farmer's meeting and O'Brien's, both on the deal
    assert len(rig.notes_on(shop)) == 1 and len(rig.notes_on(loner)) == 1 and len(rig.notes_on(lead)) == 1
    assert rig.note_count() == 5


def test_note_content_is_escaped_for_contentnote(rig: Rig) -> None:
    service, _ = rig.service()
    service.sync(BEFORE_DUE)
    deal = rig.one("SELECT Id FROM Opportunity WHERE Name = 'Milking robots'")
    bodies = [rig.content(n) for n in rig.notes_on(deal)]
    [evil] = [b for b in bodies if "Brien" in b]
    assert "&lt;script&gt;" in evil and "&quot;O&#39;Brien&quot;" in evil
    assert "<script>" not in evil and "'" not in evil
    assert "Call: no blame.<br>Ask who else." in evil  # the script, lines kept apart


def test_a_second_sync_with_nothing_changed_makes_no_note_call(rig: Rig) -> None:
    _, flow = rig.service()
    meetings = list(rig.crm.meetings_between(BEFORE_DUE, BEFORE_DUE + timedelta(days=4)))
    flow.on_meetings(meetings, BEFORE_DUE, Report())
    before = rig.org.api_calls.used
    report = Report()
    flow.on_meetings(meetings, BEFORE_DUE + timedelta(minutes=5), report)
    assert rig.org.api_calls.used == before and report.counts == {} and report.errors == []
    assert rig.note_count() == 5


def test_a_moved_meeting_updates_the_same_note(rig: Rig) -> None:
    service, _ = rig.service()
    service.sync(BEFORE_DUE)
    note_id = rig.deal_note()
    before = rig.content(note_id)
    moved = MEETING_AT + timedelta(minutes=30)
    rig.org.client().Event.update(
        by_subject(rig, "Meeting deal_meeting"),
        {"StartDateTime": sf_time(moved), "EndDateTime": sf_time(moved + timedelta(hours=1))},
    )
    report = service.sync(BEFORE_DUE + timedelta(minutes=10))
    assert report.counts.get("note_updated") == 1 and "note_created" not in report.counts
    assert rig.note_count() == 5 and rig.deal_note() == note_id
    after = rig.content(note_id)
    assert after != before and "10:30" in after and "10:00" not in after.split("Bericht aan de klant")[0]


def test_a_note_is_written_once_after_its_confirmation_was_sent(rig: Rig) -> None:
    service, _ = rig.service(create="with_confirmation")
    deal = rig.one("SELECT Id FROM Opportunity WHERE Name = 'Milking robots'")
    first = service.tick(BEFORE_DUE)
    assert rig.notes_on(deal) == []  # the farmer's confirmation is not due yet (10:00 Amsterdam)
    # Olga's is (10:00 in Moscow): her note is written once, after the send, saying it was sent
    # (issue 7: not created as "planned" and then updated in the same tick).
    assert first.counts.get("note_created") == 1 and "note_updated" not in first.counts
    second = service.tick(AFTER_DUE)
    assert second.counts.get("sent", 0) >= 1, second.errors
    note_id = rig.deal_note()
    body = rig.content(note_id)
    assert "verstuurd maandag 30 november, 10:05" in body  # the owner's zone, the owner's language
    assert len(rig.notes_on(deal)) == 2
    later = AFTER_DUE + timedelta(minutes=10)
    before = rig.org.api_calls.used
    third = service.sync(later)
    assert third.incremental and not {"note_created", "note_updated"} & set(third.counts)
    assert rig.org.api_calls.used - before == 1  # one read of what changed, no note call
    assert rig.content(note_id) == body


def test_a_skipped_confirmation_is_explained_in_plain_words(rig: Rig) -> None:
    farmer = rig.one("SELECT Id FROM Contact WHERE LastName = 'de Vries'")
    rig.org.client().Contact.update(farmer, {"HasOptedOutOfEmail": True})
    service, _ = rig.service()
    service.sync(BEFORE_DUE)
    assert "niet verstuurd: de klant heeft zich afgemeld voor e-mail" in rig.content(rig.deal_note())


def test_a_restart_on_the_same_ledger_does_not_duplicate_notes(rig: Rig) -> None:
    service, _ = rig.service()
    service.sync(BEFORE_DUE)
    rig.opened[0].close()
    again, _ = rig.service()  # a new SqlLedger and flow on the same files
    reading = read_cost(rig, BEFORE_DUE + timedelta(minutes=1))
    before = rig.org.api_calls.used
    report = again.sync(BEFORE_DUE + timedelta(minutes=1))
    assert not {"note_created", "note_updated"} & set(report.counts)
    assert rig.org.api_calls.used - before == reading  # the read, no note call
    assert rig.note_count() == 5


def test_a_note_created_but_not_recorded_is_found_again_not_duplicated(rig: Rig) -> None:
    # Reliability C6: the create reached the org, but its answer was lost (cut off mid-body).
    rig.org.faults.add("composite", "truncated", times=1)
    service, _ = rig.service()
    first = service.sync(BEFORE_DUE)
    assert any("prep notes not written" in e for e in first.errors)
    assert rig.note_count() == 5
    rig.opened[0].close()
    again, _ = rig.service()  # as after a restart
    report = again.sync(BEFORE_DUE + timedelta(minutes=1))
    assert report.counts.get("note_found_again") == 5 and "note_created" not in report.counts
    assert rig.note_count() == 5


def test_a_failed_note_write_is_reported_and_retried_next_cycle(rig: Rig) -> None:
    rig.org.faults.add("composite", "unavailable", times=None)
    service, _ = rig.service()
    first = service.sync(BEFORE_DUE)
    assert first.counts.get("sent", 0) == 0 and any("prep notes" in e for e in first.errors)
    rig.org.faults.clear()
    second = service.sync(BEFORE_DUE + timedelta(minutes=1))
    assert rig.note_count() == 5, second.errors


def test_a_stop_request_ends_the_cycle_before_its_next_batch_and_leaves_the_rest_planned(rig: Rig) -> None:
    service, _ = rig.service(create="with_confirmation")
    service.sync(BEFORE_DUE)  # plans; nothing due yet
    service.request_stop()  # SIGTERM arrived while the daemon was busy
    report = service.dispatch(AFTER_DUE)
    assert report.claimed == 0 and rig.org.smtp_messages == []
    fresh, _ = rig.service(create="with_confirmation")  # the next process sends them
    assert fresh.dispatch(AFTER_DUE).claimed >= 1 and len(rig.org.smtp_messages) >= 1


def test_a_tick_asks_the_planner_about_each_meeting_once(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sends of a chunk reuse what its plan judged moments before (same meeting, same clock):
    the planner is a pure function of both (issue 7)."""
    import prepbot.sending as sending_module
    import prepbot.service as service_module

    judged: list[str] = []
    real = service_module.confirmation_for

    def counting(meeting: Any, *args: Any) -> Any:
        judged.append(meeting.event_id)
        return real(meeting, *args)

    for module in (service_module, sending_module):  # the sync's plan, and the sends of a batch
        monkeypatch.setattr(module, "confirmation_for", counting)
    service, _ = rig.service(create="with_confirmation")
    report = service.tick(AFTER_DUE)
    assert report.counts.get("sent", 0) >= 2, report.errors
    assert sorted(judged) == sorted(set(judged)) and len(judged) == report.meetings


def test_a_batchs_notes_start_rendering_while_its_last_rows_are_sent_and_go_out_in_one_call(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 7: the notes of a batch's first rows are rendered while its last ones are sent
    (``batch_progress``), so little is left to render when the batch ends; the batch's notes are
    still written together, in one call, each once."""
    import prepbot.sending as sending_module

    monkeypatch.setattr(sending_module, "PROGRESS_EVERY", 1)  # this batch is small
    service, flow = rig.service(create="with_confirmation")
    parts: list[list[str]] = []
    submit = flow._notes.submit

    def recording(jobs: Any) -> Any:
        parts.append([job.meeting.event_id for job in jobs])
        return submit(jobs)

    monkeypatch.setattr(flow._notes, "submit", recording)
    saved: list[int] = []
    save_notes = rig.crm.save_notes

    def counted(records: Any) -> Any:
        saved.append(len(records))
        return save_notes(records)

    monkeypatch.setattr(rig.crm, "save_notes", counted)
    report = service.tick(AFTER_DUE)
    sent = report.counts.get("sent", 0)
    assert sent >= 2, report.errors
    assert len(parts) >= 2  # some started during the batch, the rest after it
    started = [event_id for part in parts for event_id in part]
    assert len(started) == len(set(started)) == sent
    assert saved == [sent] and report.counts.get("note_created") == sent
    assert "note_updated" not in report.counts and not report.errors
    assert "verstuurd" in rig.content(rig.deal_note())  # written after its send, saying so
