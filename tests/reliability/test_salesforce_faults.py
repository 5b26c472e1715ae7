"""reliability.md F1-F9 through `prepbot tick`: what the ledger, the client, the owner and the exit
code see when the org misbehaves (the adapter's error mapping is tested in tests/crm)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import event
from tests.reliability.fault_env import DUE, Bot, clients, meetings_for, sjoerd, start_bot

API_ROUTES = ("query*", "composite*", "sobjects*", "actions*", "limits*")  # all but the token endpoint


def counter(bot: Bot, route: str, method: str | None = None) -> Any:
    """A fault that changes nothing ("slow" by 0 s) but counts the calls to ``route`` in ``seen``."""
    return bot.org.faults.add(route, "slow", times=None, delay=0, method=method)


def sent_to(bot: Bot) -> Counter[str]:
    return Counter(str(m["To"].addresses[0].addr_spec) for m in bot.sink_messages())


def one_meeting(sandbox_factory: Callable[..., Any], tmp_path: Path, **kwargs: Any) -> Bot:
    events = [event("ams", "2026-12-02T13:00:00Z", WhatId=None)]
    return start_bot(sandbox_factory, tmp_path, [sjoerd()], events, **kwargs)


# -- F1, F2: expired sessions ---------------------------------------------------------------------


def test_f1_a_401_once_mints_one_new_token_and_the_cycle_succeeds(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    bot = one_meeting(sandbox_factory, tmp_path, jwt=True)
    tokens = counter(bot, "oauth2/token")
    # the tick's one read of the org (a sync sends what it has just read, with no second read)
    expired = bot.org.faults.add("query*", "session_expired", nth=1, times=1)
    result = bot.tick(DUE)
    assert result.exit_code == 0, result.output
    assert expired.fired == 1 and tokens.seen == 2  # the start token, and one refresh
    assert [r["status"] for r in bot.rows()] == ["logged"]
    assert sent_to(bot) == Counter({"sjoerd@farm.test": 1})


def test_f2_401_for_ever_alerts_auth_broken_calls_stay_bounded_and_nothing_goes_unread(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    bot = one_meeting(sandbox_factory, tmp_path, jwt=True)
    bot.tick("2026-11-30T09:00:00Z")  # planned while the org could still be read
    faults = [bot.org.faults.add(route, "session_expired", times=None) for route in API_ROUTES]
    results = [bot.tick(at) for at in (DUE, "2026-12-01T09:10:00Z", "2026-12-01T15:00:00Z")]
    calls = sum(f.fired for f in faults)
    assert all(r.exit_code == 1 and "auth broken" in r.stderr for r in results)
    assert calls == 2 * len(results)  # per cycle: one call and its retry with a new token, then none
    assert bot.org.smtp_messages == []  # never sent without re-reading the meeting
    [row] = bot.rows()
    assert row["status"] == "planned" and "crm_unavailable" in row["reason"]
    last = bot.tick("2026-12-02T09:55:00Z")  # the next retry would land inside min_notice (13:00 - 3 h)
    assert bot.org.smtp_messages == []
    [row] = bot.rows()
    assert (row["status"], row["reason"]) == ("skipped", "crm_unavailable")
    assert last.exit_code == 1 and "auth broken" in last.stderr


# -- F3: REQUEST_LIMIT_EXCEEDED ---------------------------------------------------------------------


def test_f3_limit_exceeded_backs_off_confirmations_wait_and_go_out_after(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    bot = start_bot(sandbox_factory, tmp_path, clients(3), meetings_for(3), salesforce={"max_retries": 2})
    bot.tick("2026-11-30T09:00:00Z")  # planned before the limit is hit
    limits = [bot.org.faults.add(route, "limit_exceeded", times=None) for route in API_ROUTES]
    during = [bot.tick(at) for at in (DUE, "2026-12-01T09:05:00Z", "2026-12-01T09:10:00Z")]
    assert sum(f.fired for f in limits) <= len(during)  # one probe per cycle: no retries during back-off
    # the back-off is reported: the limit and how long no call will be made
    assert all("REQUEST_LIMIT_EXCEEDED" in r.stderr for r in during)
    assert "no calls for another 900 s" in during[0].stderr  # the due rows were held, not sent unread
    assert bot.org.smtp_messages == []
    assert {r["status"] for r in bot.rows()} == {"planned"}
    assert all("REQUEST_LIMIT_EXCEEDED" in r["reason"] for r in bot.rows())
    bot.org.faults.clear()
    after = bot.tick("2026-12-01T09:20:00Z")
    assert after.exit_code == 0, after.output
    rows = bot.rows()
    assert {r["status"] for r in rows} == {"logged"}
    assert all(r["sent_at"].startswith("2026-12-01T09:20") for r in rows)  # 20 min late, on the record
    assert sorted(sent_to(bot).values()) == [1, 1, 1]


# -- F4: INSUFFICIENT_ACCESS on the note --------------------------------------------------------------


def test_f4_no_access_to_notes_is_permanent_alerted_and_the_confirmation_still_goes(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    bot = one_meeting(sandbox_factory, tmp_path)
    refused = bot.org.faults.add("composite", "insufficient_access", times=None, method="POST")
    result = bot.tick(DUE)
    assert refused.fired >= 1
    assert result.exit_code == 1 and "INSUFFICIENT_ACCESS" in result.stderr
    assert "not written" in result.stderr and "permanent" in result.stderr
    assert bot.notes() == []
    assert [r["status"] for r in bot.rows()] == ["logged"]
    assert sent_to(bot) == Counter({"sjoerd@farm.test": 1})
    assert len(bot.tasks()) == 1


# -- F5: random 5xx, timeouts, truncated JSON ----------------------------------------------------------


def test_f5_random_faults_on_a_tenth_of_the_calls_lose_nothing_and_double_nothing(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    seed = 20261201
    rng = random.Random(seed)
    bot = start_bot(
        sandbox_factory,
        tmp_path,
        clients(12),
        meetings_for(12),
        salesforce={"timeout_seconds": 1, "max_retries": 4},
        schedule={"batch_size": 4},
    )
    kinds = ["unavailable", "server_error", "truncated", "slow"]
    injected = Counter[str]()
    for nth in range(1, 120):
        if rng.random() < 0.10:
            kind = rng.choice(kinds)
            injected[kind] += 1
            bot.org.faults.add("*", kind, nth=nth, times=1, delay=1.5 if kind == "slow" else 0)
    outputs = [bot.tick(f"2026-12-01T09:{m:02d}:00Z").output for m in (0, 10, 20, 30, 40)]
    assert sum(injected.values()) >= 8, f"seed {seed}: {injected}"
    bot.org.faults.clear()  # faults prepbot's few calls did not reach must not hit the checks below
    rows = bot.rows()
    assert {r["status"] for r in rows} == {"logged"}, (seed, rows)  # O2: nothing lost
    assert sorted(sent_to(bot).values()) == [1] * 12  # O1: no client got two
    tasks = Counter(t["WhoId"] for t in bot.tasks() if str(t["Subject"]).startswith("Email"))
    assert sorted(tasks.values()) == [1] * 12, tasks  # one Task per sent email, none doubled
    assert all("salesforce api:" in out and "calls this cycle" in out for out in outputs)


# -- F6: one locked record in a collection ------------------------------------------------------------


def test_f6_a_locked_task_in_a_collection_is_retried_alone(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    bot = start_bot(sandbox_factory, tmp_path, clients(3), meetings_for(3))
    collections = counter(bot, "composite/sobjects", method="POST")
    bot.org.faults.add("composite/sobjects", "lock_record", record=1, times=1, method="POST")
    result = bot.tick(DUE)
    assert result.exit_code == 0, result.output
    assert collections.seen == 2  # the batch of three, then the locked one alone
    assert sorted(Counter(t["WhoId"] for t in bot.tasks()).values()) == [1, 1, 1]
    assert {r["status"] for r in bot.rows()} == {"logged"}


# -- F7: upsert by External ID --------------------------------------------------------------------


def test_f7_prepbot_never_upserts_by_external_id(sandbox_factory: Callable[..., Any], tmp_path: Path) -> None:
    """F7 (300 on a duplicate External ID) cannot happen: prepbot never upserts. Tasks are created
    once per ledger row and the row's LOGGED state (with the Task Id) is the idempotency record; a
    ContentNote cannot be upserted at all (reliability Fact 6), so notes go by the ledger's notes
    table. Asserted here: a whole cycle with Tasks and notes makes no PATCH to an upsert route
    (``sobjects/<Type>/<ExternalIdField>/<value>`` or ``composite/sobjects/<Type>/<ExternalIdField>``)."""
    bot = start_bot(sandbox_factory, tmp_path, clients(2), meetings_for(2))
    upserts = [
        counter(bot, "sobjects/*/*/*", method="PATCH"),
        counter(bot, "composite/sobjects/*", method="PATCH"),
    ]
    bot.tick(DUE)
    assert {r["status"] for r in bot.rows()} == {"logged"} and len(bot.tasks()) == 2
    assert [u.seen for u in upserts] == [0, 0]


# -- F8: the daily API budget nearly used up ------------------------------------------------------------


def test_f8_at_95_percent_api_usage_prep_notes_wait_and_confirmations_still_go(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    bot = one_meeting(sandbox_factory, tmp_path)
    bot.org.api_calls.reset(used=14_300, daily_max=15_000)
    result = bot.tick(DUE)
    assert result.exit_code == 0, result.output
    assert [r["status"] for r in bot.rows()] == ["logged"]
    assert sent_to(bot) == Counter({"sjoerd@farm.test": 1})
    assert bot.notes() == []
    assert "note_deferred 1" in result.stdout and "1 prep notes deferred" in result.stdout
    bot.org.api_calls.reset(used=1_000, daily_max=15_000)  # a new day
    later = bot.tick("2026-12-01T09:10:00Z")
    assert "note_created 1" in later.stdout, later.output
    assert len(bot.notes()) == 1


# -- F9: pagination --------------------------------------------------------------------------------


@pytest.mark.slow
def test_f9_2500_events_over_two_pages_are_all_planned_once(
    sandbox_factory: Callable[..., Any], tmp_path: Path
) -> None:
    n = 2_500
    bot = start_bot(
        sandbox_factory,
        tmp_path,
        clients(n),
        meetings_for(n, start="2026-12-04T13:00:00Z"),  # Friday: due Thursday, nothing sent now
        notes={"enabled": False},
        no_show={"enabled": False},
    )
    queries = counter(bot, "query*", method="GET")
    result = bot.tick("2026-12-01T09:00:00Z")
    assert result.exit_code == 0, result.output
    assert f"meetings {n}, planned {n}" in result.stdout
    assert queries.seen >= 2  # 2,000 a page: the second came through nextRecordsUrl
    rows = bot.rows()
    assert len(rows) == n and len({(r["event_id"], r["recipient"]) for r in rows}) == n
    again = bot.tick("2026-12-01T09:05:00Z")
    assert f"meetings {n}, planned 0" in again.stdout
