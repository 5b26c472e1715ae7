"""Pure: the prep note of a meeting (title, ContentNote HTML, content hash) in the rep's language."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal, Protocol

from babel import Locale, UnknownLocaleError

from prepbot.context import MAX_NAME_CHARS, clean_block, clean_line, meeting_channel, meeting_link
from prepbot.domain import ActionRow, Meeting, MessageKind, Status
from prepbot.errors import TemplateError
from prepbot.formatting import format_day, format_meeting_time, local_date
from prepbot.languages import babel_locale, normalize_language
from prepbot.rendering import Renderer
from prepbot.timing import recipient_zone

NOTE = "prep_note"
TITLE_KIND = "prep_note.title"  # templates/<lang>/prep_note.title.txt (and prep_note.html beside it)
MAX_SCRIPT_CHARS = 6_000
DECIDING_ROLES = frozenset({"decision maker", "economic buyer"})

StatusState = Literal["sent", "in_doubt", "sending", "planned", "failed", "skipped", "none"]


class ScriptLike(Protocol):
    """What a note shows of a rendered fallback script (``prepbot.scripts.RenderedScript`` fits)."""

    @property
    def title(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def language(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ConfirmationStatus:
    """Where the meeting's confirmation stands: its state, when (sent or due), and why (a reason code)."""

    state: StatusState
    at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PrepNote:
    """A rendered prep note; ``content_hash`` changes whenever title or body change."""

    title: str
    html: str
    language: str
    content_hash: str


_PRIORITY: dict[Status, StatusState] = {
    Status.SENT: "sent",
    Status.LOGGED: "sent",
    Status.IN_DOUBT: "in_doubt",
    Status.SENDING: "sending",
    Status.CLAIMED: "sending",
    Status.PLANNED: "planned",
    Status.FAILED: "failed",
    Status.SKIPPED: "skipped",
}
_ORDER: tuple[StatusState, ...] = ("sent", "in_doubt", "sending", "planned", "failed", "skipped")


def confirmation_status(meeting: Meeting, rows: Sequence[ActionRow]) -> ConfirmationStatus:
    """The confirmation's status for this occurrence, from the Event's ledger rows.

    Rows of other occurrences count only when they were sent and this occurrence was skipped as
    ``already_confirmed`` (moved the same day after the message went out: the client has it).
    """
    return confirmation_status_of(meeting.occurrence, rows)


def confirmation_status_of(occurrence: str, rows: Sequence[ActionRow]) -> ConfirmationStatus:
    """:func:`confirmation_status` for the occurrence key of a meeting (no meeting needed)."""
    mine = [r for r in rows if r.key.kind is MessageKind.CONFIRMATION and r.status in _PRIORITY]
    current = [r for r in mine if r.key.occurrence == occurrence]
    if any(r.reason == "already_confirmed" for r in current):
        current += [r for r in mine if _PRIORITY[r.status] == "sent"]
    for state in _ORDER:
        found = [r for r in current if _PRIORITY[r.status] == state]
        if found:
            row = max(found, key=lambda r: (r.updated_at or r.due_at, r.id))
            return _status_of(state, row)
    return ConfirmationStatus("none")


def _status_of(state: StatusState, row: ActionRow) -> ConfirmationStatus:
    if state == "sent":
        return ConfirmationStatus(state, row.sent_at or row.updated_at)
    if state in ("planned", "sending"):
        return ConfirmationStatus(state, row.due_at)
    # Keep the code ("opted_out") or the first words of a free reason ("smtp 550 ..."): the
    # template turns known codes into plain words.
    return ConfirmationStatus(state, row.updated_at, clean_line(row.reason, 200))


def content_hash(title: str, html: str) -> str:
    """sha256 over title and body: equal hashes mean the stored note needs no update."""
    return hashlib.sha256(f"{title}\0{html}".encode()).hexdigest()


def note_language(renderer: Renderer, owner_language: str | None) -> str:
    """The rep's language (the owner's LanguageLocaleKey) when a prep note template exists for it."""
    available = renderer.available_languages(TITLE_KIND)
    code = normalize_language(owner_language, available)
    if code in available:
        return str(code)
    return renderer.default_language


def build_prep_note(
    renderer: Renderer,
    meeting: Meeting,
    status: ConfirmationStatus,
    scripts: Sequence[ScriptLike],
    *,
    org_time_zone: str = "UTC",
) -> PrepNote:
    """Render the prep note of ``meeting`` in the rep's language (autoescaped, ContentNote-safe).

    Nothing in it depends on the current time, so an unchanged meeting renders the same hash.

    Raises:
        TemplateError: the templates failed, or the meeting has neither a start nor a date.
    """
    language = note_language(renderer, meeting.owner.language if meeting.owner else None)
    try:
        context = note_context(meeting, status, scripts, language=language, org_time_zone=org_time_zone)
    except ValueError as exc:
        raise TemplateError(str(exc)) from None
    title = " ".join(renderer.render_one(f"{language}/{TITLE_KIND}.txt", context).text.split())
    html = tidy_note_html(renderer.render_one(f"{language}/{NOTE}.html", context).text)
    if not title:
        raise TemplateError(f"{language}/{TITLE_KIND}.txt rendered empty", template=TITLE_KIND)
    return PrepNote(title[:255], html, language, content_hash(title[:255], html))


_LINE_BETWEEN_TAGS = re.compile(r">\s*\n\s*<")
# A quote in text: the next angle bracket after it opens a tag (or there is none); in a tag it closes one.
_APOSTROPHE_IN_TEXT = re.compile(r"'(?=[^<>]*(?:<|$))")
_QUOTE_IN_TEXT = re.compile(r'"(?=[^<>]*(?:<|$))')


def _joined_lines(text: str) -> str:
    """``re.sub(r"\\s*\\n\\s*", " ", text)`` for a ``text`` with no white space at either end: each
    run of white space holding a line break becomes one space. Line by line, because that regex
    backtracks over every run of the templates' indentation (a twentieth of a note's build)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    parts = [lines[0].rstrip(), *(line.strip() for line in lines[1:-1]), lines[-1].lstrip()]
    return " ".join(part for part in parts if part)


def tidy_note_html(html: str) -> str:
    """Template layout out, ContentNote's entity rules in: no raw newlines, ``"`` as ``&quot;``.

    Autoescape (markupsafe) writes ``'`` as ``&#39;`` (what ContentNote wants) and ``"`` as
    ``&#34;``; the field reports name ``&quot;``, so it is spelled that way (brief §1.10).
    """
    html = _joined_lines(_LINE_BETWEEN_TAGS.sub("><", html.strip())).replace("&#34;", "&quot;")
    # The templates' own words are not autoescaped ("the client's language"): quotes in text
    # (never inside a tag) get the same entities as the CRM values.
    return _QUOTE_IN_TEXT.sub("&quot;", _APOSTROPHE_IN_TEXT.sub("&#39;", html))


# -- the template variables -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone else on the deal or invited: name, title, role on the opportunity."""

    name: str
    title: str
    role: str
    decides: bool


@dataclass(frozen=True, slots=True)
class ScriptView:
    """One fallback script as the note shows it; ``lines`` per paragraph (rendered with ``<br>``)."""

    title: str
    reason: str
    paragraphs: tuple[tuple[str, ...], ...]
    language: str
    language_name: str  # the script's language named in the note's language
    other_language: bool  # True when the script is not in the note's language


def note_context(
    meeting: Meeting,
    status: ConfirmationStatus,
    scripts: Sequence[ScriptLike],
    *,
    language: str,
    org_time_zone: str,
) -> dict[str, object]:
    """The prep note's template variables (every text cleaned of control characters and capped)."""
    who, owner, deal = meeting.who, meeting.owner, meeting.what
    owner_zone = recipient_zone(owner.time_zone if owner else None, None, org_time_zone)
    client_zone = recipient_zone(who.time_zone if who else None, owner_zone, org_time_zone)
    country = (owner.locale or "").partition("_")[2] if owner else ""
    locale = babel_locale(language, country)
    when_client = _when(meeting, client_zone, locale)
    when_owner = _when(meeting, owner_zone, locale)
    return {
        "language": language,
        "meeting": {
            "subject": clean_line(meeting.subject),
            "date_text": _day_text(meeting, client_zone, locale),
            "when_client": when_client,
            "client_zone": client_zone,
            "when_owner": when_owner if when_owner != when_client else "",
            "owner_zone": owner_zone,
            "is_all_day": meeting.all_day or meeting.start_at is None,
            "channel": meeting_channel(meeting),
            "location": clean_line(meeting.location),
            "link": meeting_link(meeting),
            "description": clean_block(meeting.description, 1_000),
        },
        "client": {
            "name": clean_line(who.name if who else None, MAX_NAME_CHARS),
            "kind": who.kind if who else "",
            "title": clean_line(who.title if who else None),
            "company": clean_line((who.company if who else None) or (deal.account_name if deal else None)),
            "email": clean_line(who.email if who else None),
            "phone": clean_line(who.phone if who else None, 60),
        },
        "deal": {
            "kind": deal.kind if deal else "",
            "name": clean_line(deal.name if deal else None),
            "stage": clean_line(deal.stage if deal else None),
            "account": clean_line(deal.account_name if deal else None),
        },
        "participants": _participants(meeting),
        "owner": {"name": clean_line(owner.name if owner else None, MAX_NAME_CHARS)},
        "day_before": {  # the day-before message (method §1) and where it stands
            "state": status.state,
            "at_text": format_meeting_time(status.at, owner_zone, locale) if status.at else "",
            "zone": owner_zone,
            "reason": status.reason,
        },
        "scripts": [_script_view(s, language) for s in scripts],
    }


def _when(meeting: Meeting, zone: str, locale: str) -> str:
    if meeting.all_day or meeting.start_at is None:
        return _day_text(meeting, zone, locale)
    return format_meeting_time(meeting.start_at, zone, locale)


def _day_text(meeting: Meeting, zone: str, locale: str) -> str:
    if (meeting.all_day or meeting.start_at is None) and meeting.activity_date is not None:
        return format_day(meeting.activity_date, locale)  # never shifted by a zone (D6)
    if meeting.start_at is None:
        raise ValueError(f"meeting {meeting.event_id} has neither a start nor an activity date")
    return format_day(local_date(meeting.start_at, zone), locale)


def _participants(meeting: Meeting) -> list[Participant]:
    """Contact roles on the opportunity (other than the client), then other invitees by name."""
    who_id = meeting.who.id if meeting.who else None
    people: list[Participant] = []
    for role in meeting.what.roles if meeting.what else ():
        if role.contact_id == who_id:
            continue
        decides = (role.role or "").strip().casefold() in DECIDING_ROLES
        people.append(
            Participant(
                clean_line(role.contact_name or role.contact_id, MAX_NAME_CHARS),
                clean_line(role.contact_title),
                clean_line(role.role),
                decides,
            )
        )
    named = {p.name for p in people}
    for invitee in meeting.invitees:
        name = clean_line(invitee.name, MAX_NAME_CHARS)
        if name and name not in named and invitee.kind != "User":
            people.append(Participant(name, "", "", False))
            named.add(name)
    return people


def _script_view(script: ScriptLike, note_lang: str) -> ScriptView:
    text = clean_block(script.text, MAX_SCRIPT_CHARS)
    paragraphs = tuple(
        tuple(line for line in block.split("\n") if line.strip())
        for block in re.split(r"\n\s*\n", text)
        if block.strip()
    )
    lang = normalize_language(script.language) or script.language
    return ScriptView(
        title=clean_line(script.title),
        reason=clean_line(script.reason, 600),
        paragraphs=paragraphs,
        language=lang,
        language_name=_language_name(lang, note_lang),
        other_language=lang != note_lang,
    )


@lru_cache(maxsize=256)
def _language_name(code: str, in_language: str) -> str:
    """``code``'s language named in ``in_language`` (Babel's data; asked twice per note: kept)."""
    try:
        return Locale.parse(code).get_language_name(in_language) or code
    except (ValueError, UnknownLocaleError):
        return code
