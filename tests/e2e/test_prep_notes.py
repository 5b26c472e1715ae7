"""Prep notes end to end: `prepbot tick` writes one ContentNote on the opportunity, then keeps it current."""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import Prepbot, contact, event


def deal_org(prepbot_org: Any) -> Prepbot:
    contacts = [
        contact(
            "piet",
            "Piet",
            "Jansen",
            "piet@farm.test",
            "Europe/Amsterdam",
            "nl",
            AccountId="@farm",
            Title="Operations Manager",
        ),
        contact(
            "anna",
            "Anna",
            "de Vries",
            "anna@farm.test",
            "Europe/Amsterdam",
            "nl",
            AccountId="@farm",
            Title="Founder",
        ),
    ]
    events = [event("piet", "2026-12-02T13:00:00Z", WhatId="@deal")]  # Wednesday 14:00 in Amsterdam
    bot: Prepbot = prepbot_org(
        contacts,
        events,
        Account=[{"$key": "farm", "Name": "Boerderij Jansen"}],
        Opportunity=[
            {
                "$key": "deal",
                "Name": "Melkrobots",
                "AccountId": "@farm",
                "StageName": "Proposal/Price Quote",
                "CloseDate": "2027-01-31",
            },
        ],
        OpportunityContactRole=[
            {"OpportunityId": "@deal", "ContactId": "@piet", "Role": "Influencer", "IsPrimary": True},
            {"OpportunityId": "@deal", "ContactId": "@anna", "Role": "Decision Maker"},
        ],
    )
    return bot


def notes_on_deal(bot: Prepbot) -> list[str]:
    sf = bot.org.client()
    deal = sf.query("SELECT Id FROM Opportunity WHERE Name = 'Melkrobots'")["records"][0]["Id"]
    links = sf.query(f"SELECT ContentDocumentId FROM ContentDocumentLink WHERE LinkedEntityId = '{deal}'")
    return [str(r["ContentDocumentId"]) for r in links["records"]]


def content(bot: Prepbot, note_id: str) -> str:
    with bot.org.session() as session:
        raw = session.get(
            f"{bot.org.instance_url}/services/data/v62.0/sobjects/ContentNote/{note_id}/Content",
            headers={"Authorization": f"Bearer {bot.org.access_token}"},
            timeout=30,
        )
    return str(raw.content.decode("utf-8"))


def test_after_two_ticks_the_opportunity_has_one_note_with_the_confirmation_and_the_scripts(
    prepbot_org: Any,
) -> None:
    bot = deal_org(prepbot_org)
    bot.tick("2026-12-01T08:00:00Z")  # 09:00 in Amsterdam: the confirmation is not due yet
    assert notes_on_deal(bot) == []
    bot.tick("2026-12-01T09:05:00Z")  # sent at 10:05; the note is written and brought up to date
    assert bot.recipients() == ["piet@farm.test"]
    [note_id] = notes_on_deal(bot)
    body = content(bot, note_id)
    assert "verstuurd dinsdag 1 december, 10:05 (jouw tijd, Europe/Amsterdam)" in body
    assert "Anna de Vries, Founder — <b>Decision Maker</b>" in body
    assert "Verkoopkans:</b> Melkrobots (fase: Proposal/Price Quote)" in body
    assert "Is Piet Jansen er niet? Bel zonder verwijt" in body  # method §2, in person
    assert "Anna de Vries beslist" in body  # method §4: the decider is someone else
    assert body.count("Waarom: ") >= 3  # every script says why it is there

    again = bot.tick("2026-12-01T09:30:00Z")
    assert notes_on_deal(bot) == [note_id] and content(bot, note_id) == body
    assert "note_" not in again.output  # nothing written the third time
