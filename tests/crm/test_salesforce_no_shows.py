"""Contract: the no-show read path (missed meetings by the mapped field, contacts' future meetings)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prepbot.crm.salesforce import FieldMapping, SalesforceCrm
from tests.crm.orgdata import DAY, event, org_with

Factory = Callable[..., SalesforceCrm]
NOW = DAY + timedelta(hours=20)


def _org() -> dict[str, Any]:
    return org_with(
        [
            event(
                "missed",
                DAY + timedelta(hours=9),
                WhoId="@farmer",
                WhatId="@deal",
                Meeting_Outcome__c="No Show",
            ),
            event("held", DAY + timedelta(hours=10), WhoId="@manager", Meeting_Outcome__c="Held"),
            event("unmarked", DAY + timedelta(hours=11), WhoId="@manager"),
            event("old", DAY - timedelta(days=5), WhoId="@lead", Meeting_Outcome__c="No Show"),
            event("lead_missed", DAY + timedelta(hours=12), WhoId="@lead", Meeting_Outcome__c="No Show"),
            event("ahead", DAY + timedelta(days=3), WhoId="@farmer"),
            event("ahead_lead", DAY - timedelta(days=9), WhoId="@lead"),
        ]
    )


def test_only_meetings_marked_no_show_in_the_window_are_read_with_the_full_record(
    sandbox_factory: Callable[..., Any], crm_for: Factory
) -> None:
    crm = crm_for(sandbox_factory(seed_data=_org()))
    missed = list(crm.no_shows_between(NOW - timedelta(hours=48), NOW))
    assert [m.subject for m in missed] == ["Meeting missed", "Meeting lead_missed"]
    first = missed[0]
    assert first.no_show and first.who is not None and first.who.email == "jan@devries.example"
    assert first.what is not None and first.what.kind == "Opportunity" and first.what.roles
    assert first.owner is not None and first.owner.time_zone == "Europe/Amsterdam"


def test_nothing_is_read_when_no_field_is_mapped(
    sandbox_factory: Callable[..., Any], crm_for: Factory
) -> None:
    crm = crm_for(sandbox_factory(seed_data=_org()), fields=FieldMapping())
    assert list(crm.no_shows_between(NOW - timedelta(hours=48), NOW)) == []
    assert crm.calls_made == 0


def test_a_checkbox_field_is_compared_as_a_boolean(
    sandbox_factory: Callable[..., Any], crm_for: Factory
) -> None:
    seed = org_with(
        [
            event("missed", DAY + timedelta(hours=9), WhoId="@farmer", No_Show__c=True),
            event("held", DAY + timedelta(hours=10), WhoId="@farmer", No_Show__c=False),
        ]
    )
    seed["$fields"] = {**seed["$fields"], "Event": {"No_Show__c": {"type": "boolean"}}}
    mapping = FieldMapping(event_no_show_field="No_Show__c", event_no_show_value="true")
    crm = crm_for(sandbox_factory(seed_data=seed), fields=mapping)
    assert [m.subject for m in crm.no_shows_between(DAY, NOW)] == ["Meeting missed"]


def test_future_meetings_of_names_only_the_people_with_a_meeting_ahead_in_one_call(
    sandbox_factory: Callable[..., Any], crm_for: Factory
) -> None:
    org = sandbox_factory(seed_data=_org())
    crm = crm_for(org)
    ids = {m.subject: m.who.id for m in crm.meetings_between(DAY - timedelta(days=10), NOW) if m.who}
    farmer, manager, lead = ids["Meeting missed"], ids["Meeting held"], ids["Meeting lead_missed"]
    before = crm.calls_made
    assert crm.future_meetings_of([farmer, manager, lead], NOW) == {farmer}
    assert crm.calls_made == before + 1
    assert crm.future_meetings_of([farmer, manager, lead], DAY + timedelta(days=4)) == set()
    assert crm.future_meetings_of([], NOW) == set()
