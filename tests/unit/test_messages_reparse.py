"""The header check's own re-parse: the stdlib's headersonly result, or MessageError (issue 7)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prepbot import mime
from prepbot.errors import MessageError
from prepbot.messages import (
    _POLICY,
    _parsed_header_section,
    _reparsed_subject,
    _verified,
    build_email,
    checked_bytes,
)
from tests.test_messages import outgoing

SENT_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BASE = outgoing()  # the message tests/test_messages.py builds

FTEXT = st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":")
NAMES = st.one_of(st.text(FTEXT, min_size=1, max_size=12), st.sampled_from(["From", "Subject", "To", "X-A"]))
BAD_NAMES = st.sampled_from(["From ", "Bcc ", "", "Sübject", "A\x00B", "a b", "\x7f"])
VALUES = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=30),
    st.sampled_from(["=?utf-8?b?0JfQsNCy0YLRgNCw?=", "=?UTF-8?Q?=0D=0A?=X-Injected: 1", " x ", "", "a:b"]),
    st.text("ab =?\t", min_size=990, max_size=1010),  # about RFC 5322's line limit
)
NASTY_VALUES = st.one_of(st.text(max_size=30), st.sampled_from(["a\r\nBcc: x", "a\nBcc: x", "a\rb", "\r"]))
# Mostly well-formed, so that many sections are accepted and compared; each nasty choice is rarer.
LINES = st.sampled_from(["field"] * 10 + ["continuation"] * 4 + ["bad name", "nasty value", "no colon"])
ENDINGS = st.sampled_from(["\r\n"] * 20 + ["\n", "\r", ""])


@st.composite
def header_line(draw: st.DrawFn) -> str:
    kind = draw(LINES)
    if kind == "continuation":  # the first line of a section too, now and then
        return draw(st.sampled_from([" ", "\t"])) + draw(VALUES)
    if kind == "no colon":
        return draw(st.text(st.characters(exclude_categories=["Cs"], exclude_characters=":"), max_size=30))
    name = draw(BAD_NAMES if kind == "bad name" else NAMES)
    return f"{name}:{draw(NASTY_VALUES if kind == 'nasty value' else VALUES)}"


@st.composite
def wires(draw: st.DrawFn) -> bytes:
    first = draw(st.one_of(st.builds("{}:{}".format, NAMES, VALUES), header_line()))
    lines = draw(st.lists(st.tuples(header_line(), ENDINGS), max_size=8))
    head = first + draw(ENDINGS) + "".join(line + ending for line, ending in lines)
    separator = draw(st.sampled_from(["\r\n"] * 6 + ["", "\n", "\r\n\r\n"]))
    body = draw(st.one_of(st.text(max_size=40), st.just("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n")))
    return (head + separator + body).encode("utf-8")


def stdlib_parse(wire: bytes) -> EmailMessage:
    parsed = BytesParser(policy=_POLICY).parsebytes(wire, headersonly=True)
    assert isinstance(parsed, EmailMessage)
    return parsed


def assert_same_as_stdlib(msg: EmailMessage, wire: bytes) -> None:
    expected = stdlib_parse(wire)
    assert list(msg.raw_items()) == list(expected.raw_items())
    assert msg.get_payload() == expected.get_payload()
    assert expected.defects == [] and expected.get_unixfrom() is None  # accepted: clean for it too


@settings(max_examples=400, deadline=None)
@given(wires())
def test_the_reparse_refuses_a_header_section_or_agrees_with_the_stdlib(wire: bytes) -> None:
    try:
        msg = _parsed_header_section(wire)
    except MessageError:
        return
    assert_same_as_stdlib(msg, wire)


# Subject values as a relay would see them: ASCII words (quotes, comments, '=?' and '?=' too) folded
# with CRLF and a space or a tab, now and then a real encoded word
SUBJECT_WORDS = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
    st.sampled_from(["=?utf-8?b?0JfQsNCy0YLRgNCw?=", "=?utf-8?q?caf=C3=A9?=", "=?", "?=", "=?x?y?z?=", "  "]),
)
FOLDED_SUBJECTS = st.lists(
    st.tuples(SUBJECT_WORDS, st.sampled_from(["\r\n ", "\r\n\t", " "])), max_size=6
).map(lambda parts: "".join(word + fold for word, fold in parts) + "end")


# Subject values made of UTF-8 "B" encoded words: as prepbot writes them, words of any bytes (a
# character split between two words, invalid UTF-8, empty), and near misses of prepbot's form
ENCODED_SUBJECTS = st.one_of(
    st.text(max_size=200).map(mime.encoded_words),
    st.lists(st.binary(max_size=12).map(mime._word), min_size=1, max_size=5).map("\r\n ".join),
    st.sampled_from(
        [
            "=?utf-8?b?0JfQsNCy0YLRgNCw?= =?utf-8?b?QQ==?=",
            "=?utf-8?b?0JfQsNCy0YLRgNCw?=\r\n\t=?utf-8?b?QQ==?=",
            "=?utf-8?b?QQ?=",
            "=?utf-8?b?QQ=?=",
            "=?UTF-8?B?QQ==?=",
            "=?utf-8?b?QQ==?=x",
            "=?utf-8?b?QQ==?==?utf-8?b?QQ==?=",
        ]
    ),
)


@settings(max_examples=800, deadline=None)
@given(subject=st.one_of(FOLDED_SUBJECTS, ENCODED_SUBJECTS))
def test_the_subject_is_read_back_as_the_header_registry_reads_it(subject: str) -> None:
    """The check's shortcuts, for a plain ASCII Subject and for prepbot's own encoded words, give
    what ``str(msg["Subject"])`` gives."""
    wire = f"From: a@example.com\r\nSubject: {subject}\r\nTo: b@example.com\r\n\r\nbody".encode("ascii")
    msg = _parsed_header_section(wire)
    assert _reparsed_subject(msg) == str(msg["Subject"])


@settings(max_examples=100, deadline=None)
@given(wires())
def test_any_accepted_subject_is_read_back_as_the_header_registry_reads_it(wire: bytes) -> None:
    try:
        msg = _parsed_header_section(wire)
    except MessageError:
        return
    if "Subject" in msg:
        assert _reparsed_subject(msg) == str(msg["Subject"])


@settings(max_examples=100, deadline=None)
@given(subject=st.text(max_size=300), name=st.text(max_size=120), text=st.text(max_size=200))
def test_a_built_message_is_the_stdlib_parse_of_its_checked_bytes(subject: str, name: str, text: str) -> None:
    msg = build_email(replace(BASE, subject=subject, to_name=name, text=text), sent_at=SENT_AT)
    wire = checked_bytes(msg)
    assert wire is not None
    assert_same_as_stdlib(msg, wire)


def test_a_long_cyrillic_subject_is_read_back_across_its_folded_lines() -> None:
    subject = "Завтра в 11:00 — как к Вам лучше добраться? И кого спросить на ресепшене у входа?"
    msg = build_email(replace(BASE, subject=subject), sent_at=SENT_AT)
    wire = checked_bytes(msg)
    assert wire is not None and b"\r\n =?utf-8?b?" in wire  # folded: continuation lines were parsed
    assert msg["Subject"] == subject
    assert_same_as_stdlib(msg, wire)


def checked_wire() -> tuple[bytes, list[str], str]:
    msg = build_email(BASE, sent_at=SENT_AT)
    wire = checked_bytes(msg)
    assert wire is not None
    return wire, [name.lower() for name in msg], str(msg["Subject"])


def test_the_unchanged_wire_passes_the_check() -> None:
    wire, names, subject = checked_wire()
    assert _verified(wire, names, subject)["Subject"] == subject


@pytest.mark.parametrize(
    ("after_subject", "error"),
    [
        ("Bcc: x@evil.example\r\n", "does not re-parse to the headers"),  # an extra, well-formed field
        ("X-Injected 1\r\n", "not a header field"),  # no colon: the stdlib would start the body here
        (": no name\r\n", "not a header field"),
        ("X-Injected: 1\nBcc: x@evil.example\r\n", "not a header field"),  # bare LF
        ("X-Injected: 1\rBcc: x@evil.example\r\n", "not a header field"),  # bare CR
        ("From x@evil.example\r\n", "not a header field"),  # an mbox envelope line
    ],
)
def test_a_wire_with_an_injected_line_in_its_header_section_is_refused(
    after_subject: str, error: str
) -> None:
    wire, names, subject = checked_wire()
    start = wire.index(b"\r\n", wire.index(b"\r\nSubject: ") + 2) + 2
    with pytest.raises(MessageError, match=error):
        _verified(wire[:start] + after_subject.encode("ascii") + wire[start:], names, subject)


@pytest.mark.parametrize(
    "wire",
    [
        b" From: a@example.com\r\n\r\nbody",
        b"From: a@example.com\r\nbody without a blank line\r\n",
        b"\r\n\r\n",
    ],
)
def test_a_leading_continuation_a_missing_separator_or_no_field_is_refused(wire: bytes) -> None:
    with pytest.raises(MessageError):
        _parsed_header_section(wire)


def test_a_subject_that_reads_back_differently_is_refused() -> None:
    wire, names, subject = checked_wire()
    with pytest.raises(MessageError, match="Subject does not re-parse"):
        _verified(wire, names, subject + "?")
