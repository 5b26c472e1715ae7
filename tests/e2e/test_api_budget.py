"""Issue 7: what a day's cycle and a steady sync cost the org's daily API budget, from its counter.

The minimum the API allows: one query call per page of 2,000 Events, Tasks in collections of 200,
prep notes (note + link) in one composite call per 200. A sync with nothing changed: one call.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Prepbot, contact, event

pytestmark = pytest.mark.slow
N = 400
DAY = "2026-12-01T09:00:00Z"  # 10:00 in Amsterdam, the day before 2 December


def clients(n: int) -> list[dict[str, Any]]:
    return [contact(f"c{i}", "Client", f"No {i}", f"c{i}@x.test", "Europe/Amsterdam", "nl") for i in range(n)]


def meetings(n: int, day: str = "2026-12-02") -> list[dict[str, Any]]:
    return [event(f"c{i}", f"{day}T{8 + i % 8:02d}:{(i * 7) % 60:02d}:00Z") for i in range(n)]


def calls(bot: Prepbot, now: str) -> int:
    before = bot.org.api_calls.used
    bot.tick(now)
    return int(bot.org.api_calls.used - before)


def booked_an_hour_ago(bot: Prepbot) -> None:
    """The org's clock moves past the bookings: they are older than the sync's overlap."""
    bot.org.set_now(datetime.now(UTC) + timedelta(hours=1))


def test_a_days_cycle_costs_the_api_minimum(prepbot_org: Any) -> None:
    bot = prepbot_org(clients(N), meetings(N))
    cost = calls(bot, DAY)
    assert len(bot.org.smtp_messages) == N
    statuses = {row["status"] for row in bot.log() if row["kind"] == "confirmation"}
    assert statuses == {"logged"}
    minimum = math.ceil(N / 2000) + 2 * math.ceil(N / 200)  # read + Tasks + notes
    assert cost == minimum  # before issue 7: a re-read per batch and every note written twice


def test_a_steady_sync_with_nothing_changed_costs_one_call(prepbot_org: Any) -> None:
    bot = prepbot_org(clients(20), meetings(20))
    booked_an_hour_ago(bot)
    calls(bot, DAY)
    # a new process each time (the CLI builds its adapter anew): nothing remembered in memory
    assert calls(bot, "2026-12-01T09:05:00Z") == 1
    assert calls(bot, "2026-12-01T09:10:00Z") == 1


def test_one_call_sees_a_move_a_delete_a_new_booking_and_the_window_moving_on(prepbot_org: Any) -> None:
    people = clients(4)
    plan = [
        event("c0", "2026-12-02T09:00:00Z"),  # moved to the 3rd
        event("c1", "2026-12-02T10:00:00Z"),  # deleted
        event("c2", "2026-12-05T07:00:00Z"),  # beyond the 4-day window at the first sync
    ]
    bot = prepbot_org(people, plan)
    booked_an_hour_ago(bot)
    calls(bot, "2026-11-30T09:00:00Z")  # the first sync reads the whole window
    sf = bot.org.client()
    sf.Event.update(bot.event_id("c0@x.test"), {"StartDateTime": "2026-12-03T09:00:00Z"})
    sf.Event.delete(bot.event_id("c1@x.test"))
    owner = sf.query("SELECT Id FROM User WHERE Username = 'anouk@team.test'")["records"][0]["Id"]
    who = sf.query("SELECT Id FROM Contact WHERE Email = 'c3@x.test'")["records"][0]["Id"]
    sf.Event.create(
        {"Subject": "New", "WhoId": who, "OwnerId": owner, "StartDateTime": "2026-12-02T11:00:00Z",
         "DurationInMinutes": 30, "Type": "Meeting"}
    )  # fmt: skip
    # 23 hours later, ONE read gives all four changes (the window's new slice brings in c2)
    assert calls(bot, "2026-12-01T08:00:00Z") == 1
    rows = {(r["recipient"], r["status"]) for r in bot.log() if r["kind"] == "confirmation"}
    assert ("c1@x.test", "cancelled") in rows
    assert ("c0@x.test", "superseded") in rows and ("c0@x.test", "planned") in rows
    assert ("c3@x.test", "planned") in rows  # booked for tomorrow: confirmed at 10:00
    assert ("c2@x.test", "planned") in rows  # entered the window as time moved on
