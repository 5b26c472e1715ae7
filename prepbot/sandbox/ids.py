"""Salesforce record Ids: key prefixes, the 18-character checksum suffix, parsing and generation."""

from __future__ import annotations

import functools
import re

from prepbot.sandbox.errors import SfApiError

KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Note": "002",
    "Contact": "003",
    "User": "005",
    "Opportunity": "006",
    "OpportunityContactRole": "00K",
    "Lead": "00Q",
    "Task": "00T",
    "Event": "00U",
    "Organization": "00D",
    "EmailMessage": "02s",
    "ContentVersion": "068",
    "ContentDocument": "069",
    "ContentNote": "069",
    "ContentDocumentLink": "06A",
    "EventRelation": "0RE",
    "QueryLocator": "0r8",
}

# 069 is shared by ContentNote and ContentDocument; a bare Id names the document.
_TYPE_BY_PREFIX: dict[str, str] = {p: t for t, p in KEY_PREFIXES.items() if t != "ContentNote"}

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
# Generated Ids carry this marker after the prefix, so they rarely meet hand-written seed Ids.
_MARKER = "5b"


# Upper-case letters -> "1", other letters and digits -> "0": an Id's case bits as a binary string.
_CASE_BITS = str.maketrans(
    {**{c: "1" for c in _BASE62[10:36]}, **{c: "0" for c in _BASE62[:10] + _BASE62[36:]}}
)


def to18(id15: str) -> str:
    """Append the case-encoding checksum that makes a 15-character Id case-insensitive."""
    if len(id15) == 15 and id15.isascii() and id15.isalnum():
        # The same bits as the loop below, read by int() (character j of a chunk is bit j).
        marks = id15.translate(_CASE_BITS)
        return (
            id15
            + _SUFFIX_CHARS[int(marks[4::-1], 2)]
            + _SUFFIX_CHARS[int(marks[9:4:-1], 2)]
            + _SUFFIX_CHARS[int(marks[14:9:-1], 2)]
        )
    suffix = ""
    for k in range(3):
        chunk = id15[k * 5 : (k + 1) * 5]
        bits = sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += _SUFFIX_CHARS[bits]
    return id15 + suffix


def new_id(sobject: str, counter: int) -> str:
    """The 18-character Id number ``counter`` of ``sobject`` (prefix + marker + base-62 counter)."""
    digits = ""
    n = counter
    while n:
        n, r = divmod(n, 62)
        digits = _BASE62[r] + digits
    body = digits.rjust(10, "0")
    if len(body) > 10:
        raise ValueError("Id counter overflow")
    return to18(KEY_PREFIXES[sobject] + _MARKER + body)


def _restore_case(value: str) -> str:
    """Rebuild the case-sensitive 15 characters from an 18-character Id written in any case."""
    chars = list(value[:15])
    for k in range(3):
        idx = _SUFFIX_CHARS.find(value[15 + k].upper())
        if idx < 0:
            raise ValueError(value)
        for j in range(5):
            pos = k * 5 + j
            upper = bool(idx & (1 << j))
            if chars[pos].isalpha():
                chars[pos] = chars[pos].upper() if upper else chars[pos].lower()
            elif upper:
                raise ValueError(value)
    return "".join(chars)


def is_id(value: object) -> bool:
    """True when ``value`` has the shape of a 15- or 18-character Id with a consistent checksum."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        return False
    try:
        normalize_id(value)
    except SfApiError:
        return False
    return True


def normalize_id(value: str) -> str:
    """Return the canonical 18-character form of a 15- or 18-character Id.

    Raises:
        SfApiError: 400 ``MALFORMED_ID`` when the value is not an Id.
    """
    if not isinstance(value, str):
        raise SfApiError(400, "MALFORMED_ID", f"malformed id {value}")
    return _normalize(value)


@functools.lru_cache(maxsize=65536)
def _normalize(value: str) -> str:
    if not _ID_RE.match(value):
        raise SfApiError(400, "MALFORMED_ID", f"malformed id {value}")
    if len(value) == 15:
        return to18(value)
    try:
        id15 = _restore_case(value)
    except ValueError:
        raise SfApiError(400, "MALFORMED_ID", f"malformed id {value}") from None
    return to18(id15)


def type_of_id(id_: str) -> str | None:
    """The sObject type an Id's key prefix names (``069`` -> ``ContentDocument``), or None."""
    if not isinstance(id_, str) or len(id_) < 3:
        return None
    return _TYPE_BY_PREFIX.get(id_[:3])
