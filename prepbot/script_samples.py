"""Sample meetings for the fallback scripts: every variant a script template must render."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from prepbot.domain import ContactRole, Deal, Meeting
from prepbot.playbooks import SCRIPTS, Playbook, ScriptChoice
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting, sample_variants
from prepbot.scripts import script_context

FOUNDER = ContactRole(
    contact_id="003000000000002AAA",
    role="Decision Maker",
    is_primary=True,
    contact_name="Anna de Vries",
    contact_title="Founder",
    contact_country="Spain",
)


def sample_deal(*roles: ContactRole, stage: str = "Proposal/Price Quote") -> Deal:
    """An opportunity of the sample client's farm with ``roles``."""
    return Deal(
        id="006000000000001AAA",
        kind="Opportunity",
        name="Hoeve Jansen - milking robots",
        stage=stage,
        account_name="Hoeve Jansen",
        is_closed=stage.startswith("Closed"),
        is_won=stage == "Closed Won",
        roles=roles,
    )


def script_sample_variants() -> Iterator[tuple[str, Meeting]]:
    """(label, meeting): the confirmation samples plus distances, deciders and missing owner data."""
    yield from sample_variants()
    base = sample_meeting()
    who, owner = base.who, base.owner
    assert who is not None and owner is not None
    manager = replace(who, title="Operations Manager", mailing_city="Zwolle")
    yield (
        "in_person_distance_decider",
        replace(base, travel_distance_km=200.0, who=manager, what=sample_deal(FOUNDER)),
    )
    yield (
        "video_decider_no_country",
        replace(
            base,
            location="https://example.zoom.us/j/1",
            what=sample_deal(
                replace(FOUNDER, contact_country=None, contact_title=None),
                replace(
                    FOUNDER,
                    contact_id="003000000000003AAA",
                    role="Economic Buyer",
                    contact_name="Kees Bakker",
                ),
            ),
        ),
    )
    yield (
        "no_owner_details",
        replace(base, travel_distance_km=0.4, owner=replace(owner, first_name=None, title=None, phone=None)),
    )
    yield (
        "no_owner",
        replace(base, owner=None, location=None, who=replace(who, first_name=None, salutation=None)),
    )


def script_sample_contexts(language: str, playbook: Playbook) -> list[dict[str, Any]]:
    """Script template variables for every sample variant, in ``language`` (for ``templates check``)."""
    return [
        script_context(
            meeting, language=language, zone=SAMPLE_ZONE, now=SAMPLE_SEND_AT, playbook=playbook
        ).as_mapping()
        for _label, meeting in script_sample_variants()
    ]


def every_script() -> list[ScriptChoice]:
    """One choice per script, with a placeholder reason (for previews and checks)."""
    return [ScriptChoice(script, "sample", "sample") for script in SCRIPTS]
