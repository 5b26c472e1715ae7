"""Fixtures for the no-show flow: a sandbox org, a SQLite ledger and the sink's SMTP relay, wired by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.crm.salesforce import FieldMapping, SalesforceCrm, SessionAuth
from prepbot.delivery import Cadence
from prepbot.domain import Meeting, MessageKind
from prepbot.flows.noshow import NoShowFlow
from prepbot.flows.noshow_compose import NoShowWriter
from prepbot.ledger.sql import SqlLedger
from prepbot.planner import Audience
from prepbot.ports import Transport
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.service import Service
from prepbot.timing import SendPolicy
from prepbot.transports.smtp import SmtpTransport

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tuesday; the missed meetings were this morning
MISSED_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam
FIELDS = {
    "Contact": {"Preferred_Language__c": {"type": "string"}, "Time_Zone__c": {"type": "string"}},
    "Event": {"Meeting_Outcome__c": {"type": "picklist", "values": ["Held", "No Show"]}},
}
MAPPING = FieldMapping(
    contact_language="Preferred_Language__c",
    contact_time_zone="Time_Zone__c",
    event_no_show_field="Meeting_Outcome__c",
)
OWNER = {
    "$key": "anouk",
    "Username": "anouk@team.test",
    "FirstName": "Anouk",
    "LastName": "de Vries",
    "Email": "anouk@team.test",
    "TimeZoneSidKey": "Europe/Amsterdam",
    "LocaleSidKey": "nl_NL",
    "LanguageLocaleKey": "nl_NL",
    "IsActive": True,
}


def sf_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def person(key: str, first: str, last: str, email: str | None, lang: str, **extra: Any) -> dict[str, Any]:
    record = {"$key": key, "FirstName": first, "LastName": last, "Preferred_Language__c": lang, **extra}
    if email:
        record["Email"] = email
    return record


def meeting(
    who: str, start: datetime = MISSED_AT, outcome: str | None = "No Show", **extra: Any
) -> dict[str, Any]:
    record = {
        "Subject": f"Visit {who}",
        "Type": "Meeting",
        "OwnerId": "@anouk",
        "WhoId": f"@{who}",
        "StartDateTime": sf_time(start),
        "EndDateTime": sf_time(start + timedelta(hours=1)),
        "Location": "Dorpsweg 1, Emmen",
        **extra,
    }
    if outcome:
        record["Meeting_Outcome__c"] = outcome
    return record


@dataclass(frozen=True, slots=True)
class Script:
    """A hand-made rendered script (the shape of prepbot.scripts.RenderedScript)."""

    script: str
    title: str
    text: str


@dataclass
class HandScripts:
    """A ScriptWriter that records what it was asked for and returns recognisable text."""

    calls: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)

    def __call__(
        self, meeting: Meeting, names: Sequence[str], *, language: str, zone: str, now: datetime
    ) -> list[Script]:
        self.calls.append((meeting.event_id, tuple(names), language))
        return [Script(name, f"Title {name}", f"<<{name} script in {language}>>") for name in names]


@dataclass
class Rig:
    """Everything a no-show test drives: the org, the service with the flow, the ledger."""

    org: Any
    crm: SalesforceCrm
    ledger: SqlLedger
    flow: NoShowFlow
    service: Service
    scripts: HandScripts

    def emails(self) -> list[Any]:
        return list(self.org.smtp_messages)

    def tasks(self, subtype: str | None = None) -> list[dict[str, Any]]:
        soql = (
            "SELECT Id, Subject, Description, Status, Priority, TaskSubtype, WhoId, WhatId, OwnerId, "
            "ActivityDate FROM Task"
        )
        rows = self.org.client().query_all(soql)["records"]
        return [r for r in rows if subtype is None or r["TaskSubtype"] == subtype]

    def rows(self, kind: MessageKind) -> list[Any]:
        return [r for r in self.ledger.rows() if r.key.kind is kind]

    def event_id(self, subject: str) -> str:
        found = self.org.client().query(f"SELECT Id FROM Event WHERE Subject = '{subject}'")["records"]
        return str(found[0]["Id"])


@pytest.fixture
def rig(sandbox_factory: Callable[..., Any], tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """``rig(people, events, email_client=True, transport=None)``: a seeded org and a wired service."""
    opened: list[Any] = []

    def build(people: list[dict[str, Any]], events: list[dict[str, Any]], **kw: Any) -> Rig:
        seed = {"$fields": FIELDS, "User": [OWNER], "Contact": people, "Event": events, **kw.pop("extra", {})}
        org = sandbox_factory(seed_data=seed)
        crm = SalesforceCrm(
            instance_url=org.instance_url,
            auth=SessionAuth(org.access_token),
            ca_bundle=str(org.ca_bundle),
            fields=MAPPING,
            sleep=lambda _s: None,
        )
        ledger = SqlLedger(f"sqlite:///{tmp_path / f'ledger{len(opened)}.sqlite'}")
        transport: Transport = kw.pop("transport", None) or SmtpTransport(
            host=org.smtp_host, port=org.smtp_port, security="none"
        )
        opened.extend([crm, ledger, transport])
        renderer = Renderer(shipped_dir=shipped_templates_dir())
        composer = Composer(renderer, Sender(message_id_domain="team.test"), LanguagePolicy())
        audience = Audience(internal_domains=frozenset({"team.test"}), org_time_zone="Europe/Amsterdam")
        scripts = HandScripts()
        cadence = Cadence(max_attempts=3)
        flow = NoShowFlow(
            crm=crm,
            ledger=ledger,
            transport=transport,
            writer=NoShowWriter(composer, scripts, "Europe/Amsterdam"),
            audience=audience,
            cadence=cadence,
            email_client=kw.pop("email_client", True),
        )
        service = Service(
            crm=crm,
            ledger=ledger,
            transport=transport,
            composer=composer,
            policy=SendPolicy(),
            audience=audience,
            cadence=cadence,
            flows=[flow],
        )
        return Rig(org, crm, ledger, flow, service, scripts)

    yield build
    for thing in reversed(opened):
        thing.close()
