"""Sample rule contexts every rule is tried on at load time, so a broken rule fails at start."""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from prepbot.playbook_context import (
    NO_DECIDER,
    ContactFacts,
    DeciderFacts,
    OwnerFacts,
    RoleFacts,
    RuleContext,
)


@cache
def probe_contexts() -> tuple[tuple[str, RuleContext], ...]:
    """(label, context) pairs covering every optional value present and absent."""
    decider = DeciderFacts(
        name="Anna de Vries", title="Founder", role="Decision Maker", country="Spain", is_primary=True
    )
    full = RuleContext(
        contact=ContactFacts(
            name="Piet Jansen",
            first_name="Piet",
            last_name="Jansen",
            title="Operations Manager",
            company="Hoeve Jansen",
            is_lead=False,
            country="Netherlands",
        ),
        role=RoleFacts(role="Influencer", is_primary=False),
        deciders=(decider,),
        decider=decider,
        contact_is_decider=False,
        title_is_non_deciding=True,
        title_is_deciding=False,
        channel="in_person",
        in_person=True,
        travel_distance_km=200.0,
        travel_distance_text="200 km",
        location="Dorpsstraat 1, Zwolle",
        lead_source="Referral",
        has_opportunity=True,
        opportunity="Hoeve Jansen - milking robots",
        stage="Closed Won",
        is_won=True,
        is_closed=True,
        is_referral_stage=True,
        owner=OwnerFacts(name="Jan de Vries", first_name="Jan", language="nl"),
        language="nl",
        owner_language="nl",
    )
    bare = replace(
        full,
        contact=ContactFacts(
            name="Jansen", first_name="", last_name="Jansen", title="", company="", is_lead=True, country=""
        ),
        role=RoleFacts(role="", is_primary=False),
        deciders=(),
        decider=NO_DECIDER,
        title_is_non_deciding=False,
        channel="call",
        in_person=False,
        travel_distance_km=None,
        travel_distance_text="",
        location="",
        lead_source="",
        has_opportunity=False,
        opportunity="",
        stage="",
        is_won=False,
        is_closed=False,
        is_referral_stage=False,
        owner=OwnerFacts(name="", first_name="", language=""),
        language="",
        owner_language="en",
    )
    video = replace(bare, channel="video", contact=full.contact, stage="Prospecting", has_opportunity=True)
    return (("in-person", full), ("call", bare), ("video", video))
