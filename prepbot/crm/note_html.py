"""ContentNote bodies: text -> the HTML subset Salesforce accepts in ``ContentNote.Content`` (brief §1.10)."""

from __future__ import annotations

# Field reports (KB 000232870; D. Reed, "Importing Notes in Salesforce") give the working rules:
# escape ``& < > " '`` with ``'`` as ``&#39;`` (``&apos;`` fails), never named entities for non-ASCII
# (``&eacute;`` fails; send UTF-8), no raw line breaks (use ``<br>``/``<p>``), no control characters.
import base64
import re
from collections.abc import Iterable

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})
# C0 controls except TAB/LF/CR (handled apart), DEL, C1 controls; lone surrogates cannot be encoded.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029")
_BLANK_LINES = re.compile(r"(?:\r\n|\r|\n|\u2028|\u2029)[ \t]*(?:\r\n|\r|\n|\u2028|\u2029)\s*")


def escape_note_text(text: str) -> str:
    """Escape one run of text for a note: entities for ``& < > " '``, line breaks as ``<br>``."""
    text = _CONTROL.sub("", text).replace("\t", " ")
    return _NEWLINES.sub("<br>", text.translate(_ESCAPES))


def note_html(content: str | Iterable[str]) -> str:
    """Plain text (blank-line separated paragraphs) or a list of paragraphs -> note HTML.

    >>> note_html("Call Ivanov & ask 'who else?'\\nBring the plan")
    '<p>Call Ivanov &amp; ask &#39;who else?&#39;<br>Bring the plan</p>'
    """
    paragraphs = _BLANK_LINES.split(content) if isinstance(content, str) else list(content)
    kept = [p.strip() for p in paragraphs if p and p.strip()]
    return "".join(f"<p>{escape_note_text(p)}</p>" for p in kept) or "<p></p>"


def clean_note_html(html: str) -> str:
    """Make caller-provided note HTML safe to store: no control characters, no raw line breaks."""
    return _NEWLINES.sub(" ", _CONTROL.sub("", html).replace("\t", " "))


def encode_note(html: str) -> str:
    """The ``Content`` field value: base64 of the cleaned HTML's UTF-8 bytes."""
    return base64.b64encode(clean_note_html(html).encode("utf-8")).decode("ascii")


def clean_title(title: str, *, limit: int = 255) -> str:
    """A note or task title: one line, no control characters, at most ``limit`` characters."""
    one_line = " ".join(_NEWLINES.sub(" ", _CONTROL.sub("", title)).split())
    return one_line[:limit]
