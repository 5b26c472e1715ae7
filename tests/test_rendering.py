"""Renderer: layering, language fallback, versions, sandbox and caps; Babel formatting; language choice."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from prepbot import rendering
from prepbot.context import build_confirmation_context
from prepbot.errors import TemplateError
from prepbot.formatting import format_day, format_meeting_time
from prepbot.languages import babel_locale, choose_language, normalize_language
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_contexts, sample_meeting

LANGS = {"en", "nl", "ru"}


def context(language: str = "en", **changes: object) -> dict[str, object]:
    meeting = sample_meeting(**changes)
    ctx = build_confirmation_context(meeting, zone=SAMPLE_ZONE, language=language, send_at=SAMPLE_SEND_AT)
    return ctx.as_mapping()


def write(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def admin(tmp_path: Path) -> Path:
    return tmp_path / "admin"


def renderer(admin_dir: Path | None = None, **kwargs: object) -> Renderer:
    return Renderer(shipped_dir=shipped_templates_dir(), admin_dir=admin_dir, **kwargs)  # type: ignore[arg-type]


# -- layering, fallback, version -----------------------------------------------------------------


def test_the_shipped_folder_holds_confirmations_in_english_dutch_and_russian() -> None:
    assert set(renderer().available_languages("confirmation")) == LANGS


@pytest.mark.parametrize("language", sorted(LANGS))
def test_a_shipped_language_renders_in_that_language_without_falling_back(language: str) -> None:
    result = renderer().render("confirmation", language, context(language))
    assert (result.language, result.fell_back) == (language, False)
    assert "\n" not in result.subject and result.html is not None
    assert len(result.template_version) == 12


def test_a_language_without_templates_falls_back_to_the_default_and_says_so() -> None:
    result = renderer().render("confirmation", "de", context("de"))
    assert (result.language, result.fell_back) == ("en", True)
    assert result.text.startswith("Dear Mr. Jansen,")


def test_a_language_code_that_is_not_a_code_is_never_used_as_a_path() -> None:
    result = renderer().render("confirmation", "../en", context())
    assert result.fell_back and result.language == "en"


def test_an_admin_file_overrides_only_that_file_and_changes_the_version(admin: Path) -> None:
    shipped = renderer().render("confirmation", "nl", context("nl"))
    write(admin, "nl/confirmation.subject.txt", "Morgen, {{ client.first_name }}!")
    layered = renderer(admin).render("confirmation", "nl", context("nl"))
    assert layered.subject == "Morgen, Piet!"
    assert layered.text == shipped.text
    assert layered.template_version != shipped.template_version


def test_the_version_covers_imported_macro_files(admin: Path) -> None:
    before = renderer(admin).render("confirmation", "en", context()).template_version
    source = (shipped_templates_dir() / "en/confirmation.parts.txt").read_text(encoding="utf-8")
    write(admin, "en/confirmation.parts.txt", source + "\n{# edited #}\n")
    after = renderer(admin).render("confirmation", "en", context()).template_version
    assert before != after


def test_a_running_renderer_sees_an_edited_admin_template_once_its_check_is_due(
    admin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(admin, "en/confirmation.subject.txt", "Before, {{ client.first_name }}")
    running = renderer(admin)
    before = running.render("confirmation", "en", context())
    write(admin, "en/confirmation.subject.txt", "After, {{ client.first_name }}")
    os.utime(admin / "en/confirmation.subject.txt", ns=(0, 10**18))  # a coarse clock: mtime moved
    monkeypatch.setattr(rendering, "LISTING_TTL_SECONDS", -1.0)
    after = running.render("confirmation", "en", context())
    assert (before.subject, after.subject) == ("Before, Piet", "After, Piet")
    assert before.template_version != after.template_version


def test_a_running_renderer_sees_an_admin_file_added_over_a_shipped_one(
    admin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running = renderer(admin)
    shipped = running.render("confirmation", "en", context())
    write(admin, "en/confirmation.subject.txt", "Overridden, {{ client.first_name }}")
    monkeypatch.setattr(rendering, "LISTING_TTL_SECONDS", -1.0)
    layered = running.render("confirmation", "en", context())
    assert layered.subject == "Overridden, Piet" != shipped.subject
    assert layered.template_version != shipped.template_version


def test_the_subject_is_rendered_to_one_line(admin: Path) -> None:
    write(admin, "en/confirmation.subject.txt", "Line one\n\n  line   two\n")
    assert renderer(admin).render("confirmation", "en", context()).subject == "Line one line two"


def test_render_one_renders_a_named_template_with_its_version(admin: Path) -> None:
    write(admin, "en/prep_note.html", "<p>{{ client.name }}</p>")
    result = renderer(admin).render_one("en/prep_note.html", {"client": {"name": "<b>Piet</b>"}})
    assert result.text == "<p>&lt;b&gt;Piet&lt;/b&gt;</p>"
    assert len(result.template_version) == 12


# -- errors: undefined variables, sandbox, caps --------------------------------------------------


def test_a_misspelled_variable_fails_with_the_file_and_line(admin: Path) -> None:
    write(admin, "en/confirmation.txt", "Hello,\n\n{{ client.frist_name }}\n")
    with pytest.raises(TemplateError) as caught:
        renderer(admin).render("confirmation", "en", context())
    assert caught.value.line == 3
    assert str(caught.value.template).endswith("en/confirmation.txt")
    assert "en/confirmation.txt:3" in str(caught.value)


def test_a_missing_variable_inside_an_if_fails_too(admin: Path) -> None:
    write(admin, "en/confirmation.txt", "{% if client.nickname %}x{% endif %}Hello\n")
    with pytest.raises(TemplateError):
        renderer(admin).render("confirmation", "en", context())


def test_a_syntax_error_fails_with_the_line(admin: Path) -> None:
    write(admin, "en/confirmation.txt", "Hello\n{% if %}\n")
    with pytest.raises(TemplateError) as caught:
        renderer(admin).render("confirmation", "en", context())
    assert caught.value.line == 2


SSTI = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ client.__class__ }}",
    "{{ '{0.__class__}'.format(client) }}",
    "{{ 'a' * 100000000 }}",
    "{{ ['a'] * 100000000 }}",
    "{{ 'a'|center(100000000) }}",
    "{{ '%100000000s'|format('a') }}",
    "{{ '{:>100000000}'.format('a') }}",
    "{{ 'x'.ljust(100000000) }}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{{ lipsum(1000000) }}",
    "{{ range(10000)|join('a' * 90000) }}",
    "{% set ns = namespace(s='a' * 60000) %}{% set ns.s = ns.s ~ ns.s %}{{ ns.s }}",
]


@pytest.mark.parametrize("payload", SSTI)
def test_template_injection_from_an_admin_folder_fails_without_showing_internals(
    admin: Path, payload: str
) -> None:
    write(admin, "en/confirmation.txt", f"Hello\n{payload}\n")
    with pytest.raises(TemplateError) as caught:
        renderer(admin).render("confirmation", "en", context())
    text = str(caught.value)
    for internal in ("<class", "<module", "<function", "built-in", "__builtins__", "object at 0x"):
        assert internal not in text


def test_the_sandbox_still_refuses_an_attribute_after_safe_ones_of_the_same_type_were_allowed(
    admin: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox remembers its verdicts per (type, attribute): a safe verdict must not leak."""
    monkeypatch.setattr(rendering, "LISTING_TTL_SECONDS", -1.0)  # each edit is seen at once
    shared = renderer(admin)
    write(
        admin, "en/confirmation.txt", "{{ client.first_name.upper() }} {{ [1].index(1) }} {{ {}.keys() }}\n"
    )
    assert shared.render("confirmation", "en", context()).text.strip()
    for payload in (
        "{{ ''.__class__ }}",
        "{{ [1].append(2) }}",
        "{{ {}.clear() }}",
        "{{ ''.upper.__self__ }}",
    ):
        write(admin, "en/confirmation.txt", f"Hello\n{payload}\n")
        with pytest.raises(TemplateError):
            shared.render("confirmation", "en", context())


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "runaway",
    [
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}{{ m(40) }}",
        "{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}",
    ],
)
def test_a_runaway_template_hits_the_render_cap_instead_of_hanging(admin: Path, runaway: str) -> None:
    write(admin, "en/confirmation.txt", runaway)
    with pytest.raises(TemplateError):
        renderer(admin, max_render_seconds=0.5).render("confirmation", "en", context())


def test_output_past_the_size_cap_is_refused(admin: Path) -> None:
    write(admin, "en/confirmation.txt", "{% for i in range(5000) %}{{ 'x' * 50 }}{% endfor %}")
    with pytest.raises(TemplateError, match="exceeds 100000 characters"):
        renderer(admin).render("confirmation", "en", context())


def test_text_macros_used_in_html_are_escaped(admin: Path) -> None:
    write(admin, "en/m.txt", "{% macro name(c) %}{{ c.name }}{% endmacro %}")
    write(admin, "en/confirmation.html", '{% import "en/m.txt" as m %}<p>{{ m.name(client) }}</p>')
    html = renderer(admin).render("confirmation", "en", context(who=_evil_who())).html
    assert html is not None and "<script>" not in html and "&lt;script&gt;" in html


def test_imported_macro_files_see_the_sandbox_globals_which_no_template_can_change(admin: Path) -> None:
    # each template gets its own copy of the sandbox's globals (prepbot.template_sandbox.make_globals)
    write(admin, "en/m.txt", "{% macro dots(n) %}{% for i in range(n) %}.{% endfor %}{% endmacro %}")
    write(admin, "en/confirmation.txt", '{% set range = None %}{% import "en/m.txt" as m %}[{{ m.dots(3) }}]')
    write(admin, "en/confirmation.subject.txt", "{{ range(2)|list|length }} dots")
    result = renderer(admin).render("confirmation", "en", context())
    assert (result.text.strip(), result.subject) == ("[...]", "2 dots")


def test_an_html_template_may_not_include_a_text_template(admin: Path) -> None:
    write(admin, "en/confirmation.html", '<p>{% include "en/confirmation.txt" %}</p>')
    with pytest.raises(TemplateError, match="cannot include"):
        renderer(admin).render("confirmation", "en", context())


def _evil_who() -> object:
    who = sample_meeting().who
    assert who is not None
    from dataclasses import replace

    return replace(who, first_name="<script>alert(1)</script>", salutation=None)


# -- check --------------------------------------------------------------------------------------


def test_check_passes_the_shipped_templates() -> None:
    samples = {"confirmation": sample_contexts("en")}
    assert [p for p in renderer().check(samples) if p.severity == "error"] == []


def test_check_reports_a_broken_admin_template_with_file_line_and_hint(admin: Path) -> None:
    write(admin, "ru/confirmation.txt", "Здравствуйте\n{{ meeting.whne_text }}\n")
    write(admin, "de/confirmation.subject.txt", "{% if %}")
    problems = renderer(admin).check({"confirmation": sample_contexts("ru")})
    texts = [str(p) for p in problems]
    assert any("ru/confirmation.txt:2" in t and "hint" in t for t in texts)
    assert any("de/confirmation.subject.txt:1" in t for t in texts)
    assert any(p.severity == "warning" and "de falls back to en" in p.message for p in problems)


# -- formatting and language choice -------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("nl", "dinsdag 1 december, 10:00"),
        ("en", "Tuesday, December 1, 10:00\u202fAM"),  # CLDR: narrow no-break space
        ("en_GB", "Tuesday, 1 December, 10:00"),
        ("ru", "вторник, 1 декабря, 10:00"),
    ],
)
def test_meeting_time_is_formatted_by_babel_in_the_clients_zone(locale: str, expected: str) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert format_meeting_time(start, "Europe/Amsterdam", locale) == expected


def test_times_follow_dst_and_odd_offsets() -> None:
    assert format_meeting_time(datetime(2026, 3, 29, 9, 30, tzinfo=UTC), "Europe/London", "en_GB").endswith(
        "10:30"
    )
    assert format_meeting_time(datetime(2026, 11, 30, 18, 45, tzinfo=UTC), "Asia/Kolkata", "en_GB") == (
        "Tuesday, 1 December, 00:15"
    )
    assert format_meeting_time(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "Pacific/Chatham", "en_GB") == (
        "Tuesday, 1 December, 22:45"
    )


def test_an_all_day_meeting_keeps_its_calendar_date_in_any_zone() -> None:
    ctx = build_confirmation_context(
        sample_meeting(all_day=True, start_at=None, end_at=None, activity_date=date(2026, 12, 1)),
        zone="Pacific/Chatham",
        language="nl",
        send_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    )
    assert (ctx.meeting.day_text, ctx.meeting.time_text, ctx.meeting.is_all_day) == (
        "dinsdag 1 december",
        "",
        True,
    )
    assert format_day(date(2026, 12, 1), "ru") == "вторник, 1 декабря"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("nl_NL", "nl"), ("ru-RU", "ru"), ("Dutch", "nl"), ("Nederlands", "nl"), ("русский", "ru"), ("", None)],
)
def test_crm_language_values_are_normalised(value: str, expected: str | None) -> None:
    assert normalize_language(value, LANGS) == expected


def test_language_is_chosen_contact_then_country_then_owner_then_default() -> None:
    countries = {"NL": "nl", "BE": "nl", "RU": "ru"}
    assert choose_language("ru_RU", "NL", countries, "en_US", "en", LANGS) == "ru"
    assert choose_language(None, "be", countries, "ru", "en", LANGS) == "nl"
    assert choose_language("de", "DE", countries, "ru_RU", "en", LANGS) == "ru"
    assert choose_language(None, None, countries, None, "en", LANGS) == "en"


def test_the_babel_locale_uses_the_country_when_cldr_knows_the_pair() -> None:
    assert (babel_locale("en", "GB"), babel_locale("nl", "BE"), babel_locale("ru", "NL")) == (
        "en_GB",
        "nl_BE",
        "ru",
    )


@pytest.mark.parametrize(
    ("raw", "line", "block"),
    [
        ("Jan\u00a0de Vries", "Jan de Vries", "Jan de Vries"),  # a no-break space is a space
        ("10:00\u202fAM", "10:00 AM", "10:00 AM"),  # so is Babel's narrow one
        ("Jan\u00a0de\u2028Vries", "Jan de Vries", "Jan de Vries"),  # a line separator still goes
        ("a\u202eb\u00a0c", "a b c", "a b c"),  # a bidi override next to a no-break space too
        ("one\r\ntwo\u00a0\u0000x", "one two x", "one\ntwo x"),
    ],
)
def test_crm_text_with_no_break_spaces_still_loses_its_controls(raw: str, line: str, block: str) -> None:
    from prepbot.context import clean_block, clean_line

    assert clean_line(raw) == line
    assert clean_block(raw) == block
