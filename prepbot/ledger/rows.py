"""Pure helpers of the SQL ledger: stored rows to domain values, settle checks, history entries."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import RowMapping
from sqlalchemy.dialects import sqlite

from prepbot.domain import ActionKey, ActionRow, MessageKind, Status, Transition
from prepbot.errors import LedgerStateError, StaleClaimError
from prepbot.ledger.states import LEASED, TAKEN_AWAY, is_allowed

T = TypeVar("T")
RowLike = Mapping[Any, Any]  # a stored row: a RowMapping, or a dict of the columns needed
_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# A stored value to its member: a dict look-up, not the enum's call (a few rows per meeting; issue 7)
_KINDS = {kind.value: kind for kind in MessageKind}
_STATUSES = {status.value: status for status in Status}


def key_of(row: RowMapping) -> ActionKey:
    """The unique key of a stored ``actions`` row."""
    kind = row["kind"]
    return ActionKey(
        row["event_id"], row["occurrence"], row["recipient"], _KINDS.get(kind) or MessageKind(kind)
    )


def to_action_row(row: RowMapping) -> ActionRow:
    """A stored ``actions`` row as the domain's ActionRow."""
    status = row["status"]
    return ActionRow(
        id=row["id"],
        key=key_of(row),
        status=_STATUSES.get(status) or Status(status),
        due_at=row["due_at"],
        deadline_at=row["deadline_at"],
        attempt=row["attempt"],
        reason=row["reason"] or "",
        to_address=row["to_address"],
        language=row["language"],
        time_zone=row["time_zone"],
        lease_until=row["lease_until"],
        worker=row["worker"],
        message_id=row["message_id"],
        crm_id=row["crm_id"],
        template_version=row["template_version"],
        sent_at=row["sent_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def to_transition(row: RowMapping) -> Transition:
    """A stored ``events_log`` row as the domain's Transition."""
    source = row["from_status"]
    return Transition(
        action_id=row["action_id"],
        at=row["at"],
        from_status=Status(source) if source is not None else None,
        to_status=Status(row["to_status"]),
        reason=row["reason"] or "",
        attempt=row["attempt"],
        worker=row["worker"],
    )


def move(row: RowLike | ActionRow, target: Status | None, at: datetime, reason: str) -> dict[str, Any]:
    """The ``events_log`` entry for ``row`` (id, status, attempt, worker) leaving its state for ``target``."""
    if isinstance(row, ActionRow):  # a row already moved (claim_due): log from PLANNED
        return _entry(row.id, Status.PLANNED.value, Status.CLAIMED.value, at, reason, row.attempt, row.worker)
    target_value = target.value if target is not None else row["status"]
    return _entry(row["id"], row["status"], target_value, at, reason, row["attempt"], row["worker"])


def _entry(
    action_id: int,
    source: str | None,
    target: str,
    at: datetime,
    reason: str,
    attempt: int,
    worker: str | None,
) -> dict[str, Any]:
    return {
        "action_id": action_id,
        "at": at,
        "from_status": source,
        "to_status": target,
        "reason": reason,
        "attempt": attempt,
        "worker": worker,
    }


def created(row: RowMapping, at: datetime) -> dict[str, Any]:
    """The ``events_log`` entry for a row ``plan()`` just inserted."""
    return _entry(row["id"], None, row["status"], at, row["reason"], 0, None)


def check_settle(row_id: int, current: RowLike | None, target: Status, attempt: int | None) -> None:
    """Refuse a settle that the fencing token or the state machine does not allow.

    Raises:
        StaleClaimError: ``attempt`` is not the row's, or the row was taken out of the claim.
        LedgerStateError: no such row, or an illegal transition (both states named).
    """
    if current is None:
        raise LedgerStateError(f"no ledger row {row_id}")
    source = Status(current["status"])
    if attempt is not None and current["attempt"] != attempt:
        raise StaleClaimError(
            f"ledger row {row_id}: attempt {attempt} is stale, the row is at attempt "
            f"{current['attempt']} ({source.value}); not moved to {target.value}"
        )
    if is_allowed(source, target):
        return
    if attempt is not None and source in TAKEN_AWAY:
        raise StaleClaimError(
            f"ledger row {row_id} is {source.value} now (its claim was taken away): "
            f"attempt {attempt} cannot move it to {target.value}"
        )
    raise LedgerStateError(f"ledger row {row_id}: illegal transition {source.value} -> {target.value}")


def is_replay(current: RowLike | None, target: Status, attempt: int | None) -> bool:
    """Whether a settle repeats one already committed: same attempt, and the row is in ``target``.

    A reply lost with its connection (a PostgreSQL restart, C10) leaves the caller unsure whether
    its commit landed; calling again must then be harmless, not an illegal ``sent -> sent``.
    """
    return (
        current is not None
        and attempt is not None
        and current["attempt"] == attempt
        and current["status"] == target.value
        and not is_allowed(target, target)
    )


def settle_values(
    target: Status,
    now: datetime,
    reason: str,
    extra: dict[str, Any],
    lease: timedelta | None,
) -> dict[str, Any]:
    """The column values settle() writes for a move to ``target``."""
    values: dict[str, Any] = {"status": target.value, "reason": reason, "updated_at": now}
    values.update({name: value for name, value in extra.items() if value is not None})
    if target not in LEASED:
        values["lease_until"] = None
    elif lease is not None:
        values["lease_until"] = now + lease
    if target is Status.PLANNED:
        values["worker"] = None  # nobody holds it any more
    if target is Status.SENT:
        values["sent_at"] = now
    return values


def dialect_insert(table: Any, *, postgres: bool) -> Any:
    """An INSERT that can say ON CONFLICT, for the ledger's backend. PostgreSQL's dialect is
    imported only for a PostgreSQL ledger: loading it was about 50 ms of every SQLite start (issue 7)."""
    if postgres:
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)
