"""Request bodies and per-record results of the write path (sObject Collections and composite)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prepbot.crm.note_html import clean_title, encode_note
from prepbot.crm.sf_errors import LOCKED, RETRYABLE_CODES
from prepbot.domain import NoteRecord, TaskRecord, WriteResult

COLLECTION_MAX = 200  # records per sObject Collections request (brief §2.6)
DESCRIPTION_MAX = 32_000  # Task.Description is a 32,000-character textarea
TRUNCATED = "\n[... truncated by prepbot]"

RawResult = Mapping[str, Any]


def task_body(task: TaskRecord) -> dict[str, Any]:
    """One Task for ``composite/sobjects`` (``attributes.type`` is required there)."""
    description = task.description
    if len(description) > DESCRIPTION_MAX:  # a long body would be refused (STRING_TOO_LONG), not cut
        description = description[: DESCRIPTION_MAX - len(TRUNCATED)] + TRUNCATED
    body: dict[str, Any] = {
        "attributes": {"type": "Task"},
        "Subject": clean_title(task.subject),
        "Description": description,
        "OwnerId": task.owner_id,
        "ActivityDate": task.activity_date.isoformat(),
        "Status": task.status,
        "Priority": task.priority,
        "TaskSubtype": task.subtype,
    }
    if task.who_id:
        body["WhoId"] = task.who_id
    if task.what_id:
        body["WhatId"] = task.what_id
    return body


def note_body(note: NoteRecord) -> dict[str, Any]:
    """A ContentNote create (no ``note_id``) or update (``id`` set) record."""
    body: dict[str, Any] = {
        "attributes": {"type": "ContentNote"},
        "Title": clean_title(note.title) or "Note",
        "Content": encode_note(note.html),
    }
    if note.note_id:
        body["id"] = note.note_id
    return body


def link_body(note_id: str, linked_entity_id: str) -> dict[str, Any]:
    """A ContentDocumentLink sharing the note through the linked record (ShareType I, all users)."""
    return {
        "attributes": {"type": "ContentDocumentLink"},
        "ContentDocumentId": note_id,
        "LinkedEntityId": linked_entity_id,
        "ShareType": "I",
        "Visibility": "AllUsers",
    }


def notes_composite(
    creates: Sequence[NoteRecord], updates: Sequence[NoteRecord], api_version: str
) -> tuple[dict[str, Any], list[str]]:
    """One ``composite`` call: new notes, their links (``@{notes[i].id}``), and in-place updates.

    Returns the body and the referenceIds in order. Two-to-three sObject Collections subrequests
    (at most 5 allowed) make 200 notes cost one API call.
    """
    url = f"/services/data/v{api_version}/composite/sobjects"
    subrequests: list[dict[str, Any]] = []
    if creates:
        notes = {"allOrNone": False, "records": [note_body(n) for n in creates]}
        links = [link_body(f"@{{notes[{i}].id}}", n.linked_entity_id) for i, n in enumerate(creates)]
        subrequests.append({"method": "POST", "url": url, "referenceId": "notes", "body": notes})
        subrequests.append(
            {
                "method": "POST",
                "url": url,
                "referenceId": "links",
                "body": {"allOrNone": False, "records": links},
            }
        )
    if updates:
        body = {"allOrNone": False, "records": [note_body(n) for n in updates]}
        subrequests.append({"method": "PATCH", "url": url, "referenceId": "updates", "body": body})
    refs = [str(s["referenceId"]) for s in subrequests]
    return {"allOrNone": False, "collateSubrequests": False, "compositeRequest": subrequests}, refs


def subresults(response: Any, refs: Sequence[str], counts: Mapping[str, int]) -> dict[str, list[RawResult]]:
    """Per-record results of each collection subrequest; a failed subrequest fails all its records."""
    by_ref = {str(s.get("referenceId")): s for s in (response or {}).get("compositeResponse", [])}
    out: dict[str, list[RawResult]] = {}
    for ref in refs:
        sub = by_ref.get(ref, {})
        body = sub.get("body")
        n = counts[ref]
        if (
            isinstance(body, list)
            and len(body) == n
            and all(isinstance(r, Mapping) and "success" in r for r in body)
        ):
            out[ref] = list(body)
            continue
        errors = (
            body if isinstance(body, list) and body else [{"errorCode": "UNKNOWN_EXCEPTION", "message": ""}]
        )
        code = errors[0].get("errorCode") or errors[0].get("statusCode") or "UNKNOWN_EXCEPTION"
        failed = {"success": False, "errors": [{"statusCode": code, "message": errors[0].get("message", "")}]}
        out[ref] = [failed] * n
    return out


def error_of(result: RawResult) -> tuple[str, str]:
    """(statusCode, message) of a failed per-record result."""
    errors = result.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], Mapping) else {}
    code = first.get("statusCode") or first.get("errorCode") or "UNKNOWN_EXCEPTION"
    return str(code), str(first.get("message") or "")


def is_locked(result: RawResult) -> bool:
    """True when a per-record failure is UNABLE_TO_LOCK_ROW (retry that record only)."""
    return not result.get("success") and error_of(result)[0] == LOCKED


def to_write_result(ref: str, result: RawResult) -> WriteResult:
    """A per-record SaveResult as prepbot's WriteResult."""
    if result.get("success"):
        return WriteResult(ref=ref, id=str(result.get("id")))
    code, message = error_of(result)
    return WriteResult(ref=ref, id=None, error_code=code, message=message, retryable=code in RETRYABLE_CODES)


def failed_result(ref: str, code: str | None, message: str, *, retryable: bool) -> WriteResult:
    """A result for a record whose whole request failed after earlier chunks were written."""
    return WriteResult(
        ref=ref, id=None, error_code=code or "REQUEST_FAILED", message=message, retryable=retryable
    )
