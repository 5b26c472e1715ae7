"""Contract: SalesforceCrm's read path against the sandbox org over HTTPS (unmodified simple-salesforce)."""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from prepbot.crm.salesforce import FieldMapping, SalesforceCrm
from prepbot.crm.soql import window_query
from prepbot.errors import ConfigError
from prepbot.sandbox.runner import start_sandbox
from tests.crm.orgdata import DAY, deal_per_meeting, event, generated_events, org_with

END = DAY + timedelta(days=1)
Factory = Callable[..., SalesforceCrm]


@pytest.fixture(scope="module")
def big_org() -> Iterator[Any]:
    """One sandbox with 5,000 meetings on DAY, shared by the paging tests of this module (read-only)."""
    handle = start_sandbox(seed_data=org_with(generated_events(5000)))
    yield handle
    handle.stop()


@pytest.mark.slow
@pytest.mark.parametrize("page_size", [2000, 200])
def test_5000_meetings_are_read_exactly_once_across_pages(
    big_org: Any, crm_for: Factory, page_size: int
) -> None:
    crm = crm_for(big_org, page_size=page_size)
    meetings = list(crm.meetings_between(DAY, END))
    ids = [m.event_id for m in meetings]
    assert len(ids) == 5000 and len(set(ids)) == 5000
    pages = math.ceil(5000 / page_size)
    # one call per page of Events; the one Opportunity's roles are read once, on the first page
    assert crm.calls_made == pages + 1
    starts = [m.start_at for m in meetings if m.start_at]
    assert starts == sorted(starts)


@pytest.mark.slow
def test_the_next_page_is_asked_for_while_the_caller_works_on_this_one(
    big_org: Any, crm_for: Factory
) -> None:
    """Issue 7: a tick sends one page's meetings while the org answers the next page."""
    crm = crm_for(big_org, page_size=2000)
    pages = crm._pages(window_query(crm._fields, DAY, END))
    first = next(pages)
    deadline = time.monotonic() + 60
    while crm.calls_made < 2 and time.monotonic() < deadline:  # the caller is busy with page 1
        time.sleep(0.01)
    assert crm.calls_made == 2  # page 2 asked for before the caller wanted it
    rest = [row for page in pages for row in page]
    assert len(first) == 2000 and len(first) + len(rest) == 5000
    assert crm.calls_made == 3  # one call per page, none twice


@pytest.mark.slow
def test_the_orgs_replies_are_parsed_into_plain_dicts(big_org: Any, crm_for: Factory) -> None:
    """simple-salesforce's default hook makes every JSON object an OrderedDict, which doubles the
    parse of a page of Events (issue 7); a plain dict keeps the org's key order as well."""
    crm = crm_for(big_org)
    page = crm.call("query", lambda sf: sf.query("SELECT Id, Subject, Who.Name FROM Event LIMIT 3"))
    records = page["records"]
    assert type(page) is dict and [type(r) for r in records] == [dict] * 3
    assert [type(r["attributes"]) for r in records] == [dict] * 3
    assert list(records[0]) == ["attributes", "Id", "Subject", "Who"]


def _live_event_rows() -> int:
    """Event rows, parsed or the in-process sandbox's, that this process still holds."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is dict and _is_event_row(o))


def _is_event_row(o: dict[Any, Any]) -> bool:
    attributes = o.get("attributes")
    return isinstance(attributes, dict) and attributes.get("type") == "Event"


@pytest.mark.slow
def test_a_read_holds_no_page_of_rows_it_has_handed_out(big_org: Any, crm_for: Factory) -> None:
    """Issue 7 (memory): pages of 2,000, 2,000 and 1,000 Events. Once the last page's meetings are
    being handed out, neither its rows nor the first page's are held by the read (they were: 3,000)."""
    crm = crm_for(big_org, page_size=2000)
    before = _live_event_rows()  # rows another test of this process may still hold
    meetings = crm.meetings_between(DAY, END)
    for _ in range(4001):  # the first meeting of the third page
        next(meetings)
    assert crm.calls_made == 4  # three pages and the roles: nothing left in flight
    assert _live_event_rows() == before
    assert len(list(meetings)) == 999


@pytest.mark.slow
def test_meetings_by_id_rereads_in_batches_and_skips_unknown_ids(big_org: Any, crm_for: Factory) -> None:
    crm = crm_for(big_org)
    wanted = [m.event_id for m in crm.meetings_between(DAY, DAY + timedelta(hours=3))]
    missing = "00U000000000000AAA"
    found = crm_for(big_org).meetings_by_id([*wanted, missing])
    assert set(found) == set(wanted) and missing not in found


def test_read_path_call_count_does_not_grow_with_the_number_of_meetings(
    sandbox_factory: Callable[..., Any], crm_for: Factory
) -> None:
    counts = {}
    for n in (10, 1500):
        org = sandbox_factory(seed_data=org_with(generated_events(n)))
        crm = crm_for(org)
        before = org.api_calls.used
        assert sum(1 for _ in crm.meetings_between(DAY, END)) == n
        counts[n] = org.api_calls.used - before
    assert counts[10] == counts[1500] == 2  # one Event page, one OpportunityContactRole query


def test_roles_of_1500_distinct_opportunities_cost_one_composite_call(
    sandbox_factory: Callable[..., Any], crm_for: Factory
) -> None:
    org = sandbox_factory(seed_data=deal_per_meeting(1500))
    crm = crm_for(org)
    before = org.api_calls.used
    meetings = list(crm.meetings_between(DAY, END))
    assert org.api_calls.used - before == 2  # the sandbox counts a composite call once
    assert len({m.what.id for m in meetings if m.what}) == 1500
    assert all(m.what and [r.contact_name for r in m.what.roles] == ["Jan de Vries"] for m in meetings)
    assert crm.calls_made == 2  # one Event page + one composite call carrying 4 role queries


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    evening = DAY + timedelta(hours=18)
    return org_with(
        [
            event(
                "contact_meeting",
                DAY + timedelta(hours=9),
                WhoId="@farmer",
                WhatId="@deal",
                Location="Dorpsweg 1, Emmen",
                Type="Meeting",
                Meeting_Outcome__c="No Show",
                Travel_Distance_km__c=200.5,
            ),
            event("lead_meeting", DAY + timedelta(hours=10), WhoId="@lead", OwnerId="@owner2"),
            event("account_meeting", evening, WhoId="@manager", WhatId="@farm", Meeting_Outcome__c="Held"),
            event("nobody", DAY + timedelta(hours=11)),
            event("too_early", DAY - timedelta(minutes=1), WhoId="@farmer"),
            event("at_the_end", END, WhoId="@farmer"),
            {
                "$key": "all_day",
                "Subject": "Farm fair",
                "IsAllDayEvent": True,
                "ActivityDate": DAY.date().isoformat(),
                "WhoId": "@farmer",
                "OwnerId": "@runner",
            },
            {
                "$key": "all_day_later",
                "Subject": "Later fair",
                "IsAllDayEvent": True,
                "ActivityDate": (DAY.date() + timedelta(days=3)).isoformat(),
                "OwnerId": "@runner",
            },
            event("child_copy", DAY + timedelta(hours=12), WhoId="@farmer", IsChild=True),
            event("series_master", DAY + timedelta(hours=13), WhoId="@farmer", IsRecurrence=True),
        ],
        EventRelation=[
            {
                "EventId": "@contact_meeting",
                "RelationId": "@manager",
                "IsInvitee": True,
                "Status": "Accepted",
            },
            {"EventId": "@contact_meeting", "RelationId": "@owner2", "IsInvitee": True},
        ],
    )


def by_subject(crm: SalesforceCrm) -> dict[str | None, Any]:
    return {m.subject: m for m in crm.meetings_between(DAY, END)}


def test_window_selects_timed_meetings_by_instant_and_all_day_ones_by_date(
    sandbox: Any, crm_for: Factory
) -> None:
    found = by_subject(crm_for(sandbox))
    assert set(found) == {
        "Meeting contact_meeting",
        "Meeting lead_meeting",
        "Meeting account_meeting",
        "Meeting nobody",
        "Farm fair",
    }  # not: outside the window, child copies, series masters, an all-day event 3 days later
    fair = found["Farm fair"]
    assert fair.all_day and fair.start_at is None and fair.activity_date == date(2026, 12, 1)
    assert found["Meeting nobody"].who is None and found["Meeting nobody"].what is None


def test_a_contact_meeting_carries_every_mapped_field(sandbox: Any, crm_for: Factory) -> None:
    m = by_subject(crm_for(sandbox))["Meeting contact_meeting"]
    assert m.start_at == DAY + timedelta(hours=9) and m.end_at == DAY + timedelta(hours=10)
    assert (m.location, m.event_type, m.no_show, m.travel_distance_km) == (
        "Dorpsweg 1, Emmen",
        "Meeting",
        True,
        200.5,
    )
    who = m.who
    assert who is not None and who.kind == "Contact"
    assert (who.salutation, who.first_name, who.last_name, who.title) == ("Mr.", "Jan", "de Vries", "Owner")
    assert (who.email, who.opted_out, who.bounced, who.phone) == (
        "jan@devries.example",
        False,
        False,
        "+31 6 1234 5678",
    )
    assert (who.mailing_street, who.mailing_city, who.mailing_postal_code) == (
        "Dorpsweg 1",
        "Emmen",
        "7811 AA",
    )
    assert (who.mailing_country, who.mailing_country_code) == ("Netherlands", "NL")
    assert (who.company, who.lead_source, who.language, who.time_zone) == (
        "Boerderij de Vries",
        "Referral",
        "nl",
        "Europe/Amsterdam",
    )
    deal = m.what
    assert deal is not None and (deal.kind, deal.name, deal.stage) == (
        "Opportunity",
        "Milking robots",
        "Qualification",
    )
    assert (deal.account_name, deal.lead_source, deal.is_closed, deal.is_won) == (
        "Boerderij de Vries",
        "Referral",
        False,
        False,
    )
    roles = {(r.contact_name, r.role, r.is_primary) for r in deal.roles}
    assert roles == {("Jan de Vries", "Decision Maker", True), ("Petrov", "Influencer", False)}
    # where a decider is matters to the absent-decision-maker script ("Anna de Vries, in Spain")
    assert {r.contact_name: r.contact_country for r in deal.roles}["Jan de Vries"] == "Netherlands"
    owner = m.owner
    assert owner is not None and (owner.name, owner.time_zone, owner.locale) == (
        "Integration User",
        "Europe/Amsterdam",
        "nl_NL",
    )
    invitees = {(i.kind, i.name, i.status) for i in m.invitees}
    assert invitees == {("Contact", "Petrov", "Accepted"), ("User", "Anna Smit", "New")}


def test_a_lead_meeting_maps_the_lead_and_its_owner(sandbox: Any, crm_for: Factory) -> None:
    m = by_subject(crm_for(sandbox))["Meeting lead_meeting"]
    who = m.who
    assert who is not None and who.kind == "Lead"
    assert (who.name, who.company, who.mailing_city, who.mailing_country_code) == (
        "Olga Ivanova",
        "Ivanova Agro",
        "Kazan",
        "RU",
    )
    assert (who.language, who.time_zone, who.is_converted) == ("ru", "Europe/Moscow", False)
    assert m.what is None and not m.no_show
    assert m.owner is not None and (m.owner.name, m.owner.time_zone, m.owner.email) == (
        "Anna Smit",
        "America/New_York",
        "anna@example.test",
    )


def test_an_account_what_and_another_outcome_are_mapped(sandbox: Any, crm_for: Factory) -> None:
    m = by_subject(crm_for(sandbox))["Meeting account_meeting"]
    assert m.what is not None and (m.what.kind, m.what.name, m.what.roles) == (
        "Account",
        "Boerderij de Vries",
        (),
    )
    assert not m.no_show and m.travel_distance_km is None


def test_check_fields_accepts_existing_fields_and_names_an_unknown_one(
    sandbox: Any, crm_for: Factory
) -> None:
    crm_for(sandbox).check_fields()
    bad = crm_for(sandbox, fields=FieldMapping(contact_language="Langauge__c"))
    with pytest.raises(ConfigError) as exc:
        bad.check_fields()
    assert exc.value.key == "salesforce.fields.contact_language"
    assert "Langauge__c" in str(exc.value)
