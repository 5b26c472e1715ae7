"""Admin views without side effects: a preview of any template kind, and the send-test message."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prepbot.composer import Composer
from prepbot.domain import Meeting, OutgoingMessage, Status
from prepbot.errors import PrepbotError, TemplateError
from prepbot.languages import choose_language
from prepbot.planner import Audience, confirmation_for
from prepbot.rendering import Renderer
from prepbot.template_kinds import Preview, TemplateKind, context_for, find_kinds, render_kind
from prepbot.timing import SendPolicy, recipient_zone

# Kinds the meeting's owner reads (in the owner's language and zone); the rest go to the client.
OWNER_FACING = ("prep_note", "no_show_task", "owner_brief", "scripts/")
ALIASES = {"no_show": "no_show_email", "prep": "prep_note", "note": "prep_note"}
TEST_SUBJECT_PREFIX = "[TEST] "


def kind_name(text: str) -> str:
    """A CLI kind ("prep-note", "no-show") as a template kind ("prep_note", "no_show_email")."""
    name = text.strip().lower().replace("-", "_")
    return ALIASES.get(name, name)


def find_kind(renderer: Renderer, name: str) -> TemplateKind:
    """The kind ``name`` among the templates found, or TemplateError listing the kinds there are."""
    kinds = {kind.name: kind for kind in find_kinds(renderer.template_names())}
    wanted = kind_name(name)
    if wanted not in kinds:
        known = ", ".join(k.replace("_", "-") for k in kinds)
        raise TemplateError(f"no templates of the kind {name!r}; the kinds found are: {known}")
    return kinds[wanted]


def is_owner_facing(kind: str) -> bool:
    return any(kind == k or (k.endswith("/") and kind.startswith(k)) for k in OWNER_FACING)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a preview renders for: the meeting, who reads it, in which zone and when it goes out."""

    meeting: Meeting
    zone: str
    send_at: datetime
    language: str
    requested_language: str


def subject_for(
    kind: TemplateKind,
    meeting: Meeting,
    composer: Composer,
    policy: SendPolicy,
    audience: Audience,
    now: datetime,
    language: str | None = None,
) -> Subject:
    """Zone, send time and language of ``kind`` for ``meeting``, as the real flow would pick them.

    A confirmation is previewed as it would go out at its planned send time (``now`` when it is
    skipped or already due), so "tomorrow" reads as the client will read it.
    """
    who, owner = meeting.who, meeting.owner
    owner_zone = recipient_zone(owner.time_zone if owner else None, None, audience.org_time_zone)
    action = confirmation_for(meeting, policy, audience, now)
    send_at = action.due_at if action.status is Status.PLANNED and action.due_at > now else now
    if is_owner_facing(kind.name):
        wanted = choose_language(
            owner.language if owner else None, None, {}, None, composer.languages.default, kind.languages
        )
        requested = _first_language(owner.language if owner else None) or wanted
        return Subject(meeting, owner_zone, now, language or wanted, language or requested)
    available = kind.languages
    chosen = choose_language(
        who.language if who else None,
        who.mailing_country_code if who else None,
        composer.languages.country_map,
        owner.language if owner else None,
        composer.languages.default,
        available,
    )
    requested = composer.requested_language(meeting)
    return Subject(
        meeting, action.time_zone or owner_zone, send_at, language or chosen, language or requested
    )


def _first_language(value: str | None) -> str | None:
    from prepbot.languages import normalize_language

    return normalize_language(value)


def render_preview(renderer: Renderer, kind: TemplateKind, subject: Subject) -> Preview:
    """Render ``kind`` for the subject's meeting; TemplateError names the file and line on failure."""
    try:
        context = context_for(kind.name, subject.meeting, subject.language, subject.send_at, subject.zone)
    except ValueError as exc:
        raise TemplateError(f"{kind.name}: {exc}") from None
    except PrepbotError:
        raise
    return render_kind(renderer, kind, subject.language, context)


def fallback_note(requested: str, rendered: str) -> str:
    """``"fallback: de→en"`` when the message is not in the language the record asked for, else ""."""
    return f"fallback: {requested}\u2192{rendered}" if requested and requested != rendered else ""


def template_header(kind: str, preview: Preview, requested: str) -> str:
    """The ``X-Prepbot-Template`` value: ``confirmation/en@1a2b3c4d5e6f (fallback from nl)``."""
    value = f"{kind}/{preview.language}@{preview.template_version}"
    return f"{value} (fallback from {requested})" if requested and requested != preview.language else value


def test_message(
    preview: Preview,
    *,
    to_address: str,
    from_name: str,
    from_address: str,
    reply_to: str | None,
    requested_language: str,
    message_id_domain: str,
) -> OutgoingMessage:
    """The send-test message: ``[TEST]`` subject, ``X-Prepbot-Test: yes``, a fresh Message-ID.

    The Message-ID is random, never the one derived from the real ledger key: a receiver must
    not collapse the real confirmation into an earlier test.
    """
    subject = preview.subject or preview.kind.replace("_", " ")
    return OutgoingMessage(
        message_id=f"prepbot.test.{uuid.uuid4().hex}@{message_id_domain}",
        from_name=from_name,
        from_address=from_address,
        to_name="",
        to_address=to_address,
        subject=TEST_SUBJECT_PREFIX + subject,
        text=preview.text or "(this kind has only an HTML part)",
        html=preview.html,
        reply_to=reply_to,
        headers=(
            ("X-Prepbot-Test", "yes"),
            ("X-Prepbot-Template", template_header(preview.kind, preview, requested_language)),
        ),
        language=preview.language,
        template_version=preview.template_version,
    )


def preview_json(preview: Preview, subject: Subject) -> dict[str, Any]:
    return {
        "kind": preview.kind,
        "language": preview.language,
        "requested_language": subject.requested_language,
        "fallback": fallback_note(subject.requested_language, preview.language),
        "zone": subject.zone,
        "send_at": subject.send_at.isoformat(),
        "template_version": preview.template_version,
        "subject": preview.subject,
        "text": preview.text,
        "has_html": preview.html is not None,
    }
