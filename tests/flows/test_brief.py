"""The owner's morning brief through the real service, SalesforceCrm (sandbox org), SqlLedger and SMTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from prepbot.app import build_flows, build_note_flow
from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.config import Settings
from prepbot.crm.salesforce import SalesforceCrm, SessionAuth
from prepbot.domain import Meeting, MessageKind, Owner, Status
from prepbot.flows.brief import BriefFlow, brief_window, plan_brief
from prepbot.flows.brief_compose import BriefWriter, note_text
from prepbot.flows.notes import NoteFlow
from prepbot.ledger.sql import SqlLedger
from prepbot.planner import Audience
from prepbot.ports import Transport
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.service import Service
from prepbot.timing import SendPolicy
from prepbot.transports.smtp import SmtpTransport
from tests.flows.conftest import FIELDS, MAPPING, OWNER, person, sf_time
from tests.smtp_server import Fault, SmtpTestServer

BRIEF = MessageKind.OWNER_BRIEF
MIKE = {
    "$key": "mike",
    "Username": "mike@team.test",
    "FirstName": "Mike",
    "LastName": "Stone",
    "Email": "Mike@Team.test",
    "TimeZoneSidKey": "America/New_York",
    "LocaleSidKey": "en_US",
    "LanguageLocaleKey": "en_US",
    "IsActive": True,
}
PEOPLE = [
    person("jan", "Jan", "Bakker", "jan@farm.test", "nl", Time_Zone__c="Europe/Amsterdam"),
    person("olga", "Olga", "Ivanova", "olga@agro.test", "ru", Time_Zone__c="Europe/Moscow"),
]
JAN_AT = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # Wednesday 14:00 in Amsterdam
OLGA_AT = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # Wednesday 10:00 in New York (Mike's)
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
ANOUK_BRIEF_AT = datetime(2026, 12, 2, 6, 30, tzinfo=UTC)  # 07:30 in Amsterdam
MIKE_BRIEF_AT = datetime(2026, 12, 2, 12, 30, tzinfo=UTC)  # 07:30 in New York


@dataclass(frozen=True, slots=True)
class Script:
    """A hand-made rendered script (the shape of prepbot.scripts.RenderedScript)."""

    script: str
    title: str
    reason: str
    text: str
    language: str


SCRIPT = Script(
    "no_show",
    "Als de klant er niet is",
    "een bezoek op locatie",
    "Bel: geen verwijt.\nVraag wie nog meer.",
    "nl",
)


def event(who: str, start: datetime, owner: str = "@anouk", **extra: Any) -> dict[str, Any]:
    return {
        "Subject": f"Visit {who}",
        "Type": "Meeting",
        "OwnerId": owner,
        "WhoId": f"@{who}",
        "StartDateTime": sf_time(start),
        "EndDateTime": sf_time(start + timedelta(hours=1)),
        "Location": "Dorpsweg 1, Emmen",
        **extra,
    }


@dataclass
class Rig:
    """The org, the service with the brief flow, the ledger; ``mail()`` parses what the sink got."""

    org: Any
    ledger: SqlLedger
    service: Service

    def mail(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(Path(m.path).read_bytes()) for m in self.org.smtp_messages]

    def to(self) -> list[str]:
        return [str(m["To"].addresses[0].addr_spec) for m in self.mail()]

    def briefs(self) -> list[EmailMessage]:
        return [m for m in self.mail() if m["X-Prepbot-Template"].startswith("owner_brief/")]

    def rows(self) -> list[Any]:
        return sorted((r for r in self.ledger.rows() if r.key.kind is BRIEF), key=lambda r: r.id)

    def event_id(self, subject: str) -> str:
        found = self.org.client().query(f"SELECT Id FROM Event WHERE Subject = '{subject}'")["records"]
        return str(found[0]["Id"])

    def ticks(self, *moments: datetime) -> None:
        for moment in moments:
            report = self.service.tick(moment)
            assert not [e for e in report.errors if "in doubt" not in e], report.errors


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def rig(sandbox_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """``rig(events, transport=None)``: a seeded org and a service with confirmations and the brief."""
    opened: list[Any] = []

    def build(events: list[dict[str, Any]], transport: Transport | None = None) -> Rig:
        seed = {"$fields": FIELDS, "User": [OWNER, MIKE], "Contact": PEOPLE, "Event": events}
        org = sandbox_factory(seed_data=seed)
        crm = SalesforceCrm(
            instance_url=org.instance_url,
            auth=SessionAuth(org.access_token),
            ca_bundle=str(org.ca_bundle),
            fields=MAPPING,
            sleep=lambda _s: None,
        )
        ledger = SqlLedger(f"sqlite:///{tmp_path / f'ledger{len(opened)}.sqlite'}")
        transport = transport or SmtpTransport(host=org.smtp_host, port=org.smtp_port, security="none")
        opened.extend([crm, ledger, transport])
        renderer = Renderer(shipped_dir=shipped_templates_dir())
        sender = Sender(sending_address="meet@team.test", message_id_domain="team.test")
        flow = BriefFlow(
            ledger=ledger,
            transport=transport,
            writer=BriefWriter(renderer, sender, "Europe/Amsterdam"),
            scripts=lambda meeting: [SCRIPT],
        )
        service = Service(
            crm=crm,
            ledger=ledger,
            transport=transport,
            composer=Composer(renderer, sender, LanguagePolicy()),
            policy=SendPolicy(),
            audience=Audience(internal_domains=frozenset({"team.test"}), org_time_zone="Europe/Amsterdam"),
            flows=[flow],
        )
        return Rig(org, ledger, service)

    yield build
    for thing in reversed(opened):
        thing.close()


def test_each_owner_gets_one_brief_at_0730_their_time_on_the_meeting_day_and_never_twice(rig: Any) -> None:
    bot: Rig = rig([event("jan", JAN_AT), event("olga", OLGA_AT, owner="@mike")])
    bot.ticks(MONDAY, datetime(2026, 12, 1, 9, 5, tzinfo=UTC), datetime(2026, 12, 1, 15, 5, tzinfo=UTC))
    assert bot.briefs() == []
    assert [r.due_at for r in bot.rows()] == [ANOUK_BRIEF_AT, MIKE_BRIEF_AT]
    bot.ticks(ANOUK_BRIEF_AT - timedelta(minutes=1))
    assert bot.briefs() == []
    bot.ticks(ANOUK_BRIEF_AT, ANOUK_BRIEF_AT + timedelta(minutes=5))
    assert [str(m["To"]) for m in bot.briefs()] == ["Anouk de Vries <anouk@team.test>"]
    bot.ticks(MIKE_BRIEF_AT - timedelta(minutes=1), MIKE_BRIEF_AT, MIKE_BRIEF_AT + timedelta(hours=1))
    bot.ticks(JAN_AT + timedelta(hours=2), datetime(2026, 12, 3, 6, 30, tzinfo=UTC))
    assert sorted(a.lower() for a in bot.to()) == [
        "anouk@team.test",
        "jan@farm.test",
        "mike@team.test",
        "olga@agro.test",
    ]
    assert [(r.status, r.reason) for r in bot.rows()] == [
        (Status.LOGGED, "internal brief, not logged in Salesforce")
    ] * 2
    tasks = bot.org.client().query("SELECT Id, Subject FROM Task")["records"]
    assert len(tasks) == 2 and not any("Brief" in t["Subject"] for t in tasks)  # the confirmations' only


def test_the_brief_is_in_the_owners_language_from_prepbot_with_the_confirmation_status_and_scripts(
    rig: Any,
) -> None:
    bot: Rig = rig([event("jan", JAN_AT), event("olga", OLGA_AT, owner="@mike")])
    bot.ticks(MONDAY, datetime(2026, 12, 1, 9, 5, tzinfo=UTC), ANOUK_BRIEF_AT, MIKE_BRIEF_AT)
    anouk, mike = bot.briefs()
    assert str(anouk["From"]) == "prepbot <meet@team.test>" and anouk["Reply-To"] is None
    assert anouk["Subject"].startswith("Briefing: Visit jan") and "14:00" in anouk["Subject"]
    assert anouk["X-Prepbot-Template"].startswith("owner_brief/nl@")
    text = text_of(anouk).replace("\r\n", "\n")
    assert "(dag ervoor): verstuurd dinsdag 1 december, 10:05" in text  # the day-before message, sent Tuesday
    assert "Als de klant er niet is" in text and "Bel: geen verwijt.\nVraag wie nog meer." in text
    assert "<" not in text.replace("<anouk", "")  # no markup in the text part
    assert "<b>Als de klant er niet is</b>" in html_of(anouk)
    assert mike["Subject"].startswith("Brief: Visit olga") and "10:00" in mike["Subject"]
    assert mike["X-Prepbot-Template"].startswith("owner_brief/en@")
    assert "Day-before message to the client: sent" in " ".join(text_of(mike).split())


def test_a_moved_meetings_brief_goes_out_once_for_the_new_day(rig: Any) -> None:
    bot: Rig = rig([event("jan", JAN_AT)])
    bot.ticks(MONDAY)
    later = JAN_AT + timedelta(days=1)  # Thursday 14:00 in Amsterdam
    bot.org.client().Event.update(
        bot.event_id("Visit jan"),
        {"StartDateTime": sf_time(later), "EndDateTime": sf_time(later + timedelta(hours=1))},
    )
    bot.ticks(ANOUK_BRIEF_AT, ANOUK_BRIEF_AT + timedelta(hours=1))
    assert bot.briefs() == []
    thursday = ANOUK_BRIEF_AT + timedelta(days=1)
    bot.ticks(thursday - timedelta(minutes=1), thursday, thursday + timedelta(minutes=5))
    [brief] = bot.briefs()
    assert "3 december" in brief["Subject"]
    assert [(r.key.occurrence, r.status) for r in bot.rows()] == [
        ("2026-12-02T13:00:00Z", Status.SUPERSEDED),
        ("2026-12-03T13:00:00Z", Status.LOGGED),
    ]


def test_a_deleted_meetings_brief_is_cancelled_and_never_sent(rig: Any) -> None:
    bot: Rig = rig([event("jan", JAN_AT)])
    bot.ticks(MONDAY)
    bot.org.client().Event.delete(bot.event_id("Visit jan"))
    bot.ticks(ANOUK_BRIEF_AT, ANOUK_BRIEF_AT + timedelta(hours=2))
    assert bot.briefs() == []
    assert [(r.status, r.reason) for r in bot.rows()] == [(Status.CANCELLED, "meeting deleted")]


def test_a_brief_planned_after_the_brief_time_goes_out_at_once(rig: Any) -> None:
    bot: Rig = rig([event("jan", JAN_AT)])
    bot.ticks(JAN_AT - timedelta(hours=1))  # 13:00 in Amsterdam: past 07:30, before the meeting
    assert [str(m["To"].addresses[0].addr_spec) for m in bot.briefs()] == ["anouk@team.test"]
    assert [r.due_at for r in bot.rows()] == [JAN_AT - timedelta(hours=1)]


def test_an_early_meetings_brief_is_due_an_hour_before_it_and_skipped_once_it_has_started(rig: Any) -> None:
    early = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 07:00 in Amsterdam, before the brief time
    bot: Rig = rig([event("jan", early)])
    bot.ticks(MONDAY)
    assert [(r.key.recipient, r.due_at) for r in bot.rows()] == [
        ("anouk@team.test", early - timedelta(hours=1))
    ]
    bot.ticks(early + timedelta(minutes=10))  # nothing ran in between: too late for a brief
    assert bot.briefs() == []
    assert [(r.status, r.reason) for r in bot.rows()] == [(Status.SKIPPED, "past_meeting")]


def test_an_unanswered_brief_is_held_in_doubt_without_a_task_and_not_resent(rig: Any) -> None:
    with SmtpTestServer(faults=[Fault("DATA_END", disconnect=True, times=1)]) as relay:
        transport = SmtpTransport(host=relay.host, port=relay.port, security="none")
        no_address = event("jan", JAN_AT, WhoId=None)  # no client: only the brief goes out
        bot: Rig = rig([no_address], transport=transport)
        bot.ticks(MONDAY, ANOUK_BRIEF_AT, ANOUK_BRIEF_AT + timedelta(hours=1))
        assert len(relay.received) == 1
    [row] = bot.rows()
    assert row.status is Status.IN_DOUBT
    assert bot.org.client().query("SELECT Id FROM Task")["records"] == []


# -- wiring and pure parts ----------------------------------------------------------------------------


def settings(**notes: Any) -> Settings:
    raw = {"salesforce": {"auth": "session", "session_id": "x", "instance_url": "https://127.0.0.1"}}
    return Settings.model_validate({**raw, "notes": notes})


@pytest.mark.parametrize(
    ("notes", "wired"),
    [({}, False), ({"owner_brief": True}, True), ({"owner_brief": True, "enabled": False}, False)],
)
def test_the_brief_flow_is_wired_only_when_switched_on(
    notes: dict[str, Any], wired: bool, tmp_path: Path
) -> None:
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    try:
        flows = build_flows(settings(**notes), None, ledger, None)  # type: ignore[arg-type]
        for flow in flows:
            if isinstance(flow, NoteFlow):
                flow.close()  # its render process
    finally:
        ledger.close()
    assert any(isinstance(f, BriefFlow) for f in flows) is wired


@pytest.mark.parametrize(
    ("configured", "forks", "cores", "render_process"),
    [(True, True, 2, True), (False, True, 2, False), (True, False, 2, False), (True, True, 1, False)],
)
def test_the_notes_render_process_is_used_when_configured_on_more_than_one_core_and_forking_works(
    configured: bool,
    forks: bool,
    cores: int,
    render_process: bool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import prepbot.app as app_module

    monkeypatch.setattr(app_module, "can_fork", lambda: forks)
    monkeypatch.setattr(app_module.os, "cpu_count", lambda: cores)
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    flow = build_note_flow(settings(render_process=configured), None, ledger)  # type: ignore[arg-type]
    try:
        assert (flow.render_pid is not None) is render_process
        assert flow.render_pid != os.getpid()
    finally:
        flow.close()
        ledger.close()


def process_nice(pid: int) -> int:
    """A process's nice value (Linux /proc: the 19th field of its stat line)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return int(fields[16])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(("configured", "lower"), [({}, 10), ({"render_process_nice": 3}, 3)])
def test_the_notes_render_process_runs_below_the_sender_by_the_configured_nice(
    configured: dict[str, Any], lower: int, tmp_path: Path
) -> None:
    ledger = SqlLedger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    flow = build_note_flow(settings(**configured), None, ledger)  # type: ignore[arg-type]
    try:
        assert flow.render_pid is not None
        flow._notes.submit([])()  # the child has started serving: its priority is set
        assert process_nice(flow.render_pid) == min(process_nice(os.getpid()) + lower, 19)
    finally:
        flow.close()
        ledger.close()


def test_a_render_process_nice_out_of_range_names_the_key() -> None:
    with pytest.raises(ValidationError, match="render_process_nice"):
        settings(render_process_nice=20)


def timed(start: datetime, owner: Owner | None = None) -> Meeting:
    owner = owner or Owner("005A", "Anouk", "Anouk@Team.test", time_zone="Europe/Amsterdam")
    return Meeting("00UA", "Visit", start, start + timedelta(hours=1), False, None, "005A", owner=owner)


def test_a_meeting_before_the_brief_time_gets_its_brief_an_hour_before_it() -> None:
    start = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)  # 07:00 in Amsterdam
    assert brief_window(timed(start), time(7, 30), "Europe/Amsterdam") == (start - timedelta(hours=1), start)


def test_an_all_day_meeting_gets_its_brief_on_its_calendar_date_until_that_day_ends() -> None:
    owner = Owner("005A", "Anouk", "a@team.test", time_zone="Europe/Amsterdam")
    meeting = Meeting("00UA", "Fair", None, None, True, date(2026, 12, 2), "005A", owner=owner)
    at_noon = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    action = plan_brief(meeting, time(7, 30), "UTC", at_noon)
    assert (action.status, action.due_at) == (Status.PLANNED, at_noon)
    assert action.deadline_at == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert action.key.recipient == "a@team.test" and action.time_zone == "Europe/Amsterdam"


def test_the_text_part_keeps_the_notes_lines_and_unescapes_its_entities() -> None:
    html = (
        "<p><b>Tom &amp; Co</b><br>O&#39;Brien</p><ul><li>Anna, <b>Decision Maker</b></li><li>Piet</li></ul>"
    )
    assert note_text(html) == "Tom & Co\nO'Brien\n\n- Anna, Decision Maker\n- Piet"
