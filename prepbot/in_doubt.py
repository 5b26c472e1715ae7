"""The owner's alert for confirmations a crash left in doubt: a Task to call the client (``hold``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from prepbot.composer import Composer
from prepbot.domain import ActionRow, MessageKind, Status, TaskRecord
from prepbot.errors import CrmError, PrepbotError
from prepbot.ports import Crm, Ledger
from prepbot.report import Report

log = logging.getLogger(__name__)
NO_TASK = "no owner Task"  # marks a row whose alert cannot be written (its meeting is gone)


class InDoubtAlerts:
    """Writes the owner's call Task for IN_DOUBT confirmations that have none yet.

    Such rows come from ``recover()`` (a worker died between handing the message to the relay
    and recording it: RFC 1047, reliability C3/C4) or from an in-process in-doubt send whose Task
    could not be written. The Task's Id is stored on the row, so each row alerts once; a lookup
    before the create adopts a Task a crash left unrecorded.
    """

    def __init__(self, *, crm: Crm, ledger: Ledger, composer: Composer, batch_size: int = 200) -> None:
        self.crm = crm
        self.ledger = ledger
        self.composer = composer
        self.batch_size = batch_size

    def alert(self, now: datetime, report: Report) -> None:
        """Write the missing Tasks (batched); a failing org leaves them for the next cycle."""
        rows = [
            row
            for row in self.ledger.rows(status=Status.IN_DOUBT)
            if row.key.kind is MessageKind.CONFIRMATION and not row.crm_id and NO_TASK not in row.reason
        ]
        for start in range(0, len(rows), self.batch_size):
            try:
                self._chunk(rows[start : start + self.batch_size], now, report)
            except CrmError as exc:
                report.errors.append(f"in-doubt alerts not written ({exc}); retried next cycle")
                return

    def _chunk(self, rows: Sequence[ActionRow], now: datetime, report: Report) -> None:
        fresh = self.crm.meetings_by_id(sorted({row.key.event_id for row in rows}))
        tasks: list[TaskRecord] = []
        for row in rows:
            meeting = fresh.get(row.key.event_id)
            if meeting is None:
                self.ledger.settle(
                    row.id, Status.IN_DOUBT, now, reason=f"{row.reason}; {NO_TASK}: meeting deleted"
                )
                report.errors.append(f"in doubt: confirmation for {row.key.event_id} may have been delivered")
                continue
            try:  # the message as it was sent (same key, same moment: the same text)
                composed = self.composer.confirmation(
                    meeting, row.key, row.time_zone or "UTC", self._sent_at(row)
                )
            except PrepbotError as exc:
                report.errors.append(f"in-doubt Task for {row.key.event_id} not built: {exc}")
                continue
            tasks.append(self.composer.in_doubt_task(meeting, composed, now, ref=str(row.id)))
        if not tasks:
            return
        found = self.crm.find_tasks(tasks)
        missing = [task for task in tasks if task.ref not in found]
        ids = dict(found)
        for result in self.crm.create_tasks(missing) if missing else []:
            if result.ok and result.id:
                ids[result.ref] = result.id
            else:
                report.errors.append(f"in-doubt Task for {result.ref} refused: {result.error_code}")
        by_ref = {str(row.id): row for row in rows}
        for ref, task_id in ids.items():
            row = by_ref[ref]
            self.ledger.settle(row.id, Status.IN_DOUBT, now, reason=row.reason, crm_id=task_id)
            report.bump("in_doubt_alerted")
            report.errors.append(
                f"in doubt: confirmation for {row.key.event_id} may have been delivered; "
                "the owner has a Task to call the client"
            )

    def _sent_at(self, row: ActionRow) -> datetime:
        moves = [m.at for m in self.ledger.history(row.id) if m.to_status is Status.SENDING]
        return moves[-1] if moves else row.updated_at or row.due_at
