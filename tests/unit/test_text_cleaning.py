"""The shortcuts of the text cleaners give what the character-by-character rule gives (issue 7)."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from prepbot.context import _clean_chars, clean_line
from prepbot.messages import clean_header_text
from prepbot.prepnote import _joined_lines

REMOVED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, format, line and paragraph separators
SPACES = "\u00a0\u1680\u2000\u2005\u200a\u202f\u205f\u3000"  # kept: Unicode space separators (Zs)
TEXTS = st.text(
    st.one_of(
        st.characters(min_codepoint=0, max_codepoint=127),
        st.sampled_from(SPACES + "\u2028\u2029\u202e\u200b\u0085\ufeffé—"),
        st.characters(),
    ),
    max_size=60,
)


def by_character(text: str, *, keep_newlines: bool) -> str:
    text = text.replace("\r\n", "\n")
    return "".join(
        char if keep_newlines and char in "\n\t" else " " if unicodedata.category(char) in REMOVED else char
        for char in text
    )


@settings(max_examples=500, deadline=None)
@given(text=TEXTS, keep_newlines=st.booleans())
def test_crm_text_is_cleaned_as_character_by_character(text: str, keep_newlines: bool) -> None:
    assert _clean_chars(text, keep_newlines=keep_newlines) == by_character(text, keep_newlines=keep_newlines)


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.text(st.characters(max_codepoint=127), max_size=60), TEXTS))
def test_a_header_text_is_cleaned_as_character_by_character(text: str) -> None:
    expected = " ".join(by_character(text, keep_newlines=False).replace("=?", "= ?").split())
    if "=?" not in text:  # encoded words are decoded first: compared elsewhere (tests/test_messages.py)
        assert clean_header_text(text) == expected


@settings(max_examples=500, deadline=None)
@given(text=st.text(st.sampled_from(" \t\r\n\u00a0\u2028\u3000\x1c\x85ab<>é"), max_size=40))
def test_a_note_s_lines_are_joined_as_the_line_break_regex_joins_them(text: str) -> None:
    stripped = text.strip()  # what tidy_note_html joins: stripped first
    assert _joined_lines(stripped) == re.sub(r"\s*\n\s*", " ", stripped)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, limit=st.integers(min_value=5, max_value=40))
def test_a_line_is_cleaned_the_same_each_time_and_for_each_limit(text: str, limit: int) -> None:
    """clean_line keeps what it cleaned (a note cleans the same names ~40 times): each call still
    gives the rule's result, for its own limit, for str and for any other value."""
    whole = " ".join(by_character(text, keep_newlines=False).split())
    expected = whole if len(whole) <= limit else whole[: limit - 4].rstrip() + " […]"
    assert clean_line(text, limit) == expected
    assert clean_line(text, limit) == expected  # from the cache
    assert clean_line(text, 300) == (whole if len(whole) <= 300 else whole[:296].rstrip() + " […]")

    class Text(str):
        pass

    assert clean_line(Text(text), limit) == expected
    long = text * (2_000 // max(len(text), 1) + 1)  # longer than what is kept: cleaned each time
    assert clean_line(long, 10_000) == " ".join(by_character(long, keep_newlines=False).split())
