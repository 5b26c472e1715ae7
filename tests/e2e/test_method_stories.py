"""The method's stories (method.md §2–4) through `prepbot tick`: each script on its opportunity, with why."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import FIELDS, Prepbot, contact, event
from tests.e2e.test_prep_notes import content


def stories(prepbot_org: Any) -> Prepbot:
    contacts = [
        contact(
            "farmer",
            "Sjoerd",
            "de Boer",
            "sjoerd@farm.test",
            "Europe/Amsterdam",
            "en",
            AccountId="@farm",
            Title="Owner",
            MailingCity="Dokkum",
        ),
        contact(
            "manager",
            "Marieke",
            "Jansen",
            "marieke@logistics.test",
            "Europe/Amsterdam",
            "en",
            AccountId="@logistics",
            Title="Operations Manager",
        ),
        contact(
            "founder",
            "Pieter",
            "Hoekstra",
            "pieter@logistics.test",
            "Europe/Madrid",
            "en",
            AccountId="@logistics",
            Title="Founder",
            MailingCountry="Spain",
        ),
        contact(
            "client",
            "Emily",
            "Carter",
            "emily@harvest.test",
            "America/New_York",
            "en",
            AccountId="@harvest",
            Title="CEO",
        ),
    ]
    deals = [
        {
            "$key": "d_farm",
            "Name": "Farm robots",
            "AccountId": "@farm",
            "StageName": "Qualification",
            "CloseDate": "2027-01-31",
        },
        {
            "$key": "d_logistics",
            "Name": "Warehouse automation",
            "AccountId": "@logistics",
            "StageName": "Id. Decision Makers",
            "CloseDate": "2027-01-31",
        },
        {
            "$key": "d_harvest",
            "Name": "Cold storage",
            "AccountId": "@harvest",
            "StageName": "Closed Won",
            "CloseDate": "2026-11-01",
        },
    ]
    events = [
        # owned by Mike, whose language is English: the note (and its reasons) is in the rep's language
        event("farmer", "2026-12-02T09:00:00Z", WhatId="@d_farm", Travel_Distance_km__c=200, owner="@mike"),
        event("manager", "2026-12-02T13:00:00Z", WhatId="@d_logistics", owner="@mike"),
        event(
            "client",
            "2026-12-02T15:00:00Z",
            WhatId="@d_harvest",
            owner="@mike",
            Location="Zoom",
            Subject="Video call: expansion",
            Type="Call",
        ),
    ]
    fields = {**FIELDS, "Event": {"Travel_Distance_km__c": {"type": "double"}}}
    bot: Prepbot = prepbot_org(
        contacts,
        events,
        **{"$fields": fields},
        Account=[
            {"$key": k, "Name": n}
            for k, n in (("farm", "De Boer"), ("logistics", "Hoekstra"), ("harvest", "Bright Harvest"))
        ],
        Opportunity=deals,
        OpportunityContactRole=[
            {
                "OpportunityId": "@d_logistics",
                "ContactId": "@manager",
                "Role": "Influencer",
                "IsPrimary": True,
            },
            {"OpportunityId": "@d_logistics", "ContactId": "@founder", "Role": "Decision Maker"},
        ],
    )
    text = bot.config.read_text(encoding="utf-8")
    mapped = '[salesforce.fields]\nevent_travel_distance = "Travel_Distance_km__c"\n'
    bot.config.write_text(text.replace("[salesforce.fields]\n", mapped, 1), encoding="utf-8")
    return bot


def note_text(bot: Prepbot, deal_name: str) -> str:
    sf = bot.org.client()
    deal = sf.query(f"SELECT Id FROM Opportunity WHERE Name = '{deal_name}'")["records"][0]["Id"]
    links = sf.query(f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{deal}'")
    [link] = links["records"]
    return html.unescape(re.sub(r"<[^>]+>", " ", content(bot, link["ContentDocumentId"])))


def test_each_story_gets_its_script_on_its_own_opportunity_with_its_reason(prepbot_org: Any) -> None:
    bot = stories(prepbot_org)
    bot.tick("2026-12-01T16:00:00Z")
    farm = note_text(bot, "Farm robots")
    assert "200 km" in farm and "blame" in farm.casefold()  # §2: call without blame
    assert "who else" in farm.casefold()  # §2: ask who else nearby to visit
    assert "reputation" in farm.casefold()  # §3: ask permission before calling a referral
    assert "Pieter Hoekstra" not in farm
    logistics = note_text(bot, "Warehouse automation")
    assert "Pieter Hoekstra (in Spain) holds the Decision Maker role" in logistics  # §4, with its reason
    assert "Marieke Jansen, Operations Manager" in logistics
    assert "conference call" in logistics.casefold()
    harvest = note_text(bot, "Cold storage")
    assert "Closed Won" in harvest and "reputation" in harvest.casefold()  # §3 where referrals are asked
    assert "Pieter Hoekstra" not in harvest and "200 km" not in harvest


def test_a_meeting_that_matches_no_rule_gets_a_note_without_scripts(prepbot_org: Any, tmp_path: Path) -> None:
    bot = stories(prepbot_org)
    rules = tmp_path / "playbooks.toml"
    rules.write_text(
        '[[rules]]\nname = "decider_elsewhere"\nwhen = "deciders and not contact_is_decider"\n'
        'scripts = ["absent_decision_maker"]\nreason.en = "{{ decider.name }} decides."\n',
        encoding="utf-8",
    )
    with bot.config.open("a", encoding="utf-8") as fh:
        fh.write(f'\n[playbooks]\nfile = "{rules}"\n')
    bot.tick("2026-12-01T16:00:00Z")
    assert "No fallback script applies" in note_text(bot, "Farm robots")
    assert "Pieter Hoekstra decides." in note_text(bot, "Warehouse automation")
