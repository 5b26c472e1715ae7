"""The invariants O1–O3 of reliability.md over one observation of a run (ledger, relay, org, model).

:func:`observe` takes a snapshot of a :class:`bench.reliability_stack.Stack`; :func:`violations`
lists what breaks O1 (no duplicate), O3 (no wrong send, no row left mid-send) and, with
``final=True`` after every meeting has passed, O2 (no silent loss, every in-doubt row alerted).
Pure functions over plain data, so the state-machine test and the bench share them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench.faulty_relay import Stored
from bench.reliability_stack import EventTrack, Stack, World, earliest_start
from prepbot.domain import ActionRow, MessageKind, Status
from prepbot.messages import make_message_id

FINAL_OK = frozenset({Status.LOGGED, Status.SKIPPED, Status.FAILED, Status.IN_DOUBT})
NEEDS_REASON = frozenset({Status.SKIPPED, Status.FAILED})
MID_SEND = frozenset({Status.CLAIMED, Status.SENDING})
# The service marks an in-doubt row whose meeting was deleted before its Task could be written
# (no owner to give it to) and reports the doubt as an error instead: that report is its alert.
NO_TASK_MARK = "no owner Task"
# a key needs a row once a completed tick saw its meeting at least this long before it starts
VISIBLE_AHEAD = timedelta(hours=1)


@dataclass(frozen=True)
class Observation:
    """Everything the oracle reads: ledger rows, what reached the relay, the org's Tasks, the model."""

    rows: tuple[ActionRow, ...]
    stored: tuple[Stored, ...]
    task_ids: frozenset[str]
    world: World
    policy: str
    domain: str
    resent: Mapping[int, int] = field(default_factory=dict)  # row id -> resends the policy allowed

    def by_message_id(self) -> dict[str, ActionRow]:
        return {make_message_id(row.key, self.domain): row for row in self.rows}


def observe(stack: Stack, *, with_tasks: bool = False) -> Observation:
    """Snapshot the stack (the org's Tasks only when asked: it costs API calls)."""
    rows = tuple(stack.app.ledger.rows())
    resent: dict[int, int] = {}
    if stack.app.settings.messages.in_doubt_policy == "resend":  # one extra message per doubt
        for row in rows:
            doubts = sum(t.reason.startswith("in doubt") for t in stack.app.ledger.history(row.id))
            if doubts:
                resent[row.id] = doubts
    return Observation(
        rows=rows,
        stored=tuple(stack.relay.stored),
        task_ids=frozenset(stack.tasks()) if with_tasks else frozenset(),
        world=stack.world,
        policy=stack.app.settings.messages.in_doubt_policy,
        domain=stack.app.settings.messages.message_id_domain,
        resent=resent,
    )


def violations(obs: Observation, now: datetime, *, settled: bool = False, final: bool = False) -> list[str]:
    """Every broken invariant, one line each (empty: all hold).

    Args:
        obs: the snapshot.
        now: the instant of the last tick (leases expired by then were recovered by it).
        settled: the last tick completed without a crash: no row may be left claimed or sending.
        final: every meeting has passed and prepbot ticked after it: check O2 too.
    """
    found = duplicates(obs) + wrong_sends(obs)
    if settled:  # a completed tick recovered every expired lease; a live crashed claim may remain
        found += [
            f"row {r.id} {r.key} left {r.status.value} after a completed tick"
            for r in obs.rows
            if r.status in MID_SEND and (r.lease_until is None or r.lease_until <= now)
        ]
    if final:
        found += silent_losses(obs) + unalerted_in_doubt(obs)
    return found


def duplicates(obs: Observation) -> list[str]:
    """O1: a Message-ID (one per key) reached the relay more than once, beyond what the policy allows."""
    rows = obs.by_message_id()
    found = []
    for message_id, count in Counter(s.message_id for s in obs.stored).items():
        row = rows.get(message_id)
        allowed = 1 + (obs.resent.get(row.id, 0) if row is not None else 0)
        if count > allowed:
            found.append(f"O1 duplicate: {message_id} reached the relay {count} times ({row and row.key})")
    return found


def wrong_sends(obs: Observation) -> list[str]:
    """O3: a message for an unknown key, a deleted or moved occurrence, an opted-out address, or too late."""
    rows = obs.by_message_id()
    found = []
    for index, stored in enumerate(obs.stored):
        row = rows.get(stored.message_id)
        why = _wrong(index, stored, row, obs.world)
        if why:
            found.append(f"O3 wrong send: {stored.message_id} at {stored.at:%Y-%m-%d %H:%M}: {why}")
    return found


def _wrong(index: int, stored: Stored, row: ActionRow | None, world: World) -> str | None:
    if row is None:
        return "no ledger row has this Message-ID"
    if row.key.kind is not MessageKind.CONFIRMATION:
        return None  # other kinds go to the owner or follow their own rules
    track = world.events.get(row.key.event_id)
    if track is None:
        return "an Event the run never created"
    current = track.at_message(index)
    if current is None:
        return "the meeting was deleted"
    if current != row.key.occurrence:
        return f"the meeting had moved from {row.key.occurrence} to {current}"
    opted = world.opted_out.get(row.key.recipient)
    if opted is not None and opted <= index:
        return "the recipient had opted out"
    if stored.at >= row.deadline_at:
        return f"after the meeting started ({row.deadline_at:%Y-%m-%d %H:%M})"
    if [r.lower() for r in stored.rcpt_tos] != [row.key.recipient]:
        return f"sent to {stored.rcpt_tos}, not {row.key.recipient}"
    return None


def expected_keys(world: World) -> dict[tuple[str, str, str], EventTrack]:
    """Final occurrences some completed tick saw at least ``VISIBLE_AHEAD`` before their start."""
    expected = {}
    for track in world.events.values():
        changed, occurrence = track.final
        if occurrence is None:
            continue
        start = earliest_start(occurrence)
        if any(changed <= tick <= start - VISIBLE_AHEAD for tick in world.ticks):
            expected[(track.event_id, occurrence, track.recipient)] = track
    return expected


def silent_losses(obs: Observation) -> list[str]:
    """O2: a visible meeting without a row, or a row that did not end logged/skipped/failed/in_doubt."""
    confirmations = {
        (r.key.event_id, r.key.occurrence, r.key.recipient): r
        for r in obs.rows
        if r.key.kind is MessageKind.CONFIRMATION
    }
    found = []
    for key in expected_keys(obs.world):
        row = confirmations.get(key)
        if row is None:
            found.append(f"O2 silent loss: no ledger row for {key}")
        elif row.status not in FINAL_OK:
            found.append(f"O2 silent loss: {key} ended {row.status.value} ({row.reason})")
        elif row.status in NEEDS_REASON and not row.reason:
            found.append(f"O2 silent loss: {key} ended {row.status.value} without a reason")
    found += [
        f"O2 unfinished: row {r.id} {r.key} still {r.status.value} ({r.reason})"
        for r in obs.rows
        if not r.status.is_terminal
    ]
    return found


def unalerted_in_doubt(obs: Observation) -> list[str]:
    """Every in-doubt confirmation under ``hold`` has an owner's Task (its Id on the row) in the org."""
    if obs.policy != "hold":
        return []
    return [
        f"in doubt without an alert: row {r.id} {r.key} ({r.reason})"
        for r in obs.rows
        if r.status is Status.IN_DOUBT
        and r.key.kind is MessageKind.CONFIRMATION
        and not _alerted(r, obs.task_ids)
    ]


def _alerted(row: ActionRow, task_ids: frozenset[str]) -> bool:
    return (row.crm_id is not None and row.crm_id in task_ids) or NO_TASK_MARK in row.reason


def send_errors(obs: Observation) -> list[tuple[float, ActionRow]]:
    """Minutes between each key's first arrival at the relay and the due time it was first planned for."""
    rows = obs.by_message_id()
    first: dict[str, datetime] = {}
    for stored in obs.stored:
        first.setdefault(stored.message_id, stored.at)
    errors = []
    for message_id, at in first.items():
        row = rows.get(message_id)
        due = obs.world.first_due.get(row.id) if row is not None else None
        if row is not None and due is not None:
            errors.append(((at - due).total_seconds() / 60.0, row))
    return errors


def summary(obs: Observation) -> dict[str, Any]:
    """Counts by status and the in-doubt rows' alert state, for the figures."""
    statuses = Counter(r.status.value for r in obs.rows)
    in_doubt = [r for r in obs.rows if r.status is Status.IN_DOUBT]
    alerted = [r for r in in_doubt if _alerted(r, obs.task_ids)]
    return {
        "by_status": dict(sorted(statuses.items())),
        "in_doubt": len(in_doubt),
        "in_doubt_alerted": len(alerted),
        "in_doubt_owner_task": sum(1 for r in in_doubt if r.crm_id is not None and r.crm_id in obs.task_ids),
    }
