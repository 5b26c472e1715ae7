"""Seed builders for the adapter's contract tests: a small org plus N generated meetings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prepbot.crm.salesforce import FieldMapping
from tests.conftest import RUNNING_USER

DAY = datetime(2026, 12, 1, tzinfo=UTC)  # the window tests read: [DAY, DAY + 1 day)

MAPPING = FieldMapping(
    contact_language="Preferred_Language__c",
    contact_time_zone="Time_Zone__c",
    lead_language="Lead_Language__c",
    lead_time_zone="Lead_Time_Zone__c",
    event_no_show_field="Meeting_Outcome__c",
    event_no_show_value="No Show",
    event_travel_distance="Travel_Distance_km__c",
)

CUSTOM_FIELDS = {
    "Contact": {"Preferred_Language__c": {"type": "string"}, "Time_Zone__c": {"type": "string"}},
    "Lead": {"Lead_Language__c": {"type": "string"}, "Lead_Time_Zone__c": {"type": "string"}},
    "Event": {
        "Meeting_Outcome__c": {"type": "picklist", "values": ["Held", "No Show", "Rescheduled"]},
        "Travel_Distance_km__c": {"type": "double"},
    },
}


def sf_time(moment: datetime) -> str:
    """Salesforce's wire form of an instant."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def base_org() -> dict[str, Any]:
    """Users, an Account, Contacts (one with every mapped field), a Lead, an Opportunity with roles."""
    return {
        "$fields": CUSTOM_FIELDS,
        "User": [
            dict(RUNNING_USER),
            {
                "$key": "owner2",
                "Username": "anna@sandbox.prepbot.test",
                "FirstName": "Anna",
                "LastName": "Smit",
                "Email": "anna@example.test",
                "TimeZoneSidKey": "America/New_York",
                "LocaleSidKey": "en_US",
                "LanguageLocaleKey": "en_US",
                "Title": "Account Executive",
                "Phone": "+1 212 555 0100",
            },
        ],
        "Account": [{"$key": "farm", "Name": "Boerderij de Vries"}],
        "Contact": [
            {
                "$key": "farmer",
                "AccountId": "@farm",
                "Salutation": "Mr.",
                "FirstName": "Jan",
                "LastName": "de Vries",
                "Title": "Owner",
                "Email": "jan@devries.example",
                "Phone": "+31 6 1234 5678",
                "MailingStreet": "Dorpsweg 1",
                "MailingCity": "Emmen",
                "MailingPostalCode": "7811 AA",
                "MailingCountry": "Netherlands",
                "MailingCountryCode": "NL",
                "LeadSource": "Referral",
                "Preferred_Language__c": "nl",
                "Time_Zone__c": "Europe/Amsterdam",
            },
            {"$key": "manager", "AccountId": "@farm", "LastName": "Petrov", "Email": "p@example.test"},
            {"$key": "optout", "LastName": "Quiet", "Email": "q@example.test", "HasOptedOutOfEmail": True},
        ],
        "Lead": [
            {
                "$key": "lead",
                "FirstName": "Olga",
                "LastName": "Ivanova",
                "Company": "Ivanova Agro",
                "Email": "olga@agro.example",
                "Country": "Russia",
                "CountryCode": "RU",
                "City": "Kazan",
                "Lead_Language__c": "ru",
                "Lead_Time_Zone__c": "Europe/Moscow",
            }
        ],
        "Opportunity": [
            {
                "$key": "deal",
                "Name": "Milking robots",
                "AccountId": "@farm",
                "StageName": "Qualification",
                "CloseDate": "2027-01-31",
                "LeadSource": "Referral",
            }
        ],
        "OpportunityContactRole": [
            {"OpportunityId": "@deal", "ContactId": "@farmer", "Role": "Decision Maker", "IsPrimary": True},
            {"OpportunityId": "@deal", "ContactId": "@manager", "Role": "Influencer"},
        ],
    }


def event(key: str, start: datetime, **fields: Any) -> dict[str, Any]:
    """A one-hour timed Event record for a seed."""
    record: dict[str, Any] = {
        "$key": key,
        "Subject": f"Meeting {key}",
        "StartDateTime": sf_time(start),
        "EndDateTime": sf_time(start + timedelta(hours=1)),
        "OwnerId": "@runner",
    }
    record.update(fields)
    return record


def generated_events(n: int, *, start: datetime = DAY, prefix: str = "g") -> list[dict[str, Any]]:
    """``n`` meetings spread over the day after ``start``, cycling through Whos and Whats."""
    step = timedelta(days=1) / max(n, 1)
    whos = ["@farmer", "@manager", "@lead"]
    out = []
    for i in range(n):
        who = whos[i % 3]
        fields: dict[str, Any] = {"WhoId": who}
        if who != "@lead":  # a Lead's Event must not have a What
            fields["WhatId"] = "@deal" if i % 2 else "@farm"
        out.append(event(f"{prefix}{i}", start + step * i, **fields))
    return out


def deal_per_meeting(n: int) -> dict[str, Any]:
    """The worst case for the role follow-ups: ``n`` meetings, each on its own Opportunity."""
    deals = [
        {
            "$key": f"d{i}",
            "Name": f"Deal {i}",
            "AccountId": "@farm",
            "StageName": "Prospecting",
            "CloseDate": "2027-01-31",
        }
        for i in range(n)
    ]
    roles = [{"OpportunityId": f"@d{i}", "ContactId": "@farmer", "Role": "Decision Maker"} for i in range(n)]
    events = generated_events(n)
    for i, record in enumerate(events):
        record["WhoId"], record["WhatId"] = "@farmer", f"@d{i}"
    return org_with(events, Opportunity=deals, OpportunityContactRole=roles)


def org_with(events: list[dict[str, Any]], **extra: list[dict[str, Any]]) -> dict[str, Any]:
    """The base org plus these Events (and other records by object name)."""
    seed = base_org()
    seed["Event"] = events
    for name, records in extra.items():
        seed.setdefault(name, []).extend(records)
    return seed
