"""The hand-written MIME bytes (prepbot.mime) read back by Python's parser exactly as meant."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from prepbot import mime
from prepbot.messages import build_email, checked_bytes
from tests.test_messages import outgoing as message

SENT_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NAMES = [
    "Jan de Vries",
    "J. de Vries, Jr.",
    'Piet "the boss" Jansen',
    "back\\slash",
    "Zoë Müller-Lüdenscheidt",
    "Ирина Волкова" * 12,  # long enough for several encoded words
    "王小明",
    "Ana 🙂 López",
    "a = ? b",
]
TEXTS = [
    "Beste heer Jansen,\n\nTot morgen,\nJan\n",
    "Tot morgen – één kop koffie\n",
    "Здравствуйте!\nДо завтра.",
    "x" * 2_500 + "\nshort\n",
    "line one\r\nline two\rline three\n",
    ".a line that starts with a dot\n",
    "",
]


def parsed(msg: EmailMessage) -> EmailMessage:
    wire = checked_bytes(msg)
    assert wire is not None
    out = BytesParser(policy=policy.default).parsebytes(wire)
    assert isinstance(out, EmailMessage)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_a_display_name_reads_back_as_written_with_its_address(name: str) -> None:
    msg = parsed(build_email(message(from_name=name, to_name=name, subject=name), sent_at=SENT_AT))
    for header in ("From", "To"):
        (address,) = msg[header].addresses
        assert address.display_name == name
    assert msg["From"].addresses[0].addr_spec == "meetings@example.com"
    assert msg["To"].addresses[0].addr_spec == "piet@example.org"
    assert msg["Subject"] == name


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("html", [True, False])
def test_a_body_reads_back_as_written_whatever_its_encoding(text: str, html: bool) -> None:
    html_text = f"<p>{text}</p>" if html else None
    msg = parsed(build_email(message(text=text, html=html_text), sent_at=SENT_AT))
    plain = msg.get_body(("plain",))
    assert plain is not None
    expected = "\n".join(text.splitlines()) + "\n"
    assert plain.get_content().replace("\r\n", "\n") == expected
    if html_text is not None:
        part = msg.get_body(("html",))
        assert part is not None
        assert part.get_content().replace("\r\n", "\n") == "\n".join(html_text.splitlines()) + "\n"


@pytest.mark.parametrize("text", TEXTS)
def test_the_wire_is_ascii_with_crlf_lines_within_the_smtp_limit(text: str) -> None:
    name = "Ирина Волкова" * 12
    wire = checked_bytes(build_email(message(text=text, to_name=name, subject=name * 5), sent_at=SENT_AT))
    assert wire is not None and wire.isascii()
    assert b"\n" not in wire.replace(b"\r\n", b"")  # no bare LF or CR
    assert b"\r" not in wire.replace(b"\r\n", b"")
    assert max(len(line) for line in wire.split(b"\r\n")) <= mime.MAX_LINE


def test_a_huge_emoji_name_still_fits_the_line_limit() -> None:
    name, local = "🙂" * 200, "x" * 64
    wire = checked_bytes(
        build_email(message(from_name=name, from_address=f"{local}@example.com"), sent_at=SENT_AT)
    )
    assert wire is not None and max(len(line) for line in wire.split(b"\r\n")) <= mime.MAX_LINE
    assert (
        parsed(build_email(message(from_name=name), sent_at=SENT_AT))["From"]
        .addresses[0]
        .display_name.startswith("🙂" * 100)
    )


def test_encoded_words_stay_within_75_characters_and_split_between_characters() -> None:
    text = "🙂é" * 40
    words = mime.encoded_words(text).split("\r\n ")
    assert len(words) > 1 and all(len(word) <= 75 for word in words)
    assert (
        str(
            BytesParser(policy=policy.default).parsebytes(
                b"Subject: " + "\r\n ".join(words).encode() + b"\r\n\r\n"
            )["Subject"]
        )
        == text
    )


def test_the_boundary_is_stable_per_message_and_never_inside_a_body() -> None:
    first = mime.boundary_for("prepbot.1@example.com", b"text", b"html")
    assert first == mime.boundary_for("prepbot.1@example.com", b"other", b"bodies")
    assert first != mime.boundary_for("prepbot.2@example.com", b"text", b"html")
    clash = mime.boundary_for("prepbot.1@example.com", first.encode(), b"")
    assert clash != first and clash.encode() not in first.encode()


def test_the_same_message_twice_gives_the_same_bytes() -> None:
    """A retried send after a crash carries the same Message-ID and the same bytes."""
    once = checked_bytes(build_email(message(), sent_at=SENT_AT))
    again = checked_bytes(build_email(message(), sent_at=SENT_AT))
    assert once is not None and once == again
