"""The crash scenarios' harness: one sandbox org per module, a fresh week of meetings per scene,
and prepbot run as a real subprocess (`python -m prepbot tick|run`) that failpoints may SIGKILL."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prepbot.ledger.sql import SqlLedger
from prepbot.sandbox.cli import write_sandbox_config
from tests.reliability.oracle import Mail, Observation, Truth, observe, read_mails, violations

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DOMAIN = "team.test"
LEASE = timedelta(seconds=30)
FIRST_WEDNESDAY = date(2027, 1, 6)
_weeks = itertools.count()  # every scene of the process gets its own week: no scene sees another's


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """An Amsterdam wall time as aware UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=AMSTERDAM).astimezone(UTC)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Run:
    """A finished prepbot process."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def killed(self) -> bool:
        return self.returncode == -9


@dataclass
class Scene:
    """Fresh clients with meetings on one Wednesday (14:00 Amsterdam, an hour apart), and a config.

    ``due`` is the confirmations' moment (Tuesday 10:00 Amsterdam); ``starts[i]`` the meetings'.
    """

    org: Any
    folder: Path
    wednesday: date
    contact_ids: list[str]
    emails: list[str]
    event_ids: list[str]
    starts: list[datetime]
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    smtp_port: int | None = None
    truths: list[Truth] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.folder / "prepbot.toml"

    @property
    def ledger_path(self) -> Path:
        return self.folder / "ledger.sqlite"

    @property
    def due(self) -> datetime:
        return local(self.wednesday - timedelta(days=1), 10)

    def write_config(self) -> None:
        relay = (self.org.smtp_host, self.smtp_port) if self.smtp_port else None
        write_sandbox_config(
            self.config, self.org, self.folder, smtp=relay, extra=toml_sections(self.settings)
        )

    def configure(self, **sections: dict[str, Any]) -> None:
        for name, values in sections.items():
            self.settings.setdefault(name, {}).update(values)
        self.write_config()

    # -- running prepbot -----------------------------------------------------------------------------

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "prepbot", *args, "--config", str(self.config)]

    def env(self, failpoints: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PREPBOT_FAILPOINTS"}
        if failpoints:
            env["PREPBOT_FAILPOINTS"] = failpoints
        return env

    def tick(self, at: datetime, failpoints: str | None = None, timeout: float = 90) -> Run:
        """``prepbot tick --now at`` in a subprocess (armed with ``failpoints``)."""
        done = subprocess.run(
            self.command("tick", "--now", iso(at)),
            env=self.env(failpoints),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def crash(self, at: datetime, failpoint: str) -> Run:
        """A tick that must die by SIGKILL at ``failpoint``."""
        run = self.tick(at, f"{failpoint}=kill")
        assert run.killed, f"expected SIGKILL at {failpoint}, got {run.returncode}\n{run.stderr[-3000:]}"
        return run

    def ok(self, at: datetime, failpoints: str | None = None, code: int = 0) -> Run:
        """A tick that must finish normally: exit ``code`` (0; 1 = done, with alerts on stderr)."""
        run = self.tick(at, failpoints)
        assert run.returncode == code, f"exit {run.returncode}\n{run.stdout}\n{run.stderr[-3000:]}"
        return run

    def spawn(self, *args: str, failpoints: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            env=self.env(failpoints),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    # -- what it left behind ------------------------------------------------------------------------

    def ledger(self) -> SqlLedger:
        return SqlLedger(f"sqlite:///{self.ledger_path}")

    def rows(self) -> list[Any]:
        ledger = self.ledger()
        try:
            return list(ledger.rows())
        finally:
            ledger.close()

    def mails(self) -> list[Mail]:
        return read_mails((m.path for m in self.org.smtp_messages), self.emails)

    def observation(self, mails: Sequence[Mail] | None = None) -> Observation:
        ledger = self.ledger()
        try:
            return observe(
                ledger,
                self.mails() if mails is None else mails,
                message_id_domain=DOMAIN,
                in_doubt_policy=self.settings.get("messages", {}).get("in_doubt_policy", "hold"),
                sf=self.org.client(),
                who_ids=self.contact_ids,
                linked_ids=self.contact_ids,
                truths=self.truths,
                expected=set(zip(self.event_ids, self.emails, strict=True)),
            )
        finally:
            ledger.close()

    def violations(self, now: datetime, mails: Sequence[Mail] | None = None) -> list[str]:
        return violations(self.observation(mails), now)


def toml_sections(settings: Mapping[str, Mapping[str, Any]]) -> str:
    """Config sections as TOML text (tests write prepbot.toml with it)."""
    lines: list[str] = []
    for section, values in settings.items():
        lines.append(f"\n[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


BASE_SETTINGS: dict[str, dict[str, Any]] = {
    "salesforce.fields": {"contact_language": "Preferred_Language__c", "contact_time_zone": "Time_Zone__c"},
    "messages": {
        "sending_address": "meet@team.test",
        "message_id_domain": DOMAIN,
        "org_time_zone": "Europe/Amsterdam",
        "internal_domains": ["team.test"],
    },
    "schedule": {
        "lease_seconds": int(LEASE.total_seconds()),
        "quiet_start": "00:00",
        "quiet_end": "00:00",  # equal: no quiet hours (scene C11 runs at the real time of day)
        "working_days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    },
}


def make_scene(
    org: Any,
    folder: Path,
    n: int = 1,
    *,
    starts: Sequence[datetime] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
) -> Scene:
    """``n`` new Amsterdam clients, each with a meeting (at ``starts``, default Wednesday 14:00+i h)."""
    week = next(_weeks)
    wednesday = FIRST_WEDNESDAY + timedelta(weeks=week)
    starts = list(starts) if starts is not None else [local(wednesday, 14 + i) for i in range(n)]
    sf = org.client()
    owner = sf.query("SELECT Id FROM User WHERE Username = 'anouk@team.test'")["records"][0]["Id"]
    contact_ids, emails, event_ids = [], [], []
    for i, start in enumerate(starts):
        email = f"c{i}.w{week}@client{week}.test"
        contact = sf.Contact.create(
            {
                "FirstName": f"Client{i}",
                "LastName": f"Week{week}",
                "Email": email,
                "Time_Zone__c": "Europe/Amsterdam",
                "Preferred_Language__c": "en",
                "OwnerId": owner,
            }
        )["id"]
        event = sf.Event.create(
            {
                "Subject": f"Visit {i} week {week}",
                "Type": "Meeting",
                "OwnerId": owner,
                "WhoId": contact,
                "StartDateTime": iso(start),
                "DurationInMinutes": 60,
                "Location": "Main street 1",
            }
        )["id"]
        contact_ids.append(contact)
        emails.append(email)
        event_ids.append(event)
    folder.mkdir(parents=True, exist_ok=True)
    merged = {name: dict(values) for name, values in BASE_SETTINGS.items()}
    for name, values in (settings or {}).items():
        merged.setdefault(name, {}).update(values)
    scene = Scene(org, folder, wednesday, contact_ids, emails, event_ids, starts, merged)
    scene.truths = [
        Truth(e, s, datetime(2000, 1, 1, tzinfo=UTC)) for e, s in zip(event_ids, starts, strict=True)
    ]
    scene.write_config()
    return scene


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    """Poll ``condition`` until true (a process reaching a point); fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
