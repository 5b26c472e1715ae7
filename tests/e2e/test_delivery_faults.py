"""Delivery faults end to end: what the ledger, the org and the client see when the relay misbehaves."""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.conftest import Prepbot, contact, event
from tests.smtp_server import Fault, SmtpTestServer


def relay_for(bot: Prepbot, server: SmtpTestServer, timeout: int = 1) -> None:
    """Point the bot's config at ``server`` instead of the sandbox's sink."""
    text = bot.config.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^port = \d+$", f"port = {server.port}\ntimeout_seconds = {timeout}", text, count=1)
    bot.config.write_text(text, encoding="utf-8")


def one_meeting(prepbot_org: Any) -> Prepbot:
    return prepbot_org(
        [contact("ams", "Sjoerd", "de Boer", "sjoerd@farm.test", "Europe/Amsterdam", "nl")],
        [event("ams", "2026-12-02T13:00:00Z", WhatId=None)],
    )


def test_an_unanswered_data_end_is_held_in_doubt_and_the_owner_gets_a_call_task(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    with SmtpTestServer(faults=[Fault("DATA_END", delay=3, times=1)]) as relay:
        relay_for(bot, relay)
        bot.tick("2026-12-01T09:00:00Z")
        bot.tick("2026-12-01T09:20:00Z")
        assert len(relay.received) == 1  # the relay has it; prepbot cannot know (RFC 1047)
    [row] = bot.log()
    assert row["status"] == "in_doubt"
    tasks = bot.org.client().query("SELECT Subject, Status, TaskSubtype FROM Task")["records"]
    assert [(t["Status"], t["TaskSubtype"]) for t in tasks] == [("Not Started", "Task")]
    assert tasks[0]["Subject"].startswith("Call Sjoerd de Boer")


def test_a_temporary_refusal_is_retried_later_and_sent_once(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    with SmtpTestServer(faults=[Fault("RCPT", reply="451 4.3.0 try again later", times=1)]) as relay:
        relay_for(bot, relay)
        bot.tick("2026-12-01T09:00:00Z")
        assert relay.accepted == [] and bot.log()[0]["status"] == "planned"
        bot.tick("2026-12-01T09:05:00Z")  # before the retry delay: nothing
        bot.tick("2026-12-01T09:10:00Z")
        bot.tick("2026-12-01T09:30:00Z")
        assert len(relay.accepted) == 1
    assert bot.log()[0]["status"] == "logged"


def test_a_permanent_refusal_fails_with_the_relays_reply_and_is_not_retried(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org)
    with SmtpTestServer(faults=[Fault("RCPT", reply="550 5.1.1 no such user")]) as relay:
        relay_for(bot, relay)
        result = bot.tick("2026-12-01T09:00:00Z")
        bot.tick("2026-12-01T09:30:00Z")
        assert relay.accepted == []
    [row] = bot.log()
    assert row["status"] == "failed" and "550" in row["reason"]
    assert result.exit_code == 1
