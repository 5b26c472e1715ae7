"""Settling claimed ledger rows through a send: the one mapping of delivery outcomes to ledger states."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prepbot import failpoints
from prepbot.domain import ActionRow, OutgoingMessage, Settlement, Status
from prepbot.errors import (
    DeliveryConnectError,
    DeliveryError,
    DeliveryInDoubtError,
    DeliveryRejectedError,
    DeliveryRelayError,
    DeliveryUnavailableError,
    MessageError,
    StaleClaimError,
)
from prepbot.ports import Ledger, Transport
from prepbot.report import Report
from prepbot.writes import in_turns


@dataclass(frozen=True, slots=True)
class Cadence:
    """How far ahead to look, and how claims and retries are timed."""

    horizon: timedelta = timedelta(days=4)
    lease: timedelta = timedelta(minutes=5)
    retry: timedelta = timedelta(minutes=10)
    max_attempts: int = 5
    batch_size: int = 200
    in_doubt_policy: str = "hold"


DEFAULT_CADENCE = Cadence()


class Outcome(enum.Enum):
    """What became of one send, for the caller's next step."""

    SENT = "sent"  # settled SENT: log it on the records
    HELD = "held"  # temporary failure: planned again later, or failed once out of attempts
    FAILED = "failed"  # permanent refusal, recorded with the relay's reply
    IN_DOUBT = "in_doubt"  # the relay may have it (RFC 1047): the caller applies the policy
    RELAY_DOWN = "relay_down"  # the relay is unusable as configured: stop this cycle
    STALE = "stale"  # another attempt owns the row now: do nothing more


_NO_CUTOFF = timedelta(0)
DELIVERY_REASON = "delivery"  # every failed send's ledger reason starts so (counted as an attempt)


def failure_reason(exc: DeliveryError) -> str:
    """A ledger reason naming the reply code when there is one ("delivery 550 5.1.1 no such user")."""
    return f"{DELIVERY_REASON} {exc.code} {exc}" if exc.code else f"{DELIVERY_REASON}: {exc}"


class Settler:
    """Moves claimed rows through the state machine with their claim's attempt as fencing token.

    Shared by the confirmations in the service and by every flow that sends (no-shows), so a
    delivery outcome means the same ledger state whatever the message kind.
    """

    def __init__(self, ledger: Ledger, cadence: Cadence) -> None:
        self.ledger = ledger
        self.cadence = cadence

    def settle(
        self,
        row: ActionRow,
        status: Status,
        now: datetime,
        reason: str,
        report: Report,
        *,
        count: bool = True,
        **extra: Any,
    ) -> bool:
        """Settle ``row``; False (and counted as ``stale_claim``) when another attempt owns it now.

        A claimed or sending row is settled with its attempt (fencing); a planned one without.
        ``count=False`` leaves the report's counts alone (a step on the way to another state).
        """
        attempt = row.attempt if row.status in (Status.CLAIMED, Status.SENDING) else None
        try:
            self.ledger.settle(row.id, status, now, reason=reason, attempt=attempt, **extra)
        except StaleClaimError:
            report.bump("stale_claim")
            return False
        if count:
            report.bump(status.value)
        return True

    def mark_sending(self, row: ActionRow, now: datetime, report: Report) -> bool:
        """CLAIMED -> SENDING right before the send; False when the claim was lost."""
        try:
            self.ledger.settle(row.id, Status.SENDING, now, attempt=row.attempt)
        except StaleClaimError:
            report.bump("stale_claim")
            return False
        return True

    def logged_many(
        self, rows: Sequence[tuple[ActionRow, str, str | None]], now: datetime, report: Report
    ) -> None:
        """SENT -> LOGGED for a batch of (row, reason, crm_id), a few rows per transaction
        (:func:`in_turns`). A crash between two of them leaves the later rows SENT, with their Tasks
        written: the next cycle finds those Tasks and logs the rows (C5)."""
        moves = [Settlement(row.id, Status.LOGGED, why or "", crm_id=crm) for row, why, crm in rows]
        for outcome in in_turns(moves, lambda part: self.ledger.settle_many(part, now)):
            if isinstance(outcome, StaleClaimError):
                report.bump("stale_claim")
            elif outcome is not None:
                raise outcome
            else:
                report.logged += 1

    def logged(self, row: ActionRow, now: datetime, report: Report, **extra: Any) -> None:
        """SENT -> LOGGED once the send is on the Salesforce records."""
        try:
            self.ledger.settle(row.id, Status.LOGGED, now, **extra)
        except StaleClaimError:
            report.bump("stale_claim")
            return
        report.logged += 1

    def retry_or_fail(
        self, row: ActionRow, now: datetime, reason: str, report: Report, cutoff: timedelta = _NO_CUTOFF
    ) -> None:
        """Plan the row again after ``cadence.retry``, or fail it when out of attempts or time.

        Out of time: the retry would fall within ``cutoff`` of ``row.deadline_at`` (a confirmation
        passes its ``min_notice``: it could no longer be sent then, and would end skipped unseen).

        For a failed send (``reason`` "delivery ...") the attempts are the sends that failed, not
        ``row.attempt``: every claim bumps that fencing token, also the claims released without a
        send because the org or the relay was unusable (reliability S9: those burn no attempts).
        """
        next_at = now + self.cadence.retry
        failures = self._failed_sends(row) if reason.startswith(DELIVERY_REASON) else row.attempt
        if failures >= self.cadence.max_attempts or next_at + cutoff >= row.deadline_at:
            why = f"{reason}; gave up after {failures} attempts"
            if self.settle(row, Status.FAILED, now, why, report):
                # O2: a row that fails for good is an alert (stderr, exit code 1), not just a count
                report.errors.append(f"{row.key.kind.value} for {row.key.event_id} failed: {why}")
        else:
            self.settle(row, Status.PLANNED, now, reason, report, due_at=next_at)

    def _failed_sends(self, row: ActionRow) -> int:
        """This failed send plus the earlier ones retried later (their reasons start "delivery")."""
        earlier = self.ledger.history(row.id)
        return 1 + sum(
            1
            for move in earlier
            if move.to_status is Status.PLANNED and move.reason.startswith(DELIVERY_REASON)
        )

    def deliver(
        self,
        transport: Transport,
        row: ActionRow,
        message: OutgoingMessage,
        now: datetime,
        report: Report,
        sent_reason: str = "",
        cutoff: timedelta = _NO_CUTOFF,
        while_waiting: Callable[[], None] | None = None,
        while_commands: Callable[[], None] | None = None,
        then: Callable[[], OutgoingMessage | None] | None = None,
    ) -> Outcome:
        """Send ``message`` for a claimed row, and settle what happened.

        The row moves CLAIMED -> SENDING only at the send's point of no return (the transport's
        ``on_data_end``): a crash before it leaves a CLAIMED row, which recovery plans again
        (nothing reached the relay, reliability C2); after it, a SENDING row, which recovery holds
        in doubt (C3/C4). A claim lost by then aborts the send before the relay can accept it.

        ``sent_reason`` is kept on a SENT row (e.g. "fallback: de→en"); ``cutoff`` is passed to
        :meth:`retry_or_fail`; ``while_waiting`` and ``while_commands`` to the transport (work to
        do while the relay handles the message, the row SENDING, or its commands, the row CLAIMED),
        and ``then`` (the message the caller sends next, once ready).
        IN_DOUBT is left to the caller, which knows what the owner should be told.
        """
        data_end = _DataEnd(self.ledger, row, now)
        try:
            transport.send(
                message,
                on_data_end=data_end,
                while_waiting=while_waiting,
                while_commands=while_commands,
                then=then,
            )
            data_end()  # a transport that never called it: still SENDING before SENT
            failpoints.hit("after_send")
        except StaleClaimError:  # taken away before the point of no return: nothing was sent
            report.bump("stale_claim")
            return Outcome.STALE
        except DeliveryRelayError as exc:  # login/TLS: not this message's fault (reliability S8, S9)
            self.settle(row, Status.PLANNED, now, f"relay unusable: {exc}", report, due_at=now)
            report.errors.append(f"mail relay unusable: {exc}")
            return Outcome.RELAY_DOWN
        except DeliveryConnectError as exc:  # no session at all (S1, S5): the next row would wait too
            self.retry_or_fail(row, now, failure_reason(exc), report, cutoff)
            report.errors.append(f"mail relay unreachable, sending stopped for this cycle: {exc}")
            return Outcome.RELAY_DOWN
        except DeliveryUnavailableError as exc:
            self.retry_or_fail(row, now, failure_reason(exc), report, cutoff)
            return Outcome.HELD
        except DeliveryRejectedError as exc:
            self.settle(row, Status.FAILED, now, failure_reason(exc), report)
            return Outcome.FAILED
        except DeliveryInDoubtError:
            return Outcome.IN_DOUBT
        except MessageError as exc:  # this message cannot be built (address, header): never the batch's fault
            self.settle(row, Status.FAILED, now, f"message: {exc}", report)
            report.errors.append(f"{row.key.kind.value} for {row.key.event_id} failed: message: {exc}")
            return Outcome.FAILED
        settled = self.settle(
            row,
            Status.SENT,
            now,
            sent_reason,
            report,
            message_id=message.message_id,
            template_version=message.template_version,
        )
        return Outcome.SENT if settled else Outcome.STALE

    def hold_or_resend(self, row: ActionRow, now: datetime, why: str, report: Report, **extra: Any) -> None:
        """Apply the in-doubt policy: ``hold`` records IN_DOUBT (never resent); ``resend`` plans it again."""
        if self.cadence.in_doubt_policy == "resend":
            self.settle(row, Status.PLANNED, now, f"in doubt, resent by policy: {why}", report, due_at=now)
        else:
            self.settle(row, Status.IN_DOUBT, now, f"in doubt: {why}", report, **extra)


class _DataEnd:
    """One send's point of no return: CLAIMED -> SENDING (fenced by the claim's attempt), once."""

    def __init__(self, ledger: Ledger, row: ActionRow, now: datetime) -> None:
        self.ledger, self.row, self.now = ledger, row, now
        self.done = row.status is Status.SENDING

    def __call__(self) -> None:
        if not self.done:
            self.ledger.settle(self.row.id, Status.SENDING, self.now, attempt=self.row.attempt)
            self.done = True
