"""The documented variables a confirmation template sees, built purely from a Meeting."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, get_type_hints

from prepbot.domain import Channel, Meeting
from prepbot.formatting import (
    format_clock,
    format_day,
    format_day_month,
    format_meeting_time,
    format_weekday,
    local_date,
)
from prepbot.languages import babel_locale

# CRM text is untrusted and unbounded (reliability.md H4, H7): every value is cleaned of control
# characters and cut to a size a message can carry, with a visible marker, before any template
# sees it. Escaping for HTML is the renderer's job (autoescape), not this module's.
MAX_NAME_CHARS = 120
MAX_LINE_CHARS = 300
MAX_DESCRIPTION_CHARS = 2_000
TRUNCATION_MARKER = " […]"


def _doc(text: str) -> dict[str, str]:
    """Field metadata carrying a variable's admin-guide description (issue 5 generates the guide)."""
    return {"doc": text}


# Unicode's space separators (category Zs), all kept as they are; as one ASCII space for the screen.
_SPACES = re.compile("[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")


def has_no_controls(text: str) -> bool:
    """Whether ``text`` is free of "Other" characters (categories Cc, Cf, Cs, Co, Cn) and of line and
    paragraph separators: the common case, decided at C speed (issue 7).

    isprintable() is False for every separator but the ASCII space, also for the no-break spaces a
    CRM name or Babel's "10:00\u202fAM" carries, which are no controls: those are screened out first.
    """
    return text.isprintable() or _SPACES.sub(" ", text).isprintable()


def _clean_chars(text: str, *, keep_newlines: bool) -> str:
    text = text.replace("\r\n", "\n")
    if has_no_controls(text.replace("\n", "").replace("\t", "") if keep_newlines else text):
        return text
    out = []
    for char in text:
        if keep_newlines and char in "\n\t":
            out.append(char)
        elif unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}:
            out.append(" ")  # CR, LF, NUL, U+2028/2029, bidi overrides, unassigned...
        else:
            out.append(char)
    return "".join(out)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


def clean_line(value: object, limit: int = MAX_LINE_CHARS) -> str:
    """One line of CRM text: controls and line breaks become spaces, runs collapse, length capped."""
    if value is None:
        return ""
    if type(value) is str and len(value) <= _REMEMBERED_CHARS:
        return _clean_text_line(value, limit)
    return _cleaned_line(str(value), limit)


# A meeting's names and places are cleaned for each view of it (the note's, its scripts', its rules'),
# and the rep's, the company's and the places' for every meeting: ~40 times per prep note (issue 7).
# Only values of a line's size are kept (a mapped long-text field is cleaned each time), so the
# cache holds at most a few MiB whatever the org holds.
_REMEMBERED_CHARS = 1_000


@lru_cache(maxsize=8192)
def _clean_text_line(text: str, limit: int) -> str:
    return _cleaned_line(text, limit)


def _cleaned_line(text: str, limit: int) -> str:
    return _truncate(" ".join(_clean_chars(text, keep_newlines=False).split()), limit)


def clean_block(value: object, limit: int = MAX_DESCRIPTION_CHARS) -> str:
    """Multi-line CRM text (a Description): line breaks kept, other controls removed, length capped."""
    if value is None:
        return ""
    lines = [" ".join(line.split()) for line in _clean_chars(str(value), keep_newlines=True).split("\n")]
    return _truncate(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), limit)


_MR = {"mr", "mister", "sir", "dhr", "de heer", "heer", "meneer", "г-н", "господин"}
_MS = {"ms", "mrs", "miss", "madam", "mevr", "mw", "mevrouw", "г-жа", "госпожа"}


def address_form(salutation: str | None) -> str:
    """ "mr", "ms" or "" from a Salutation value in English, Dutch or Russian ("Dhr.", "Г-жа")."""
    key = " ".join((salutation or "").replace(".", " ").casefold().split())
    return "mr" if key in _MR else "ms" if key in _MS else ""


@dataclass(frozen=True, slots=True)
class ClientContext:
    """``client``: the person the message is written to (the Event's Who: a Contact or Lead)."""

    salutation: str = field(
        metadata=_doc('Salutation as stored in Salesforce ("Mr.", "Dr."); empty when unknown.')
    )
    address_form: str = field(
        metadata=_doc('"mr", "ms" or "" — derived from the salutation, for gendered greetings.')
    )
    first_name: str = field(
        metadata=_doc("First name; empty when unknown. Russian orgs often store name and patronymic here.")
    )
    last_name: str = field(metadata=_doc("Last name; always present for a Contact or Lead."))
    name: str = field(metadata=_doc('Full name as Salesforce shows it ("Ivan Ivanov").'))
    title: str = field(metadata=_doc("Job title; empty when unknown."))
    company: str = field(
        metadata=_doc("Company (Lead.Company or the Contact's Account); empty when unknown.")
    )
    phone: str = field(metadata=_doc("Phone number on the record; empty when unknown."))


@dataclass(frozen=True, slots=True)
class OwnerContext:
    """``owner``: the salesperson who owns the meeting and signs the message."""

    name: str = field(metadata=_doc("Full name; empty only if the owner could not be read."))
    first_name: str = field(metadata=_doc("First name; empty when unknown."))
    email: str = field(metadata=_doc("Email address; empty when unknown."))
    title: str = field(metadata=_doc("Job title; empty when unknown."))
    phone: str = field(metadata=_doc("Phone number; empty when unknown."))


@dataclass(frozen=True, slots=True)
class MeetingContext:
    """``meeting``: the agreed meeting, with its time already in the client's zone and language."""

    subject: str = field(
        metadata=_doc("The Event's Subject as written in Salesforce (internal wording, use with care).")
    )
    when_text: str = field(
        metadata=_doc('Day and time, Babel-formatted: "dinsdag 1 december, 10:00"; the day only if all-day.')
    )
    day_text: str = field(
        metadata=_doc('Weekday and date without the year: "Tuesday, December 1", "вторник, 1 декабря".')
    )
    date_text: str = field(metadata=_doc('Date and month only: "1 december", "1 декабря", "December 1".'))
    time_text: str = field(
        metadata=_doc('Local start time: "10:00", "10:00 AM"; empty for an all-day meeting.')
    )
    weekday: str = field(metadata=_doc('The weekday\'s name: "dinsdag", "Tuesday", "вторник".'))
    is_all_day: bool = field(metadata=_doc("True for an all-day meeting (no time is stated)."))
    is_today: bool = field(
        metadata=_doc("True when the meeting is on the day the message goes out (client's calendar).")
    )
    is_tomorrow: bool = field(
        metadata=_doc("True when the meeting is on the next calendar day after the message goes out.")
    )
    channel: str = field(
        metadata=_doc('"in_person", "call" or "video" — see prepbot.context.meeting_channel for the rules.')
    )
    location: str = field(
        metadata=_doc("The Event's Location (address, room, phone number or link); empty when unknown.")
    )
    link: str = field(
        metadata=_doc("The first http(s) link in the Location or Description (a video link); empty if none.")
    )
    zone: str = field(
        metadata=_doc('The client\'s IANA time zone used for the times above, e.g. "Europe/Amsterdam".')
    )
    description: str = field(
        metadata=_doc('The Event\'s Description, at most 2,000 characters, cut with a marker " […]".')
    )


@dataclass(frozen=True, slots=True)
class ConfirmationContext:
    """Everything a confirmation template sees: ``client``, ``owner``, ``meeting``, ``language``, ``locale``.

    Every text value is a ``str`` (empty when Salesforce has nothing), so ``{% if owner.phone %}``
    is the way to test for a missing field; an undefined variable is an error (StrictUndefined).
    """

    client: ClientContext = field(metadata=_doc("The recipient."))
    owner: OwnerContext = field(metadata=_doc("The sender, who signs."))
    meeting: MeetingContext = field(metadata=_doc("The meeting being confirmed."))
    language: str = field(metadata=_doc('Language of the message: "en", "nl", "ru".'))
    locale: str = field(metadata=_doc('Babel locale used for dates: "en", "en_GB", "nl", "nl_BE", "ru".'))

    def as_mapping(self) -> dict[str, Any]:
        """The template variables, top level by name."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def describe_context(cls: type[Any], prefix: str = "") -> list[tuple[str, str, str]]:
    """(variable path, type, description) for every variable of a context model, depth first."""
    rows: list[tuple[str, str, str]] = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        path, kind = f"{prefix}{f.name}", hints[f.name]
        if dataclasses.is_dataclass(kind):
            rows.extend(describe_context(kind, f"{path}."))  # type: ignore[arg-type]
        else:
            rows.append((path, getattr(kind, "__name__", str(kind)), f.metadata.get("doc", "")))
    return rows


# --- channel -------------------------------------------------------------------------------------

_VIDEO_WORDS = re.compile(
    r"https?://|\b(?:zoom|teams|google\s*meet|meet\.google|webex|whereby|skype|jitsi|gotomeeting|"
    r"video\w*|online|videogesprek|videobellen|видео\w*|зум|онлайн)\b",
    re.IGNORECASE,
)
_CALL_WORDS = re.compile(
    r"\b(?:call|phone|telephone|bellen|telefoon\w*|telefonisch|звонок|созвон\w*|телефон\w*)\b", re.IGNORECASE
)
_PHONE_ONLY = re.compile(r"^\s*(?:tel\.?:?\s*)?\+?[\d\s().\-/]{6,}\s*$", re.IGNORECASE)
_LINK = re.compile(r"https?://[^\s<>\"'()]+", re.IGNORECASE)


def meeting_channel(meeting: Meeting) -> Channel:
    """How the meeting happens — decides the question the confirmation asks (method §1).

    Rules, first match wins:

    1. ``video`` — the Location, Subject or Type mentions a video service or a link (Zoom, Teams,
       Google Meet, Webex, Whereby, Skype, Jitsi, "video", "online", "videogesprek", "видео",
       "онлайн", any http(s) URL). A "Teams call" is therefore video.
    2. ``call`` — the Type is "Call", or the Location is only a phone number, or the Subject
       says call/phone/bellen/telefoon/звонок/созвон and the Location is empty.
    3. ``in_person`` — everything else: an address-like Location, or none with Type "Meeting".
       Sending the in-person question to a phone meeting would be odd, but asking a video
       client which entrance to use is worse; so only clear signals make a meeting remote.
    """
    location = meeting.location or ""
    texts = (location, meeting.subject or "", meeting.event_type or "")
    if any(_VIDEO_WORDS.search(text) for text in texts):
        return "video"
    if (meeting.event_type or "").strip().casefold() == "call" or _PHONE_ONLY.match(location):
        return "call"
    if not location.strip() and _CALL_WORDS.search(meeting.subject or ""):
        return "call"
    return "in_person"


def meeting_link(meeting: Meeting) -> str:
    """The first http(s) link in the Location, else in the Description; "" when there is none."""
    for text in (meeting.location, meeting.description):
        found = _LINK.search(text or "")
        if found:
            return clean_line(found.group(0), MAX_LINE_CHARS)
    return ""


# --- builder -------------------------------------------------------------------------------------


def _meeting_day(meeting: Meeting, zone: str) -> date:
    if meeting.all_day and meeting.activity_date is not None:
        return meeting.activity_date  # never shifted by a zone (reliability.md D6)
    if meeting.start_at is None:
        raise ValueError(f"meeting {meeting.event_id} has neither a start nor an activity date")
    return local_date(meeting.start_at, zone)


def build_meeting_context(meeting: Meeting, *, zone: str, locale: str, send_at: datetime) -> MeetingContext:
    """The ``meeting`` variables: times in ``zone`` and ``locale``, relative to the send day."""
    day = _meeting_day(meeting, zone)
    timed = not meeting.all_day and meeting.start_at is not None
    offset = (day - local_date(send_at, zone)).days
    time_text = format_clock(meeting.start_at, zone, locale) if timed and meeting.start_at else ""
    when_text = (
        format_meeting_time(meeting.start_at, zone, locale)
        if timed and meeting.start_at
        else format_day(day, locale)
    )
    return MeetingContext(
        subject=clean_line(meeting.subject),
        when_text=when_text,
        day_text=format_day(day, locale),
        date_text=format_day_month(day, locale),
        time_text=time_text,
        weekday=format_weekday(day, locale),
        is_all_day=not timed,
        is_today=offset == 0,
        is_tomorrow=offset == 1,
        channel=meeting_channel(meeting),
        location=clean_line(meeting.location),
        link=meeting_link(meeting),
        zone=zone,
        description=clean_block(meeting.description),
    )


def build_confirmation_context(
    meeting: Meeting, *, zone: str, language: str, send_at: datetime, locale: str | None = None
) -> ConfirmationContext:
    """The confirmation's template variables, from the meeting as read from Salesforce.

    Args:
        meeting: the occurrence being confirmed; its ``who`` is the recipient.
        zone: the recipient's IANA time zone (timing has already chosen it).
        language: the message language (see ``prepbot.languages.choose_language``).
        send_at: when the message goes out (aware UTC); decides "today"/"tomorrow".
        locale: Babel locale for dates; default from the language and the client's country.

    Raises:
        ValueError: the meeting has no Who, or no start and no activity date.
    """
    who = meeting.who
    if who is None:
        raise ValueError(f"meeting {meeting.event_id} has no Who to write to")
    loc = locale or babel_locale(language, who.mailing_country_code)
    owner = meeting.owner
    client = ClientContext(
        salutation=clean_line(who.salutation, 40),
        address_form=address_form(who.salutation),
        first_name=clean_line(who.first_name, MAX_NAME_CHARS),
        last_name=clean_line(who.last_name, MAX_NAME_CHARS),
        name=clean_line(who.name, MAX_NAME_CHARS),
        title=clean_line(who.title),
        company=clean_line(who.company or (meeting.what.account_name if meeting.what else None)),
        phone=clean_line(who.phone, 60),
    )
    signer = OwnerContext(
        name=clean_line(owner.name if owner else None, MAX_NAME_CHARS),
        first_name=clean_line(owner.first_name if owner else None, MAX_NAME_CHARS),
        email=clean_line(owner.email if owner else None),
        title=clean_line(owner.title if owner else None),
        phone=clean_line(owner.phone if owner else None, 60),
    )
    meeting_ctx = build_meeting_context(meeting, zone=zone, locale=loc, send_at=send_at)
    return ConfirmationContext(
        client=client, owner=signer, meeting=meeting_ctx, language=language, locale=loc
    )
