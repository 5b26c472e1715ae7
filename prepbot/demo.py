"""`prepbot demo`: the embedded sandbox org, two simulated days of ticks, and a table of what happened."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prepbot import zones
from prepbot.clock import FixedClock
from prepbot.demo_report import print_report, write_outputs

DEMO_SEED = Path(__file__).resolve().parent.parent / "examples" / "demo-org.json"
# Monday 30 November 09:00 in Sydney (Sunday 22:00 UTC): two days from here cover Monday's and Tuesday's
# 10:00 in every zone of the demo org, whose meetings are on 1-3 December.
SIM_START = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)
STEP = timedelta(minutes=30)  # ticks at :00 and :30 line up with every zone's 10:00

# (country code, country, language field, zone, first names, last names, city)
_PEOPLE = [
    (
        "NL",
        "Netherlands",
        "nl",
        "Europe/Amsterdam",
        ["Jan", "Femke", "Daan", "Lotte"],
        ["Visser", "Smit", "Mulder", "Bos"],
        "Utrecht",
    ),
    ("BE", "Belgium", None, "Europe/Brussels", ["Wout", "Lien", "Jef"], ["Peeters", "Maes", "Claes"], "Gent"),
    (
        "US",
        "United States",
        None,
        "America/New_York",
        ["Megan", "Tyler", "Ashley"],
        ["Miller", "Davis", "Wilson"],
        "Boston",
    ),
    (
        "US",
        "United States",
        "en",
        "America/Los_Angeles",
        ["Kevin", "Laura"],
        ["Nguyen", "Garcia"],
        "San Diego",
    ),
    ("GB", "United Kingdom", None, "Europe/London", ["Oliver", "Amelia"], ["Hughes", "Clarke"], "Leeds"),
    ("IN", "India", "en", "Asia/Kolkata", ["Priya", "Arjun"], ["Sharma", "Iyer"], "Pune"),
    ("AU", "Australia", None, "Australia/Sydney", ["Chloe", "Lachlan"], ["Taylor", "Brown"], "Sydney"),
    (
        "RU",
        "Russia",
        None,
        "Europe/Moscow",
        ["Дмитрий", "Анна", "Сергей"],
        ["Смирнов", "Кузнецова", "Попов"],
        "Казань",
    ),
    ("KZ", "Kazakhstan", "ru", "Asia/Almaty", ["Айгерим", "Ерлан"], ["Садыкова", "Нурланов"], "Алматы"),
]
_SUBJECTS = {
    "in_person": ["Site visit: {company}", "Demo at {company}", "Visit {company} plant"],
    "call": ["Call: pricing questions", "Phone call: next steps"],
    "video": ["Video call: Zoom product demo", "Teams meeting: proposal walkthrough"],
}
_LOCATIONS = {"call": "Phone", "video": "https://zoom.us/j/5550100"}


def generated_org(count: int = 50, seed: int = 20261130) -> dict[str, Any]:
    """About fifty meetings across zones and the three languages, deterministic for a given seed."""
    rng = random.Random(seed)
    accounts, contacts, events = [], [], []
    owners = ["@anouk", "@mike", "@irina"]
    for n in range(count):
        code, country, lang, zone, firsts, lasts, city = _PEOPLE[n % len(_PEOPLE)]
        first, last = rng.choice(firsts), rng.choice(lasts)
        company = f"{last} {rng.choice(['Agro', 'Logistics', 'Foods', 'Systems', 'Energy'])} #{n + 1}"
        accounts.append({"$key": f"gen_acc{n}", "Name": company, "BillingCountry": country})
        contact = {
            "$key": f"gen_c{n}",
            "AccountId": f"@gen_acc{n}",
            "FirstName": first,
            "LastName": last,
            "Email": f"client{n + 1}@example-{code.lower()}.test",
            "MailingCity": city,
            "MailingCountry": country,
            "MailingCountryCode": code,
            "Time_Zone__c": zone,
        }
        if lang:
            contact["Preferred_Language__c"] = lang
        contacts.append(contact)
        events.append(_generated_event(rng, n, company, owners[n % 3], zone))
    return {"Account": accounts, "Contact": contacts, "Event": events}


def _generated_event(rng: random.Random, n: int, company: str, owner: str, zone: str) -> dict[str, Any]:
    """A meeting on 1, 2 or 3 December during the client's working hours."""
    channel = rng.choice(["in_person", "in_person", "call", "video"])
    hour, minute = rng.choice([9, 10, 11, 13, 14, 15, 16]), rng.choice([0, 30])
    start = datetime(2026, 12, 1 + n % 3, hour, minute, tzinfo=zones.zone(zone)).astimezone(UTC)
    return {
        "Subject": rng.choice(_SUBJECTS[channel]).format(company=company),
        "Type": "Meeting" if channel == "in_person" else "Call",
        "OwnerId": owner,
        "WhoId": f"@gen_c{n}",
        "StartDateTime": _wire(start),
        "EndDateTime": _wire(start + timedelta(hours=1)),
        "Location": _LOCATIONS.get(channel, f"{company}, main office"),
    }


def _wire(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Story:
    """Something a rep does in the org while the demo runs (moves, deletes, late bookings)."""

    at: datetime
    label: str
    act: Callable[[Any], str]
    done: bool = False


@dataclass
class DemoState:
    """The simulated clock, and what the demo did, for the table and the output folder."""

    clock: FixedClock
    notes: dict[str, str] = field(default_factory=dict)  # Event Id -> what the rep did to it
    ticks: int = 0


def _stories(state: DemoState) -> list[Story]:
    def move(sf: Any) -> str:
        event = _find(sf, "Kennismaking operations%")
        sf.Event.update(
            event["Id"], {"StartDateTime": "2026-12-02T13:00:00Z", "EndDateTime": "2026-12-02T14:00:00Z"}
        )
        state.notes[event["Id"]] = "moved by the rep from 1 to 2 December, before its confirmation"
        return str(event["Id"])

    def delete(sf: Any) -> str:
        event = _event_of(sf, "client5@example-gb.test")
        sf.Event.delete(event["Id"])
        state.notes[event["Id"]] = "deleted by the rep before its confirmation"
        return str(event["Id"])

    def book(hours: float, label: str) -> Callable[[Any], str]:
        def act(sf: Any) -> str:
            contact = sf.query(
                "SELECT Id, OwnerId FROM Contact WHERE Email = 'emily.carter@brightharvest.example'"
            )
            now = state.clock.now()
            start = now + timedelta(hours=hours)
            record = {
                "Subject": f"Quick call booked {label}",
                "Type": "Call",
                "Location": "Phone",
                "OwnerId": contact["records"][0]["OwnerId"],
                "WhoId": contact["records"][0]["Id"],
                "StartDateTime": _wire(start),
                "EndDateTime": _wire(start + timedelta(minutes=30)),
            }
            event_id: str = sf.Event.create(record)["id"]
            state.notes[event_id] = f"booked {label}: {hours:g} h before it starts"
            return event_id

        return act

    def no_show(sf: Any) -> str:
        event = _find(sf, "Bedrijfsbezoek%")  # the farmer 200 km away (method §2)
        sf.Event.update(event["Id"], {"Meeting_Outcome__c": "No Show"})
        state.notes[event["Id"]] = "the farmer was not there: the rep marked the meeting No Show"
        return str(event["Id"])

    return [
        Story(SIM_START + timedelta(hours=6), "move a meeting to another day", move),
        Story(SIM_START + timedelta(days=1, hours=14), "mark a meeting as a no-show", no_show),
        Story(SIM_START + timedelta(hours=6, minutes=20), "delete a meeting", delete),
        Story(SIM_START + timedelta(days=1, hours=12), "book a call 2 hours ahead", book(2, "too late")),
        Story(
            SIM_START + timedelta(days=1, hours=13), "book a call 6 hours ahead", book(6, "late but in time")
        ),
    ]


def _find(sf: Any, subject_like: str) -> dict[str, Any]:
    escaped = subject_like.replace("'", "\\'")
    return _first(sf, f"SELECT Id, StartDateTime FROM Event WHERE Subject LIKE '{escaped}' LIMIT 1")


def _event_of(sf: Any, email: str) -> dict[str, Any]:
    contact = _first(sf, f"SELECT Id FROM Contact WHERE Email = '{email}'")
    return _first(sf, f"SELECT Id, StartDateTime FROM Event WHERE WhoId = '{contact['Id']}' LIMIT 1")


def _first(sf: Any, soql: str) -> dict[str, Any]:
    found = sf.query(soql)
    if not found["records"]:
        raise LookupError(f"the demo org has no record for {soql!r}")
    record: dict[str, Any] = found["records"][0]
    return record


def run_demo(output: Path, *, days: int = 2) -> int:
    """Run the demo into ``output``; returns the process exit code."""
    from prepbot.sandbox.runner import start_sandbox

    output = output.resolve()  # the config it writes names files by absolute path
    if output.exists():
        shutil.rmtree(output)
    output.mkdir(parents=True)
    clock = FixedClock(SIM_START)
    state = DemoState(clock)
    seed = json.loads(DEMO_SEED.read_text(encoding="utf-8"))
    for name, records in generated_org().items():  # one seed, so "@key" references reach across both
        seed.setdefault(name, []).extend(records)
    with start_sandbox(
        seed_data=seed, state_dir=output / "sandbox", outbox=output / "outbox", clock=clock.now
    ) as org:
        config = _write_config(output, org)
        return _simulate(output, org, config, state, days)


def _write_config(output: Path, org: Any) -> Path:
    from prepbot.sandbox.cli import write_sandbox_config

    return write_sandbox_config(
        output / "prepbot.toml",
        org,
        output,
        extra=(
            '\n[salesforce.fields]\ncontact_language = "Preferred_Language__c"\n'
            'contact_time_zone = "Time_Zone__c"\nevent_no_show = "Meeting_Outcome__c"\n'
            'event_travel_distance = "Travel_Distance_km__c"\n\n[messages]\n'
            'sending_address = "meetings@demo.prepbot.test"\nmessage_id_domain = "demo.prepbot.test"\n'
            'org_time_zone = "Europe/Amsterdam"\n'
        ),
    )


def _simulate(output: Path, org: Any, config: Path, state: DemoState, days: int) -> int:
    from prepbot.app import build_app
    from prepbot.config import load_config

    settings = load_config(config, environ={})
    clock = state.clock
    application = build_app(settings, clock=clock)
    sf = org.client()
    stories = _stories(state)
    problems = 0
    try:
        end = SIM_START + timedelta(days=days)
        while clock.now() < end:
            for story in stories:
                if not story.done and story.at <= clock.now():
                    story.act(sf)
                    story.done = True
            report = application.service.tick(clock.now())
            problems += len(report.errors)
            state.ticks += 1
            clock.advance(STEP)
        write_outputs(output, application, sf)
        print_report(application, sf, state.notes, output, state.ticks)
    finally:
        application.close()
    return 1 if problems else 0
