"""Salesforce query JSON -> prepbot's frozen domain values (Meeting, Person, Owner, Deal, Invitee)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from prepbot.crm.soql import FieldMapping
from prepbot.domain import ContactRole, Deal, Invitee, Meeting, Owner, Person, PersonKind

Record = Mapping[str, Any]

# Key prefixes (brief §1.1): the type of a polymorphic reference when the JSON does not say it.
KEY_PREFIXES = {"003": "Contact", "00Q": "Lead", "005": "User", "006": "Opportunity", "001": "Account"}


def parse_datetime(value: Any) -> datetime | None:
    """``2026-11-29T10:00:00.000+0000`` (any ISO 8601 offset form) -> aware UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:  # Salesforce always sends an offset; never guess a zone
        raise ValueError(f"datetime without offset: {value!r}")
    return parsed.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """``2026-11-29`` -> date (a calendar date, never shifted by any zone)."""
    return date.fromisoformat(str(value)) if value else None


def sobject_type(record: Record | None, record_id: str | None = None) -> str | None:
    """The concrete sObject of a (polymorphic) record: ``attributes.type``, else the Id's key prefix."""
    kind = (record or {}).get("attributes", {}).get("type")
    if kind and kind != "Name":
        return str(kind)
    rid = record_id or (record or {}).get("Id")
    return KEY_PREFIXES.get(str(rid)[:3]) if rid else None


def _text(record: Record, key: str) -> str | None:
    value = record.get(key)
    return None if value is None else str(value)


def _child(record: Record, relationship: str) -> Record:
    parent = record.get(relationship)
    return parent if isinstance(parent, Mapping) else {}


def _parent_name(record: Record, relationship: str) -> str | None:
    parent = record.get(relationship)
    return _text(parent, "Name") if isinstance(parent, Mapping) else None


def to_person(who: Record | None, who_id: str | None, mapping: FieldMapping) -> Person | None:
    """The Event's Who (TYPEOF Contact/Lead) as a Person; None when there is no Who."""
    if not who:
        return None
    kind = sobject_type(who, who_id)
    if kind not in ("Contact", "Lead"):
        return None
    contact = kind == "Contact"
    person_kind: PersonKind = "Contact" if contact else "Lead"
    language = mapping.contact_language if contact else mapping.lead_language
    zone = mapping.contact_time_zone if contact else mapping.lead_time_zone
    prefix = "Mailing" if contact else ""
    return Person(
        id=str(who.get("Id") or who_id),
        kind=person_kind,
        last_name=str(who.get("LastName") or ""),
        first_name=_text(who, "FirstName"),
        salutation=_text(who, "Salutation"),
        title=_text(who, "Title"),
        email=_text(who, "Email"),
        opted_out=bool(who.get("HasOptedOutOfEmail")),
        bounced=bool(who.get("IsEmailBounced")),
        phone=_text(who, "Phone"),
        mailing_street=_text(who, f"{prefix}Street"),
        mailing_city=_text(who, f"{prefix}City"),
        mailing_postal_code=_text(who, f"{prefix}PostalCode"),
        mailing_country=_text(who, f"{prefix}Country"),
        mailing_country_code=_text(who, f"{prefix}CountryCode"),
        account_id=_text(who, "AccountId"),
        company=_parent_name(who, "Account") if contact else _text(who, "Company"),
        lead_source=_text(who, "LeadSource"),
        language=_text(who, language) if language else None,
        time_zone=_text(who, zone) if zone else None,
        is_converted=bool(who.get("IsConverted")),
    )


def to_owner(owner: Record | None, owner_id: str) -> Owner | None:
    """The Event's Owner: a User with its zone and locale, or a public calendar by name."""
    if not owner:
        return None
    return Owner(
        id=str(owner.get("Id") or owner_id),
        name=str(owner.get("Name") or ""),
        email=_text(owner, "Email"),
        first_name=_text(owner, "FirstName"),
        last_name=_text(owner, "LastName"),
        time_zone=_text(owner, "TimeZoneSidKey"),
        locale=_text(owner, "LocaleSidKey"),
        language=_text(owner, "LanguageLocaleKey"),
        is_active=owner.get("IsActive") is not False,
        title=_text(owner, "Title"),
        phone=_text(owner, "Phone"),
    )


def to_deal(
    what: Record | None, what_id: str | None, roles: Mapping[str, tuple[ContactRole, ...]]
) -> Deal | None:
    """The Event's What: an Opportunity (with roles), an Account, or another object by name."""
    if not what:
        return None
    kind = sobject_type(what, what_id) or "Unknown"
    deal_id = str(what.get("Id") or what_id)
    name = str(what.get("Name") or "")
    if kind == "Account":
        return Deal(id=deal_id, kind=kind, name=name, account_id=deal_id, account_name=name)
    if kind != "Opportunity":
        return Deal(id=deal_id, kind=kind, name=name)
    return Deal(
        id=deal_id,
        kind=kind,
        name=name,
        stage=_text(what, "StageName"),
        account_id=_text(what, "AccountId"),
        account_name=_parent_name(what, "Account"),
        lead_source=_text(what, "LeadSource"),
        is_closed=bool(what.get("IsClosed")),
        is_won=bool(what.get("IsWon")),
        roles=roles.get(deal_id, ()),
    )


def to_invitees(relations: Record | None) -> tuple[Invitee, ...]:
    """The EventRelations child subquery (``null`` when empty) as Invitees."""
    rows: Iterable[Record] = (relations or {}).get("records") or ()
    out = []
    for row in rows:
        relation_id = str(row.get("RelationId") or "")
        relation = _child(row, "Relation")
        out.append(
            Invitee(
                relation_id=relation_id,
                kind=sobject_type(relation, relation_id) or "Other",
                status=_text(row, "Status"),
                email=_text(relation, "Email"),
                name=_text(relation, "Name"),
            )
        )
    return tuple(out)


def to_roles(rows: Iterable[Record]) -> dict[str, tuple[ContactRole, ...]]:
    """OpportunityContactRole rows grouped by OpportunityId."""
    grouped: dict[str, list[ContactRole]] = {}
    for row in rows:
        contact = _child(row, "Contact")
        grouped.setdefault(str(row.get("OpportunityId")), []).append(
            ContactRole(
                contact_id=str(row.get("ContactId") or ""),
                role=_text(row, "Role"),
                is_primary=bool(row.get("IsPrimary")),
                contact_name=_text(contact, "Name"),
                contact_title=_text(contact, "Title"),
                contact_country=_text(contact, "MailingCountry"),
            )
        )
    return {key: tuple(value) for key, value in grouped.items()}


def opportunity_ids(records: Iterable[Record]) -> list[str]:
    """Distinct Opportunity Ids among the Events' Whats, in first-seen order."""
    ids = (r.get("WhatId") for r in records if sobject_type(r.get("What"), r.get("WhatId")) == "Opportunity")
    return list(dict.fromkeys(str(i) for i in ids if i))


def _no_show(record: Record, mapping: FieldMapping) -> bool:
    if not mapping.event_no_show_field:
        return False
    raw = record.get(mapping.event_no_show_field)
    if isinstance(raw, bool):  # a checkbox mapped with value "true"
        return raw == (mapping.event_no_show_value.strip().lower() == "true")
    return raw is not None and str(raw) == mapping.event_no_show_value


def _distance(record: Record, mapping: FieldMapping) -> float | None:
    raw = record.get(mapping.event_travel_distance) if mapping.event_travel_distance else None
    return None if raw is None or isinstance(raw, bool) else float(raw)


def to_meeting(
    record: Record, mapping: FieldMapping, roles: Mapping[str, tuple[ContactRole, ...]] | None = None
) -> Meeting:
    """One Event row (the shape of ``soql.event_select``) as a Meeting.

    All-day events keep their calendar ``activity_date`` and get ``start_at = end_at = None``: their
    StartDateTime is a midnight-UTC placeholder, not an instant anyone meets at (brief §1.2).
    """
    all_day = bool(record.get("IsAllDayEvent"))
    owner_id = str(record.get("OwnerId") or "")
    return Meeting(
        event_id=str(record["Id"]),
        subject=_text(record, "Subject"),
        start_at=None if all_day else parse_datetime(record.get("StartDateTime")),
        end_at=None if all_day else parse_datetime(record.get("EndDateTime")),
        all_day=all_day,
        activity_date=parse_date(record.get("ActivityDate")),
        owner_id=owner_id,
        modstamp=parse_datetime(record.get("SystemModstamp")),
        location=_text(record, "Location"),
        description=_text(record, "Description"),
        event_type=_text(record, "Type"),
        show_as=_text(record, "ShowAs"),
        owner=to_owner(record.get("Owner"), owner_id),
        who=to_person(record.get("Who"), _text(record, "WhoId"), mapping),
        what=to_deal(record.get("What"), _text(record, "WhatId"), roles or {}),
        invitees=to_invitees(record.get("EventRelations")),
        is_private=bool(record.get("IsPrivate")),
        recurrence_master_id=_text(record, "RecurrenceActivityId"),
        no_show=_no_show(record, mapping),
        travel_distance_km=_distance(record, mapping),
    )


def org_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header as an aware UTC datetime (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def modstamp(record: Record) -> datetime:
    """An Event row's SystemModstamp (the org's clock: the sync watermark)."""
    stamp = parse_datetime(record.get("SystemModstamp"))
    if stamp is None:
        raise ValueError("an Event row without SystemModstamp")
    return stamp


class SeenRows:
    """What an incremental sync already reported near its watermark: Id -> (SystemModstamp, digest).

    SystemModstamp has second precision, so two versions of a row can share it: the digest of the
    row's JSON tells them apart.
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[datetime, str]] = {}

    @staticmethod
    def _version(record: Record) -> tuple[datetime, str]:
        text = json.dumps(record, sort_keys=True, default=str).encode()
        return modstamp(record), hashlib.blake2b(text, digest_size=16).hexdigest()

    def fresh(self, records: Iterable[Record], watermark: datetime) -> list[Record]:
        """The rows to report: newer than ``watermark``, or not reported in this exact version; remembered."""
        out = []
        for record in records:
            version = self._version(record)
            if version[0] > watermark or self._seen.get(str(record["Id"])) != version:
                out.append(record)
                self._seen[str(record["Id"])] = version
        return out

    def forget_before(self, horizon: datetime) -> None:
        """Drop the rows older than ``horizon`` (outside any future overlap window)."""
        self._seen = {k: v for k, v in self._seen.items() if v[0] >= horizon}
