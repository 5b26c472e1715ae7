"""Builds RFC 5322 messages from OutgoingMessage with every header value checked (H1, H6)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Collection
from datetime import UTC, datetime
from email import policy
from email.header import decode_header
from email.message import EmailMessage
from email.utils import format_datetime
from weakref import WeakKeyDictionary

from prepbot import mime
from prepbot.context import has_no_controls
from prepbot.domain import ActionKey, OutgoingMessage
from prepbot.errors import MessageError

# Headers a caller (or, later, a template author) may add. Everything else is refused: From,
# Sender, Reply-To, To, Cc, Bcc, Subject, Date and Message-ID are prepbot's alone (H6).
ALLOWED_EXTRA_HEADERS = frozenset(
    {"in-reply-to", "references", "x-prepbot-kind", "x-prepbot-template", "x-prepbot-test"}
)
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")
_ATOM_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*$")
_MESSAGE_ID = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,200}@[A-Za-z0-9.-]{1,253}$")
_ASCII_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAK = re.compile(r"\n|\r")  # what email.policy unfolds a fetched header value on
# A field's first line (an RFC 5322 ftext name, then a colon) or a continuation line; no CR or LF.
_FIELD_LINE = re.compile(r"(?:[!-9;-~]+:|[ \t])[^\r\n]*")
# A value as prepbot.mime writes a non-ASCII one: UTF-8 "B" encoded words, one per folded line
_WORD = r"=\?utf-8\?b\?([A-Za-z0-9+/]*={0,2})\?="
_WORDS = re.compile(rf"{_WORD}(?:\r\n {_WORD})*")
_WORD_TEXT = re.compile(_WORD)
MAX_HEADER_CHARS = 900  # one unfolded value; keeps the subject far from the 998-octet line limit


# CPython 3.11's folder can drop the space between two encoded words when it splits a long
# non-ASCII Subject ("Вам лучше" arrives as "Вамлучше"). Folding at RFC 5322's hard limit of
# 998 octets instead of the recommended 78 keeps a Subject in one encoded word; every value is
# still checked after a round trip (_verify_headers).
_POLICY = policy.SMTP.clone(max_line_length=998)


def make_message_id(key: ActionKey, domain: str) -> str:
    """A Message-ID (without angle brackets) derived from the ledger key only.

    The same key always gives the same id, so a retried send after a crash carries the same
    Message-ID (reliability.md C2) and receivers can collapse an accidental duplicate.
    """
    parts = (key.event_id, key.occurrence, key.recipient.lower(), key.kind.value)
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"prepbot.{digest}@{_checked_domain(domain)}"


def clean_header_text(value: str, limit: int = MAX_HEADER_CHARS) -> str:
    """A display name or subject made safe for a header: no line breaks, controls or encoded words.

    CR, LF, NUL, U+2028/U+2029, U+0085 and every other control or format character become a
    space; RFC 2047 encoded words are decoded first (so ``=?UTF-8?Q?=0A?=`` cannot smuggle a
    line break, CVE-2024-6923) and any ``=?`` left is broken up, so Python's header parser never
    decodes text we did not mean as an encoded word. Runs of spaces collapse.
    """
    text = _ENCODED_WORD.sub(lambda m: " " + _decode_word(m.group(0)) + " ", value)
    if text.isascii():  # the only ASCII controls are C0 and DEL (category Cc): one pass at C speed
        text = _ASCII_CONTROLS.sub(" ", text)
    elif not has_no_controls(text):  # the usual non-ASCII value (a dash, accents, Cyrillic) has none
        text = "".join(" " if _is_control(char) else char for char in text)
    text = " ".join(text.replace("=?", "= ?").split())
    return text[:limit].rstrip()


def _decode_word(word: str) -> str:
    try:
        return "".join(
            part.decode(charset or "ascii", "replace") if isinstance(part, bytes) else part
            for part, charset in decode_header(word)
        )
    except (ValueError, LookupError):
        return " "


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def checked_addr_spec(value: str) -> str:
    """A bare addr-spec as checked (``local@domain``), or MessageError: addresses are refused, never cleaned.

    ASCII local parts only (SMTPUTF8 is not assumed of the relay, reliability.md D7); an
    internationalised domain is converted to its IDNA form.
    """
    text = value.strip()
    local, at, domain = text.rpartition("@")
    if (
        not at
        or not _ATOM_LOCAL.match(local)
        or ".." in local
        or local.startswith(".")
        or local.endswith(".")
    ):
        raise MessageError(f"not a usable email address: {_show(text)}")
    return f"{local}@{_checked_domain(domain)}"


def _checked_domain(domain: str) -> str:
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        raise MessageError(f"not a usable mail domain: {_show(domain)}") from None
    if not _DOMAIN.match(ascii_domain) or "." not in ascii_domain:
        raise MessageError(f"not a usable mail domain: {_show(domain)}")
    return ascii_domain


def _show(value: str) -> str:
    """An invalid value for an error message: repr-escaped (one log line, X3) and short."""
    return repr(value[:80])


def _named(name: str, address: str) -> str:
    """``Name <addr>`` for a header: the address checked (refused if unusable), the name cleaned."""
    return mime.mailbox(clean_header_text(name, 200), checked_addr_spec(address))


def build_email(
    message: OutgoingMessage, *, sent_at: datetime, allowed_headers: Collection[str] = ALLOWED_EXTRA_HEADERS
) -> EmailMessage:
    """The RFC 5322 message for ``message``: text + HTML alternative, safe headers, fixed Message-ID.

    ``From`` shows the owner's name with the sending address; ``Reply-To`` is the owner (when
    given), so answers reach a person, not the sending mailbox. The bytes are written directly
    (:mod:`prepbot.mime`) and their header section is parsed back into the returned message,
    whose body stays the raw MIME text (parse ``as_bytes()`` for its parts: a full parse costs more
    than the whole build); :func:`checked_bytes` gives those exact bytes to the transport.

    Raises:
        MessageError: an address is invalid, an extra header is not allowed, or a header value
            carries a line break; also if the serialised header section has a line that is not a
            CRLF-ended field or would not re-parse to exactly the headers we set (a defence in depth
            against CVE-2024-6923-style folding bugs).
    """
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    if not _MESSAGE_ID.match(message.message_id):
        raise MessageError(f"not a usable Message-ID: {_show(message.message_id)}")
    subject = clean_header_text(message.subject)
    headers = [("From", _named(message.from_name, message.from_address))]
    if message.reply_to:
        headers.append(("Reply-To", _named(message.from_name, message.reply_to)))
    headers += [
        ("To", _named(message.to_name, message.to_address)),
        ("Subject", mime.unstructured(subject)),
        ("Date", format_datetime(sent_at)),
        ("Message-ID", f"<{message.message_id}>"),
        ("MIME-Version", "1.0"),
    ]
    for name, value in message.headers:
        value = mime.unstructured(_checked_extra_value(name, value))
        headers.append((_checked_header_name(name, allowed_headers), value))
    body_headers, body = _body(message)
    headers += body_headers
    wire = mime.header_block(headers) + mime.CRLF + body
    return _verified(wire, [name.lower() for name, _ in headers], subject)


def _body(message: OutgoingMessage) -> tuple[list[tuple[str, str]], bytes]:
    """The content headers and body: one text/plain part, or a multipart/alternative with HTML."""
    cte, text = mime.text_part(message.text)
    if message.html is None:
        return mime.body_headers(cte, "plain"), text
    html_cte, html = mime.text_part(message.html)
    boundary = mime.boundary_for(message.message_id, text, html)
    body = mime.alternative(
        boundary, [(mime.body_headers(cte, "plain"), text), (mime.body_headers(html_cte, "html"), html)]
    )
    return [("Content-Type", f'multipart/alternative; boundary="{boundary}"')], body


def _verified(wire: bytes, expected: list[str], subject: str) -> EmailMessage:
    """Parse the header section of ``wire`` back: a folding bug must neither add a header nor change
    the Subject."""
    msg = _parsed_header_section(wire)
    if [name.lower() for name in msg] != expected:
        raise MessageError("the serialised message does not re-parse to the headers that were set")
    if _reparsed_subject(msg) != subject:
        raise MessageError("the serialised Subject does not re-parse to the subject that was set")
    _WIRE[msg] = (tuple(msg.keys()), wire)
    return msg


def _reparsed_subject(msg: EmailMessage) -> str:
    """``str(msg["Subject"])``, without the header registry's parse (a tenth of a confirmation's
    build, two thirds of it for a non-ASCII subject; issue 7) for the two forms prepbot writes:

    * an ASCII value with no ``=?`` holds no encoded word: the parse gives it unfolded (the
      policy's own unfolding);
    * a value made only of ``=?utf-8?b?...?=`` words, one per folded line: the parse decodes each
      word on its own and drops the folding white space between them.

    Anything else, and a word that is not valid base64 or UTF-8 on its own, goes to the registry.
    """
    raw = next((value for name, value in msg.raw_items() if name.lower() == "subject"), None)
    if raw is not None and raw.isascii():
        if "=?" not in raw:
            return "".join(_LINE_BREAK.split(raw))
        if _WORDS.fullmatch(raw):
            decoded = _decoded_words(raw)
            if decoded is not None:
                return decoded
    return str(msg["Subject"])


def _decoded_words(raw: str) -> str | None:
    try:
        return "".join(
            base64.b64decode(word, validate=True).decode("utf-8") for word in _WORD_TEXT.findall(raw)
        )
    except (binascii.Error, UnicodeDecodeError):
        return None


def _parsed_header_section(wire: bytes) -> EmailMessage:
    """What ``BytesParser(policy=_POLICY).parsebytes(wire, headersonly=True)`` gives for a well-formed
    ``wire``, without the feed parser (most of a build's time, issue 7); MessageError where that parser
    would note a defect or see a line break other than CRLF in the header section."""
    head, separator, body = wire.partition(b"\r\n\r\n")
    if not separator:
        raise MessageError("the serialised message has no blank line after its header section")
    msg = EmailMessage(policy=_POLICY)
    for field in _header_fields(head.decode("ascii", "surrogateescape")):
        msg.set_raw(*_POLICY.header_source_parse(field))  # exactly as the feed parser sets each field
    msg.set_payload(body.decode("ascii", "surrogateescape"))  # headersonly: the rest, as text
    return msg


def _header_fields(head: str) -> list[list[str]]:
    """The fields of a header section (without its last CRLF), each as its CRLF-ended lines.

    Stricter than the stdlib, which takes a line that is not a field as the start of the body and
    skips a leading continuation line: both are refused here, as is a bare CR or LF.
    """
    fields: list[list[str]] = []
    for number, line in enumerate(head.split("\r\n"), 1):
        continued = line[:1] in (" ", "\t")
        if not _FIELD_LINE.fullmatch(line) or (continued and not fields):
            raise MessageError(f"line {number} of the serialised header section is not a header field")
        if continued:
            fields[-1].append(line + "\r\n")
        else:
            fields.append([line + "\r\n"])
    return fields


def _checked_header_name(name: str, allowed: Collection[str]) -> str:
    if not _HEADER_NAME.match(name) or name.lower() not in {a.lower() for a in allowed}:
        raise MessageError(f"header not allowed: {_show(name)}")
    return name


def _checked_extra_value(name: str, value: str) -> str:
    # Extra headers come from code and config, not from CRM text: refuse rather than clean.
    if clean_header_text(value) != " ".join(value.split()) or any(c in value for c in "\r\n"):
        raise MessageError(f"header {name} has a line break, control character or encoded word")
    return value


# Built messages and the bytes their header check re-parsed: the transport sends exactly those bytes
# (checked, and serialised once instead of twice: issue 7). Keyed weakly: gone with the message.
_WIRE: WeakKeyDictionary[EmailMessage, tuple[tuple[str, ...], bytes]] = WeakKeyDictionary()


def checked_bytes(msg: EmailMessage) -> bytes | None:
    """The CRLF bytes :func:`build_email` checked for ``msg``, if it built it and its headers are
    unchanged since (else None: serialise it again)."""
    found = _WIRE.get(msg)
    if found is None or found[0] != tuple(msg.keys()):
        return None
    return found[1]


def build_message(message: OutgoingMessage) -> EmailMessage:
    """:func:`build_email` dated now: the default builder of the SMTP transport."""
    return build_email(message, sent_at=datetime.now(UTC))
