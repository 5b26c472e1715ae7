"""The S/F fault scenarios' harness: a seeded sandbox org, a prepbot config, and the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner, Result

from prepbot.cli import app
from tests.e2e.conftest import FIELDS, OWNERS, contact, event
from tests.reliability.crash_env import toml_sections

# The one meeting most scenarios use: Sjoerd (Amsterdam) on Wednesday 2 December 2026 at 14:00 local.
# Its confirmation is due on Tuesday at 10:00 local (09:00Z); min_notice (180 min) ends at 10:00Z Wed.
DUE = "2026-12-01T09:00:00Z"
MEETING_START = "2026-12-02T13:00:00Z"
CLIENT = "sjoerd@farm.test"
JWT_APP = "prepbot-reliability-jwt"

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    _KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def sjoerd() -> dict[str, Any]:
    return contact("ams", "Sjoerd", "de Boer", CLIENT, "Europe/Amsterdam", "nl")


def clients(n: int) -> list[dict[str, Any]]:
    """``n`` Amsterdam contacts c0..c{n-1} with addresses c<i>@client<i>.test."""
    return [
        contact(f"c{i}", f"Client{i}", "Test", f"c{i}@client{i}.test", "Europe/Amsterdam", "en")
        for i in range(n)
    ]


def meetings_for(n: int, start: str = MEETING_START) -> list[dict[str, Any]]:
    """One meeting per contact c0..c{n-1}, all at ``start``."""
    return [event(f"c{i}", start, WhatId=None) for i in range(n)]


@dataclass
class Bot:
    """A sandbox org plus a prepbot config pointing at it; every command runs the real CLI."""

    org: Any
    config: Path
    settings: dict[str, dict[str, Any]]
    runner: CliRunner = field(default_factory=CliRunner)

    def cli(self, *args: str) -> Result:
        return self.runner.invoke(app, [*args, "--config", str(self.config)], catch_exceptions=False)

    def tick(self, now: str) -> Result:
        result = self.cli("tick", "--now", now)
        assert result.exit_code in (0, 1), result.output
        return result

    def rows(self, kind: str = "confirmation") -> list[dict[str, Any]]:
        result = self.cli("log", "--json", "--limit", "100000")
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
        return [r for r in rows if r["kind"] == kind]

    def status(self) -> dict[str, Any]:
        result = self.cli("status", "--json")
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout))

    def configure(self, **sections: Mapping[str, Any]) -> None:
        """Change config keys (``configure(smtp={"port": 25})``) and rewrite the file."""
        for name, values in sections.items():
            self.settings.setdefault(name, {}).update(values)
        self.config.write_text(toml_sections(self.settings), encoding="utf-8")

    def relay(self, port: int, **smtp: Any) -> None:
        """Send through the SMTP server on 127.0.0.1:``port`` instead of the sandbox's sink."""
        self.configure(smtp={"host": "127.0.0.1", "port": port, **smtp})

    def tasks(self) -> list[dict[str, Any]]:
        sf = self.org.client()
        return list(sf.query("SELECT Id, Subject, WhoId, WhatId FROM Task")["records"])

    def notes(self) -> list[dict[str, Any]]:
        sf = self.org.client()
        return list(sf.query("SELECT Id, Title FROM ContentNote")["records"])

    def sink_messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(Path(m.path).read_bytes()) for m in self.org.smtp_messages]


def start_bot(
    sandbox_factory: Callable[..., Any],
    tmp_path: Path,
    contacts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    *,
    jwt: bool = False,
    **sections: Mapping[str, Any],
) -> Bot:
    """Seed a sandbox with the e2e owners, ``contacts`` and ``events``; write prepbot's config.

    ``jwt=True`` registers a connected app with a certificate and logs in with a signed JWT (so a
    401 can be answered with a new token); otherwise prepbot uses the sandbox's session id.
    """
    seed: dict[str, Any] = {"$fields": FIELDS, "User": OWNERS, "Contact": contacts, "Event": events}
    if jwt:
        seed["$apps"] = [{"consumer_key": JWT_APP, "certificate": PUBLIC_PEM}]
    org = sandbox_factory(seed_data=seed, state_dir=tmp_path / "org")
    salesforce: dict[str, Any] = {
        "instance_url": org.instance_url,
        "ca_bundle": str(org.ca_bundle),
        "api_version": "62.0",
        "timeout_seconds": 5,
    }
    if jwt:
        key = tmp_path / "jwt.key"
        key.write_text(PRIVATE_PEM, encoding="utf-8")
        key.chmod(0o600)
        salesforce |= {
            "auth": "jwt",
            "username": OWNERS[0]["Username"],
            "consumer_key": JWT_APP,
            "private_key_file": str(key),
            "login_url": org.instance_url,
        }
    else:
        salesforce |= {"auth": "session", "session_id_file": str(org.token_file)}
    settings: dict[str, dict[str, Any]] = {
        "salesforce": salesforce,
        "salesforce.fields": {
            "contact_language": "Preferred_Language__c",
            "contact_time_zone": "Time_Zone__c",
        },
        "smtp": {"host": org.smtp_host, "port": org.smtp_port, "security": "none", "timeout_seconds": 2},
        "ledger": {"url": f"sqlite:///{tmp_path / 'ledger.sqlite'}"},
        "messages": {
            "sending_address": "meet@team.test",
            "message_id_domain": "team.test",
            "org_time_zone": "Europe/Amsterdam",
            "internal_domains": ["team.test"],
        },
    }
    bot = Bot(org, tmp_path / "prepbot.toml", settings)
    bot.configure(**sections)
    return bot
