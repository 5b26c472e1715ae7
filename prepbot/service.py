"""The orchestration loop: sync() reads the org and plans, dispatch() sends what is due, tick() does both."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from prepbot import failpoints
from prepbot.batches import Work, chunked, first_while, read_while
from prepbot.composer import Composer
from prepbot.delivery import DEFAULT_CADENCE, Cadence, Settler
from prepbot.domain import ActionRow, Meeting, MessageKind, PlannedAction, Status
from prepbot.errors import CrmError
from prepbot.flow import Flow
from prepbot.in_doubt import InDoubtAlerts
from prepbot.planner import Audience, confirmation_for, plan_confirmations
from prepbot.ports import Crm, Ledger, Transport
from prepbot.report import Report
from prepbot.sending import OWNER_INACTIVE, BatchSender, owner_alert
from prepbot.task_log import TaskLog
from prepbot.timing import SendPolicy
from prepbot.writes import BackgroundWrites

log = logging.getLogger(__name__)
LAST_SYNC = "last_sync"
LAST_FULL_SYNC = "last_full_sync"
CRM_WATERMARK = "crm_modstamp"  # the newest SystemModstamp read: the org's clock, not ours
WINDOW_END = "window_end"  # how far ahead the last sync read
FULL_SYNC_EVERY = timedelta(hours=24)  # a whole-window read now and then, whatever the changes said
OUTAGE_LOOKBACK = timedelta(days=14)  # meetings missed in a longer outage are not back-filled


def _starts_in(meeting: Meeting, start: datetime, end: datetime) -> bool:
    """Timed meetings by their start; all-day ones by a date of the window (give or take a day of
    zones, as the window read selects them)."""
    if meeting.start_at is not None and not meeting.all_day:
        return start <= meeting.start_at < end
    day = meeting.activity_date
    return day is not None and (start - timedelta(days=1)).date() <= day <= (end + timedelta(days=1)).date()


def _later(now: datetime, started: float) -> datetime:
    """``now`` moved on by the time this cycle has run: a claim made minutes into a long cycle
    gets a lease from when it is made, not one that is already over (issue 8: another process
    would recover the rows while they are being sent)."""
    return now + timedelta(seconds=time.monotonic() - started)


class Service:
    """Confirmations end to end over the four ports; one bad record never stalls the batch."""

    def __init__(
        self,
        *,
        crm: Crm,
        ledger: Ledger,
        transport: Transport,
        composer: Composer,
        policy: SendPolicy,
        audience: Audience,
        cadence: Cadence = DEFAULT_CADENCE,
        worker: str = "prepbot",
        flows: Sequence[Flow] = (),
    ) -> None:
        self.crm = crm
        self.ledger = ledger
        self.transport = transport
        self.composer = composer
        self.policy = policy
        self.audience = audience
        self.cadence = cadence
        self.worker = worker
        self.flows = list(flows)
        self._sending = False  # sync(send=True): also send what the sync has just read
        self.relay_unusable = False  # within one tick: the sync's sends found the relay unusable
        self._stop = threading.Event()  # set by request_stop(): end the cycle after this batch
        self.settler = Settler(ledger, cadence)
        self._writes = BackgroundWrites()  # a batch's Tasks and notes, written while the next is sent
        self.task_log = TaskLog(crm=crm, transport=transport, composer=composer, settler=self.settler)
        self.sender = BatchSender(
            crm=crm,
            transport=transport,
            composer=composer,
            policy=policy,
            audience=audience,
            settler=self.settler,
            flows=self.flows,  # the same list: a flow added later (the CLI's) is seen by both
            task_log=self.task_log,
            writes=self._writes,
        )
        self._judged: dict[str, tuple[Meeting, datetime, PlannedAction]] = {}  # see _plan_meetings
        self.in_doubt_alerts = InDoubtAlerts(
            crm=crm, ledger=ledger, composer=composer, batch_size=cadence.batch_size
        )

    def request_stop(self) -> None:
        """Finish the batch being sent and claim no more (SIGTERM: stop within one batch, not after
        everything due; the rest stays planned in the ledger for the next process)."""
        self._stop.set()

    # -- sync -------------------------------------------------------------------------------------

    def sync(self, now: datetime, *, send: bool = False) -> Report:
        """Read the meetings ahead and plan their confirmations; supersede moved, cancel deleted.

        The first sync, and one every ``FULL_SYNC_EVERY``, reads the whole window; the others read,
        in one call, only the Events changed since (the org's SystemModstamp) plus the slice of
        the window that time has newly brought in. ``send``: also send, chunk by chunk, what is
        due among the meetings just read, with no second read of them (``tick``).

        Raises:
            CrmError: the org could not be read (nothing was changed in the ledger for unread pages).
            LedgerError: the ledger failed.
        """
        report = Report()
        self._recover(now)
        self._sending = send
        try:
            if self._incremental_from(now) is not None:
                self._sync_changes(now, report)
            else:
                self._sync_window(now, report)
        finally:
            self._writes.join(report)
        for flow in self.flows:
            flow.after_sync(now, report)
        self.ledger.set_watermark(LAST_SYNC, now)
        self.ledger.set_watermark(WINDOW_END, now + self.cadence.horizon)
        return report

    def _incremental_from(self, now: datetime) -> datetime | None:
        """The org watermark to read changes from, or None when the whole window must be read."""
        last_full = self.ledger.get_watermark(LAST_FULL_SYNC)
        if last_full is None or not last_full <= now < last_full + FULL_SYNC_EVERY:
            return None
        if self.ledger.get_watermark(WINDOW_END) is None:
            return None
        return self.ledger.get_watermark(CRM_WATERMARK)

    def _sync_window(self, now: datetime, report: Report) -> None:
        """Read every meeting of the window; open rows whose meeting is not in it are re-read."""
        seen: set[str] = set()
        meetings = self.crm.meetings_between(self._window_start(now), now + self.cadence.horizon)
        for chunk in first_while(chunked(meetings, self.cadence.batch_size), self._warm_up()):
            seen.update(m.event_id for m in chunk)
            self._plan_chunk(chunk, now, report)
        self._reconcile_unseen(seen, now, report)
        newest = getattr(self.crm, "newest_modstamp", None)
        if isinstance(newest, datetime):  # where the next, incremental, sync reads from
            self.ledger.set_watermark(CRM_WATERMARK, newest)
            self.ledger.set_watermark(LAST_FULL_SYNC, now)

    def _warm_up(self) -> Work | None:
        """What to do while the first page is read: when this sync sends, get the confirmations'
        templates ready, so that the first mail does not wait for them (once per process)."""
        return self.composer.warm_up if self._sending else None

    def _sync_changes(self, now: datetime, report: Report) -> None:
        """One read: what changed since the org watermark, and the window's new slice."""
        report.incremental = True
        watermark = self.ledger.get_watermark(CRM_WATERMARK)
        old_end = self.ledger.get_watermark(WINDOW_END)
        assert watermark is not None and old_end is not None  # checked by _incremental_from
        end = now + self.cadence.horizon
        starting = (old_end, end) if end > old_end else None
        # the org's clock bounds SystemModstamp, not ours (a test or a skewed host may be far off)
        until = max(now, watermark) + timedelta(days=3660)
        changes = read_while(lambda: self.crm.changes_since(watermark, until, starting), self._warm_up())
        self._cancel_deleted(changes.deleted_ids, now, report)
        window = (self._window_start(now), end)
        for chunk in chunked(changes.meetings, self.cadence.batch_size):
            self._plan_chunk(chunk, now, report, window=window)
        self.ledger.set_watermark(CRM_WATERMARK, changes.watermark)

    def _cancel_deleted(self, event_ids: Sequence[str], now: datetime, report: Report) -> None:
        for row in self.ledger.open_rows(sorted(set(event_ids))) if event_ids else []:
            if row.status is Status.PLANNED and row.key.kind is MessageKind.CONFIRMATION:
                self._reconcile_row(row, None, now, report)

    def _window_start(self, now: datetime) -> datetime:
        """From the last sync (never later than now): a meeting that started while prepbot was not
        running still gets its row — skipped as past_meeting — instead of vanishing (reliability O2, T5)."""
        last = self.ledger.get_watermark(LAST_SYNC)
        start = now if last is None else min(last, now)
        return max(start, now - OUTAGE_LOOKBACK)

    def _plan_chunk(
        self,
        chunk: Sequence[Meeting],
        now: datetime,
        report: Report,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        """Plan a chunk read from the org, hand it to the flows, and send what is due in it.

        ``window``: the chunk holds changed Events from anywhere in time; only those in the window,
        or with open rows (moved out of it), are planned.
        """
        open_rows = self.ledger.open_rows([m.event_id for m in chunk])
        if window is not None:
            has_rows = {row.key.event_id for row in open_rows}
            mine = [m for m in chunk if m.event_id in has_rows or _starts_in(m, *window)]
        else:
            mine = list(chunk)
        try:
            self._plan_meetings(mine, open_rows, now, report)
            for flow in self.flows:
                flow.on_meetings(chunk, now, report)
            self._send_read(mine, now, report)
        finally:
            self._judged = {}

    def _plan_meetings(
        self, chunk: Sequence[Meeting], open_rows: Sequence[ActionRow], now: datetime, report: Report
    ) -> None:
        ids = [m.event_id for m in chunk]
        sent = self._sent_rows(ids)
        # the planner's word on each meeting now, kept for this chunk's sends (same meeting, same now)
        self._judged = {
            m.event_id: (m, now, confirmation_for(m, self.policy, self.audience, now)) for m in chunk
        }
        judged = {event_id: action for event_id, (_, _, action) in self._judged.items()}
        plan = plan_confirmations(chunk, list(open_rows), self.policy, self.audience, now, sent, judged)
        for row in plan.supersede:
            self._settle(row, Status.SUPERSEDED, now, "meeting moved", report)
            report.superseded += 1
        report.meetings += len(chunk)
        languages = {m.event_id: self.composer.language_for(m) for m in chunk}
        add = [replace(a, language=languages.get(a.key.event_id)) for a in plan.add]
        self._alert_owner_inactive(add, report)
        report.planned += self.ledger.plan(add, now)

    def _send_read(self, meetings: Sequence[Meeting], now: datetime, report: Report) -> None:
        """``sync(send=True)``: send what is due among meetings read moments ago, without reading
        them again (that read is what the dispatcher's re-read would give): the API minimum."""
        if not self._sending or self.relay_unusable or not meetings:
            return
        fresh = {m.event_id: m for m in meetings}
        sent = self._claim_batches(
            now, report, lambda rows: self._handle_batch(rows, fresh, now, report), sorted(fresh)
        )
        self.relay_unusable = not sent

    def _claim_batches(
        self,
        now: datetime,
        report: Report,
        handle: Callable[[list[ActionRow]], bool],
        event_ids: Sequence[str] | None = None,
    ) -> bool:
        """Claim due rows (of ``event_ids``, if given) batch by batch and ``handle`` each, until none
        is left or a stop is requested. False when a batch found the org or the relay unusable."""
        started, size = time.monotonic(), self.cadence.batch_size
        while not self._stop.is_set():
            rows = self.ledger.claim_due(
                _later(now, started),
                limit=size,
                lease=self.cadence.lease,
                worker=self.worker,
                event_ids=event_ids,
            )
            report.claimed += len(rows)
            if not rows:
                return True
            failpoints.hit("after_claim")
            if not handle(rows):
                return False
            if len(rows) < size:
                return True
        return True

    def _alert_owner_inactive(self, actions: Sequence[PlannedAction], report: Report) -> None:
        """D9: a meeting is never sent as an inactive (or non-User) owner; say so once, when first planned."""
        hits = [a for a in actions if a.reason == OWNER_INACTIVE]
        if not hits:
            return
        known = {row.key for row in self.ledger.rows_for_events(sorted({a.key.event_id for a in hits}))}
        report.errors.extend(owner_alert(a.key.event_id) for a in hits if a.key not in known)

    def _sent_rows(self, event_ids: Sequence[str]) -> dict[str, list[ActionRow]]:
        found: dict[str, list[ActionRow]] = {}
        for row in self.ledger.rows_for_events(event_ids, (Status.SENT, Status.LOGGED, Status.SENDING)):
            found.setdefault(row.key.event_id, []).append(row)
        return found

    def _reconcile_unseen(self, seen: set[str], now: datetime, report: Report) -> None:
        """Open rows whose Event no longer shows in the window: deleted, or moved out of it."""
        stale = [row for row in self.ledger.open_rows() if row.key.event_id not in seen]
        stale = [
            row for row in stale if row.status is Status.PLANNED and row.key.kind is MessageKind.CONFIRMATION
        ]
        for chunk in chunked(stale, self.cadence.batch_size):
            fresh = self.crm.meetings_by_id(sorted({row.key.event_id for row in chunk}))
            for row in chunk:
                self._reconcile_row(row, fresh.get(row.key.event_id), now, report)

    def _reconcile_row(self, row: ActionRow, meeting: Meeting | None, now: datetime, report: Report) -> None:
        if meeting is None:
            self._settle(row, Status.CANCELLED, now, "meeting deleted", report)
            report.cancelled += 1
            return
        action = confirmation_for(meeting, self.policy, self.audience, now)
        if action.key != row.key:
            self._settle(row, Status.SUPERSEDED, now, "meeting moved", report)
            report.superseded += 1
            report.planned += self.ledger.plan([action], now)

    # -- dispatch ---------------------------------------------------------------------------------

    def dispatch(self, now: datetime) -> Report:
        """Claim what is due, re-read it, send it, log it on the records.

        Raises:
            LedgerError: the ledger failed (rows already claimed are recovered after their lease).
        """
        report = Report()
        self._recover(now)
        if self.cadence.in_doubt_policy != "resend":
            self.in_doubt_alerts.alert(now, report)
        if not self.relay_unusable:  # a tick whose sync found the relay unusable does not retry it
            try:
                self._claim_batches(now, report, lambda rows: self._dispatch_batch(rows, now, report))
            finally:
                self._writes.join(report)
        self.task_log.relog_sent(now, report)
        for flow in self.flows:
            flow.after_dispatch(now, report)
        return report

    def _dispatch_batch(self, rows: list[ActionRow], now: datetime, report: Report) -> bool:
        """Returns False when the cycle should stop (the org or the relay is unusable)."""
        try:
            fresh = self.crm.meetings_by_id(sorted({row.key.event_id for row in rows}))
        except CrmError as exc:
            report.errors.append(f"org unavailable at send time: {exc}")
            for row in rows:
                self._release(row, now, f"crm_unavailable: {exc.error_code or exc.status}", report)
            return False
        return self._handle_batch(rows, fresh, now, report)

    def _handle_batch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> bool:
        """Claimed rows and their meetings as just read; False when the relay is unusable."""
        return self.sender.handle(rows, fresh, now, report, self._judged)

    def _release(self, row: ActionRow, now: datetime, reason: str, report: Report) -> None:
        """The org could not be re-read: never send unread; give up once too close to the start."""
        next_at = now + self.cadence.retry
        if next_at + self.policy.min_notice > row.deadline_at:
            self._settle(row, Status.SKIPPED, now, "crm_unavailable", report)
        else:
            self._settle(row, Status.PLANNED, now, reason, report, due_at=next_at)

    # -- helpers ----------------------------------------------------------------------------------

    def _recover(self, now: datetime) -> None:
        """Expired leases; a crashed send is held in doubt, or planned again under ``resend``."""
        self.ledger.recover(now, resend_in_doubt=self.cadence.in_doubt_policy == "resend")

    def _settle(
        self, row: ActionRow, status: Status, now: datetime, reason: str, report: Report, **extra: Any
    ) -> None:
        self.settler.settle(row, status, now, reason, report, **extra)

    def tick(self, now: datetime) -> Report:
        """One sync then one dispatch, as if the clock read ``now``."""
        report = Report()
        try:
            report.merge(self.sync(now, send=True))
        except CrmError as exc:
            report.errors.append(f"sync failed: {exc}")
        try:
            return report.merge(self.dispatch(now))
        finally:
            self.relay_unusable = False
