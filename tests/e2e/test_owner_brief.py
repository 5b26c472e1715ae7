"""The owner's morning brief end to end: `prepbot tick` with `[notes] owner_brief` on, and off (default)."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Prepbot, contact, event

TICKS_BEFORE = ("2026-11-30T08:00:00Z", "2026-12-01T09:05:00Z", "2026-12-02T06:29:00Z")  # Mon, Tue, Wed
BRIEF_TIME = "2026-12-02T06:30:00Z"  # Wednesday 07:30 in Amsterdam, Anouk's zone


def one_meeting(prepbot_org: Any, *, brief: bool) -> Prepbot:
    bot: Prepbot = prepbot_org(
        [contact("jan", "Jan", "Bakker", "jan@farm.test", "Europe/Amsterdam", "nl")],
        [event("jan", "2026-12-02T13:00:00Z")],  # Wednesday 14:00 in Amsterdam, owned by Anouk
    )
    if brief:
        with bot.config.open("a", encoding="utf-8") as fh:
            fh.write("\n[notes]\nowner_brief = true\n")
    return bot


def briefs(bot: Prepbot) -> list[Any]:
    return [m for m in bot.messages() if str(m["X-Prepbot-Template"]).startswith("owner_brief/")]


def test_tick_emails_the_owner_one_brief_at_0730_her_time_and_the_client_only_the_confirmation(
    prepbot_org: Any,
) -> None:
    bot = one_meeting(prepbot_org, brief=True)
    for now in TICKS_BEFORE:
        bot.tick(now)
    assert briefs(bot) == [] and bot.recipients() == ["jan@farm.test"]
    bot.tick(BRIEF_TIME)
    bot.tick("2026-12-02T06:35:00Z")
    bot.tick("2026-12-02T11:00:00Z")
    [brief] = briefs(bot)
    assert (
        str(brief["To"]) == "Anouk de Vries <anouk@team.test>"
        and str(brief["From"]) == "prepbot <meet@team.test>"
    )
    assert str(brief["Subject"]).startswith("Briefing: Visit jan")
    assert sorted(bot.recipients()) == ["anouk@team.test", "jan@farm.test"]
    rows = [r for r in bot.log() if r["kind"] == "owner_brief"]
    assert [(r["status"], r["reason"]) for r in rows] == [
        ("logged", "internal brief, not logged in Salesforce")
    ]


def test_with_the_default_config_no_brief_is_planned_or_sent(prepbot_org: Any) -> None:
    bot = one_meeting(prepbot_org, brief=False)
    for now in (*TICKS_BEFORE, BRIEF_TIME, "2026-12-02T11:00:00Z"):
        bot.tick(now)
    assert bot.recipients() == ["jan@farm.test"]
    assert [r for r in bot.log() if r["kind"] == "owner_brief"] == []
