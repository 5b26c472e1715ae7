"""Renders the chosen fallback scripts (method §2–4) as the words the rep says, in the rep's language."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jinja2 import TemplateNotFound

from prepbot.context import MAX_NAME_CHARS, _doc, address_form, build_meeting_context, clean_line
from prepbot.domain import Meeting
from prepbot.errors import TemplateError
from prepbot.languages import babel_locale, normalize_language
from prepbot.playbook_context import DeciderFacts, deciders_of, distance_text
from prepbot.playbooks import Playbook, ScriptChoice
from prepbot.rendering import Renderer


@dataclass(frozen=True, slots=True)
class RenderedScript:
    """One script ready for a prep note or a Task: its title, why it is there, and the words."""

    script: str
    title: str
    reason: str
    text: str
    language: str  # the language actually rendered (the default when the rep's has no template)
    template_version: str


@dataclass(frozen=True, slots=True)
class ScriptClient:
    """``client``: the person the rep meets and, in a no-show, calls."""

    salutation: str = field(metadata=_doc('Salutation as stored ("Mr.", "Dhr."); empty when unknown.'))
    address_form: str = field(metadata=_doc('"mr", "ms" or "" — derived from the salutation.'))
    first_name: str = field(metadata=_doc("First name; empty when unknown."))
    last_name: str = field(metadata=_doc("Last name."))
    name: str = field(metadata=_doc('Full name ("Piet Jansen").'))
    title: str = field(metadata=_doc("Job title; empty when unknown."))
    company: str = field(metadata=_doc("Company or Account name; empty when unknown."))
    city: str = field(
        metadata=_doc('Mailing city ("Zwolle"), for "who else in the Zwolle area"; may be empty.')
    )


@dataclass(frozen=True, slots=True)
class ScriptRep:
    """``rep``: the meeting's owner, who reads and says the script."""

    name: str = field(metadata=_doc("Full name; empty only if the owner could not be read."))
    first_name: str = field(metadata=_doc("First name; empty when unknown."))
    title: str = field(metadata=_doc("Job title; empty when unknown."))
    phone: str = field(metadata=_doc("Phone number; empty when unknown."))


@dataclass(frozen=True, slots=True)
class ScriptMeeting:
    """``meeting``: the meeting the script is for, its time in the rep's zone and language."""

    subject: str = field(metadata=_doc("The Event's Subject (internal wording)."))
    when_text: str = field(
        metadata=_doc('Day and time: "Tuesday, December 1, 10:00 AM"; the day if all-day.')
    )
    day_text: str = field(metadata=_doc('Weekday and date: "dinsdag 1 december".'))
    time_text: str = field(metadata=_doc('Start time: "10:00"; empty for an all-day meeting.'))
    is_all_day: bool = field(metadata=_doc("True for an all-day meeting."))
    channel: str = field(metadata=_doc('"in_person", "call" or "video".'))
    location: str = field(
        metadata=_doc("The Event's Location (address, number or link); empty when unknown.")
    )
    link: str = field(metadata=_doc("The video link, if any; empty otherwise."))
    travel_distance_km: int | None = field(
        metadata=_doc("The mapped travel distance, whole km; none when unknown (test it with {% if %}).")
    )
    travel_distance_text: str = field(metadata=_doc('"200 km"; empty when unknown.'))


@dataclass(frozen=True, slots=True)
class ScriptDecider:
    """``decider``: another contact who holds a decider role on the opportunity (empty when none)."""

    name: str = field(metadata=_doc('Full name ("Anna de Vries"); empty when no decider is known.'))
    title: str = field(metadata=_doc('Job title ("Founder"); empty when unknown.'))
    role: str = field(metadata=_doc('The role on the opportunity ("Decision Maker"); empty when none.'))
    country: str = field(metadata=_doc('Mailing country ("Spain"); empty when unknown.'))


@dataclass(frozen=True, slots=True)
class ScriptContext:
    """Everything a script template sees: ``client``, ``rep``, ``meeting``, ``decider``, ``product_area``,
    ``language``, ``locale``. Text values are ``str``, empty when unknown; an undefined name is an error."""

    client: ScriptClient = field(metadata=_doc("The client."))
    rep: ScriptRep = field(metadata=_doc("The rep (the meeting's owner)."))
    meeting: ScriptMeeting = field(metadata=_doc("The meeting."))
    decider: ScriptDecider = field(metadata=_doc("The first other decider on the opportunity, or empty."))
    other_deciders: int = field(metadata=_doc("How many more deciders there are besides `decider`."))
    product_area: str = field(
        metadata=_doc('Completes "solutions in ______" (playbooks `product_area` for the language).')
    )
    language: str = field(metadata=_doc('Language of the script: "en", "nl", "ru".'))
    locale: str = field(metadata=_doc('Babel locale of the dates: "en", "nl", "ru".'))

    def as_mapping(self) -> dict[str, Any]:
        """The template variables, top level by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def script_context(
    meeting: Meeting, *, language: str, zone: str, now: datetime, playbook: Playbook
) -> ScriptContext:
    """The variables of a script for ``meeting``, in the rep's ``language`` and ``zone``.

    Raises:
        ValueError: the meeting has no Who, or no start and no activity date.
    """
    who, owner = meeting.who, meeting.owner
    if who is None:
        raise ValueError(f"meeting {meeting.event_id} has no Who: a script needs a client")
    locale = babel_locale(language)
    facts = build_meeting_context(meeting, zone=zone, locale=locale, send_at=now)
    deciders = deciders_of(meeting, playbook.decider_roles)
    km = meeting.travel_distance_km
    return ScriptContext(
        client=ScriptClient(
            salutation=clean_line(who.salutation, 40),
            address_form=address_form(who.salutation),
            first_name=clean_line(who.first_name, MAX_NAME_CHARS),
            last_name=clean_line(who.last_name, MAX_NAME_CHARS),
            name=clean_line(who.name, MAX_NAME_CHARS),
            title=clean_line(who.title),
            company=clean_line(who.company or (meeting.what.account_name if meeting.what else None)),
            city=clean_line(who.mailing_city, 80),
        ),
        rep=ScriptRep(
            name=clean_line(owner.name if owner else None, MAX_NAME_CHARS),
            first_name=clean_line(owner.first_name if owner else None, MAX_NAME_CHARS),
            title=clean_line(owner.title if owner else None),
            phone=clean_line(owner.phone if owner else None, 60),
        ),
        meeting=ScriptMeeting(
            subject=facts.subject,
            when_text=facts.when_text,
            day_text=facts.day_text,
            time_text=facts.time_text,
            is_all_day=facts.is_all_day,
            channel=facts.channel,
            location=facts.location,
            link=facts.link,
            travel_distance_km=max(round(km), 1) if distance_text(km) and km is not None else None,
            travel_distance_text=distance_text(km),
        ),
        decider=_script_decider(deciders[0] if deciders else None),
        other_deciders=max(len(deciders) - 1, 0),
        product_area=clean_line(playbook.product_area_for(language)),
        language=language,
        locale=locale,
    )


def _script_decider(facts: DeciderFacts | None) -> ScriptDecider:
    if facts is None:
        return ScriptDecider(name="", title="", role="", country="")
    return ScriptDecider(name=facts.name, title=facts.title, role=facts.role, country=facts.country)


def render_scripts(
    renderer: Renderer,
    choices: Sequence[ScriptChoice],
    meeting: Meeting,
    *,
    language: str,
    zone: str,
    now: datetime,
    playbook: Playbook,
) -> list[RenderedScript]:
    """Render each chosen script (``<lang>/scripts/<script>.title.txt`` and ``.txt``), in order.

    A language without the script's templates falls back to the renderer's default language;
    ``RenderedScript.language`` says which was used.

    Raises:
        TemplateError: a template is missing in both languages, does not compile, uses an
            undefined variable, violates the sandbox or hits a cap.
    """
    if not choices:
        return []
    lang = normalize_language(language) or renderer.default_language
    context = script_context(meeting, language=lang, zone=zone, now=now, playbook=playbook)
    rendered = []
    for choice in choices:
        used = _script_language(renderer, choice.script, lang)
        if used != lang:  # the fallback language's product area and dates, so the text reads as one
            ctx = script_context(meeting, language=used, zone=zone, now=now, playbook=playbook)
        else:
            ctx = context
        rendered.append(_render_one(renderer, choice, used, ctx.as_mapping()))
    return rendered


def script_template_names(script: str, language: str) -> tuple[str, str]:
    """The title and text template names of ``script`` in ``language``."""
    return f"{language}/scripts/{script}.title.txt", f"{language}/scripts/{script}.txt"


def _script_language(renderer: Renderer, script: str, language: str) -> str:
    for candidate in (language, renderer.default_language):
        if all(_exists(renderer, name) for name in script_template_names(script, candidate)):
            return candidate
    raise TemplateError(
        f"no template for the script {script!r} in {language!r} nor in {renderer.default_language!r}",
        template=script_template_names(script, renderer.default_language)[1],
        hint=f"add {language}/scripts/{script}.txt and {script}.title.txt to the templates folder",
    )


def _exists(renderer: Renderer, name: str) -> bool:
    try:
        renderer.template_version(name)
    except TemplateNotFound:
        return False
    return True


def _render_one(
    renderer: Renderer, choice: ScriptChoice, language: str, context: dict[str, Any]
) -> RenderedScript:
    title_name, text_name = script_template_names(choice.script, language)
    title = " ".join(renderer.render_one(title_name, context).text.split())
    text = _tidy(renderer.render_one(text_name, context).text)
    if not title or not text.strip():
        raise TemplateError(f"{text_name}: the script rendered empty", template=text_name)
    version = renderer.template_version(title_name, text_name)
    return RenderedScript(choice.script, title, choice.reason, text, language, version)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"
