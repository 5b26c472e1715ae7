"""Sending one claimed batch: each row settled or sent, the next confirmations rendered during the
relay's waits, then the batch's Tasks and flow writes handed to the background writer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from functools import partial

from prepbot.ahead import RenderAhead, WaitWork
from prepbot.composer import Composed, Composer
from prepbot.delivery import Outcome, Settler
from prepbot.domain import ActionRow, Meeting, MessageKind, PlannedAction, Status
from prepbot.errors import CrmError, PrepbotError
from prepbot.flow import PROGRESS_EVERY, Flow
from prepbot.planner import Audience, confirmation_for
from prepbot.ports import Crm, Transport
from prepbot.report import Report
from prepbot.task_log import TaskLog
from prepbot.timing import SendPolicy
from prepbot.writes import BackgroundWrites

OWNER_INACTIVE = "owner_inactive"


def owner_alert(event_id: str) -> str:
    return f"confirmation for {event_id} not sent: its owner is inactive or not a Salesforce user"


def _sends_now(row: ActionRow, action: PlannedAction, now: datetime) -> bool:
    """The row's meeting has not moved, is not skipped, and its send is due: it goes out now."""
    return action.key == row.key and action.status is not Status.SKIPPED and action.due_at <= now


class BatchSender:
    """Sends the confirmations of a claimed batch and hands the flows their part of it.

    One per :class:`~prepbot.service.Service`, which claims the batches and shares with it the
    ports, the settler, the flows and the background writer (its cycle joins the writes).
    """

    def __init__(
        self,
        *,
        crm: Crm,
        transport: Transport,
        composer: Composer,
        policy: SendPolicy,
        audience: Audience,
        settler: Settler,
        flows: Sequence[Flow],
        task_log: TaskLog,
        writes: BackgroundWrites,
    ) -> None:
        self.crm = crm
        self.transport = transport
        self.composer = composer
        self.policy = policy
        self.audience = audience
        self.settler = settler  # its ledger and cadence are the ones the rows are settled with
        self.flows = flows
        self.task_log = task_log
        self._writes = writes
        self._ahead = RenderAhead()  # the next confirmations, rendered while the relay handles this one

    def handle(
        self,
        rows: list[ActionRow],
        fresh: dict[str, Meeting],
        now: datetime,
        report: Report,
        judged: Mapping[str, tuple[Meeting, datetime, PlannedAction]],
    ) -> bool:
        """Claimed rows and their meetings as just read; False when the relay is unusable.

        ``judged``: the planner's word on the meetings a sync's chunk has just planned (same
        meeting, same ``now``), so that it is not asked again per row.
        """
        batch = rows
        for flow in self.flows:
            mine = [row for row in rows if row.key.kind in flow.kinds]
            if mine:
                flow.dispatch(mine, fresh, now, report)
        rows = [row for row in rows if row.key.kind is MessageKind.CONFIRMATION]
        sent: list[tuple[ActionRow, Meeting, Composed]] = []
        relay_ok = True
        # each row's meeting as read and what the planner says of it now, once per row
        planned = [self._planned(row, fresh, now, judged) for row in rows]
        told = 0  # rows the flows heard of (batch_progress)
        for i, row in enumerate(rows):
            if not relay_ok:
                self.settler.settle(
                    row, Status.PLANNED, now, "relay unusable; retried later", report, due_at=now
                )
                continue
            after = [(rows[j], *planned[j]) for j in range(i + 1, min(i + 1 + RenderAhead.HOLD, len(rows)))]
            ahead = self._render_ahead(after, now)
            if ahead is not None and i - told >= PROGRESS_EVERY:
                ahead, told = self._with_progress(ahead, rows[told:i], fresh, now, report), i
            relay_ok = self._dispatch_row(row, *planned[i], now, report, sent, ahead)
        self._ahead.clear()
        writes = [self.task_log.writes(sent, now)]
        writes += [flow.after_batch(batch, fresh, now, report) for flow in self.flows]
        self._writes.submit([write for write in writes if write is not None], report)
        return relay_ok

    def _with_progress(
        self, ahead: WaitWork, done: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> WaitWork:
        """``ahead``, then tell the flows of the rows ``done`` (settled), while the relay handles
        the data of the message after them."""

        def data() -> None:
            ahead.data()
            for flow in self.flows:
                flow.batch_progress(done, fresh, now, report)

        return replace(ahead, data=data)

    def _planned(
        self,
        row: ActionRow,
        fresh: dict[str, Meeting],
        now: datetime,
        judged: Mapping[str, tuple[Meeting, datetime, PlannedAction]],
    ) -> tuple[Meeting | None, PlannedAction | None]:
        meeting = fresh.get(row.key.event_id)
        if meeting is None:
            return None, None
        known = judged.get(row.key.event_id)
        if known is not None and known[0] is meeting and known[1] == now:  # judged by this chunk's plan
            return meeting, known[2]
        return meeting, confirmation_for(meeting, self.policy, self.audience, now)

    def _render_ahead(
        self, after: Sequence[tuple[ActionRow, Meeting | None, PlannedAction | None]], now: datetime
    ) -> WaitWork | None:
        """Work for the relay's waits on a message: render the confirmations of the rows ``after``
        it (the next one and the one after) and build their bytes, for those :meth:`_dispatch_row`
        is going to send. The next one is ready at the first wait the transport has (the commands',
        else the data's), so that its commands can go out with this message's data (the port's
        ``then``); the one after is done while the relay handles this message's data."""
        ahead = [self._ahead_of(*planned, now) for planned in after]
        if not ahead or ahead[0] is None:
            return None
        first, later = ahead[0], [work for work in ahead[1:] if work is not None]

        def data() -> None:
            first()
            for work in later:
                work()

        return WaitWork(commands=first, data=data, then=partial(self._ahead.message, after[0][0].id))

    def _ahead_of(
        self, row: ActionRow, meeting: Meeting | None, action: PlannedAction | None, now: datetime
    ) -> Callable[[], None] | None:
        """Render ``row``'s confirmation and build its bytes (once), if it is going to be sent."""
        if meeting is None or action is None or not _sends_now(row, action, now):
            return None
        zone = action.time_zone or "UTC"

        def render() -> Composed:
            return self.composer.confirmation(meeting, row.key, zone, now)

        def render_and_build() -> None:
            if self._ahead.message(row.id) is None:  # not done at an earlier wait
                self._ahead.prepare(row.id, render)
                self._ahead.build(row.id, self.transport.prepare)

        return render_and_build

    def _dispatch_row(
        self,
        row: ActionRow,
        meeting: Meeting | None,
        action: PlannedAction | None,
        now: datetime,
        report: Report,
        sent: list[tuple[ActionRow, Meeting, Composed]],
        ahead: WaitWork | None = None,
    ) -> bool:
        """Settle or send one claimed row, as ``action`` (the planner's word on ``meeting`` now) says."""
        if meeting is None or action is None:
            self.settler.settle(row, Status.CANCELLED, now, "meeting deleted", report)
            return True
        if action.key != row.key:
            self.settler.settle(row, Status.SUPERSEDED, now, "meeting moved", report)
            self.settler.ledger.plan([action], now)
            return True
        if action.status is Status.SKIPPED:
            self.settler.settle(row, Status.SKIPPED, now, action.reason, report)
            if action.reason == OWNER_INACTIVE:
                report.errors.append(owner_alert(row.key.event_id))
            return True
        if action.due_at > now:
            self.settler.settle(
                row, Status.PLANNED, now, "waiting for the send window", report, due_at=action.due_at
            )
            return True
        assert _sends_now(row, action, now)  # what _render_ahead relies on
        return self._send(row, meeting, action, now, report, sent, ahead)

    def _send(
        self,
        row: ActionRow,
        meeting: Meeting,
        action: PlannedAction,
        now: datetime,
        report: Report,
        sent: list[tuple[ActionRow, Meeting, Composed]],
        ahead: WaitWork | None = None,
    ) -> bool:
        composed = self._composed(row, meeting, action, now, report)
        if composed is None:
            return True
        # "fallback: de→en" is kept on the row when the record asked for another language
        outcome = self.settler.deliver(
            self.transport,
            row,
            composed.message,
            now,
            report,
            composed.fallback_note,
            self.policy.min_notice,
            while_waiting=ahead.data if ahead else None,
            while_commands=ahead.commands if ahead else None,
            then=ahead.then if ahead else None,
        )
        if outcome is Outcome.IN_DOUBT:
            self._in_doubt(row, meeting, composed, now, "the relay did not answer the end of data", report)
        elif outcome is Outcome.SENT:
            sent.append((row, meeting, composed))
        return outcome is not Outcome.RELAY_DOWN

    def _composed(
        self, row: ActionRow, meeting: Meeting, action: PlannedAction, now: datetime, report: Report
    ) -> Composed | None:
        """The row's confirmation, rendered during an earlier wait or now; None when its template
        fails (the row is then FAILED and alerted)."""
        try:
            return self._ahead.take(row.id) or self.composer.confirmation(
                meeting, row.key, action.time_zone or "UTC", now
            )
        except PrepbotError as exc:
            self.settler.settle(row, Status.FAILED, now, f"template: {exc}", report)
            # O2 / H3: a row that fails for good is an alert (stderr, exit 1), not just a count
            report.errors.append(f"confirmation for {row.key.event_id} failed: template: {exc}")
            return None

    def _in_doubt(
        self, row: ActionRow, meeting: Meeting, composed: Composed, now: datetime, why: str, report: Report
    ) -> None:
        """The relay may have accepted it (RFC 1047). ``hold``: never resend; the owner gets a Task
        to call the client. ``resend``: send again (at most one extra message for this key)."""
        report.errors.append(f"in doubt: confirmation for {row.key.event_id} may have been delivered")
        task_id = None
        if self.settler.cadence.in_doubt_policy != "resend":
            try:
                task = self.composer.in_doubt_task(meeting, composed, now, ref=str(row.id))
                result = self.crm.create_tasks([task])[0]
                task_id = result.id if result.ok else None
            except CrmError as exc:
                report.errors.append(f"could not tell the owner about {row.key.event_id}: {exc}")
        self.settler.hold_or_resend(row, now, why, report, crm_id=task_id)
