"""Contract: incremental sync (changes_since) on SystemModstamp through queryAll, against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prepbot.crm.salesforce import SalesforceCrm
from tests.crm.orgdata import DAY, generated_events, org_with, sf_time

Factory = Callable[..., SalesforceCrm]
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def until() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    return org_with(generated_events(30))


def test_a_first_sync_sees_every_meeting_and_a_watermark_from_the_org(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox)
    changes = crm.changes_since(LONG_AGO, until())
    assert len(changes.meetings) == 30 and changes.deleted_ids == ()
    assert changes.watermark == max(m.modstamp for m in changes.meetings if m.modstamp)


def test_moved_and_deleted_meetings_are_seen_by_the_next_sync(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox)
    first = crm.changes_since(LONG_AGO, until())
    moved, gone = first.meetings[0].event_id, first.meetings[1].event_id
    sandbox.set_now(first.watermark + timedelta(seconds=10))  # the org's clock moves on
    sf = sandbox.client()
    new_start = DAY + timedelta(days=2, hours=15)
    sf.restful(
        f"sobjects/Event/{moved}",
        method="PATCH",
        json={"StartDateTime": sf_time(new_start), "EndDateTime": sf_time(new_start + timedelta(hours=1))},
    )
    sf.restful(f"sobjects/Event/{gone}", method="DELETE")

    second = crm.changes_since(first.watermark, until())
    assert [m.event_id for m in second.meetings] == [moved]
    assert second.meetings[0].start_at == new_start
    assert second.deleted_ids == (gone,)
    assert second.watermark == first.watermark + timedelta(seconds=10)


def test_a_change_within_the_same_second_as_the_watermark_is_not_lost(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox)
    first = crm.changes_since(LONG_AGO, until())
    sandbox.set_now(first.watermark)  # SystemModstamp has second precision: same stamp, new content
    edited = first.meetings[3].event_id
    sandbox.client().restful(f"sobjects/Event/{edited}", method="PATCH", json={"Location": "Reception desk"})
    second = crm.changes_since(first.watermark, until())
    assert [(m.event_id, m.location) for m in second.meetings] == [(edited, "Reception desk")]
    assert second.watermark == first.watermark


def test_a_steady_state_sync_with_nothing_changed_costs_exactly_one_call(
    sandbox: Any, crm_for: Factory
) -> None:
    crm = crm_for(sandbox)
    first = crm.changes_since(LONG_AGO, until())
    before = sandbox.api_calls.used
    again = crm.changes_since(first.watermark, until())
    assert sandbox.api_calls.used - before == 1
    assert (again.meetings, again.deleted_ids, again.watermark) == ((), (), first.watermark)


def test_a_restarted_adapter_reports_the_overlap_again_rather_than_lose_it(
    sandbox: Any, crm_for: Factory
) -> None:
    first = crm_for(sandbox).changes_since(LONG_AGO, until())
    fresh = crm_for(sandbox).changes_since(first.watermark, until())
    # no memory of what was reported: the overlap window comes back (the ledger dedupes by key)
    assert {m.event_id for m in fresh.meetings} <= {m.event_id for m in first.meetings}
    assert fresh.meetings and fresh.watermark == first.watermark
