"""ContentNote bodies: base64 decoding and the note HTML Salesforce accepts (§1.10 of the brief)."""

from __future__ import annotations

import base64
import binascii
import html
import re

from prepbot.sandbox.errors import SfApiError

NOTE_ERROR = (
    "Note can't be saved because it contains HTML tags or unescaped characters "
    "that are not allowed in a Note."
)
_ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "s",
        "strike",
        "ul",
        "ol",
        "li",
        "a",
        "span",
        "div",
        "blockquote",
        "code",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
    }
)
_LINK_ATTRS = frozenset({"href", "target", "rel"})
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))?)*)\s*/?>"
)
_ATTR_RE = re.compile(r"([a-zA-Z-]+)")
_ATTR_VALUE_RE = re.compile(r"=\s*(\"[^\"]*\"|'[^']*')")
_SPECIAL_RE = re.compile(r"[<&]")
# Named entities beyond the XML five fail on real orgs (&eacute;, &apos;); numeric references work.
_ENTITY_RE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot|nbsp);")
_CONTROLS = r"\x00-\x08\x0b-\x1f\x7f"  # C0 controls but TAB and LF, and DEL
_CONTROL_RE = re.compile(f"[{_CONTROLS}]")
# Markup the exact check below surely accepts: text without controls, allowed tags without
# attributes, links with only href/target/rel, the entities above. Checked in one pass (possessive,
# so no backtracking); a note it does not match in full gets the exact checks, which decide.
_NAMES = "|".join(sorted(_ALLOWED_TAGS, key=lambda n: (-len(n), n)))
_VALUE = r"""(?:\s*=\s*(?:"[^"<>]*"|'[^'<>]*'))?"""
_SURELY_OK_RE = re.compile(  # the tags notes use most are tried first: half the time of a note (issue 7)
    rf"(?:[^<&{_CONTROLS}]++|</?(?:p|b|br|i|ul|li)>|<(?ai:/?(?:{_NAMES})|a(?:\s+(?:href|target|rel){_VALUE})*+)\s*/?>|{_ENTITY_RE.pattern})*+"
)
_BREAK_RE = re.compile(r"<\s*(br|/p|/li|/div|/h[1-6])\s*/?>", re.IGNORECASE)
_ANY_TAG_RE = re.compile(r"<[^>]*>")
_PREVIEW_CHARS = 255
_PREVIEW_SCAN = 2 * _PREVIEW_CHARS  # text (tags removed) read before the preview's start is cut


def _reject() -> SfApiError:
    return SfApiError(400, "FIELD_INTEGRITY_EXCEPTION", NOTE_ERROR, ["Content"])


def decode_note_content(value: object) -> bytes:
    """Decode a ContentNote ``Content`` value and check it is acceptable note HTML.

    Raw line breaks are stripped (the doc says Salesforce strips them); everything else must be
    valid: base64, UTF-8, no control characters, only allowed tags and entities.

    Raises:
        SfApiError: 400 with the "Note can't be saved ..." message.
    """
    return decode_note_text(value).encode("utf-8")


def decode_note_text(value: object) -> str:
    """`decode_note_content` as text (what `text_preview` reads), without encoding it again.

    Raises:
        SfApiError: 400 with the "Note can't be saved ..." message.
    """
    if not isinstance(value, str):
        raise _reject()
    try:
        data = base64.b64decode("".join(value.split()), validate=True)
        text = data.decode("utf-8")
    except (binascii.Error, ValueError):
        raise _reject() from None
    text = text.replace("\r", "").replace("\n", "")
    if _SURELY_OK_RE.fullmatch(text) is None:
        if _CONTROL_RE.search(text):
            raise _reject()
        _check_markup(text)
    return text


def _check_markup(text: str) -> None:
    pos = 0
    while (special := _SPECIAL_RE.search(text, pos)) is not None:
        i = special.start()
        if text[i] == "&":
            m = _ENTITY_RE.match(text, i)
            if not m:
                raise _reject()
        else:
            m = _TAG_RE.match(text, i)
            if not m or m.group(2).lower() not in _ALLOWED_TAGS or not _attrs_ok(m.group(2), m.group(3)):
                raise _reject()
        pos = m.end()


def _attrs_ok(tag: str, attrs: str) -> bool:
    if not attrs or attrs.isspace():
        return True
    names = [a.lower() for a in _ATTR_RE.findall(_ATTR_VALUE_RE.sub("", attrs))]
    if not names:
        return True
    return tag.lower() == "a" and all(n in _LINK_ATTRS for n in names)


def text_preview(body: bytes | str) -> str | None:
    """The plain-text preview Salesforce derives from a note body (first 255 characters).

    When the start of the text is enough, only the start is unescaped and collapsed (the unescaping
    is most of a long note's cost; issue 7, the sandbox's own CPU). Cut just before an ``&``, the
    start unescapes to the start of the whole (a reference never holds an ``&``), and collapsing the
    white space of a start gives a start of the whole's.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    text = _ANY_TAG_RE.sub("", _BREAK_RE.sub(" ", text))
    cut = text.find("&", _PREVIEW_SCAN)
    if cut != -1:
        start = _plain(text[:cut])
        if len(start) >= _PREVIEW_CHARS:
            return start[:_PREVIEW_CHARS]
    return _plain(text)[:_PREVIEW_CHARS] or None


def _plain(text: str) -> str:
    """Markup-free ``text`` unescaped, its white space collapsed."""
    return " ".join(html.unescape(text).split())
