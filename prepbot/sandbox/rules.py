"""Per-object validation rules and derived fields, applied to a merged record before every write."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import type_of_id
from prepbot.sandbox.notes import decode_note_text, text_preview
from prepbot.sandbox.schema_objects import STAGE_PROBABILITY
from prepbot.sandbox.values import db_to_dt, dt_to_db

Record = dict[str, Any]
_MAX_EVENT_MINUTES = 14 * 24 * 60


class Lookups(Protocol):
    """What the rules may read from the store."""

    def lookup(self, sobject: str, record_id: str | None, field: str) -> Any: ...

    def duplicate_of(self, sobject: str, values: dict[str, Any], exclude_id: str | None) -> str | None: ...

    def next_id(self, sobject: str) -> str: ...


@dataclass(slots=True)
class RuleContext:
    """Everything a rule needs: store lookups, the current instant and the running user's zone."""

    store: Lookups
    now_db: str
    tz: ZoneInfo
    old: Record | None
    changed: set[str]


def _integrity(message: str, fields: list[str]) -> SfApiError:
    return SfApiError(400, "FIELD_INTEGRITY_EXCEPTION", message, fields)


def _missing(*names: str) -> SfApiError:
    return SfApiError(
        400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(names)}]", list(names)
    )


def _full_name(rec: Record) -> None:
    rec["Name"] = " ".join(p for p in (rec.get("FirstName"), rec.get("LastName")) if p) or None


def _user(ctx: RuleContext, rec: Record) -> None:
    _full_name(rec)
    if not rec.get("Alias"):
        rec["Alias"] = ((rec.get("FirstName") or "")[:1] + (rec.get("LastName") or "")).lower()[:8] or None
    tz_key = rec.get("TimeZoneSidKey")
    if tz_key and tz_key != "GMT":
        try:
            ZoneInfo(tz_key)
        except (ValueError, KeyError, OSError):
            raise SfApiError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Time Zone: bad value for restricted picklist field: {tz_key}",
                ["TimeZoneSidKey"],
            ) from None
    dup = ctx.store.duplicate_of("User", {"Username": rec.get("Username")}, rec.get("Id"))
    if dup:
        raise SfApiError(400, "DUPLICATE_USERNAME", "Duplicate Username.", ["Username"])


def _opportunity(ctx: RuleContext, rec: Record) -> None:
    stage = rec.get("StageName")
    rec["IsClosed"] = int(stage in ("Closed Won", "Closed Lost"))
    rec["IsWon"] = int(stage == "Closed Won")
    if "StageName" in ctx.changed and "Probability" not in ctx.changed and stage in STAGE_PROBABILITY:
        rec["Probability"] = float(STAGE_PROBABILITY[stage])


def _activity_links(ctx: RuleContext, rec: Record) -> None:
    who, what = rec.get("WhoId"), rec.get("WhatId")
    if who and type_of_id(who) == "Lead" and what:
        raise _integrity(
            "WhatId must be empty when WhoId is a Lead (a lead's activity can't be related to a record)",
            ["WhatId"],
        )
    account = None
    what_type = type_of_id(what) if what else None
    if what_type == "Account":
        account = what
    elif what_type == "Opportunity":
        account = ctx.store.lookup("Opportunity", what, "AccountId")
    if account is None and who and type_of_id(who) == "Contact":
        account = ctx.store.lookup("Contact", who, "AccountId")
    rec["AccountId"] = account


def _task(ctx: RuleContext, rec: Record) -> None:
    _activity_links(ctx, rec)
    closed = rec.get("Status") == "Completed"
    was_closed = bool(ctx.old and ctx.old.get("IsClosed"))
    rec["IsClosed"] = int(closed)
    rec["IsHighPriority"] = int(rec.get("Priority") == "High")
    if closed and not was_closed:
        rec["CompletedDateTime"] = (
            rec.get("CompletedDateTime")
            if ctx.old is None and "CompletedDateTime" in (ctx.changed)
            else ctx.now_db
        )
    elif not closed:
        rec["CompletedDateTime"] = None


def _local_date(ctx: RuleContext, db_dt: str) -> str:
    return db_to_dt(db_dt).astimezone(ctx.tz).date().isoformat()


def _event(ctx: RuleContext, rec: Record) -> None:
    _activity_links(ctx, rec)
    if (
        "ActivityDateTime" in ctx.changed
        and "StartDateTime" not in ctx.changed
        and rec.get("ActivityDateTime")
    ):
        rec["StartDateTime"] = rec["ActivityDateTime"]
        ctx.changed.add("StartDateTime")
    if rec.get("IsAllDayEvent"):
        _all_day_event(ctx, rec)
    else:
        _timed_event(ctx, rec)


def _all_day_event(ctx: RuleContext, rec: Record) -> None:
    day_text = rec.get("ActivityDate")
    if rec.get("StartDateTime") and (
        ("StartDateTime" in ctx.changed and "ActivityDate" not in ctx.changed) or not day_text
    ):
        day_text = rec["StartDateTime"][:10]
    if not day_text:
        raise _missing("ActivityDate")
    day = date.fromisoformat(day_text)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    minutes = rec.get("DurationInMinutes")
    if "EndDateTime" in ctx.changed and "DurationInMinutes" not in ctx.changed and rec.get("EndDateTime"):
        end_day = db_to_dt(rec["EndDateTime"]).date()
        minutes = ((end_day - day).days + 1) * 1440
    days = max(1, math.ceil((minutes or 1440) / 1440))
    if days > 14:
        raise _integrity("Event duration can't exceed 14 days.", ["DurationInMinutes"])
    rec["ActivityDate"] = day.isoformat()
    rec["StartDateTime"] = dt_to_db(start)
    rec["EndDateTime"] = dt_to_db(start + timedelta(days=days - 1))
    rec["DurationInMinutes"] = days * 1440
    rec["EndDate"] = (day + timedelta(days=days - 1)).isoformat()
    rec["ActivityDateTime"] = None


def _timed_event(ctx: RuleContext, rec: Record) -> None:
    start_text = rec.get("StartDateTime")
    if not start_text:
        raise _missing("StartDateTime")
    start = db_to_dt(start_text)
    end_changed = "EndDateTime" in ctx.changed and rec.get("EndDateTime") is not None
    dur_changed = "DurationInMinutes" in ctx.changed and rec.get("DurationInMinutes") is not None
    minutes = rec.get("DurationInMinutes")
    if end_changed:
        end_minutes = int((db_to_dt(rec["EndDateTime"]) - start).total_seconds() // 60)
        if dur_changed and minutes != end_minutes:
            raise _integrity(
                "The event's end date and duration don't match.", ["EndDateTime", "DurationInMinutes"]
            )
        minutes = end_minutes
    if minutes is None:
        raise _missing("EndDateTime")
    if minutes < 0:
        raise _integrity("End Date Time can't be before Start Date Time.", ["EndDateTime"])
    if minutes > _MAX_EVENT_MINUTES:
        raise _integrity("Event duration can't exceed 14 days.", ["EndDateTime"])
    end = start + timedelta(minutes=minutes)
    rec["DurationInMinutes"] = minutes
    rec["EndDateTime"] = dt_to_db(end)
    rec["ActivityDateTime"] = start_text
    rec["ActivityDate"] = _local_date(ctx, start_text)
    rec["EndDate"] = _local_date(ctx, rec["EndDateTime"])


def _event_relation(ctx: RuleContext, rec: Record) -> None:
    if ctx.old is None:
        if ctx.store.lookup("Event", rec["EventId"], "IsChild"):
            raise _integrity("You can't add invitees to a child event.", ["EventId"])
        key = {"EventId": rec["EventId"], "RelationId": rec["RelationId"]}
        if ctx.store.duplicate_of("EventRelation", key, None):
            raise SfApiError(
                400,
                "DUPLICATE_VALUE",
                "duplicate value found: RelationId duplicates value on record",
                ["RelationId"],
            )
    relation = rec.get("RelationId")
    is_contact = relation and type_of_id(relation) == "Contact"
    rec["AccountId"] = ctx.store.lookup("Contact", relation, "AccountId") if is_contact else None


def _content_note(ctx: RuleContext, rec: Record) -> None:
    if not (rec.get("Title") or "").strip():
        raise _missing("Title")
    if "Content" in ctx.changed:
        raw = rec.pop("Content", None)
        text = decode_note_text(raw) if raw is not None else ""
        body = text.encode("utf-8")
        rec["_Content"] = body
        rec["ContentSize"] = len(body)
        rec["TextPreview"] = text_preview(text)
        rec["LatestPublishedVersionId"] = ctx.store.next_id("ContentVersion")
    elif ctx.old is None:
        rec["_Content"], rec["ContentSize"], rec["TextPreview"] = b"", 0, None
        rec["LatestPublishedVersionId"] = ctx.store.next_id("ContentVersion")
    rec.pop("Content", None)
    rec["FileType"], rec["FileExtension"], rec["IsReadOnly"], rec["SharingPrivacy"] = "SNOTE", "snote", 0, "N"
    rec["LatestContentId"] = rec.get("Id")
    rec["ContentModifiedDate"] = ctx.now_db


def _content_document_link(ctx: RuleContext, rec: Record) -> None:
    if ctx.old is None:
        key = {"ContentDocumentId": rec["ContentDocumentId"], "LinkedEntityId": rec["LinkedEntityId"]}
        if ctx.store.duplicate_of("ContentDocumentLink", key, None):
            raise SfApiError(
                400,
                "DUPLICATE_VALUE",
                "duplicate value found: LinkedEntityId duplicates value on record",
                ["LinkedEntityId"],
            )


def _named(ctx: RuleContext, rec: Record) -> None:
    _full_name(rec)


RULES: dict[str, Callable[[RuleContext, Record], None]] = {
    "User": _user,
    "Contact": _named,
    "Lead": _named,
    "Opportunity": _opportunity,
    "Task": _task,
    "Event": _event,
    "EventRelation": _event_relation,
    "ContentNote": _content_note,
    "ContentDocumentLink": _content_document_link,
}


def apply_rules(sobject: str, ctx: RuleContext, rec: Record) -> None:
    """Validate ``rec`` (the whole record after the write) and fill its derived fields in place."""
    rule = RULES.get(sobject)
    if rule is not None:
        rule(ctx, rec)
