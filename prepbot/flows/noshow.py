"""The no-show follow-up (method §2): a call Task for the owner and, by config, a kind email to the client."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from prepbot.composer import Composed
from prepbot.delivery import DEFAULT_CADENCE, Cadence, Settler
from prepbot.delivery import Outcome as Delivered
from prepbot.domain import ActionKey, ActionRow, Meeting, MessageKind, PlannedAction, Status
from prepbot.errors import (
    CrmError,
    PrepbotError,
)
from prepbot.flows.noshow_compose import NoShowWriter
from prepbot.planner import Audience, judge_recipient
from prepbot.ports import Crm, Ledger, Transport
from prepbot.report import Report

log = logging.getLogger(__name__)

TASK, EMAIL = MessageKind.NO_SHOW_TASK, MessageKind.NO_SHOW_EMAIL
# How long a follow-up may still be retried after it was planned: a week-old "let's find a new
# time" reads odd, and the owner's Task is due today anyway.
FOLLOW_UP_WINDOW = timedelta(days=3)


class NoShowCrm(Crm, Protocol):
    """The Crm port plus the two reads the follow-up needs (``SalesforceCrm`` has them)."""

    def no_shows_between(self, start_at: datetime, end_at: datetime) -> Iterator[Meeting]: ...

    def future_meetings_of(self, who_ids: Sequence[str], after: datetime) -> set[str]: ...


def has_started(meeting: Meeting, now: datetime) -> bool:
    """A timed meeting whose start is past; an all-day one from its date (UTC) on."""
    if meeting.start_at is not None and not meeting.all_day:
        return meeting.start_at <= now
    return meeting.activity_date is not None and meeting.activity_date <= now.astimezone(UTC).date()


def plan_no_show(
    meeting: Meeting, audience: Audience, now: datetime, *, email_client: bool
) -> list[PlannedAction]:
    """The owner's Task (always) and the client's email (planned, or skipped with the reason), due now."""
    deadline = now + FOLLOW_UP_WINDOW
    task_key = ActionKey(meeting.event_id, meeting.occurrence, meeting.owner_id, TASK)
    actions = [PlannedAction(task_key, Status.PLANNED, now, deadline)]
    if not email_client:
        return actions
    verdict = judge_recipient(meeting, audience)
    email_key = ActionKey(meeting.event_id, meeting.occurrence, verdict.recipient, EMAIL)
    status = Status.SKIPPED if verdict.reason else Status.PLANNED
    actions.append(PlannedAction(email_key, status, now, deadline, verdict.reason, verdict.address))
    return actions


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one follow-up key (for the CLI): the row as it ended, and whether it is new."""

    row: ActionRow
    new: bool


class NoShowFlow:
    """Plans follow-ups for meetings marked missed, and handles their rows when claimed.

    Rows go through the ledger's state machine like confirmations: SENDING is recorded before
    the Task is written or the email handed to the relay, settles carry the claim's attempt
    (fencing), and the key (Event, occurrence, recipient, kind) is unique, so each is done once.
    """

    kinds = frozenset({TASK, EMAIL})

    def __init__(
        self,
        *,
        crm: NoShowCrm,
        ledger: Ledger,
        transport: Transport,
        writer: NoShowWriter,
        audience: Audience,
        cadence: Cadence = DEFAULT_CADENCE,
        email_client: bool = True,
        lookback: timedelta = timedelta(hours=48),
    ) -> None:
        self.crm = crm
        self.ledger = ledger
        self.transport = transport
        self.writer = writer
        self.audience = audience
        self.cadence = cadence
        self.settler = Settler(ledger, cadence)
        self.email_client = email_client
        self.lookback = lookback

    # -- planning ---------------------------------------------------------------------------------

    def on_meetings(self, meetings: Sequence[Meeting], now: datetime, report: Report) -> None:
        """An incremental sync hands over every Event changed since the last one: marking a meeting
        missed changes it, so the missed ones within the look-back window are planned here."""
        if not report.incremental:
            return  # a window read holds meetings ahead only; after_sync reads the missed ones
        for meeting in meetings:
            if meeting.no_show and has_started(meeting, now) and _within(meeting, now - self.lookback):
                report.planned += self.plan(meeting, now)

    def after_sync(self, now: datetime, report: Report) -> None:
        """After a window read: read the meetings marked missed within the look-back window and plan
        their follow-ups (an incremental sync saw them in ``on_meetings``, at no extra call)."""
        if report.incremental:
            return
        try:
            missed = [m for m in self.crm.no_shows_between(now - self.lookback, now) if has_started(m, now)]
        except CrmError as exc:
            report.errors.append(f"no-show meetings not read: {exc}")
            return
        for meeting in missed:
            report.planned += self.plan(meeting, now)

    def batch_progress(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Nothing: follow-ups are done in ``dispatch``."""

    def after_batch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Nothing: follow-ups are done in ``dispatch``."""

    def plan(self, meeting: Meeting, now: datetime) -> int:
        """Plan one missed meeting's follow-ups; returns the rows added (0 when already planned)."""
        return self.ledger.plan(
            plan_no_show(meeting, self.audience, now, email_client=self.email_client), now
        )

    def outcomes(self, meeting: Meeting, now: datetime) -> list[ActionRow]:
        """The ledger rows of this meeting's follow-ups (for the CLI), task first."""
        rows = self.ledger.rows_for_events([meeting.event_id])
        mine = [r for r in rows if r.key.kind in self.kinds and r.key.occurrence == meeting.occurrence]
        return sorted(mine, key=lambda r: (r.key.kind is not TASK, r.id))

    # -- dispatch ---------------------------------------------------------------------------------

    def dispatch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Write the owner's Tasks, then send the client emails that are still wanted."""
        live: list[tuple[ActionRow, Meeting]] = []
        for row in rows:
            meeting = self._current(row, fresh.get(row.key.event_id), now, report)
            if meeting is not None:
                live.append((row, meeting))
        self._write_tasks([(r, m) for r, m in live if r.key.kind is TASK], now, report)
        self._send_emails([(r, m) for r, m in live if r.key.kind is EMAIL], now, report)

    def _current(
        self, row: ActionRow, meeting: Meeting | None, now: datetime, report: Report
    ) -> Meeting | None:
        """The meeting, unless it was deleted or moved (a moved meeting has its new time already)."""
        if meeting is None:
            self._settle(row, Status.CANCELLED, now, "meeting deleted", report)
            return None
        if meeting.occurrence != row.key.occurrence:
            self._settle(row, Status.SUPERSEDED, now, "meeting moved", report)
            return None
        return meeting

    # -- the owner's Task -------------------------------------------------------------------------

    def _write_tasks(self, pairs: list[tuple[ActionRow, Meeting]], now: datetime, report: Report) -> None:
        ready = []
        for row, meeting in pairs:
            try:
                task, version = self.writer.call_task(meeting, now, ref=str(row.id))
            except PrepbotError as exc:
                self._settle(row, Status.FAILED, now, f"template: {exc}", report)
                continue
            if self._mark_sending(row, now, report):
                ready.append((row, task, version))
        if not ready:
            return
        try:
            results = self.crm.create_tasks([task for _, task, _ in ready])
        except CrmError as exc:  # the whole batch failed before anything was written
            report.errors.append(f"no-show Tasks not written ({exc}); retried later")
            for row, _, _ in ready:
                self._retry_or_fail(row, now, f"crm {exc.error_code or exc.status}", report)
            return
        for (row, _, version), result in zip(ready, results, strict=True):
            if result.ok:
                # SENT then LOGGED: the Task is both the delivery and its record (counted as logged)
                if self._settle(
                    row, Status.SENT, now, "", report, count=False, crm_id=result.id, template_version=version
                ):
                    self._settle_logged(row, now, report, crm_id=result.id)
            elif result.retryable:
                self._retry_or_fail(row, now, f"crm {result.error_code}", report)
            else:
                self._settle(row, Status.FAILED, now, f"crm {result.error_code}: {result.message}", report)

    # -- the client's email -----------------------------------------------------------------------

    def _send_emails(self, pairs: list[tuple[ActionRow, Meeting]], now: datetime, report: Report) -> None:
        if not pairs:
            return
        who_ids = sorted({m.who.id for _, m in pairs if m.who is not None})
        try:
            booked = self.crm.future_meetings_of(who_ids, now) if who_ids else set()
        except CrmError as exc:  # never send without knowing whether a new meeting exists
            report.errors.append(f"no-show emails held: future meetings not read ({exc})")
            for row, _ in pairs:
                self._retry_or_fail(row, now, f"crm_unavailable: {exc.error_code or exc.status}", report)
            return
        relay_ok = True
        for row, meeting in pairs:
            if not relay_ok:
                self._settle(row, Status.PLANNED, now, "relay unusable; retried later", report, due_at=now)
                continue
            relay_ok = self._email_one(row, meeting, booked, now, report)

    def _refusal(self, row: ActionRow, meeting: Meeting, booked: set[str]) -> str:
        """Why the client must not get the email now (re-checked right before sending), or ""."""
        verdict = judge_recipient(meeting, self.audience)
        if verdict.reason:
            return verdict.reason
        if verdict.recipient != row.key.recipient:
            return "address_changed"
        if meeting.who is not None and meeting.who.id in booked:
            return "new_meeting_booked"
        return ""

    def _email_one(
        self, row: ActionRow, meeting: Meeting, booked: set[str], now: datetime, report: Report
    ) -> bool:
        """Returns False when the relay is unusable (the rest of the batch waits)."""
        reason = self._refusal(row, meeting, booked)
        if reason:
            self._settle(row, Status.SKIPPED, now, reason, report)
            return True
        try:
            composed = self.writer.email(meeting, row.key, now)
        except PrepbotError as exc:
            self._settle(row, Status.FAILED, now, f"template: {exc}", report)
            return True
        return self._deliver(row, meeting, composed, now, report)

    def _deliver(
        self, row: ActionRow, meeting: Meeting, composed: Composed, now: datetime, report: Report
    ) -> bool:
        outcome = self.settler.deliver(self.transport, row, composed.message, now, report)
        if outcome is Delivered.IN_DOUBT:
            # The owner already has a Task to call the client, so ``hold`` only records it.
            report.errors.append(f"in doubt: no-show email for {row.key.event_id} may have been delivered")
            self.settler.hold_or_resend(row, now, "the relay did not answer the end of data", report)
        elif outcome is Delivered.SENT:
            self._log_email(row, meeting, composed, now, report)
        return outcome is not Delivered.RELAY_DOWN

    def _log_email(
        self, row: ActionRow, meeting: Meeting, composed: Composed, now: datetime, report: Report
    ) -> None:
        if self.transport.logs_activity:  # Salesforce logged it while sending: no second record
            self._settle_logged(row, now, report, reason="logged by Salesforce")
            return
        try:
            result = self.crm.create_tasks([self.writer.email_task(meeting, composed, now, ref=str(row.id))])[
                0
            ]
        except CrmError as exc:
            report.errors.append(f"no-show email Task not written yet ({exc}); retried next cycle")
            return
        if result.ok:
            self._settle_logged(row, now, report, crm_id=result.id)
        else:
            report.errors.append(f"no-show email Task for {row.key.event_id} refused: {result.error_code}")

    def after_dispatch(self, now: datetime, report: Report) -> None:
        """Emails sent in an earlier cycle whose Task was not written: write it now (re-rendered)."""
        pending = [r for r in self.ledger.rows(status=Status.SENT) if r.key.kind is EMAIL]
        pending = [r for r in pending if r.sent_at is None or r.sent_at < now]
        if not pending:
            return
        try:
            fresh = self.crm.meetings_by_id(sorted({r.key.event_id for r in pending}))
        except CrmError:
            return
        for row in pending:
            meeting = fresh.get(row.key.event_id)
            if meeting is not None and meeting.who is not None and meeting.who.email:
                try:
                    composed = self.writer.email(meeting, row.key, now)
                except PrepbotError:
                    continue
                self._log_email(row, meeting, composed, now, report)

    # -- ledger helpers ---------------------------------------------------------------------------

    def _mark_sending(self, row: ActionRow, now: datetime, report: Report) -> bool:
        return self.settler.mark_sending(row, now, report)

    def _settle_logged(self, row: ActionRow, now: datetime, report: Report, **extra: str | None) -> None:
        self.settler.logged(row, now, report, **extra)

    def _retry_or_fail(self, row: ActionRow, now: datetime, reason: str, report: Report) -> None:
        self.settler.retry_or_fail(row, now, reason, report)

    def _settle(
        self,
        row: ActionRow,
        status: Status,
        now: datetime,
        reason: str,
        report: Report,
        *,
        count: bool = True,
        **extra: object,
    ) -> bool:
        """Settle with the claim's attempt (fencing); False when another worker owns the row now."""
        return self.settler.settle(row, status, now, reason, report, count=count, **extra)


def _within(meeting: Meeting, since: datetime) -> bool:
    """The meeting started at or after ``since`` (all-day ones by their date)."""
    if meeting.start_at is not None and not meeting.all_day:
        return meeting.start_at >= since
    return meeting.activity_date is not None and meeting.activity_date >= since.date()
