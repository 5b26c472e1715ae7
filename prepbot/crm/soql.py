"""SOQL for the read path: the field mapping and the Event/OpportunityContactRole query templates."""

from __future__ import annotations

# Queries are returned as ``Soql(template, args)``: the template holds ``{}`` placeholders for
# literals, which ``prepbot.crm.salesforce`` fills with simple-salesforce's ``format_soql`` (the
# only module importing simple_salesforce). Field names never go through a placeholder; they are
# checked against ``FIELD_NAME`` so that no mapped name can inject SOQL.
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from typing import NamedTuple

# A Salesforce API field name: letters, digits and single underscores, optional namespace and "__c".
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")

# Any place on Earth has a UTC offset in [-12:00, +14:00]; a calendar date D therefore begins
# somewhere between D-14h and D+12h UTC. Dates covering the window "in any zone" are found by
# widening the UTC window by 14 hours on both sides (a superset; the planner decides per zone).
ALL_DAY_SLACK = timedelta(hours=14)

# Salesforce answers 414 for long GET URLs (roughly 16 KB). An 18-character Id costs 27 URL-encoded
# characters inside IN ('..','..'), so 400 Ids keep the query near 11 KB.
IN_BATCH = 400


class Soql(NamedTuple):
    """A query template with ``{}`` placeholders, and the literal values that fill them."""

    template: str
    args: tuple[object, ...] = ()


@dataclass(frozen=True, slots=True)
class FieldMapping:
    """Optional custom fields prepbot reads, by Salesforce API name (None = not mapped).

    ``event_no_show_field`` holding ``event_no_show_value`` marks a missed meeting.
    """

    contact_language: str | None = None
    contact_time_zone: str | None = None
    lead_language: str | None = None
    lead_time_zone: str | None = None
    event_no_show_field: str | None = None
    event_no_show_value: str = "No Show"
    event_travel_distance: str | None = None

    def __post_init__(self) -> None:
        for name, (_obj, api_name) in self.mapped().items():
            if not FIELD_NAME.match(api_name):
                raise ValueError(f"salesforce.fields.{name}: {api_name!r} is not a Salesforce field name")

    def mapped(self) -> dict[str, tuple[str, str]]:
        """Logical name -> (sObject, API field name) for every mapped field."""
        objects = {"contact": "Contact", "lead": "Lead", "event": "Event"}
        out: dict[str, tuple[str, str]] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "event_no_show_value" or value is None:
                continue
            out[f.name] = (objects[f.name.split("_", 1)[0]], value)
        return out

    def on(self, sobject: str) -> list[str]:
        """The mapped API field names on one sObject, without duplicates, in declaration order."""
        names = [api for obj, api in self.mapped().values() if obj == sobject]
        return list(dict.fromkeys(names))


CONTACT_FIELDS = (
    "Id, FirstName, LastName, Salutation, Title, Email, HasOptedOutOfEmail, IsEmailBounced, Phone, "
    "MailingStreet, MailingCity, MailingPostalCode, MailingCountry, MailingCountryCode, "
    "AccountId, Account.Name, LeadSource"
)
LEAD_FIELDS = (
    "Id, FirstName, LastName, Salutation, Title, Email, HasOptedOutOfEmail, IsEmailBounced, Phone, "
    "Street, City, PostalCode, Country, CountryCode, Company, LeadSource, IsConverted"
)
OPPORTUNITY_FIELDS = "Id, Name, StageName, AccountId, Account.Name, LeadSource, IsClosed, IsWon"
USER_FIELDS = (
    "Id, Name, FirstName, LastName, Email, TimeZoneSidKey, LocaleSidKey, LanguageLocaleKey, "
    "IsActive, Title, Phone"
)
EVENT_FIELDS = (
    "Id, Subject, StartDateTime, EndDateTime, IsAllDayEvent, ActivityDate, Location, Description, "
    "Type, ShowAs, IsPrivate, OwnerId, WhoId, WhatId, RecurrenceActivityId, SystemModstamp, IsDeleted"
)
INVITEES = (
    "(SELECT RelationId, Status, IsInvitee, Relation.Name, Relation.Email "
    "FROM EventRelations WHERE IsInvitee = true)"
)
# Series masters hold a pattern, not a meeting; child events are per-invitee copies (brief §1.2).
NOT_COPIES = "IsChild = false AND IsRecurrence = false"


def _join(*parts: str) -> str:
    return ", ".join(p for p in parts if p)


def event_select(mapping: FieldMapping) -> str:
    """The SELECT list of every Event query: the Event, its Who, What, Owner and invitees."""
    who = (
        f"TYPEOF Who WHEN Contact THEN {_join(CONTACT_FIELDS, *mapping.on('Contact'))} "
        f"WHEN Lead THEN {_join(LEAD_FIELDS, *mapping.on('Lead'))} END"
    )
    what = f"TYPEOF What WHEN Opportunity THEN {OPPORTUNITY_FIELDS} WHEN Account THEN Id, Name ELSE Name END"
    owner = f"TYPEOF Owner WHEN User THEN {USER_FIELDS} ELSE Name END"
    return "SELECT " + _join(EVENT_FIELDS, *mapping.on("Event"), who, what, owner, INVITEES) + " FROM Event"


def all_day_dates(start_at: datetime, end_at: datetime) -> tuple[date, date]:
    """Inclusive ActivityDate bounds for all-day events that start in ``[start_at, end_at)`` in some zone."""
    return (start_at - ALL_DAY_SLACK).date(), (end_at + ALL_DAY_SLACK).date()


def window_query(mapping: FieldMapping, start_at: datetime, end_at: datetime) -> Soql:
    """Timed events by StartDateTime (UTC instants), all-day events by ActivityDate (dates)."""
    d1, d2 = all_day_dates(start_at, end_at)
    where = (
        f" WHERE {NOT_COPIES} AND ((IsAllDayEvent = false AND StartDateTime >= {{}} AND StartDateTime < {{}})"
        " OR (IsAllDayEvent = true AND ActivityDate >= {} AND ActivityDate <= {}))"
        " ORDER BY StartDateTime, Id"
    )
    return Soql(event_select(mapping) + where, (start_at, end_at, d1, d2))


def by_id_query(mapping: FieldMapping, event_ids: Sequence[str]) -> Soql:
    """The same shape, for a batch (<= IN_BATCH) of Event Ids."""
    return Soql(event_select(mapping) + " WHERE Id IN {} ORDER BY Id", (list(event_ids),))


def changes_query(
    mapping: FieldMapping,
    since: datetime,
    until: datetime,
    starting: tuple[datetime, datetime] | None = None,
) -> Soql:
    """Events whose SystemModstamp is in ``[since, until)``; sent to queryAll so deletions show.

    ``starting``: also the Events that start in that window (as ``window_query`` selects them), changed
    or not: the slice a moving sync window newly covers, read in the same call.
    """
    changed = "(SystemModstamp >= {} AND SystemModstamp < {})"
    args: tuple[object, ...] = (since, until)
    if starting is not None:
        d1, d2 = all_day_dates(*starting)
        changed = (
            f"({changed} OR (IsAllDayEvent = false AND StartDateTime >= {{}} AND StartDateTime < {{}})"
            " OR (IsAllDayEvent = true AND ActivityDate >= {} AND ActivityDate <= {}))"
        )
        args += (*starting, d1, d2)
    where = f" WHERE {changed} AND {NOT_COPIES} ORDER BY SystemModstamp, Id"
    return Soql(event_select(mapping) + where, args)


def roles_query(opportunity_ids: Sequence[str]) -> Soql:
    """OpportunityContactRoles of a batch (<= IN_BATCH) of Opportunities."""
    return Soql(
        "SELECT OpportunityId, ContactId, Role, IsPrimary, Contact.Name, Contact.Title, "
        "Contact.MailingCountry FROM OpportunityContactRole WHERE OpportunityId IN {} "
        "ORDER BY OpportunityId, IsPrimary DESC, Id",
        (list(opportunity_ids),),
    )


def field_check_query(sobject: str, api_name: str) -> Soql:
    """A cheap query that fails with INVALID_FIELD when ``api_name`` does not exist on ``sobject``."""
    return Soql(f"SELECT Id, {api_name} FROM {sobject} LIMIT 1")


def _no_show_literal(value: str) -> object:
    """A checkbox field is mapped with the value "true"/"false" (a SOQL boolean); anything else is text."""
    lowered = value.strip().lower()
    return lowered == "true" if lowered in ("true", "false") else value


def no_show_query(mapping: FieldMapping, start_at: datetime, end_at: datetime) -> Soql | None:
    """Events that started in ``[start_at, end_at)`` whose mapped no-show field holds the value.

    None when no no-show field is mapped (there is nothing to ask for). All-day events are matched
    by ActivityDate as in ``window_query`` (a superset; the caller checks that they have begun).
    """
    name = mapping.event_no_show_field
    if name is None:
        return None
    d1, d2 = all_day_dates(start_at, end_at)
    where = (
        f" WHERE {NOT_COPIES} AND {name} = {{}}"
        " AND ((IsAllDayEvent = false AND StartDateTime >= {} AND StartDateTime < {})"
        " OR (IsAllDayEvent = true AND ActivityDate >= {} AND ActivityDate <= {}))"
        " ORDER BY StartDateTime, Id"
    )
    literal = _no_show_literal(mapping.event_no_show_value)
    return Soql(event_select(mapping) + where, (literal, start_at, end_at, d1, d2))


def future_meetings_query(who_ids: Sequence[str], after: datetime) -> Soql:
    """The Who Ids of a batch (<= IN_BATCH) that have a meeting starting after ``after``.

    All-day events count from the day after ``after``'s UTC date (their date is not an instant).
    """
    where = (
        f" WHERE WhoId IN {{}} AND {NOT_COPIES}"
        " AND ((IsAllDayEvent = false AND StartDateTime > {})"
        " OR (IsAllDayEvent = true AND ActivityDate > {}))"
    )
    return Soql("SELECT WhoId FROM Event" + where, (list(who_ids), after, after.date()))
