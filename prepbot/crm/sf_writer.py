"""The write path: Tasks in sObject Collections of 200; notes with their links in one composite call."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from prepbot.crm.sf_writes import (
    COLLECTION_MAX,
    RawResult,
    error_of,
    failed_result,
    is_locked,
    link_body,
    notes_composite,
    subresults,
    task_body,
    to_write_result,
)
from prepbot.domain import NoteRecord, TaskRecord, WriteResult
from prepbot.errors import CrmError, CrmUnavailableError

log = logging.getLogger(__name__)


class _Caller(Protocol):
    """The parts of SalesforceCrm the writer uses: its call policy (refresh, retries, limit back-off)."""

    @property
    def api_version(self) -> str: ...

    @property
    def max_retries(self) -> int: ...

    def restful(self, path: str, method: str, body: Any, *, idempotent: bool) -> Any: ...

    def backoff(self, attempt: int) -> None: ...


class Writer:
    """Batched writes with per-record results; locked records (UNABLE_TO_LOCK_ROW) are sent again alone."""

    def __init__(self, crm: _Caller) -> None:
        self._crm = crm

    def save_collection(self, method: str, records: Sequence[dict[str, Any]]) -> list[RawResult]:
        """One sObject Collections request (<= 200 records), then the locked records again, alone.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError: the first request failed as a whole.
        """
        results: list[RawResult] = [{} for _ in records]
        pending = list(range(len(records)))
        for attempt in range(self._crm.max_retries + 1):
            body = {"allOrNone": False, "records": [records[i] for i in pending]}
            try:
                raw = self._crm.restful("composite/sobjects", method, body, idempotent=method != "POST")
            except CrmError:
                if attempt == 0:
                    raise
                break  # the locked records keep their UNABLE_TO_LOCK_ROW result
            if not isinstance(raw, list) or len(raw) != len(pending):
                raise CrmUnavailableError("Salesforce composite/sobjects: unexpected response shape")
            for index, result in zip(pending, raw, strict=True):
                results[index] = result
            pending = [i for i in pending if is_locked(results[i])]
            if not pending or attempt == self._crm.max_retries:
                break
            self._crm.backoff(attempt)
        return results

    def create_tasks(self, tasks: Sequence[TaskRecord]) -> list[WriteResult]:
        """One WriteResult per task, in order (see ``SalesforceCrm.create_tasks``)."""
        results: list[WriteResult] = []
        for start in range(0, len(tasks), COLLECTION_MAX):
            chunk = tasks[start : start + COLLECTION_MAX]
            try:
                raw = self.save_collection("POST", [task_body(t) for t in chunk])
            except CrmError as exc:
                if not results:
                    raise
                results.extend(_failed(t.ref, exc) for t in tasks[start:])
                break
            results.extend(to_write_result(t.ref, r) for t, r in zip(chunk, raw, strict=True))
        return results

    def save_notes(self, notes: Sequence[NoteRecord]) -> list[WriteResult]:
        """One WriteResult per note, in order (see ``SalesforceCrm.save_notes``)."""
        results: list[WriteResult] = []
        for start in range(0, len(notes), COLLECTION_MAX):
            chunk = notes[start : start + COLLECTION_MAX]
            try:
                results.extend(self._chunk(chunk))
            except CrmError as exc:
                if not results:
                    raise
                results.extend(_failed(n.ref, exc) for n in notes[start:])
                break
        return results

    def _chunk(self, chunk: Sequence[NoteRecord]) -> list[WriteResult]:
        done: dict[int, WriteResult] = {}
        unlinked: dict[int, str] = {}
        pending = list(range(len(chunk)))
        for attempt in range(self._crm.max_retries + 1):
            try:
                raw = self._round(chunk, pending)
            except CrmError:
                if attempt == 0:
                    raise
                break  # the locked notes keep their UNABLE_TO_LOCK_ROW result
            pending = self._settle(chunk, raw, done, unlinked)
            if not pending or attempt == self._crm.max_retries:
                break
            self._crm.backoff(attempt)
        if unlinked:
            self._link(chunk, unlinked, done)
        return [done[i] for i in range(len(chunk))]

    def _round(
        self, chunk: Sequence[NoteRecord], pending: list[int]
    ) -> dict[int, tuple[RawResult, RawResult | None]]:
        """One composite call for the pending notes: index -> (note result, link result or None)."""
        creates = [i for i in pending if not chunk[i].note_id]
        updates = [i for i in pending if chunk[i].note_id]
        body, refs = notes_composite(
            [chunk[i] for i in creates], [chunk[i] for i in updates], self._crm.api_version
        )
        response = self._crm.restful("composite", "POST", body, idempotent=False)
        subs = subresults(
            response, refs, {"notes": len(creates), "links": len(creates), "updates": len(updates)}
        )
        out: dict[int, tuple[RawResult, RawResult | None]] = {}
        for k, i in enumerate(creates):
            out[i] = (subs["notes"][k], subs["links"][k])
        for k, i in enumerate(updates):
            out[i] = (subs["updates"][k], None)
        return out

    @staticmethod
    def _settle(
        chunk: Sequence[NoteRecord],
        raw: dict[int, tuple[RawResult, RawResult | None]],
        done: dict[int, WriteResult],
        unlinked: dict[int, str],
    ) -> list[int]:
        """Record each note's outcome; return the indexes whose note was locked (to send again)."""
        locked: list[int] = []
        for i, (note, link) in raw.items():
            done[i] = to_write_result(chunk[i].ref, note)
            if is_locked(note):
                locked.append(i)
            elif note.get("success") and link is not None and not link.get("success"):
                unlinked[i] = str(note.get("id"))  # the note exists: link it on its own, never re-create it
        return locked

    def _link(
        self, chunk: Sequence[NoteRecord], unlinked: dict[int, str], done: dict[int, WriteResult]
    ) -> None:
        """Link notes whose link failed in the composite call (by their real Ids)."""
        indexes = sorted(unlinked)
        records = [link_body(unlinked[i], chunk[i].linked_entity_id) for i in indexes]
        try:
            raw = self.save_collection("POST", records)
        except CrmError as exc:
            raw = [{"success": False, "errors": [{"statusCode": exc.error_code or "REQUEST_FAILED"}]}] * len(
                records
            )
        for i, result in zip(indexes, raw, strict=True):
            if result.get("success"):
                continue
            code, message = error_of(result)
            log.warning("note %s was saved but could not be linked (%s)", unlinked[i], code)
            done[i] = WriteResult(
                ref=chunk[i].ref,
                id=unlinked[i],
                error_code=code,
                message=f"note saved but not linked to {chunk[i].linked_entity_id}: {message}",
                retryable=code == "UNABLE_TO_LOCK_ROW",
            )


def _failed(ref: str, exc: CrmError) -> WriteResult:
    return failed_result(ref, exc.error_code, str(exc), retryable=exc.retryable)
