"""Sample meetings and confirmation contexts for `templates check`, previews and tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from prepbot.context import build_confirmation_context
from prepbot.domain import ContactRole, Deal, Meeting, Owner, Person

# Tuesday 1 December 2026, 10:00 in Amsterdam; the message goes out the day before.
SAMPLE_START_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SAMPLE_SEND_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SAMPLE_ZONE = "Europe/Amsterdam"


def sample_meeting(**changes: Any) -> Meeting:
    """An in-person meeting with every optional field filled; ``changes`` replace fields."""
    owner = Owner(
        id="005000000000001AAA",
        name="Jan de Vries",
        first_name="Jan",
        last_name="de Vries",
        email="jan.devries@example.com",
        title="Account Manager",
        phone="+31 6 1234 5678",
    )
    who = Person(
        id="003000000000001AAA",
        kind="Contact",
        salutation="Mr.",
        first_name="Piet",
        last_name="Jansen",
        title="Owner",
        email="piet@example.org",
        phone="+31 38 123 4567",
        mailing_country_code="NL",
        company="Hoeve Jansen",
    )
    meeting = Meeting(
        event_id="00U000000000001AAA",
        subject="Visit Hoeve Jansen",
        start_at=SAMPLE_START_AT,
        end_at=SAMPLE_START_AT + timedelta(hours=1),
        all_day=False,
        activity_date=SAMPLE_START_AT.date(),
        owner_id=owner.id,
        location="Dorpsstraat 1, 8011 AB Zwolle",
        event_type="Meeting",
        owner=owner,
        who=who,
    )
    return replace(meeting, **changes)


def _sample_deal(contact_id: str) -> Deal:
    """An Opportunity where someone other than the contact decides (method §4)."""
    roles = (
        ContactRole(contact_id, "Influencer", contact_name="Piet Jansen", contact_title="Operations Manager"),
        ContactRole(
            "003000000000002AAA",
            "Decision Maker",
            True,
            contact_name="Anna de Vries",
            contact_title="Founder",
        ),
    )
    return Deal(
        id="006000000000001AAA",
        kind="Opportunity",
        name="Hoeve Jansen – milking robots",
        stage="Negotiation",
        account_id="001000000000001AAA",
        account_name="Hoeve Jansen",
        roles=roles,
    )


def sample_variants() -> Iterator[tuple[str, Meeting]]:
    """(label, meeting) for every case a confirmation template must handle."""
    base = sample_meeting()
    who, owner = base.who, base.owner
    assert who is not None and owner is not None
    yield "in_person", base
    yield "call", replace(base, event_type="Call", location="+31 38 123 4567")
    yield "video", replace(base, location="https://example.zoom.us/j/123456789", event_type="Meeting")
    yield "all_day", replace(base, all_day=True, start_at=None, end_at=None, activity_date=date(2026, 12, 1))
    yield "later_date", replace(base, start_at=SAMPLE_START_AT + timedelta(days=3))
    yield (
        "missing_optional",
        replace(
            base,
            location=None,
            who=replace(who, salutation=None, first_name=None, title=None, phone=None, company=None),
            owner=replace(owner, title=None, phone=None),
        ),
    )
    yield "call_without_phone", replace(base, event_type="Call", location=None, who=replace(who, phone=None))
    yield "booked_today", replace(base, start_at=SAMPLE_SEND_AT + timedelta(hours=5))
    yield (
        "video_link_in_description",
        replace(
            base, location=None, subject="Online demo", description="Join: https://meet.example.com/abc-def"
        ),
    )
    yield (
        "bare_minimum",
        replace(
            base,
            subject=None,
            location=None,
            description=None,
            event_type=None,
            who=Person(id=who.id, kind="Lead", last_name="X", email="x@example.org"),
            owner=Owner(id=owner.id, name="J"),
        ),
    )
    yield "opportunity_with_decider", replace(base, what=_sample_deal(who.id))
    long_name = "Wolfeschlegelsteinhausenbergerdorff " * 8
    yield (
        "long_non_ascii",
        replace(
            base,
            who=replace(who, first_name="Zoë-Ångström Иван", last_name=long_name, salutation="Dr."),
            owner=replace(owner, name="Анна-Мария Ødegård-Çelik"),
            location="Ул. Ленина, д. 1 <b>&</b>",
        ),
    )


def sample_contexts(language: str, *, send_at: datetime = SAMPLE_SEND_AT) -> list[dict[str, Any]]:
    """Template variables for every sample variant, in ``language``."""
    return [
        build_confirmation_context(meeting, zone=SAMPLE_ZONE, language=language, send_at=send_at).as_mapping()
        for _label, meeting in sample_variants()
    ]
