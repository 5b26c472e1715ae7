"""The four seams of prepbot as Protocols: Crm, Transport, Ledger, Clock."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from prepbot.domain import (
    ActionKey,
    ActionRow,
    Changes,
    DeliveryReceipt,
    Meeting,
    MessageKind,
    NoteRecord,
    NoteState,
    OutgoingMessage,
    PlannedAction,
    Settlement,
    Status,
    TaskRecord,
    Transition,
    WorkerInfo,
    WorkerRow,
    WriteResult,
)


class Clock(Protocol):
    """Where "now" comes from; tests and ``--now`` inject a fixed one."""

    def now(self) -> datetime:
        """Return the current instant, timezone-aware UTC."""
        ...


class Crm(Protocol):
    """Reads meetings from, and writes activities and notes to, the org."""

    def meetings_between(self, start_at: datetime, end_at: datetime) -> Iterator[Meeting]:
        """Yield the meetings that start in ``[start_at, end_at)`` (all-day ones by date), page by page.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        ...

    def meetings_by_id(self, event_ids: Sequence[str]) -> dict[str, Meeting]:
        """Re-read these Events (batched); a deleted or missing Event is absent from the result.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        ...

    def changes_since(
        self, watermark: datetime, until: datetime, starting: tuple[datetime, datetime] | None = None
    ) -> Changes:
        """Events modified (SystemModstamp) or deleted in ``[watermark, until)``, and with ``starting``
        the Events that start in that window, in one read.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        ...

    def create_tasks(self, tasks: Sequence[TaskRecord]) -> list[WriteResult]:
        """Create Tasks in batches of up to 200; one result per task, in order.

        Raises:
            CrmAuthError, CrmUnavailableError: the whole batch failed (no result).
        """
        ...

    def find_tasks(self, tasks: Sequence[TaskRecord]) -> dict[str, str]:
        """The Tasks already in the org that match ``tasks`` (after a create whose outcome is unknown).

        Returns:
            ``task.ref`` -> Task Id, for the tasks found.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        ...

    def save_notes(self, notes: Sequence[NoteRecord]) -> list[WriteResult]:
        """Create (note and link in one call) or update in place each note; one result per note.

        Raises:
            CrmAuthError, CrmUnavailableError: the whole batch failed.
        """
        ...


class Transport(Protocol):
    """Delivers one message to its recipient.

    ``logs_activity`` is True when delivering also logs the email on the Salesforce records
    (emailSimple with logEmailOnSend), so prepbot must not write its own Task as well.
    """

    logs_activity: bool

    def send(
        self,
        message: OutgoingMessage,
        *,
        on_data_end: Callable[[], None] | None = None,
        while_waiting: Callable[[], None] | None = None,
        while_commands: Callable[[], None] | None = None,
        then: Callable[[], OutgoingMessage | None] | None = None,
    ) -> DeliveryReceipt:
        """Hand ``message`` to the relay.

        ``on_data_end`` is called at the point of no return, right before the bytes that let the
        relay accept the message (SMTP: the data and its terminator; Salesforce: the request). If it
        raises, nothing is sent and the exception propagates: a crash before it left nothing at the
        relay (reliability C2), so the ledger may plan the message again.

        ``while_waiting`` is called at most once, after the whole message went out and before the
        relay's answer is read, so the caller can work while the relay handles it (render the next
        message). It must not raise: an ``Exception`` from it is logged and the send's outcome
        stands. A transport with no such wait may never call it.

        ``while_commands`` likewise, at most once, while the relay handles the commands before the
        data (SMTP with PIPELINING: MAIL, RCPT and DATA sent in one write, their replies not read
        yet). It runs before the point of no return, so also for a message the relay then refuses.

        ``then`` gives the message the caller will send next (or None): a transport may start that
        message's transaction with this one's data (SMTP with PIPELINING), so the caller's next
        ``send`` should be of that very message object; another message is sent as well, after
        the transaction started for nothing is ended without sending anything of it.

        Raises:
            DeliveryRejectedError: permanent refusal (5xx); do not retry.
            DeliveryUnavailableError: transient (connect, timeout, 4xx); retry later.
            DeliveryInDoubtError: the data was sent but no reply was read.
        """
        ...

    def prepare(self, message: OutgoingMessage) -> None:
        """Do now what the coming :meth:`send` of this same message would do first (build its
        bytes), e.g. while the relay handles the message before it. Never raises: a message that
        cannot be built is refused by its send. A transport may do nothing."""
        ...

    def close(self) -> None:
        """Release any open connection."""
        ...


class PlannerLease(Protocol):
    """The right to be the one planner of a ledger (issue 8); see ``Ledger.planner_lease``."""

    def acquire(self) -> bool:
        """Take the lease if nobody holds it, without waiting; True while this lease holds it.

        Raises:
            LedgerError: the database cannot be reached.
        """
        ...

    def held(self) -> bool:
        """Re-check that the lease is still held (False after e.g. a database restart); never raises."""
        ...

    def release(self) -> None:
        """Give the lease up; a no-op when not held."""
        ...


class Ledger(Protocol):
    """The record of every decision: what was planned, claimed, sent, skipped, and why."""

    def plan(self, actions: Iterable[PlannedAction], now: datetime) -> int:
        """Insert the actions whose key is new; existing keys are left as they are. Returns rows added."""
        ...

    def open_rows(self, event_ids: Sequence[str] | None = None) -> list[ActionRow]:
        """Rows not yet in a terminal state (all of them, or those of these Events)."""
        ...

    def rows(
        self,
        *,
        event_id: str | None = None,
        status: Status | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[ActionRow]:
        """Rows for reporting, newest first."""
        ...

    def settle(
        self,
        row_id: int,
        status: Status,
        now: datetime,
        *,
        reason: str = "",
        attempt: int | None = None,
        message_id: str | None = None,
        crm_id: str | None = None,
        template_version: str | None = None,
        due_at: datetime | None = None,
    ) -> None:
        """Move a row to ``status``. With ``attempt`` (fencing token) the row must still hold it.

        Raises:
            StaleClaimError: another attempt owns the row now.
            LedgerError: the database failed.
        """
        ...

    def settle_many(self, moves: Sequence[Settlement], now: datetime) -> list[Exception | None]:
        """Several settles in one transaction; per move None or the error ``settle`` would raise."""
        ...

    def claim_due(
        self,
        now: datetime,
        *,
        limit: int,
        lease: timedelta,
        worker: str,
        event_ids: Sequence[str] | None = None,
    ) -> list[ActionRow]:
        """Claim up to ``limit`` PLANNED rows due at ``now``; each gets ``attempt + 1`` and a lease."""
        ...

    def recover(self, now: datetime, *, resend_in_doubt: bool = False) -> tuple[int, int]:
        """Expired leases: CLAIMED rows back to PLANNED, SENDING rows to IN_DOUBT (``resend_in_doubt``:
        to PLANNED, the ``resend`` policy). Returns both counts."""
        ...

    def changed_events(self, since: datetime, kind: MessageKind) -> list[str]:
        """The Event Ids with a row of ``kind`` changed at or after ``since``."""
        ...

    def get(self, key: ActionKey) -> ActionRow | None:
        """The row with this key, if any."""
        ...

    def rows_for_events(
        self, event_ids: Sequence[str], statuses: Iterable[Status] | None = None
    ) -> list[ActionRow]:
        """Every row of these Events (in ``statuses``, if given), terminal ones included."""
        ...

    def supersede_others(
        self,
        event_id: str,
        keep: Collection[ActionKey],
        kinds: Iterable[MessageKind] | None,
        now: datetime,
        reason: str = "meeting moved",
    ) -> int:
        """Move the Event's PLANNED/CLAIMED rows (of ``kinds``; None = all) not in ``keep`` to SUPERSEDED.

        SENDING and SENT rows are left alone. Returns the number of rows moved.
        """
        ...

    def cancel_events(self, event_ids: Iterable[str], now: datetime, reason: str = "meeting deleted") -> int:
        """Move the PLANNED/CLAIMED rows of these deleted Events to CANCELLED. Returns rows moved."""
        ...

    def history(self, row_id: int) -> list[Transition]:
        """Every recorded transition of a row, oldest first (creation has ``from_status`` None)."""
        ...

    def counts_by_status(self) -> dict[Status, int]:
        """Rows per state, every state present."""
        ...

    def get_watermark(self, name: str) -> datetime | None:
        """A stored sync watermark."""
        ...

    def set_watermark(self, name: str, value: datetime) -> None:
        """Store a sync watermark."""
        ...

    def note_states(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], NoteState]:
        """The prep-note state of each (Event Id, occurrence) key's meeting, for keys that have one.

        One note per meeting: a moved meeting's key gets its Event's state (``occurrence`` tells
        which occurrence the note last described).

        Raises:
            LedgerError: the database failed.
        """
        ...

    def save_note_state(
        self,
        event_id: str,
        occurrence: str,
        *,
        linked_entity_id: str,
        note_id: str | None,
        content_hash: str,
        now: datetime,
    ) -> None:
        """Store the meeting's prep-note state, replacing its earlier one (``note_id`` None: create pending).

        Raises:
            LedgerError: the database failed.
        """
        ...

    def save_note_states(self, states: Sequence[NoteState]) -> None:
        """``save_note_state`` for many meetings in one transaction.

        Raises:
            LedgerError: the database failed.
        """
        ...

    def heartbeat(self, worker: WorkerInfo, now: datetime) -> None:
        """Record that this process is alive at ``now`` (insert or refresh its row).

        Raises:
            LedgerError: the database failed.
        """
        ...

    def workers(self) -> list[WorkerRow]:
        """The processes sharing the ledger, by name, each with its last heartbeat and live claims.

        Raises:
            LedgerError: the database failed.
        """
        ...

    def forget_worker(self, name: str) -> None:
        """Remove a worker's row (clean shutdown); unknown names are ignored.

        Raises:
            LedgerError: the database failed.
        """
        ...

    def planner_lease(self, name: str) -> PlannerLease:
        """The (not yet acquired) lease that makes one process at a time the planner of this ledger.

        Only an optimisation: two planners at once are absorbed by the UNIQUE key.
        """
        ...
