"""The shipped confirmation templates against method §1: indirect, human, in every case and language."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from prepbot.context import (
    MAX_DESCRIPTION_CHARS,
    TRUNCATION_MARKER,
    ConfirmationContext,
    build_confirmation_context,
    describe_context,
    meeting_channel,
)
from prepbot.rendering import RenderedMessage, Renderer, shipped_templates_dir
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting, sample_variants

LANGS = ("en", "nl", "ru")

# Wording that confirms bluntly, invites a cancellation, or reads like a machine (method §1).
FORBIDDEN = {
    "en": ["confirm", "still on", "cancel", "reschedul", "unsubscribe", "automat", "do not reply", "no-reply",
           "noreply", "reminder", "this is a", "system", "opt out"],
    "nl": ["bevestig", "annule", "afmeld", "automatisch", "niet beantwoorden", "herinnering",
           "gaat het nog door", "systeem", "verzet"],
    "ru": ["подтверд", "отмен", "отпис", "автоматическ", "не отвечайте", "напоминан", "в силе", "систем",
           "перенес"],
}  # fmt: skip
QUESTION_WORDS = {
    "in_person": {"en": "entrance", "nl": "ingang", "ru": "вход"},
    "call": {"en": "number", "nl": "nummer", "ru": "номеру"},
    "video": {"en": "anyone else", "nl": "nog iemand", "ru": "кто-то ещё"},
}


def render_variant(language: str, label: str, meeting: object) -> RenderedMessage:
    ctx = build_confirmation_context(meeting, zone=SAMPLE_ZONE, language=language, send_at=SAMPLE_SEND_AT)  # type: ignore[arg-type]
    return Renderer(shipped_dir=shipped_templates_dir()).render("confirmation", language, ctx.as_mapping())


CASES = [(lang, label, meeting) for lang in LANGS for label, meeting in sample_variants()]


@pytest.mark.parametrize(("language", "label", "meeting"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_language_renders_every_case_without_forbidden_wording(
    language: str, label: str, meeting: object
) -> None:
    result = render_variant(language, label, meeting)
    assert result.language == language and not result.fell_back
    assert result.subject and "\n" not in result.subject
    for part in (result.subject, result.text, result.html or ""):
        lowered = part.casefold()
        for phrase in FORBIDDEN[language] + FORBIDDEN["en"]:
            assert phrase not in lowered, (phrase, part)
    assert "?" in result.text and "?" in result.subject  # the message asks, it does not announce


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("channel", ["in_person", "call", "video"])
def test_the_question_fits_how_the_meeting_happens(language: str, channel: str) -> None:
    meeting = dict(sample_variants())[channel]
    result = render_variant(language, channel, meeting)
    assert QUESTION_WORDS[channel][language] in result.text
    others = {c: words[language] for c, words in QUESTION_WORDS.items() if c != channel}
    assert not any(word in result.text for word in others.values())


@pytest.mark.parametrize(
    ("language", "phrase"),
    [("en", "We agreed to meet tomorrow at 10:00"), ("nl", "elkaar morgen om 10:00 te ontmoeten"),
     ("ru", "договорились встретиться завтра в 10:00")],
)  # fmt: skip
def test_the_agreed_time_is_named_in_the_clients_zone_and_language(language: str, phrase: str) -> None:
    assert phrase in render_variant(language, "in_person", sample_meeting()).text


@pytest.mark.parametrize("language", LANGS)
def test_the_message_is_signed_by_the_owner_with_title_and_phone(language: str) -> None:
    text = render_variant(language, "in_person", sample_meeting()).text
    assert text.rstrip().endswith("Jan de Vries\nAccount Manager\n+31 6 1234 5678")


@pytest.mark.parametrize(
    ("language", "greeting"),
    [("en", "Dear Mr. Jansen,"), ("nl", "Beste heer Jansen,"), ("ru", "Здравствуйте, Piet!")],
)
def test_the_greeting_is_personal(language: str, greeting: str) -> None:
    assert render_variant(language, "in_person", sample_meeting()).text.startswith(greeting)


def test_russian_greets_by_first_name_and_dutch_uses_formal_u() -> None:
    ivan = replace(sample_meeting().who, first_name="Иван", last_name="Иванов")  # type: ignore[type-var]
    assert render_variant("ru", "x", sample_meeting(who=ivan)).text.startswith("Здравствуйте, Иван!")
    dutch = render_variant("nl", "x", sample_meeting()).text
    assert re.search(r"\bu\b", dutch) and not re.search(r"\b(je|jij|jou)\b", dutch)


def _literal_text(source: str) -> str:
    """Template text outside tags and comments: what a reader of the template sees as wording."""
    return re.sub(r"\{#.*?#\}|\{%.*?%\}", " ", source, flags=re.S)


@pytest.mark.parametrize("language", LANGS)
def test_no_shipped_template_contains_forbidden_wording(language: str) -> None:
    folder = shipped_templates_dir() / language
    files = sorted(folder.glob("*.*"))
    assert files
    for path in files:
        text = _literal_text(path.read_text(encoding="utf-8")).casefold()
        for phrase in FORBIDDEN[language] + FORBIDDEN["en"]:
            assert phrase not in text, (path.name, phrase)


# -- channel rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"location": "https://teams.microsoft.com/l/meetup-join/x"}, "video"),
        ({"location": "Zoom", "event_type": "Call"}, "video"),
        ({"subject": "Teams call with Piet", "location": None}, "video"),
        ({"subject": "Videogesprek", "location": None}, "video"),
        ({"subject": "Онлайн встреча", "location": None}, "video"),
        ({"event_type": "Call", "location": "Dorpsstraat 1"}, "call"),
        ({"location": "+31 (0)38 123-4567", "event_type": "Meeting"}, "call"),
        ({"subject": "Bellen met Piet", "location": None}, "call"),
        ({"subject": "Call Piet", "location": "Dorpsstraat 1, Zwolle"}, "in_person"),
        ({"location": "Callahan Street 5", "event_type": "Meeting"}, "in_person"),
        ({"location": None, "event_type": "Meeting", "subject": "Visit"}, "in_person"),
        ({"location": None, "event_type": None, "subject": None}, "in_person"),
    ],
)
def test_meeting_channel_rules(changes: dict[str, object], expected: str) -> None:
    assert meeting_channel(sample_meeting(**changes)) == expected


# -- context model ------------------------------------------------------------------------------


def test_a_huge_description_is_truncated_with_a_marker() -> None:
    ctx = build_confirmation_context(
        sample_meeting(description="x" * 32_000), zone=SAMPLE_ZONE, language="en", send_at=SAMPLE_SEND_AT
    )
    assert len(ctx.meeting.description) == MAX_DESCRIPTION_CHARS
    assert ctx.meeting.description.endswith(TRUNCATION_MARKER)


def test_crm_names_lose_line_breaks_and_control_characters() -> None:
    who = replace(sample_meeting().who, first_name="Piet\r\nBcc: x@evil\u2028\x00", last_name="Jansen\u202e")  # type: ignore[type-var]
    ctx = build_confirmation_context(
        sample_meeting(who=who), zone=SAMPLE_ZONE, language="en", send_at=SAMPLE_SEND_AT
    )
    assert ctx.client.first_name == "Piet Bcc: x@evil"
    assert ctx.client.last_name == "Jansen"


def test_today_and_tomorrow_are_calendar_days_in_the_clients_zone() -> None:
    # 23:30 UTC on 30 Nov is already 1 Dec in Amsterdam: the same local day as a 10:00 meeting.
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    today = build_confirmation_context(
        sample_meeting(), zone=SAMPLE_ZONE, language="en", send_at=late
    ).meeting
    tomorrow = build_confirmation_context(
        sample_meeting(), zone=SAMPLE_ZONE, language="en", send_at=SAMPLE_SEND_AT
    )
    assert (today.is_today, today.is_tomorrow) == (True, False)
    assert (tomorrow.meeting.is_today, tomorrow.meeting.is_tomorrow) == (False, True)


def test_every_template_variable_is_documented() -> None:
    rows = describe_context(ConfirmationContext)
    assert {"client.first_name", "owner.phone", "meeting.when_text", "meeting.channel", "language"} <= {
        path for path, _type, _doc in rows
    }
    assert all(doc for _path, _type, doc in rows)
