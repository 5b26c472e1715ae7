"""The documented facts a playbook rule's ``when`` and ``reason`` see, built purely from a Meeting."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from prepbot.context import MAX_NAME_CHARS, _doc, clean_line, meeting_channel
from prepbot.domain import ContactRole, Meeting
from prepbot.languages import normalize_language


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """``contact``: the person the rep meets (the Event's Who)."""

    name: str = field(metadata=_doc('Full name ("Piet Jansen"); empty when the meeting has no Who.'))
    first_name: str = field(metadata=_doc("First name; empty when unknown."))
    last_name: str = field(metadata=_doc("Last name."))
    title: str = field(metadata=_doc('Job title ("Operations Manager"); empty when unknown.'))
    company: str = field(metadata=_doc("Company or Account name; empty when unknown."))
    is_lead: bool = field(metadata=_doc("True when the Who is a Lead (Leads have no opportunity roles)."))
    country: str = field(metadata=_doc("Mailing country; empty when unknown."))


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """``role``: the contact's own OpportunityContactRole on the meeting's opportunity."""

    role: str = field(metadata=_doc('The role ("Decision Maker", "Influencer"); empty when none is set.'))
    is_primary: bool = field(metadata=_doc("True when the contact is the opportunity's primary contact."))


@dataclass(frozen=True, slots=True)
class DeciderFacts:
    """A contact other than the one met who holds a decider role on the opportunity."""

    name: str = field(metadata=_doc('Full name ("Anna de Vries"); empty when no decider is known.'))
    title: str = field(metadata=_doc("Job title; empty when unknown."))
    role: str = field(metadata=_doc('The decider role held ("Decision Maker"); empty when none.'))
    country: str = field(metadata=_doc('Mailing country ("Spain"); empty when unknown.'))
    is_primary: bool = field(metadata=_doc("True when this contact is the opportunity's primary contact."))


@dataclass(frozen=True, slots=True)
class OwnerFacts:
    """``owner``: the salesperson who owns the meeting (the rep)."""

    name: str = field(metadata=_doc("Full name; empty if the owner could not be read."))
    first_name: str = field(metadata=_doc("First name; empty when unknown."))
    language: str = field(metadata=_doc('The owner\'s language ("nl"); empty when unknown.'))


@dataclass(frozen=True, slots=True)
class RuleContext:
    """Everything a rule's ``when`` expression and ``reason`` template see.

    Text values are ``str`` (empty when Salesforce has nothing); an unknown name is an error.
    """

    contact: ContactFacts = field(metadata=_doc("The person the rep meets."))
    role: RoleFacts = field(metadata=_doc("The contact's own role on the opportunity."))
    deciders: tuple[DeciderFacts, ...] = field(
        metadata=_doc("Other contacts holding a decider role (playbooks `decider_roles`), primary first.")
    )
    decider: DeciderFacts = field(
        metadata=_doc("The first of `deciders`, or one with empty fields when there is none.")
    )
    contact_is_decider: bool = field(
        metadata=_doc("True when the contact holds a decider role on the opportunity.")
    )
    title_is_non_deciding: bool = field(
        metadata=_doc("True when the contact's title matches `non_deciding_titles` or their patterns.")
    )
    title_is_deciding: bool = field(
        metadata=_doc('True when the contact\'s title matches `deciding_titles` ("founder", "owner").')
    )
    channel: str = field(metadata=_doc('"in_person", "call" or "video".'))
    in_person: bool = field(metadata=_doc('True when channel == "in_person".'))
    travel_distance_km: float | None = field(
        metadata=_doc("The mapped travel distance in km; none when not mapped or empty (test it first).")
    )
    travel_distance_text: str = field(metadata=_doc('The distance as text ("200 km"); empty when unknown.'))
    location: str = field(metadata=_doc("The Event's Location; empty when unknown."))
    lead_source: str = field(metadata=_doc("Lead source of the opportunity, else of the Who; empty if none."))
    has_opportunity: bool = field(metadata=_doc("True when the meeting's What is an Opportunity."))
    opportunity: str = field(metadata=_doc("The opportunity's name; empty when none."))
    stage: str = field(metadata=_doc('The opportunity\'s stage ("Closed Won"); empty when none.'))
    is_won: bool = field(metadata=_doc("True when the opportunity is won."))
    is_closed: bool = field(metadata=_doc("True when the opportunity is closed (won or lost)."))
    is_referral_stage: bool = field(metadata=_doc("True when the stage is one of `referral_stages`."))
    owner: OwnerFacts = field(metadata=_doc("The rep."))
    language: str = field(metadata=_doc('The client\'s language ("nl"); empty when unknown.'))
    owner_language: str = field(metadata=_doc('The rep\'s language ("en").'))

    def as_mapping(self) -> dict[str, Any]:
        """The variables, top level by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


RULE_VARIABLES: frozenset[str] = frozenset(f.name for f in dataclasses.fields(RuleContext))
NO_DECIDER = DeciderFacts(name="", title="", role="", country="", is_primary=False)


@dataclass(frozen=True, slots=True)
class TitleMatcher:
    """Case-insensitive title tests: substrings and regular expressions."""

    substrings: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def build(cls, substrings: Sequence[str], patterns: Sequence[str] = ()) -> TitleMatcher:
        words = tuple(word.casefold().strip() for word in substrings if word.strip())
        return cls(words, tuple(re.compile(p, re.IGNORECASE) for p in patterns))

    def matches(self, title: str) -> bool:
        folded = title.casefold()
        return any(word in folded for word in self.substrings) or any(p.search(title) for p in self.patterns)


def distance_text(km: float | None) -> str:
    """ "200 km" (whole kilometres, never "200.0"); "" when unknown or not positive."""
    if km is None or km != km or km <= 0:  # km != km: NaN
        return ""
    return f"{round(km):d} km" if km >= 1 else "1 km"


def deciders_of(meeting: Meeting, decider_roles: Collection[str]) -> tuple[DeciderFacts, ...]:
    """Contacts other than the Who holding one of ``decider_roles`` (case-insensitive), primary first."""
    wanted = {role.casefold().strip() for role in decider_roles}
    who_id = meeting.who.id if meeting.who else None
    roles = meeting.what.roles if meeting.what else ()
    found = [r for r in roles if r.contact_id != who_id and (r.role or "").casefold().strip() in wanted]
    found.sort(key=lambda r: not r.is_primary)  # stable: otherwise the CRM's order
    unique = {r.contact_id: r for r in reversed(found)}  # one entry per contact, its first role wins
    return tuple(_decider(r) for r in sorted(unique.values(), key=found.index))


def _decider(role: ContactRole) -> DeciderFacts:
    return DeciderFacts(
        name=clean_line(role.contact_name, MAX_NAME_CHARS),
        title=clean_line(role.contact_title),
        role=clean_line(role.role, 80),
        country=clean_line(role.contact_country, 80),
        is_primary=role.is_primary,
    )


def _own_role(meeting: Meeting) -> ContactRole | None:
    if meeting.who is None or meeting.what is None:
        return None
    mine = [r for r in meeting.what.roles if r.contact_id == meeting.who.id]
    mine.sort(key=lambda r: not r.is_primary)
    return mine[0] if mine else None


def build_rule_context(
    meeting: Meeting,
    *,
    decider_roles: Collection[str],
    non_deciding: TitleMatcher,
    deciding: TitleMatcher,
    referral_stages: Collection[str],
    language: str,
    owner_language: str,
) -> RuleContext:
    """The rule variables for ``meeting``; ``language`` is the client's, ``owner_language`` the rep's."""
    who, deal, owner = meeting.who, meeting.what, meeting.owner
    own = _own_role(meeting)
    wanted = {role.casefold().strip() for role in decider_roles}
    deciders = deciders_of(meeting, decider_roles)
    title = clean_line(who.title if who else None)
    is_opportunity = deal is not None and deal.kind == "Opportunity"
    stage = clean_line(deal.stage if deal else None, 80)
    stages = {s.casefold().strip() for s in referral_stages}
    channel = meeting_channel(meeting)
    return RuleContext(
        contact=ContactFacts(
            name=clean_line(who.name if who else None, MAX_NAME_CHARS),
            first_name=clean_line(who.first_name if who else None, MAX_NAME_CHARS),
            last_name=clean_line(who.last_name if who else None, MAX_NAME_CHARS),
            title=title,
            company=clean_line((who.company if who else None) or (deal.account_name if deal else None)),
            is_lead=who is not None and who.kind == "Lead",
            country=clean_line(who.mailing_country if who else None, 80),
        ),
        role=RoleFacts(
            role=clean_line(own.role if own else None, 80), is_primary=bool(own and own.is_primary)
        ),
        deciders=deciders,
        decider=deciders[0] if deciders else NO_DECIDER,
        contact_is_decider=own is not None and (own.role or "").casefold().strip() in wanted,
        title_is_non_deciding=bool(title) and non_deciding.matches(title),
        title_is_deciding=bool(title) and deciding.matches(title),
        channel=channel,
        in_person=channel == "in_person",
        travel_distance_km=meeting.travel_distance_km,
        travel_distance_text=distance_text(meeting.travel_distance_km),
        location=clean_line(meeting.location),
        lead_source=clean_line(
            (deal.lead_source if deal else None) or (who.lead_source if who else None), 80
        ),
        has_opportunity=is_opportunity,
        opportunity=clean_line(deal.name if deal and is_opportunity else None),
        stage=stage,
        is_won=bool(deal and deal.is_won),
        is_closed=bool(deal and deal.is_closed),
        is_referral_stage=bool(stage) and stage.casefold() in stages,
        owner=OwnerFacts(
            name=clean_line(owner.name if owner else None, MAX_NAME_CHARS),
            first_name=clean_line(owner.first_name if owner else None, MAX_NAME_CHARS),
            language=normalize_language(owner.language if owner else None) or "",
        ),
        language=language,
        owner_language=owner_language,
    )
