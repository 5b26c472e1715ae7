"""End-to-end fixtures: a sandbox org with a small sales team, and `prepbot` driven through its CLI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prepbot.cli import app

OWNERS = [
    {
        "$key": "anouk",
        "Username": "anouk@team.test",
        "FirstName": "Anouk",
        "LastName": "de Vries",
        "Email": "anouk@team.test",
        "Title": "Account Executive",
        "TimeZoneSidKey": "Europe/Amsterdam",
        "LocaleSidKey": "nl_NL",
        "LanguageLocaleKey": "nl_NL",
        "IsActive": True,
    },
    {
        "$key": "mike",
        "Username": "mike@team.test",
        "FirstName": "Mike",
        "LastName": "Stone",
        "Email": "mike@team.test",
        "TimeZoneSidKey": "America/New_York",
        "LocaleSidKey": "en_US",
        "LanguageLocaleKey": "en_US",
        "IsActive": True,
    },
]
FIELDS = {"Contact": {"Preferred_Language__c": {"type": "string"}, "Time_Zone__c": {"type": "string"}}}


def contact(
    key: str, first: str, last: str, email: str | None, zone: str, lang: str, **extra: Any
) -> dict[str, Any]:
    record = {
        "$key": key,
        "FirstName": first,
        "LastName": last,
        "Time_Zone__c": zone,
        "Preferred_Language__c": lang,
        "OwnerId": "@anouk",
        **extra,
    }
    if email is not None:
        record["Email"] = email
    return record


def event(who: str, start: str, owner: str = "@anouk", **extra: Any) -> dict[str, Any]:
    return {
        "Subject": f"Visit {who}",
        "Type": "Meeting",
        "OwnerId": owner,
        "WhoId": f"@{who}",
        "StartDateTime": start,
        "DurationInMinutes": 60,
        "Location": "Main street 1",
        **extra,
    }


@dataclass
class Prepbot:
    """The sandbox org plus a prepbot config pointing at it; ``tick`` runs the real CLI."""

    org: Any
    config: Path
    runner: CliRunner

    def cli(self, *args: str) -> Any:
        result = self.runner.invoke(app, [*args, "--config", str(self.config)], catch_exceptions=False)
        return result

    def tick(self, now: str) -> Any:
        result = self.cli("tick", "--now", now)
        assert result.exit_code in (0, 1), result.output
        return result

    def messages(self) -> list[EmailMessage]:
        parser = BytesParser(policy=policy.default)
        found: list[EmailMessage] = []
        for sink in self.org.smtp_messages:
            found.append(parser.parsebytes(Path(sink.path).read_bytes()))
        return found

    def recipients(self) -> list[str]:
        return [str(m["To"].addresses[0].addr_spec) for m in self.messages()]

    def event_id(self, who_email: str) -> str:
        sf = self.org.client()
        c = sf.query(f"SELECT Id FROM Contact WHERE Email = '{who_email}'")["records"][0]["Id"]
        return str(sf.query(f"SELECT Id FROM Event WHERE WhoId = '{c}'")["records"][0]["Id"])

    def log(self) -> list[dict[str, Any]]:
        import json

        result = self.cli("log", "--json")
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.output.splitlines() if line.strip()]


@pytest.fixture
def prepbot_org(sandbox_factory: Callable[..., Any], tmp_path: Path) -> Callable[..., Prepbot]:
    """``prepbot_org(contacts, events, extra={})`` starts a seeded sandbox and writes the config."""
    from prepbot.sandbox.cli import write_sandbox_config

    def start(contacts: list[dict[str, Any]], events: list[dict[str, Any]], **extra: Any) -> Prepbot:
        seed = {"$fields": FIELDS, "User": OWNERS, "Contact": contacts, "Event": events, **extra}
        org = sandbox_factory(seed_data=seed, state_dir=tmp_path / "org")
        config = write_sandbox_config(
            tmp_path / "prepbot.toml",
            org,
            tmp_path,
            extra=(
                '\n[salesforce.fields]\ncontact_language = "Preferred_Language__c"\n'
                'contact_time_zone = "Time_Zone__c"\n\n[messages]\nsending_address = "meet@team.test"\n'
                'message_id_domain = "team.test"\norg_time_zone = "Europe/Amsterdam"\n'
                'internal_domains = ["team.test"]\n'
            ),
        )
        return Prepbot(org, config, CliRunner())

    return start
