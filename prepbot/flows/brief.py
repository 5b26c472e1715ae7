"""The owner's morning brief: the meeting's prep note emailed to its owner on the meeting day.

Switched on by ``[notes] owner_brief = true``; due at ``owner_brief_at`` in the owner's zone.
The brief is an internal email (prepbot to the rep): it is settled LOGGED without a Task, and
it carries no Who/What, so with ``[delivery] transport = "salesforce"`` (emailSimple with
``logEmailOnSend``) Salesforce has no client record to log it on either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta

from prepbot.delivery import DEFAULT_CADENCE, Cadence, Outcome, Settler
from prepbot.domain import ActionKey, ActionRow, Meeting, MessageKind, PlannedAction, Status
from prepbot.errors import PrepbotError
from prepbot.flows.brief_compose import BriefWriter
from prepbot.ports import Ledger, Transport
from prepbot.prepnote import ScriptLike, confirmation_status
from prepbot.report import Report
from prepbot.timing import day_window_utc, local_instant, recipient_zone, to_local

log = logging.getLogger(__name__)

BRIEF = MessageKind.OWNER_BRIEF
# A meeting that starts before (or right at) the brief time gets its brief this long before it.
EARLY_MEETING_LEAD = timedelta(hours=1)
INTERNAL_REASON = "internal brief, not logged in Salesforce"
ScriptSource = Callable[[Meeting], Sequence[ScriptLike]]


def owner_refusal(meeting: Meeting) -> str:
    """Why the meeting's owner cannot get a brief ("no_owner", "owner_inactive", "owner_no_email"), or ""."""
    owner = meeting.owner
    if owner is None:
        return "no_owner"
    if not owner.is_active:
        return "owner_inactive"
    return "" if owner.email and owner.email.strip() else "owner_no_email"


def brief_window(meeting: Meeting, brief_at: time, zone: str) -> tuple[datetime, datetime]:
    """``(due_at, deadline_at)``: ``brief_at`` on the meeting's day in the owner's ``zone``, and its start.

    A timed meeting's day is its start's date in the owner's zone; one starting before
    ``brief_at`` gets the brief ``EARLY_MEETING_LEAD`` before it. An all-day meeting's day is its
    calendar date (never shifted), and the brief may go out until that day ends in the zone.

    Raises:
        ValueError: the meeting has neither a start nor a date.
    """
    if meeting.all_day or meeting.start_at is None:
        if meeting.activity_date is None:
            raise ValueError(f"meeting {meeting.event_id} has neither a start nor an activity date")
        day = meeting.activity_date
        return local_instant(day, brief_at, zone), day_window_utc(day, zone)[1]
    start = meeting.start_at
    due = local_instant(to_local(start, zone).date(), brief_at, zone)
    return (due if due < start else start - EARLY_MEETING_LEAD), start


def plan_brief(meeting: Meeting, brief_at: time, org_time_zone: str, now: datetime) -> PlannedAction:
    """The brief for a meeting whose owner can get one: planned (due now when the moment is past),
    or skipped ``past_meeting`` once the meeting has started.

    Raises:
        ValueError: the meeting has neither a start nor a date.
        ConfigError: not even the org's zone is known.
    """
    owner = meeting.owner
    assert owner is not None and owner.email  # callers check owner_refusal() first
    zone = recipient_zone(owner.time_zone, None, org_time_zone)
    key = ActionKey(meeting.event_id, meeting.occurrence, owner.email.strip().lower(), BRIEF)
    due, deadline = brief_window(meeting, brief_at, zone)
    if now >= deadline:
        return PlannedAction(key, Status.SKIPPED, due, deadline, "past_meeting", owner.email, time_zone=zone)
    return PlannedAction(key, Status.PLANNED, max(due, now), deadline, "", owner.email, time_zone=zone)


class BriefFlow:
    """Plans one brief per meeting occurrence and owner, and sends it when the dispatcher claims it.

    Args:
        ledger: the brief rows, and the confirmation rows the brief reports on.
        transport: sends the brief (SMTP or emailSimple).
        writer: renders the brief and its envelope.
        scripts: the meeting's fallback scripts (the same source as the prep note's).
        brief_at: the owner's local wall time on the meeting day.
        cadence: retries and the in-doubt policy, as for every other send.
    """

    kinds = frozenset({BRIEF})

    def __init__(
        self,
        *,
        ledger: Ledger,
        transport: Transport,
        writer: BriefWriter,
        scripts: ScriptSource,
        brief_at: time = time(7, 30),
        cadence: Cadence = DEFAULT_CADENCE,
    ) -> None:
        self.ledger = ledger
        self.transport = transport
        self.writer = writer
        self.scripts = scripts
        self.brief_at = brief_at
        self.settler = Settler(ledger, cadence)

    # -- planning ---------------------------------------------------------------------------------

    def on_meetings(self, meetings: Sequence[Meeting], now: datetime, report: Report) -> None:
        """Plan each meeting's brief; a moved meeting's (or new owner's) open brief is superseded."""
        actions = [a for m in meetings if (a := self._plan_one(m, now, report)) is not None]
        if not actions:
            return
        keep = {a.key.event_id: a.key for a in actions}
        stale = {
            row.key.event_id
            for row in self.ledger.open_rows(sorted(keep))
            if row.key.kind is BRIEF and row.key != keep[row.key.event_id]
        }
        for event_id in sorted(stale):  # only Events that have one: no write per meeting per sync
            report.superseded += self.ledger.supersede_others(event_id, [keep[event_id]], [BRIEF], now)
        report.planned += self.ledger.plan(actions, now)

    def _plan_one(self, meeting: Meeting, now: datetime, report: Report) -> PlannedAction | None:
        if owner_refusal(meeting):
            return None  # the confirmation's own row already says why the owner cannot act
        try:
            return plan_brief(meeting, self.brief_at, self.writer.org_time_zone, now)
        except (ValueError, PrepbotError) as exc:
            report.errors.append(f"owner brief for {meeting.event_id} not planned: {exc}")
            return None

    def after_sync(self, now: datetime, report: Report) -> None:
        """Nothing: every meeting was planned chunk by chunk."""

    def batch_progress(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Nothing: briefs are sent in ``dispatch``."""

    def after_batch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Nothing: briefs are sent in ``dispatch``."""

    # -- dispatch ---------------------------------------------------------------------------------

    def dispatch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Re-check each claimed brief against its meeting as re-read just now, then send it."""
        confirmations: dict[str, list[ActionRow]] = {}
        for row in self.ledger.rows_for_events(sorted({r.key.event_id for r in rows})):
            if row.key.kind is MessageKind.CONFIRMATION:
                confirmations.setdefault(row.key.event_id, []).append(row)
        relay_ok = True
        for row in rows:
            if not relay_ok:
                self._settle(row, Status.PLANNED, now, "relay unusable; retried later", report, due_at=now)
                continue
            meeting = self._current(row, fresh.get(row.key.event_id), now, report)
            if meeting is not None:
                relay_ok = self._send(row, meeting, confirmations.get(row.key.event_id, []), now, report)

    def _current(
        self, row: ActionRow, meeting: Meeting | None, now: datetime, report: Report
    ) -> Meeting | None:
        """The meeting when its brief is still wanted now; otherwise the row is settled and None."""
        if meeting is None:
            self._settle(row, Status.CANCELLED, now, "meeting deleted", report)
            return None
        refusal = owner_refusal(meeting)
        if refusal:
            self._settle(row, Status.SKIPPED, now, refusal, report)
            return None
        try:
            action = plan_brief(meeting, self.brief_at, self.writer.org_time_zone, now)
        except (ValueError, PrepbotError) as exc:
            self._settle(row, Status.FAILED, now, f"template: {exc}", report)
            return None
        if action.key != row.key:  # moved, or another owner: the new key gets its own brief
            why = "meeting moved" if action.key.occurrence != row.key.occurrence else "owner changed"
            self._settle(row, Status.SUPERSEDED, now, why, report)
            report.planned += self.ledger.plan([action], now)
            return None
        if action.status is Status.SKIPPED:
            self._settle(row, Status.SKIPPED, now, action.reason, report)
            return None
        if action.due_at > now:  # the owner's zone changed: wait for the new moment
            self._settle(row, Status.PLANNED, now, "waiting for the brief time", report, due_at=action.due_at)
            return None
        return meeting

    def _send(
        self, row: ActionRow, meeting: Meeting, confirmations: list[ActionRow], now: datetime, report: Report
    ) -> bool:
        """Render, deliver (SENDING from the point of no return), settle. False: the relay is unusable."""
        try:
            status = confirmation_status(meeting, confirmations)
            message = self.writer.message(meeting, row.key, status, self.scripts(meeting))
        except PrepbotError as exc:
            self._settle(row, Status.FAILED, now, f"template: {exc}", report)
            return True
        outcome = self.settler.deliver(self.transport, row, message, now, report)
        if outcome is Outcome.IN_DOUBT:
            # No Task: the owner is the recipient; at worst they miss one brief (``hold``).
            report.errors.append(f"in doubt: owner brief for {row.key.event_id} may have been delivered")
            self.settler.hold_or_resend(row, now, "the relay did not answer the end of data", report)
        elif outcome is Outcome.SENT:
            self.settler.logged(row, now, report, reason=INTERNAL_REASON)
        return outcome is not Outcome.RELAY_DOWN

    def after_dispatch(self, now: datetime, report: Report) -> None:
        """Briefs left SENT by a crash before LOGGED: nothing is written to Salesforce, so just settle."""
        for row in self.ledger.rows(status=Status.SENT):
            if row.key.kind is BRIEF and (row.sent_at is None or row.sent_at < now):
                self.settler.logged(row, now, report, reason=INTERNAL_REASON)

    def _settle(
        self,
        row: ActionRow,
        status: Status,
        now: datetime,
        reason: str,
        report: Report,
        due_at: datetime | None = None,
    ) -> bool:
        """Settle with the claim's attempt (fencing); False when another worker owns the row now."""
        if due_at is None:
            return self.settler.settle(row, status, now, reason, report)
        return self.settler.settle(row, status, now, reason, report, due_at=due_at)
