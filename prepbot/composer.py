"""Turns a meeting into what goes out: the rendered confirmation, its envelope, and the Task that logs it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

from prepbot.context import build_confirmation_context
from prepbot.domain import ActionKey, Meeting, OutgoingMessage, TaskRecord
from prepbot.errors import TemplateError
from prepbot.languages import choose_language, requested_language
from prepbot.messages import make_message_id
from prepbot.rendering import RenderedMessage, Renderer
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting
from prepbot.timing import recipient_zone, to_local

log = logging.getLogger(__name__)
CONFIRMATION = "confirmation"
TASK_DESCRIPTION_LIMIT = 32_000  # Task.Description is a 32,000-character textarea


@dataclass(frozen=True, slots=True)
class Sender:
    """Whose name and which address a message goes out under."""

    from_mode: str = "sending_address"  # or "owner"
    sending_address: str = "meetings@example.com"
    message_id_domain: str = "prepbot.invalid"


@dataclass(frozen=True, slots=True)
class LanguagePolicy:
    """How a client's language is chosen when the record does not say."""

    default: str = "en"
    country_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Composed:
    """A message ready for a transport, with how it was rendered."""

    message: OutgoingMessage
    rendered: RenderedMessage
    requested_language: str = ""  # the language the record asked for (see languages.requested_language)

    @property
    def fallback_note(self) -> str:
        """``"fallback: de→en"`` when the message is not in the language the record asked for, else ""."""
        requested, used = self.requested_language, self.rendered.language
        return f"fallback: {requested}\u2192{used}" if requested and requested != used else ""


class Composer:
    """Renders confirmations for meetings and describes the Tasks that log them."""

    def __init__(self, renderer: Renderer, sender: Sender, languages: LanguagePolicy) -> None:
        self.renderer = renderer
        self.sender = sender
        self.languages = languages
        self._warmed = False

    def warm_up(self, stop: threading.Event) -> None:
        """Render the sample meeting's confirmation in the default language, then in the other
        languages there are templates for until ``stop`` is set. That compiles the templates and
        loads the locale data which the first real confirmation of each language would otherwise
        load while the relay waits for it (issue 7). Once per composer; a template that fails here
        is left for the real render to report."""
        if self._warmed:
            return
        self._warmed = True
        languages = self.renderer.available_languages(CONFIRMATION)
        meeting = sample_meeting()
        for i, language in enumerate(sorted(languages, key=lambda lang: lang != self.languages.default)):
            if i and stop.is_set():  # the default language is needed anyway
                return
            try:
                context = build_confirmation_context(
                    meeting, zone=SAMPLE_ZONE, language=language, send_at=SAMPLE_SEND_AT
                )
                self.renderer.render(CONFIRMATION, language, context.as_mapping())
            except Exception:  # best effort, in a thread of its own: the real render reports it
                log.debug("warm-up of the %s confirmation failed", language, exc_info=True)

    def language_for(self, meeting: Meeting) -> str:
        """Contact field -> mailing country -> owner's language -> default (only languages we can write)."""
        who, owner = meeting.who, meeting.owner
        return choose_language(
            who.language if who else None,
            who.mailing_country_code if who else None,
            self.languages.country_map,
            owner.language if owner else None,
            self.languages.default,
            self.renderer.available_languages(CONFIRMATION),
        )

    def requested_language(self, meeting: Meeting) -> str:
        """The language the record asks for, even one prepbot has no templates for."""
        who, owner = meeting.who, meeting.owner
        return requested_language(
            who.language if who else None,
            who.mailing_country_code if who else None,
            self.languages.country_map,
            owner.language if owner else None,
            self.languages.default,
        )

    def confirmation(self, meeting: Meeting, key: ActionKey, zone: str, now: datetime) -> Composed:
        """The confirmation for ``meeting``'s client, rendered as it would go out at ``now``.

        Raises:
            TemplateError: the template failed (undefined variable, sandbox violation, cap).
            MessageError: an address or header value is unusable.
        """
        who, owner = meeting.who, meeting.owner
        if who is None or owner is None or not who.email:
            raise TemplateError(f"meeting {meeting.event_id} has no client address or no owner")
        language = self.language_for(meeting)
        try:
            context = build_confirmation_context(meeting, zone=zone, language=language, send_at=now)
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
        rendered = self.renderer.render(CONFIRMATION, language, context.as_mapping())
        return self.compose(CONFIRMATION, meeting, key, rendered)

    def compose(self, kind: str, meeting: Meeting, key: ActionKey, rendered: RenderedMessage) -> Composed:
        """The envelope for a rendered message of any kind to the meeting's client, from its owner.

        Carries ``X-Prepbot-Template`` (kind, language, version, and the language it fell back from).
        """
        requested = self.requested_language(meeting)
        message = self._envelope(meeting, key, rendered)
        header = ("X-Prepbot-Template", template_header(kind, rendered, requested))
        return Composed(replace(message, headers=(*message.headers, header)), rendered, requested)

    def _envelope(self, meeting: Meeting, key: ActionKey, rendered: RenderedMessage) -> OutgoingMessage:
        who, owner = meeting.who, meeting.owner
        assert who is not None and owner is not None and who.email
        owner_address = owner.email or self.sender.sending_address
        from_address = owner_address if self.sender.from_mode == "owner" else self.sender.sending_address
        return OutgoingMessage(
            message_id=make_message_id(key, self.sender.message_id_domain),
            from_name=owner.name,
            from_address=from_address,
            to_name=who.name,
            to_address=who.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            reply_to=owner.email,
            language=rendered.language,
            template_version=rendered.template_version,
            who_id=who.id,
            what_id=meeting.what.id if meeting.what and who.kind != "Lead" else None,
        )

    def email_task(self, meeting: Meeting, composed: Composed, now: datetime, *, ref: str) -> TaskRecord:
        """A completed email Task on the Who and What (no What with a Lead: Salesforce forbids it)."""
        who = meeting.who
        what_id = meeting.what.id if meeting.what and (who is None or who.kind != "Lead") else None
        zone = recipient_zone(None, meeting.owner.time_zone if meeting.owner else None, "UTC")
        message = composed.message
        return TaskRecord(
            subject=f"Email: {message.subject}"[:255],
            description=_task_body(message)[:TASK_DESCRIPTION_LIMIT],
            owner_id=meeting.owner_id,
            who_id=who.id if who else None,
            what_id=what_id,
            activity_date=to_local(now, zone).date(),
            ref=ref,
        )

    def in_doubt_task(self, meeting: Meeting, composed: Composed, now: datetime, *, ref: str) -> TaskRecord:
        """An open Task for the owner: call the client, since the confirmation may not have arrived."""
        logged = self.email_task(meeting, composed, now, ref=ref)
        who = meeting.who.name if meeting.who else "the client"
        return replace(
            logged,
            subject=f"Call {who}: the meeting confirmation may not have arrived"[:255],
            description=in_doubt_text(composed.message)[:TASK_DESCRIPTION_LIMIT],
            status="Not Started",
            subtype="Task",
            priority="High",
        )


def template_header(kind: str, rendered: RenderedMessage, requested: str) -> str:
    """``X-Prepbot-Template``: which template made the message, and from which language it fell back.

    ``confirmation/en@1a2b3c4d5e6f``, or ``confirmation/en@1a2b3c4d5e6f (fallback from de)``.
    """
    value = f"{kind}/{rendered.language}@{rendered.template_version}"
    return f"{value} (fallback from {requested})" if requested and requested != rendered.language else value


def in_doubt_text(message: OutgoingMessage) -> str:
    """What the owner reads when a confirmation may or may not have reached the client."""
    return (
        f"prepbot sent the day-before message to {message.to_name} <{message.to_address}>, but the mail "
        "relay did not confirm that it accepted it. prepbot will not send it again, so the client "
        "gets at most one message.\n\nPlease call the client today and ask the question yourself "
        "(how best to reach them, or which number to call), the way the message below does.\n\n"
        + message.text
    )


def _task_body(message: OutgoingMessage) -> str:
    header = f"To: {message.to_name} <{message.to_address}>\nSent by prepbot ({message.language})\n\n"
    return header + message.text
