"""Prep notes: one ContentNote per meeting on its Opportunity (or Account, or Who), updated in place."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from prepbot import failpoints
from prepbot.composer import Composer
from prepbot.domain import ActionRow, Meeting, MessageKind, NoteRecord, NoteState, Status
from prepbot.errors import CrmError, PrepbotError, TemplateError
from prepbot.offload import InlineMap, JobMap, ProcessMap
from prepbot.playbooks import Playbook, choose_scripts
from prepbot.ports import Crm, Ledger
from prepbot.prepnote import (
    ConfirmationStatus,
    PrepNote,
    ScriptLike,
    build_prep_note,
    confirmation_status,
    confirmation_status_of,
    note_language,
)
from prepbot.rendering import Renderer
from prepbot.report import Report
from prepbot.scripts import render_scripts
from prepbot.timing import meeting_deadline_at, recipient_zone
from prepbot.writes import Writes, in_turns

log = logging.getLogger(__name__)

ScriptSource = Callable[[Meeting], Sequence[ScriptLike]]
NoteFinder = Callable[[Sequence[str]], Mapping[str, Sequence[tuple[str, str]]]]
Timing = Literal["with_confirmation", "on_sync"]
_GONE = frozenset({Status.SUPERSEDED, Status.CANCELLED})
_UNSENT = frozenset({Status.PLANNED, Status.CLAIMED, Status.SENDING})
CHUNK = 200


def note_target(meeting: Meeting) -> str | None:
    """The record the note goes on: the Opportunity, else the Account, else the Who (Contact or Lead)."""
    what, who = meeting.what, meeting.who
    if what is not None and what.kind == "Opportunity":
        return what.id
    if what is not None and what.kind == "Account":
        return what.id
    if who is not None and who.kind == "Contact" and who.account_id:
        return who.account_id
    return who.id if who is not None else None


@dataclass(frozen=True, slots=True)
class _Job:
    """One note to render: its meeting, the confirmation status it shows, its stored state (None:
    never written) and the record it goes on. Crosses to the render process pickled."""

    meeting: Meeting
    status: ConfirmationStatus
    state: NoteState | None
    target: str


_Started = tuple[list[_Job], Callable[[], list[PrepNote | str]]]  # jobs sent to render, their results


@dataclass(frozen=True, slots=True)
class _Work:
    """One note to write: the meeting, the rendered note, the record it goes to, its stored state."""

    meeting: Meeting
    note: PrepNote
    record: NoteRecord
    state: NoteState | None


class NoteFlow:
    """Keeps each meeting's prep note in step with the meeting and its confirmation.

    The ledger's ``notes`` table is the state (no ledger rows of its own, so ``kinds`` is empty):
    the note's Id, its record and a hash of its content. A note is written when it is new or its
    hash changed, all of a chunk in one ``save_notes`` call; unchanged notes cost no API call.

    Args:
        crm: writes the notes.
        ledger: the confirmation rows (for the status) and the note state.
        renderer: renders ``<lang>/prep_note.html`` and ``prep_note.title.txt``.
        scripts: the rendered fallback scripts for a meeting (playbooks + scripts).
        create: ``with_confirmation`` (once the confirmation is due or settled) or ``on_sync``.
        find_notes: looks notes up by linked record after a create whose outcome is unknown (C6).
        org_time_zone: the zone used when neither client nor owner has one.
        defer: True while optional work must wait (the org's API budget is nearly used up,
            reliability F8): due notes are counted ``note_deferred`` and written in a later cycle.
        render_process: render the notes in a second process (forked now; :meth:`close` stops
            it), while this one sends: a tick then uses two cores (issue 7).
        render_nice: how much lower the render process's CPU priority is (Unix nice): it takes
            the CPU the sender leaves, so the sender, which paces the cycle, is not slowed.
    """

    kinds: frozenset[MessageKind] = frozenset()

    def __init__(
        self,
        *,
        crm: Crm,
        ledger: Ledger,
        renderer: Renderer,
        scripts: ScriptSource,
        create: Timing = "with_confirmation",
        find_notes: NoteFinder | None = None,
        org_time_zone: str = "UTC",
        defer: Callable[[], bool] | None = None,
        render_process: bool = False,
        render_nice: int = 0,
    ) -> None:
        self.crm = crm
        self.ledger = ledger
        self.renderer = renderer
        self.scripts = scripts
        self.create = create
        self.find_notes = find_notes
        self.org_time_zone = org_time_zone
        self.defer = defer
        self._deferred: set[str] = set()  # Events whose note this cycle deferred (counted once)
        # Events looked at in this cycle: their occurrence and the confirmation status their note
        # was last considered with. After the dispatch only those whose status moved are read again.
        # Small tuples, not meetings: memory stays flat in the number of meetings (issue 7).
        self._seen: dict[str, tuple[str, ConfirmationStatus]] = {}
        self._done: set[str] = set()  # Events whose note a dispatched batch already wrote
        # Notes of the current batch started early (``batch_progress``), for its ``after_batch``
        self._started: list[_Started] = []
        self._started_ids: set[str] = set()
        # Last: a render process is a fork of this process, with this flow as it is now.
        self._notes: JobMap[_Job, PrepNote | str] = (
            ProcessMap(self._build, nice=render_nice) if render_process else InlineMap(self._build)
        )

    def close(self) -> None:
        """Stop the render process, if there is one."""
        self._notes.close()

    @property
    def render_pid(self) -> int | None:
        """The render process's id; None when the notes are rendered in this process."""
        return self._notes.pid if isinstance(self._notes, ProcessMap) else None

    # -- the Flow protocol --------------------------------------------------------------------------

    def on_meetings(self, meetings: Sequence[Meeting], now: datetime, report: Report) -> None:
        """Create or update the notes that are due among these meetings (one API call at most).

        A meeting whose confirmation is about to be sent gets its note after the send
        (``after_batch``): written once, saying "sent at 10:00", not created then updated.
        """
        self._refresh(meetings, now, report, before_send=True)

    def after_sync(self, now: datetime, report: Report) -> None:
        """Nothing: every meeting was handled chunk by chunk."""

    def dispatch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Nothing: prep notes have no ledger rows to claim."""

    def batch_progress(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Start rendering the notes of the confirmations handled so far in this batch, while the
        rest is sent: the batch's last notes are then all that is left to render once it ends.
        Written with the rest of the batch, in its one ``save_notes`` call (``after_batch``)."""
        if self.defer is not None and self.defer():
            return  # after_batch defers the whole batch
        ids = sorted(_confirmations(rows) & fresh.keys() - self._started_ids)
        jobs = self._jobs([fresh[e] for e in ids], now, report, before_send=False)
        self._started_ids.update(ids)
        if jobs:
            self._started.append((jobs, self._notes.submit(jobs)))

    def after_batch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> Writes | None:
        """The notes of the confirmations this batch handled, built from the meetings it read
        (those ``batch_progress`` started, and the rest now); returns their writes to the org,
        one call, which the service may make in the background."""
        ids = sorted(_confirmations(rows) & fresh.keys())
        started, begun = self._started, self._started_ids
        self._started, self._started_ids = [], set()
        writes = self._prepared([fresh[e] for e in ids if e not in begun], now, report, started=started)
        self._done.update(ids)
        return writes

    def after_dispatch(self, now: datetime, report: Report) -> None:
        """Refresh the notes of meetings whose confirmation changed in this dispatch outside the
        batches (recovered leases, reconciled moves); only those are read again."""
        changed = set(self.ledger.changed_events(now, MessageKind.CONFIRMATION))
        seen, done = self._seen, self._done
        self._seen, self._done = {}, set()
        rows = self._confirmation_rows(sorted(changed - done))
        # an Event whose rows are all superseded or cancelled has no note to refresh (deleted: no read)
        pending = sorted(rows)
        stale = [e for e in pending if e not in seen or _moved(seen[e], rows[e])]
        for start in range(0, len(stale), CHUNK):
            self._refresh(self._read(stale[start : start + CHUNK], report), now, report)
        self._seen.clear()
        self._deferred.clear()

    def _read(self, event_ids: Sequence[str], report: Report) -> list[Meeting]:
        """Meetings this process did not read in its own sync (a ``dispatch`` run on its own)."""
        found: list[Meeting] = []
        for start in range(0, len(event_ids), CHUNK):
            try:
                found.extend(self.crm.meetings_by_id(event_ids[start : start + CHUNK]).values())
            except CrmError as exc:
                report.errors.append(f"prep notes not refreshed ({exc}); retried next cycle")
                break
        return found

    # -- one chunk -----------------------------------------------------------------------------------

    def _refresh(
        self, meetings: Sequence[Meeting], now: datetime, report: Report, before_send: bool = False
    ) -> None:
        writes = self._prepared(meetings, now, report, before_send)
        if writes is not None:
            writes(report)

    def _prepared(
        self,
        meetings: Sequence[Meeting],
        now: datetime,
        report: Report,
        before_send: bool = False,
        started: Sequence[_Started] = (),
    ) -> Writes | None:
        """Start rendering the notes due among ``meetings``; returns the writes that store them,
        with those ``started`` earlier, in one call.

        The notes are rendered by ``self._notes`` (in the render process, when there is one); the
        writes wait for them, so the dispatcher goes on with the next batch meanwhile.
        """
        jobs = self._jobs(meetings, now, report, before_send) if meetings else []
        parts = [*started, (jobs, self._notes.submit(jobs))] if jobs else list(started)
        if not parts:
            return None
        if self.defer is not None and self.defer():
            self._defer([item.meeting.event_id for item in self._collected(parts, report)], report)
            return None

        def write(into: Report) -> None:
            work = self._collected(parts, into)
            if work:
                self._adopt_lost(work, into)
                self._save(work, now, into)

        return write

    def _collected(self, parts: Sequence[_Started], report: Report) -> list[_Work]:
        """The notes to write of the rendered ``parts``, in order (waits for their renders)."""
        return [item for jobs, notes in parts for item in self._work(jobs, notes(), report)]

    def _jobs(
        self, meetings: Sequence[Meeting], now: datetime, report: Report, before_send: bool
    ) -> list[_Job]:
        """The meetings whose note is due, with what their note is built from."""
        rows = self._confirmation_rows([m.event_id for m in meetings])
        states = self.ledger.note_states([(m.event_id, m.occurrence) for m in meetings])
        jobs: list[_Job] = []
        for meeting in meetings:
            state = states.get((meeting.event_id, meeting.occurrence))
            mine = rows.get(meeting.event_id, [])
            status = confirmation_status(meeting, mine)
            self._seen[meeting.event_id] = (meeting.occurrence, status)
            if state is None and not self._due(mine, now, before_send):
                continue
            target = state.linked_entity_id if state is not None else note_target(meeting)
            if target is None:
                report.bump("note_no_record")
                continue
            jobs.append(_Job(meeting, status, state, target))
        return jobs

    def _defer(self, event_ids: Sequence[str], report: Report) -> None:
        for event_id in event_ids:  # no state stored: the next cycle below the threshold writes them
            if event_id not in self._deferred:  # once per cycle, not per pass
                self._deferred.add(event_id)
                report.bump("note_deferred")

    def _build(self, job: _Job) -> PrepNote | str:
        """The rendered note, or why it cannot be built (a template or record error: this note alone)."""
        try:
            scripts = self.scripts(job.meeting)
            return build_prep_note(
                self.renderer, job.meeting, job.status, scripts, org_time_zone=self.org_time_zone
            )
        except PrepbotError as exc:
            return str(exc)

    @staticmethod
    def _work(jobs: Sequence[_Job], notes: Iterable[PrepNote | str], report: Report) -> list[_Work]:
        """The notes to write: new or changed ones; a note that could not be built is reported."""
        work: list[_Work] = []
        for job, note in zip(jobs, notes, strict=True):
            event_id, state = job.meeting.event_id, job.state
            if isinstance(note, str):
                report.errors.append(f"prep note for {event_id} not built: {note}")
                report.bump("note_failed")
                continue
            if state is not None and state.note_id and state.content_hash == note.content_hash:
                continue
            note_id = state.note_id if state is not None else None
            record = NoteRecord(note.title, note.html, job.target, note_id=note_id, ref=event_id)
            work.append(_Work(job.meeting, note, record, job.state))
        return work

    def _confirmation_rows(self, event_ids: Sequence[str]) -> dict[str, list[ActionRow]]:
        found: dict[str, list[ActionRow]] = {}
        for row in self.ledger.rows_for_events(event_ids):
            if row.key.kind is MessageKind.CONFIRMATION and row.status not in _GONE:
                found.setdefault(row.key.event_id, []).append(row)
        return found

    def _due(self, rows: Sequence[ActionRow], now: datetime, before_send: bool = False) -> bool:
        """``on_sync``: always. ``with_confirmation``: once the confirmation is due or settled;
        ``before_send`` (a sync about to hand it to the sender): only once it is settled."""
        if self.create == "on_sync":
            return True
        if before_send:
            return any(row.status not in _UNSENT for row in rows)
        return any(row.status is not Status.PLANNED or row.due_at <= now for row in rows)

    def _adopt_lost(self, work: list[_Work], report: Report) -> None:
        """Creates whose outcome is unknown (a crash or a lost answer, C6): find the note by title.

        A note found on the record with the title this meeting's note had is taken over and
        updated in place instead of being created a second time.
        """
        lost = [i for i, item in enumerate(work) if item.state is not None and item.state.note_id is None]
        if not lost or self.find_notes is None:
            return
        try:
            found = self.find_notes(sorted({work[i].record.linked_entity_id for i in lost}))
        except CrmError as exc:
            report.errors.append(f"prep notes: lookup after an unknown create failed ({exc}); retried")
            skipped = set(lost)
            work[:] = [w for k, w in enumerate(work) if k not in skipped]  # never risk a duplicate
            return
        for i in lost:
            item = work[i]
            titles = {title: note_id for note_id, title in found.get(item.record.linked_entity_id, ())}
            note_id = titles.get(item.record.title)
            if note_id:
                report.bump("note_found_again")
                work[i] = _Work(item.meeting, item.note, _with_id(item.record, note_id), item.state)

    def _save(self, work: Sequence[_Work], now: datetime, report: Report) -> None:
        """One ``save_notes`` call for the chunk; the state is stored per note as results come back."""
        if not work:
            return
        # remember the attempts first, in one durable commit: a crash now must not duplicate
        pending = [self._state(item, None, "", now) for item in work if item.record.note_id is None]
        self.ledger.save_note_states(pending)
        try:
            results = self.crm.save_notes([item.record for item in work])
            failpoints.hit("after_note_create")
        except CrmError as exc:
            # F4: a missing permission is permanent until an admin grants it: say so, not "retried"
            hint = "retried next cycle" if exc.retryable else "permanent: let prepbot's user write notes"
            report.errors.append(f"prep notes not written ({exc}); {hint}")
            return
        stored: list[NoteState] = []
        for item, result in zip(work, results, strict=True):
            created = item.record.note_id is None
            if result.ok and result.id:
                stored.append(self._state(item, result.id, item.note.content_hash, now))
                report.bump("note_created" if created else "note_updated")
                continue
            if result.id:  # saved but not linked: keep the Id (never create it twice), retry the content
                stored.append(self._state(item, result.id, "", now))
            why = f"{result.error_code} {result.message or ''}".strip()
            report.errors.append(f"prep note for {item.meeting.event_id} refused: {why}")
            report.bump("note_failed")
        in_turns(stored, self.ledger.save_note_states)

    @staticmethod
    def _state(item: _Work, note_id: str | None, content_hash: str, now: datetime) -> NoteState:
        meeting = item.meeting
        return NoteState(
            meeting.event_id, meeting.occurrence, item.record.linked_entity_id, note_id, content_hash, now
        )


def _with_id(record: NoteRecord, note_id: str) -> NoteRecord:
    return NoteRecord(record.title, record.html, record.linked_entity_id, note_id=note_id, ref=record.ref)


def playbook_note_scripts(
    renderer: Renderer, playbook: Playbook, composer: Composer, org_time_zone: str = "UTC"
) -> ScriptSource:
    """The scripts a meeting's note shows: chosen by the playbook (reasons in the rep's language),
    written in the client's language and zone, as they will be said at the meeting.

    The scripts are rendered as of the meeting's start, not the wall clock: the note is only
    rewritten when its text changes, so nothing in it may depend on the hour it was built.
    """

    def scripts(meeting: Meeting) -> Sequence[ScriptLike]:
        owner, who = meeting.owner, meeting.who
        rep = note_language(renderer, owner.language if owner else None)
        client = composer.language_for(meeting)
        choices = choose_scripts(meeting, playbook, language=rep, client_language=client)
        if not choices:
            return []
        zone = recipient_zone(
            who.time_zone if who else None, owner.time_zone if owner else None, org_time_zone
        )
        try:
            at = meeting_deadline_at(
                None if meeting.all_day else meeting.start_at,
                meeting.activity_date if meeting.all_day or meeting.start_at is None else None,
                zone,
            )
            return render_scripts(
                renderer, choices, meeting, language=client, zone=zone, now=at, playbook=playbook
            )
        except ValueError as exc:  # a record without the date its kind needs: this note fails alone
            raise TemplateError(f"scripts for {meeting.event_id}: {exc}") from None

    return scripts


def _confirmations(rows: Sequence[ActionRow]) -> set[str]:
    return {row.key.event_id for row in rows if row.key.kind is MessageKind.CONFIRMATION}


def _moved(seen: tuple[str, ConfirmationStatus], rows: Sequence[ActionRow]) -> bool:
    """The confirmation status of ``seen``'s occurrence is not the one its note was considered with."""
    occurrence, status = seen
    return confirmation_status_of(occurrence, rows) != status
