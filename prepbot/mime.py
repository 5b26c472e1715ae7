"""RFC 5322 / MIME bytes written directly, for values already checked by :mod:`prepbot.messages`.

Python's ``email`` header registry parses every value it is given and folds it again on output:
most of a message's build time (issue 7). prepbot's headers are few and their values already
cleaned (no line breaks, controls or encoded words), so they are written as they are, or as
RFC 2047 ``B`` encoded words when they are not ASCII. The result is still re-parsed and compared
by the caller (:func:`prepbot.messages.build_email`): these functions are the fast path, not the
safety net.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

CRLF = b"\r\n"
MAX_LINE = 998  # RFC 5322 §2.1.1, without the CRLF
_WORD_BYTES = 45  # UTF-8 bytes per encoded word: 60 base64 characters, 72 with the wrapper (≤ 75)
_PHRASE_BYTES = 450  # one encoded word of 612 characters: with the longest address, a line under 998
_ATOMS = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")  # a phrase of atoms: no quoting needed


def encoded_words(text: str) -> str:
    """``text`` as RFC 2047 ``=?utf-8?b?...?=`` words, folded one word per line.

    The text is split between characters, never inside one, so each word decodes on its own; the
    folding white space between adjacent encoded words is not part of the decoded text.
    """
    words: list[str] = []
    chunk = b""
    for char in text:
        data = char.encode("utf-8")
        if len(chunk) + len(data) > _WORD_BYTES:
            words.append(_word(chunk))
            chunk = b""
        chunk += data
    if chunk or not words:
        words.append(_word(chunk))
    return "\r\n ".join(words)


def _word(data: bytes) -> str:
    return "=?utf-8?b?" + base64.b64encode(data).decode("ascii") + "?="


def unstructured(value: str) -> str:
    """A cleaned unstructured value (Subject, an extra header): as is when ASCII, else encoded."""
    return value if value.isascii() else encoded_words(value)


def phrase(name: str) -> str:
    """A cleaned display name: atoms as they are, other ASCII quoted, anything else encoded.

    A non-ASCII name is ONE encoded word, however long (as Python's own folder writes it): readers
    disagree on the space between two adjacent encoded words in a phrase (RFC 2047 drops it, Python
    keeps one), so splitting a name would change it for one of them. Its UTF-8 is cut to fit a line.
    """
    if not name.isascii():
        data = name.encode("utf-8")[:_PHRASE_BYTES].decode("utf-8", "ignore")
        return _word(data.encode("utf-8"))
    if _ATOMS.match(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox(name: str, addr_spec: str) -> str:
    """``Name <local@domain>``, or the bare address when there is no name."""
    return f"{phrase(name)} <{addr_spec}>" if name else addr_spec


def text_part(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, CRLF body) of a UTF-8 text: 7bit when ASCII with short lines,
    else quoted-printable (mostly ASCII, e.g. Dutch or German) or base64 (e.g. Russian).

    Never 8bit: the message stays ASCII, so it needs no 8BITMIME from the relay, and its header
    section can be checked without decoding the body.
    """
    lines = text.encode("utf-8").splitlines()
    body = b"\n".join(lines) + b"\n"
    if body.isascii() and max((len(line) for line in lines), default=0) <= MAX_LINE:
        encoded, cte = body, "7bit"
    elif sum(byte > 0x7F for byte in body) * 10 <= len(body):
        encoded, cte = binascii.b2a_qp(body), "quoted-printable"
    else:
        encoded, cte = base64.encodebytes(body.replace(b"\n", CRLF)), "base64"  # canonical CRLF text
    return cte, encoded.replace(b"\n", CRLF)


def header_block(headers: list[tuple[str, str]]) -> bytes:
    """``Name: value`` lines, CRLF-ended (values are folded already, with CRLF SP)."""
    return b"".join(f"{name}: {value}".encode("ascii") + CRLF for name, value in headers)


def body_headers(cte: str, subtype: str) -> list[tuple[str, str]]:
    return [("Content-Type", f'text/{subtype}; charset="utf-8"'), ("Content-Transfer-Encoding", cte)]


def boundary_for(seed: str, *bodies: bytes) -> str:
    """A multipart boundary derived from ``seed`` (the Message-ID): the same message, the same bytes.
    Extended until no body contains it (RFC 2046 §5.1.1)."""
    digest = hashlib.sha256(seed.encode("utf-8")).hexdigest()
    boundary = f"=_prepbot_{digest[:24]}"
    extra = 0
    while any(boundary.encode("ascii") in body for body in bodies):
        extra += 1
        boundary = f"=_prepbot_{digest[:24]}_{extra}"
    return boundary


def alternative(boundary: str, parts: list[tuple[list[tuple[str, str]], bytes]]) -> bytes:
    """The body of a multipart/alternative: each part's headers and body between delimiters."""
    delimiter = b"--" + boundary.encode("ascii")
    encoded = [delimiter + CRLF + header_block(headers) + CRLF + body for headers, body in parts]
    return CRLF.join(encoded) + CRLF + delimiter + b"--" + CRLF
