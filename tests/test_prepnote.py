"""The prep note's words and markup (pure): every language and status passes the ContentNote validator."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prepbot.domain import (
    ActionKey,
    ActionRow,
    ContactRole,
    Deal,
    Meeting,
    MessageKind,
    Owner,
    Person,
    Status,
)
from prepbot.prepnote import ConfirmationStatus, build_prep_note, confirmation_status, tidy_note_html
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.sandbox.notes import decode_note_content

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Script:
    script: str
    title: str
    reason: str
    text: str
    language: str
    template_version: str = "t"


def meeting(owner_language: str = "en_US", **kw: object) -> Meeting:
    base = Meeting(
        "00U000000000001",
        'Visit <b>"O\'Brien"</b> & co',
        AT,
        AT + timedelta(hours=1),
        False,
        None,
        "005000000000001",
        location="Dorpsweg 1, Emmen",
        owner=Owner(
            "005000000000001", "Anouk de Vries", time_zone="Europe/Amsterdam", language=owner_language
        ),
        who=Person(
            "003000000000001",
            "Contact",
            "O'Brien",
            first_name="<script>",
            title="Owner",
            time_zone="Europe/London",
            company="Acme & Sons",
        ),
        what=Deal(
            "006000000000001",
            "Opportunity",
            "Robots",
            stage="Proposal",
            account_name="Acme",
            roles=(
                ContactRole(
                    "003000000000002", "Decision Maker", contact_name="Anna Smit", contact_title="Founder"
                ),
            ),
        ),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def accepted(html: str) -> str:
    """The body as the sandbox's ContentNote validator stores it (raises on bad markup)."""
    return decode_note_content(base64.b64encode(html.encode("utf-8")).decode("ascii")).decode("utf-8")


def row(
    status: Status, *, occurrence: str = "2026-12-01T09:00:00Z", reason: str = "", **kw: object
) -> ActionRow:
    key = ActionKey("00U000000000001", occurrence, "x@example.test", MessageKind.CONFIRMATION)
    due = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return ActionRow(1, key, status, due, AT, reason=reason, updated_at=due, **kw)  # type: ignore[arg-type]


RENDERER = Renderer(shipped_dir=shipped_templates_dir())
STATUSES = [
    ConfirmationStatus("sent", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ConfirmationStatus("planned", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ConfirmationStatus("sending", datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
    ConfirmationStatus("skipped", None, "opted_out"),
    ConfirmationStatus("skipped", None, "something_new"),
    ConfirmationStatus("failed", None, "smtp 550 <no such user> & 'gone'"),
    ConfirmationStatus("in_doubt", None, "in doubt"),
    ConfirmationStatus("none"),
]


@pytest.mark.parametrize("language", ["en_US", "nl_NL", "ru", "de_DE"])
@pytest.mark.parametrize("status", STATUSES, ids=lambda s: f"{s.state}-{s.reason}")
def test_every_language_and_status_renders_markup_contentnote_accepts(
    language: str, status: ConfirmationStatus
) -> None:
    scripts = [Script("no_show", "No-show <call>", "in person & far", "Line 'one'\nline two\n\nnext", "nl")]
    note = build_prep_note(RENDERER, meeting(language), status, scripts)
    assert accepted(note.html) == note.html
    assert "\n" not in note.html and "&#34;" not in note.html and "&#x27;" not in note.html
    assert "'" not in note.html and '"' not in note.html
    assert note.title.endswith("(prepbot)")


def test_client_text_is_escaped_with_the_entities_contentnote_wants() -> None:
    note = build_prep_note(RENDERER, meeting(), STATUSES[0], [])
    assert "&lt;script&gt; O&#39;Brien" in note.html and "Acme &amp; Sons" in note.html
    assert "&lt;b&gt;&quot;O&#39;Brien&quot;&lt;/b&gt;" in note.html
    assert "<script>" not in note.html and note.title.startswith('Prep: Visit <b>"O\'Brien"</b> & co')


def test_the_note_is_in_the_reps_language_with_both_zones_and_the_deciders() -> None:
    note = build_prep_note(RENDERER, meeting("nl_NL"), STATUSES[0], [])
    assert note.language == "nl" and note.title.startswith("Voorbereiding:")
    assert "dinsdag 1 december, 09:00 (tijd van de klant, Europe/London)" in note.html
    assert "<b>Jouw tijd:</b> dinsdag 1 december, 10:00 (Europe/Amsterdam)" in note.html
    assert "Anna Smit, Founder — <b>Decision Maker</b>" in note.html
    assert "verstuurd maandag 30 november, 10:00 (jouw tijd, Europe/Amsterdam)" in note.html
    assert "Verkoopkans:</b> Robots (fase: Proposal)" in note.html


def test_one_zone_is_shown_once_when_client_and_owner_share_it() -> None:
    same = meeting(who=replace(meeting().who, time_zone="Europe/Amsterdam"))  # type: ignore[type-var]
    note = build_prep_note(RENDERER, same, STATUSES[0], [])
    assert "<b>Your time:</b>" not in note.html and "(client&#39;s time, Europe/Amsterdam)" in note.html


def test_scripts_show_title_reason_text_and_say_when_they_are_in_the_clients_language() -> None:
    scripts = [
        Script("no_show", "Geen blaam", "het is een bezoek", "Goedemiddag,\nik was er.", "nl"),
        Script("permission", "Permission", "referrals asked", "May I ask...", "en"),
    ]
    html = build_prep_note(RENDERER, meeting(), STATUSES[0], scripts).html
    assert (
        "<b>Geen blaam</b> <i>(in Dutch, the client&#39;s language)</i><br><i>Why: het is een bezoek</i>"
        in html
    )
    assert "<p>Goedemiddag,<br>ik was er.</p>" in html
    assert "<b>Permission</b><br><i>Why: referrals asked</i>" in html
    none = build_prep_note(RENDERER, meeting(), STATUSES[0], []).html
    assert "No fallback script applies" in none


def test_skip_reasons_are_plain_words_and_unknown_codes_are_shown_as_they_are() -> None:
    opted = build_prep_note(RENDERER, meeting(), STATUSES[3], []).html
    assert "not sent: the client has opted out of email." in opted
    unknown = build_prep_note(RENDERER, meeting(), STATUSES[4], []).html
    assert "not sent: something_new." in unknown


def test_the_hash_changes_with_the_content_and_only_then() -> None:
    a = build_prep_note(RENDERER, meeting(), STATUSES[1], [])
    assert build_prep_note(RENDERER, meeting(), STATUSES[1], []).content_hash == a.content_hash
    assert build_prep_note(RENDERER, meeting(), STATUSES[0], []).content_hash != a.content_hash
    moved = meeting(start_at=AT + timedelta(minutes=30))
    assert build_prep_note(RENDERER, moved, STATUSES[1], []).content_hash != a.content_hash


def test_an_all_day_meeting_keeps_its_calendar_date() -> None:
    from datetime import date

    day = meeting(all_day=True, start_at=None, end_at=None, activity_date=date(2026, 12, 1))
    note = build_prep_note(RENDERER, day, STATUSES[0], [])
    assert "Tuesday, 1 December" in note.title or "Tuesday, December 1" in note.title


def test_confirmation_status_prefers_sent_then_waiting_then_skipped() -> None:
    m = meeting()
    sent_at = datetime(2026, 11, 30, 9, 1, tzinfo=UTC)
    assert confirmation_status(m, []) == ConfirmationStatus("none")
    assert confirmation_status(m, [row(Status.PLANNED)]).state == "planned"
    assert confirmation_status(m, [row(Status.LOGGED, sent_at=sent_at)]) == ConfirmationStatus(
        "sent", sent_at
    )
    skipped = confirmation_status(m, [row(Status.SKIPPED, reason="opted_out")])
    assert (skipped.state, skipped.reason) == ("skipped", "opted_out")
    other_day = row(Status.SENT, occurrence="2026-12-01T08:30:00Z", sent_at=sent_at)
    assert confirmation_status(m, [other_day, row(Status.PLANNED)]).state == "planned"  # moved: new one
    again = [other_day, row(Status.SKIPPED, reason="already_confirmed")]
    assert confirmation_status(m, again) == ConfirmationStatus("sent", sent_at)  # moved the same day


_TEXT_RUN = re.compile(r"[^<>]+(?=<|$)")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["<p>", "</p>", '<a href="x">', "it's", 'say "hi"', "a < b", "x > y", "'", '"', " "])
    )
)
def test_tidy_entities_only_the_quotes_in_text_never_those_in_tags(parts: list[str]) -> None:
    html = "".join(parts)
    text_runs = _TEXT_RUN.sub(lambda m: m.group(0).replace("'", "&#39;").replace('"', "&quot;"), html)
    assert tidy_note_html(html) == text_runs.strip()
