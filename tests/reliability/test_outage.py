"""A meeting that starts while prepbot is not running is still recorded (O2), never silently lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import contact, event
from tests.reliability._cli_org import prepbot_fixture


@pytest.fixture
def prepbot_org(sandbox_factory: Any, tmp_path: Path) -> Any:
    """The e2e ``prepbot_org`` fixture (tests/e2e/conftest.py), for this folder."""
    return prepbot_fixture(sandbox_factory, tmp_path)


def test_a_meeting_missed_during_an_outage_gets_a_past_meeting_row_and_no_mail(prepbot_org: Any) -> None:
    bot = prepbot_org(
        [contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl")],
        [event("ams", "2026-12-09T13:00:00Z")],  # far ahead: outside the first sync's horizon
    )
    bot.tick("2026-11-30T08:00:00Z")  # a sync before the outage; the meeting below does not exist yet
    who = bot.org.client().query("SELECT Id FROM Contact WHERE Email = 'sjoerd@farm.test'")["records"][0][
        "Id"
    ]
    created = bot.org.client().Event.create(
        {
            "Subject": "Booked during the outage",
            "OwnerId": bot.org.store.running_user_id,
            "WhoId": who,
            "StartDateTime": "2026-12-01T13:00:00Z",
            "DurationInMinutes": 60,
        }
    )["id"]
    bot.tick("2026-12-03T08:00:00Z")  # prepbot comes back after the meeting took place
    rows = [row for row in bot.log() if row["event_id"] == created]
    assert [(row["status"], row["reason"]) for row in rows] == [("skipped", "past_meeting")]
    assert bot.recipients() == []
