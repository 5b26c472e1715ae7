"""The real prepbot stack for reliability runs: sandbox org, faulty SMTP relay, SQLite ledger, FixedClock.

:class:`Stack` builds prepbot through ``build_app`` exactly as the CLI does, drives ticks at the
simulated instant, "crashes" it at an armed failpoint (``FailpointCrash``) and restarts it on the
same ledger file, and keeps a model of what was done to the org (created, moved, deleted Events;
opt-outs) for the oracle in :mod:`bench.reliability_oracle`. Shared by ``bench.reliability`` and
``tests/reliability/test_state_machine.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.faulty_relay import FaultyRelay
from prepbot import failpoints
from prepbot.app import App, build_app
from prepbot.clock import FixedClock
from prepbot.config import load_config
from prepbot.report import Report
from prepbot.sandbox.cli import write_sandbox_config
from prepbot.sandbox.runner import SandboxHandle, start_sandbox

# Canary secrets: the org's session token and the relay's password. A run greps every log line,
# the ledger file and every stored message for them (reliability.md O4, X2).
CANARY_TOKEN = "00D000000000001!AQprepbotCANARYtoken7f3a9c1e5b2d"
CANARY_PASSWORD = "prepbot-CANARY-smtp-5e1d77a0c4"
CANARIES = (CANARY_TOKEN, CANARY_PASSWORD)
MESSAGE_ID_DOMAIN = "rel.prepbot.test"
OWNER_ZONES = ("Europe/Amsterdam", "America/New_York", "Asia/Kolkata")
SF_FAULTS = (
    "session_expired",
    "limit_exceeded",
    "unavailable",
    "server_error",
    "lock_row",
    "lock_record",
    "slow",
    "truncated",
)
SF_ROUTES = ("query*", "composite*", "sobjects*", "*")
FAILPOINTS = failpoints.NAMES

_EXTRA_CONFIG = """
[salesforce.fields]
contact_time_zone = "Time_Zone__c"
contact_language = "Preferred_Language__c"

[messages]
sending_address = "meetings@team.test"
message_id_domain = "{domain}"
org_time_zone = "Europe/Amsterdam"
internal_domains = ["team.test"]
in_doubt_policy = "{policy}"

[notes]
enabled = {notes}
"""


def occurrence_of(start: datetime | date) -> str:
    """The ledger's occurrence text: the UTC instant of a timed meeting, the date of an all-day one."""
    if isinstance(start, datetime):
        return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return start.isoformat()


def earliest_start(occurrence: str) -> datetime:
    """The meeting's start; for an all-day one its date's midnight in the earliest zone (UTC+14)."""
    if "T" in occurrence:
        return datetime.strptime(occurrence, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return datetime.fromisoformat(occurrence).replace(tzinfo=UTC) - timedelta(hours=14)


@dataclass
class EventTrack:
    """What the run did to one Event: its versions as (instant, occurrence or None=deleted, mark).

    ``mark`` is how many messages the relay held when the change was made: a message stored at
    index ``i`` came after every change with ``mark <= i``, whatever the clock said (it can step back).
    """

    event_id: str
    recipient: str
    versions: list[tuple[datetime, str | None, int]] = field(default_factory=list)

    def at_message(self, index: int) -> str | None:
        """The occurrence the Event had when the relay stored its ``index``-th message (0-based)."""
        current: str | None = None
        for _, occurrence, mark in self.versions:
            if mark <= index:
                current = occurrence
        return current

    @property
    def final(self) -> tuple[datetime, str | None]:
        changed, occurrence, _ = self.versions[-1]
        return changed, occurrence


@dataclass
class World:
    """The run's model of the org, for the oracle."""

    events: dict[str, EventTrack] = field(default_factory=dict)
    contacts: dict[str, str] = field(default_factory=dict)  # address -> Contact Id
    opted_out: dict[str, int] = field(default_factory=dict)  # address -> relay mark when it happened
    ticks: list[datetime] = field(default_factory=list)  # instants of syncs that completed
    first_due: dict[int, datetime] = field(default_factory=dict)  # row id -> due_at when first seen


def org_seed(contacts: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Owners in three zones and one Contact per (key, address, zone)."""
    users = [
        {
            "$key": f"owner{i}",
            "Username": f"owner{i}@team.test",
            "FirstName": f"Owner{i}",
            "LastName": "Rep",
            "Email": f"owner{i}@team.test",
            "TimeZoneSidKey": zone,
            "LocaleSidKey": "en_US",
            "LanguageLocaleKey": "en_US",
            "IsActive": True,
        }
        for i, zone in enumerate(OWNER_ZONES)
    ]
    people = [
        {
            "$key": key,
            "FirstName": "Client",
            "LastName": key.title(),
            "Email": address,
            "Time_Zone__c": zone,
            "Preferred_Language__c": "en",
            "OwnerId": "@owner0",
        }
        for key, address, zone in contacts
    ]
    fields = {"Contact": {"Preferred_Language__c": {"type": "string"}, "Time_Zone__c": {"type": "string"}}}
    return {"$fields": fields, "User": users, "Contact": people}


class Stack:
    """prepbot on a sandbox org and a faulty relay, at a simulated instant; ``close()`` stops it all."""

    def __init__(
        self,
        workdir: Path,
        *,
        start: datetime,
        contacts: list[tuple[str, str, str]],
        policy: str = "hold",
        notes: bool = True,
        slow_delay: float = 0.2,
        sf_slow_delay: float = 0.3,
    ) -> None:
        self.workdir = workdir
        self.clock = FixedClock(start)
        self.world = World()
        self.crashes: dict[str, int] = {}
        self.armed: str | None = None
        self._last_tick = start
        (workdir / "org").mkdir(parents=True, exist_ok=True)
        token = workdir / "org" / "access_token"
        token.write_text(CANARY_TOKEN + "\n", encoding="utf-8")
        token.chmod(0o600)
        self.org: SandboxHandle = start_sandbox(
            seed_data=org_seed(contacts),
            state_dir=workdir / "org",
            clock=self.clock.now,
            daily_api_limit=10**8,
        )
        self.relay = FaultyRelay(
            workdir / "relay",
            username="prepbot",
            password=CANARY_PASSWORD,
            now=self.clock.now,
            slow_delay=slow_delay,
        ).start()
        self.sf_slow_delay = sf_slow_delay
        self.sf = self.org.client()
        for record in self.sf.query_all("SELECT Id, Email FROM Contact")["records"]:
            self.world.contacts[record["Email"].lower()] = record["Id"]
        self.owners = [
            r["Id"] for r in self.sf.query("SELECT Id FROM User WHERE Email LIKE 'owner%'")["records"]
        ]
        self.config = self._write_config(policy, notes)
        self.app: App = self._build()

    # -- wiring ------------------------------------------------------------------------------

    def _write_config(self, policy: str, notes: bool) -> Path:
        path = self.workdir / "prepbot.toml"
        write_sandbox_config(path, self.org, self.workdir, smtp=(self.relay.host, self.relay.port))
        secret = self.workdir / "smtp-password"
        secret.write_text(CANARY_PASSWORD + "\n", encoding="utf-8")
        secret.chmod(0o600)
        text = path.read_text(encoding="utf-8").replace(
            'security = "none"\n',
            f'security = "none"\nusername = "prepbot"\npassword_file = "{secret}"\ntimeout_seconds = 2\n',
        )
        extra = _EXTRA_CONFIG.format(domain=MESSAGE_ID_DOMAIN, policy=policy, notes=str(notes).lower())
        path.write_text(text + extra, encoding="utf-8")
        return path

    def _build(self) -> App:
        app = build_app(load_config(self.config, environ={}), clock=self.clock)
        # The adapter times its pauses (REQUEST_LIMIT_EXCEEDED, auth broken) on a monotonic clock of
        # its own; a simulated day lasts seconds, so time them on the run's clock instead, or a
        # 15-minute pause would stall hours of simulated ticks (build_app takes no such clock).
        app.crm._clock = lambda: self.clock.now().timestamp()
        return app

    def restart(self) -> None:
        """Drop the App as a crashed process would (its connections die with it) and build a new one."""
        failpoints.disarm()
        try:
            self.app.close()
        except Exception:  # a half-open SMTP session may refuse QUIT: a dead process sends none anyway
            logging.getLogger(__name__).debug("closing the crashed app failed", exc_info=True)
        self.app = self._build()

    def close(self) -> None:
        failpoints.disarm()
        try:
            self.app.close()
        finally:
            self.relay.stop()
            self.org.stop()

    # -- driving -----------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def arm_crash(self, name: str) -> None:
        """Crash prepbot the next time it passes failpoint ``name`` (armed until it fires)."""
        failpoints.arm(name, "raise")
        self.armed = name

    def tick(self, *, sync: bool = True) -> Report | None:
        """One tick at the simulated instant (``sync=False``: dispatch only, as between two syncs of
        ``prepbot run``); a crash at the armed failpoint restarts prepbot.

        Returns:
            The tick's report, or None when it crashed (the failpoint fired).
        """
        try:
            service = self.app.service
            report = service.tick(self.now) if sync else service.dispatch(self.now)
        except failpoints.FailpointCrash as crash:
            self.crashes[str(crash)] = self.crashes.get(str(crash), 0) + 1
            self.armed = None
            self.restart()
            return None
        if sync and not any(e.startswith("sync failed") for e in report.errors):
            self.world.ticks.append(self.now)
        if report.errors:  # exception texts end up here: the leak scan greps them too
            with (self.workdir / "errors.txt").open("a", encoding="utf-8") as fh:
                fh.writelines(f"{self.now.isoformat()} {line}\n" for line in report.errors)
        since = min(self._last_tick, self.now)  # rows changed since the last tick (the clock may step back)
        for row in self.app.ledger.rows(since=since):
            self.world.first_due.setdefault(row.id, row.due_at)
        self._last_tick = self.now
        return report

    def sf_fault(self, kind: str, route: str = "*", nth: int = 1, times: int = 1) -> None:
        delay = self.sf_slow_delay if kind == "slow" else 0.0
        self.org.faults.add(route, kind, nth=nth, times=times, delay=delay)

    def clear_faults(self) -> None:
        self.org.faults.clear()
        self.relay.clear()

    # -- changing the org --------------------------------------------------------------------
    # The rep's changes go to the org's store directly: injected API faults are meant for
    # prepbot's calls, and the API counter then counts prepbot's calls only.

    @property
    def mark(self) -> int:
        """How many messages the relay holds now (orders changes against deliveries)."""
        return len(self.relay.stored)

    @property
    def store(self) -> Any:
        return self.org.store

    def create_event(self, address: str, start: datetime | date, owner: int = 0) -> str:
        """An Event with this Contact as Who: timed (aware ``start``, one hour) or all-day (a date)."""
        record: dict[str, Any] = {
            "Subject": f"Visit {address.split('@')[0]}",
            "Type": "Meeting",
            "OwnerId": self.owners[owner % len(self.owners)],
            "WhoId": self.world.contacts[address],
            "Location": "Main street 1",
        }
        record.update(_when(start))
        event_id = str(self.store.create("Event", record))
        self.world.events[event_id] = EventTrack(
            event_id, address, [(self.now, occurrence_of(start), self.mark)]
        )
        return event_id

    def move_event(self, event_id: str, start: datetime | date) -> None:
        self.store.update("Event", event_id, _when(start))
        self.world.events[event_id].versions.append((self.now, occurrence_of(start), self.mark))

    def delete_event(self, event_id: str) -> None:
        self.store.delete("Event", event_id)
        self.world.events[event_id].versions.append((self.now, None, self.mark))

    def opt_out(self, address: str) -> None:
        self.store.update("Contact", self.world.contacts[address], {"HasOptedOutOfEmail": True})
        self.world.opted_out.setdefault(address, self.mark)

    def live_events(self) -> list[str]:
        return [e.event_id for e in self.world.events.values() if e.final[1] is not None]

    def tasks(self) -> dict[str, dict[str, Any]]:
        found = self.sf.query_all("SELECT Id, Subject, Status, TaskSubtype, WhoId FROM Task")["records"]
        return {str(t["Id"]): t for t in found}


def _when(start: datetime | date) -> dict[str, Any]:
    if isinstance(start, datetime):
        wire = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (start + timedelta(hours=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"IsAllDayEvent": False, "StartDateTime": wire, "EndDateTime": end}
    return {"IsAllDayEvent": True, "ActivityDate": start.isoformat(), "DurationInMinutes": 1440}


def secret_hits(paths: list[Path], canaries: tuple[str, ...] = CANARIES) -> dict[str, int]:
    """Files (logs, ledger, stored mail) containing a canary secret, with the number of hits in each."""
    hits: dict[str, int] = {}
    needles = [c.encode() for c in canaries]
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.name in ("access_token", "smtp-password"):  # the secrets' own 0600 files
                continue
            data = path.read_bytes()
            count = sum(data.count(n) for n in needles)
            if count:
                hits[str(path)] = count
    return hits


def capture_logs(path: Path) -> logging.Handler:
    """Send every log record (DEBUG and up) to ``path``: the leak scan greps it."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # the sandbox org and the relay are the test's peers, not prepbot: their logs are not scanned
    handler.addFilter(lambda record: not record.name.startswith(("prepbot.sandbox", "aiosmtpd", "mail.log")))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return handler


def release_logs(handler: logging.Handler) -> None:
    logging.getLogger().removeHandler(handler)
    handler.close()
