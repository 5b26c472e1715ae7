"""Typed values: JSON input -> stored column value, stored value -> JSON wire value."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import normalize_id
from prepbot.sandbox.schema import NUMBER_TYPES, TEXT_TYPES, FieldDef

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 dateTime (``Z``, ``+00:00``, ``+0000``, optional fraction) into aware UTC.

    Raises:
        ValueError: when the text is not such a dateTime.
    """
    m = _DT_RE.match(text.strip())
    if not m:
        raise ValueError(text)
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = m.group(7) or "0"
    micro = int((frac + "000000")[:6])
    off = m.group(8)
    tz = UTC
    if off and off not in ("Z", "z"):
        sign = 1 if off[0] == "+" else -1
        digits = off[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime(y, mo, d, h, mi, s, micro, tzinfo=tz).astimezone(UTC)


def parse_date(text: str) -> date:
    """Parse ``YYYY-MM-DD``. Raises ValueError otherwise."""
    m = _DATE_RE.match(text.strip())
    if not m:
        raise ValueError(text)
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def dt_to_db(value: datetime) -> str:
    """Stored form of an instant: sortable UTC text truncated to the second (as Salesforce keeps it)."""
    v = value.astimezone(UTC)
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}Z"


def db_to_dt(text: str) -> datetime:
    """Stored text back to an aware UTC datetime."""
    # Fixed layout; slicing is several times faster than strptime on the bulk-insert path.
    return datetime(
        int(text[0:4]),
        int(text[5:7]),
        int(text[8:10]),
        int(text[11:13]),
        int(text[14:16]),
        int(text[17:19]),
        tzinfo=UTC,
    )


def db_to_wire_dt(text: str) -> str:
    """Stored instant -> ``2026-11-29T10:00:00.000+0000``."""
    return text[:19] + ".000+0000"


def wire_dt(value: datetime) -> str:
    """Aware datetime -> Salesforce wire form."""
    return db_to_wire_dt(dt_to_db(value))


def _parse_error(f: FieldDef, kind: str, value: Any) -> SfApiError:
    shown = json.dumps(value) if not isinstance(value, str) else value
    return SfApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from value {shown} or request may be missing a required "
        f"field (field {f.name})",
        [f.name],
    )


def to_db(f: FieldDef, value: Any) -> Any:
    """Validate a JSON value for field ``f`` and return its stored column value.

    Raises:
        SfApiError: 400 with Salesforce's code for the kind of bad value.
    """
    if value is None:
        return 0 if f.type == "boolean" else None
    if f.type in TEXT_TYPES:
        return _text_to_db(f, value)
    if f.type == "boolean":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return int(value.lower() == "true")
        raise _parse_error(f, "boolean", value)
    if f.type in NUMBER_TYPES:
        return _number_to_db(f, value)
    if f.type == "datetime":
        if isinstance(value, str):
            try:
                return dt_to_db(parse_datetime(value))
            except ValueError:
                pass
        raise _parse_error(f, "datetime", value)
    if f.type == "date":
        if isinstance(value, str):
            try:
                return parse_date(value[:10] if _DT_RE.match(value) else value).isoformat()
            except ValueError:
                pass
        raise _parse_error(f, "date", value)
    if f.type in ("reference", "id"):
        return _ref_to_db(f, value)
    if f.type == "junctionidlist":
        if not isinstance(value, list):
            raise _parse_error(f, "list", value)
        return json.dumps([_ref_to_db(f, v) for v in value])
    raise SfApiError(
        400, "INVALID_FIELD_FOR_INSERT_UPDATE", f"Unable to create/update fields: {f.name}.", [f.name]
    )


def _text_to_db(f: FieldDef, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _parse_error(f, "string", value)
    text = value if isinstance(value, str) else str(value)
    if f.length is not None and len(text) > f.length:
        raise SfApiError(
            400,
            "STRING_TOO_LONG",
            f"{f.name}: data value too large: {text[:40]} (max length={f.length})",
            [f.name],
        )
    if f.type == "email" and text and not _EMAIL_RE.match(text):
        raise SfApiError(400, "INVALID_EMAIL_ADDRESS", f"{f.name}: invalid email address: {text}", [f.name])
    if f.type == "picklist" and f.values and text:
        return _picklist_value(f, text)
    return text


def _picklist_value(f: FieldDef, text: str) -> str:
    for v in f.values:
        if v.lower() == text.lower():
            return v
    if f.restricted:
        raise SfApiError(
            400,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{f.name}: bad value for restricted picklist field: {text}",
            [f.name],
        )
    return text


def _number_to_db(f: FieldDef, value: Any) -> int | float:
    num: float
    if isinstance(value, bool):
        raise _parse_error(f, f.type, value)
    if isinstance(value, int | float):
        num = value
    elif isinstance(value, str):
        try:
            num = float(value)
        except ValueError:
            raise _parse_error(f, f.type, value) from None
    else:
        raise _parse_error(f, f.type, value)
    if f.type == "int":
        if num != int(num):
            raise _parse_error(f, "int", value)
        return int(num)
    return float(num)


def _ref_to_db(f: FieldDef, value: Any) -> str:
    if not isinstance(value, str):
        raise _parse_error(f, "id", value)
    try:
        return normalize_id(value)
    except SfApiError:
        label = f.refs[0] if len(f.refs) == 1 else "Name"
        raise SfApiError(
            400, "MALFORMED_ID", f"{label} ID: id value of incorrect type: {value}", [f.name]
        ) from None


def to_wire(f: FieldDef, raw: Any) -> Any:
    """Stored column value -> JSON value (None stays None)."""
    if raw is None:
        return False if f.type == "boolean" else None
    if f.type == "datetime":
        return db_to_wire_dt(raw)
    if f.type == "boolean":
        return bool(raw)
    if f.type == "int":
        return int(raw)
    if f.type in ("double", "currency", "percent"):
        return float(raw)
    if f.type == "junctionidlist":
        return json.loads(raw)
    return raw
