"""What the owner's morning brief says: the prep note's content as an email to the meeting's owner."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from prepbot.composer import Sender, template_header
from prepbot.domain import ActionKey, Meeting, OutgoingMessage
from prepbot.errors import TemplateError
from prepbot.languages import choose_language, normalize_language
from prepbot.messages import make_message_id
from prepbot.prepnote import (
    NOTE,
    TITLE_KIND,
    ConfirmationStatus,
    ScriptLike,
    note_context,
    tidy_note_html,
)
from prepbot.rendering import RenderedMessage, Renderer

OWNER_BRIEF = "owner_brief"  # templates/<lang>/owner_brief.subject.txt, .txt and .html
SENDER_NAME = "prepbot"  # prepbot writes to the rep, not the rep to a client

_BREAKS = (
    (re.compile(r"<br\s*/?>", re.I), "\n"),
    (re.compile(r"</p>|</ul>", re.I), "\n\n"),
    (re.compile(r"<li>", re.I), "\n- "),
    (re.compile(r"<[^>]*>"), ""),
)


def note_text(note_html: str) -> str:
    """The prep note's HTML (p, br, b, i, ul, li only) as plain-text lines for the text part."""
    text = note_html
    for pattern, replacement in _BREAKS:
        text = pattern.sub(replacement, text)
    lines = [line.strip() for line in htmllib.unescape(text).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def brief_context(
    renderer: Renderer,
    meeting: Meeting,
    status: ConfirmationStatus,
    scripts: Sequence[ScriptLike],
    *,
    language: str,
    org_time_zone: str,
) -> dict[str, object]:
    """The prep note's variables plus ``note`` (its title, HTML and text) rendered in ``language``.

    The note is rendered from the same ``prep_note`` templates as the ContentNote, so the brief
    and the note on the record never disagree; ``note.html`` is already escaped (``Markup``).

    Raises:
        TemplateError: a template failed, or the meeting has neither a start nor a date.
    """
    if language not in renderer.available_languages(TITLE_KIND):
        language = renderer.default_language
    try:
        context = note_context(meeting, status, scripts, language=language, org_time_zone=org_time_zone)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    title = " ".join(renderer.render_one(f"{language}/{TITLE_KIND}.txt", context).text.split())
    body = tidy_note_html(renderer.render_one(f"{language}/{NOTE}.html", context).text)
    return {**context, "note": {"title": title, "html": Markup(body), "text": note_text(body)}}


@dataclass(frozen=True, slots=True)
class BriefWriter:
    """Renders the brief in the owner's language and puts it in an envelope to the owner.

    From is the configured sending address under the name "prepbot"; there is no Reply-To and no
    Who/What, so a transport that logs activity (emailSimple) has no client record to log it on.
    """

    renderer: Renderer
    sender: Sender
    org_time_zone: str = "UTC"

    def language(self, meeting: Meeting) -> str:
        """The owner's LanguageLocaleKey when there is a brief template for it, else the default."""
        owner = meeting.owner
        available = self.renderer.available_languages(OWNER_BRIEF)
        default = self.renderer.default_language
        return choose_language(owner.language if owner else None, None, {}, None, default, available)

    def render(
        self, meeting: Meeting, status: ConfirmationStatus, scripts: Sequence[ScriptLike]
    ) -> RenderedMessage:
        """Subject, text and HTML of the brief.

        Raises:
            TemplateError: a template failed.
        """
        language = self.language(meeting)
        context = brief_context(
            self.renderer, meeting, status, scripts, language=language, org_time_zone=self.org_time_zone
        )
        return self.renderer.render(OWNER_BRIEF, language, context)

    def message(
        self, meeting: Meeting, key: ActionKey, status: ConfirmationStatus, scripts: Sequence[ScriptLike]
    ) -> OutgoingMessage:
        """The brief to the owner's address (``key.recipient`` was planned from it).

        Raises:
            TemplateError: no owner address, or a template failed.
        """
        owner = meeting.owner
        if owner is None or not owner.email:
            raise TemplateError(f"meeting {meeting.event_id} has no owner address")
        rendered = self.render(meeting, status, scripts)
        requested = normalize_language(owner.language) or ""
        header = ("X-Prepbot-Template", template_header(OWNER_BRIEF, rendered, requested))
        return OutgoingMessage(
            message_id=make_message_id(key, self.sender.message_id_domain),
            from_name=SENDER_NAME,
            from_address=self.sender.sending_address,
            to_name=owner.name,
            to_address=owner.email,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            headers=(header,),
            language=rendered.language,
            template_version=rendered.template_version,
            who_id=None,  # internal: never let emailSimple log it on the client's records
            what_id=None,
        )
