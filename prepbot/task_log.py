"""The email Tasks that log sent confirmations on the records, written after each batch.

A batch's Tasks are built when it ends and written while the next batch is sent (the service's
background writes); rows sent by a process that died before logging them are logged later, once
their lease is over (:meth:`TaskLog.relog_sent`, C5).
"""

from __future__ import annotations

from datetime import datetime

from prepbot import failpoints
from prepbot.batches import chunked
from prepbot.composer import Composed, Composer
from prepbot.delivery import Settler
from prepbot.domain import ActionRow, Meeting, MessageKind, Status, TaskRecord, WriteResult
from prepbot.errors import CrmError
from prepbot.ports import Crm, Transport
from prepbot.report import Report
from prepbot.writes import Writes


class TaskLog:
    """Email Tasks for sent confirmations: built per batch, created in collections, rows LOGGED."""

    def __init__(self, *, crm: Crm, transport: Transport, composer: Composer, settler: Settler) -> None:
        self.crm = crm
        self.transport = transport
        self.composer = composer
        self.settler = settler  # its ledger and cadence are the ones the rows are settled with

    def log(
        self,
        sent: list[tuple[ActionRow, Meeting, Composed]],
        now: datetime,
        report: Report,
        adopt: bool = False,
    ) -> None:
        """Write the email Tasks of ``sent`` now (see :meth:`writes`)."""
        write = self.writes(sent, now, adopt)
        if write is not None:
            write(report)

    def writes(
        self, sent: list[tuple[ActionRow, Meeting, Composed]], now: datetime, adopt: bool = False
    ) -> Writes | None:
        """The writes that log ``sent`` (email Tasks, then the rows LOGGED), their records built now.

        ``adopt``: rows of an earlier cycle, whose Task may exist already (a crash after the create,
        C5): one batched lookup first, and found Tasks are kept.
        """
        if not sent:
            return None
        if self.transport.logs_activity:  # Salesforce logged it while sending: no second record
            by_sf = [
                (row, "; ".join(filter(None, ("logged by Salesforce", composed.fallback_note))), None)
                for row, _, composed in sent
            ]
            return lambda into: self.settler.logged_many(by_sf, now, into)
        tasks = [
            self.composer.email_task(meeting, composed, (adopt and row.sent_at) or now, ref=str(row.id))
            for row, meeting, composed in sent
        ]
        return lambda into: self._write(sent, tasks, now, into, adopt)

    def _write(
        self,
        sent: list[tuple[ActionRow, Meeting, Composed]],
        tasks: list[TaskRecord],
        now: datetime,
        report: Report,
        adopt: bool,
    ) -> None:
        try:
            found = self.crm.find_tasks(tasks) if adopt else {}
            for _ in found:
                report.bump("task_adopted")
            results = [WriteResult(ref, task_id) for ref, task_id in found.items()]
            missing = [task for task in tasks if task.ref not in found]
            results += self.crm.create_tasks(missing) if missing else []
            failpoints.hit("after_task_create")
        except CrmError as exc:
            report.errors.append(f"Tasks not written yet ({exc}); retried next cycle")
            return
        rows = {str(row.id): (row, composed) for row, _, composed in sent}
        logged: list[tuple[ActionRow, str, str | None]] = []
        for result in results:
            row, composed = rows[result.ref]
            if result.ok:
                logged.append((row, composed.fallback_note or "", result.id))
            else:
                report.errors.append(f"Task for {row.key.event_id} refused: {result.error_code}")
        self.settler.logged_many(logged, now, report)

    def relog_sent(self, now: datetime, report: Report) -> None:
        """Rows sent more than a lease ago whose Task was not written: write it now (re-rendered)."""
        pending = [
            row
            for row in self.settler.ledger.rows(status=Status.SENT)
            if row.key.kind is MessageKind.CONFIRMATION
        ]
        # Rows another live worker sent moments ago are its to log (it does so right after its
        # batch); only those older than a lease are adopted: their sender crashed or the org was down.
        grace = now - self.settler.cadence.lease
        pending = [row for row in pending if row.sent_at is None or row.sent_at < grace]
        for chunk in chunked(pending, self.settler.cadence.batch_size):
            try:
                fresh = self.crm.meetings_by_id(sorted({row.key.event_id for row in chunk}))
            except CrmError:
                return
            batch = []
            for row in chunk:
                meeting = fresh.get(row.key.event_id)
                if meeting is None:  # deleted after the send: no record to log on, and never re-read again
                    self._sent_then_deleted(row, now, report)
                else:
                    # rendered as of the send: the Task shows what the client got, dated that day
                    at, zone = row.sent_at or now, row.time_zone or "UTC"
                    batch.append((row, meeting, self.composer.confirmation(meeting, row.key, zone, at)))
            self.log(batch, now, report, adopt=True)

    def _sent_then_deleted(self, row: ActionRow, now: datetime, report: Report) -> None:
        """The client has the confirmation but its meeting is gone: settle the row (else it stays
        SENT and is re-read every cycle for ever) and alert, since the client may still come."""
        self.settler.logged(row, now, report, reason="meeting deleted after the send: no email Task")
        report.errors.append(f"confirmation for {row.key.event_id} was sent, then the meeting was deleted")
