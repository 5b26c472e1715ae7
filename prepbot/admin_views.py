"""Read-only views for admins: a day's plan, the ledger's status with what to do, log filters."""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from prepbot.composer import Composer
from prepbot.domain import ActionRow, Meeting, PlannedAction, Status, WorkerRow
from prepbot.planner import Audience, plan_confirmations
from prepbot.roles import LEADER, STANDBY
from prepbot.timing import SendPolicy, day_window_utc, to_local

SENT_STATES = (Status.SENT, Status.LOGGED, Status.SENDING)
OPEN_STATES = (Status.PLANNED, Status.CLAIMED, Status.SENDING, Status.SENT)


def day_window(day: date, zone: str) -> tuple[datetime, datetime]:
    """[start, end) of ``day`` in ``zone``, as aware UTC instants (23 or 25 hours across DST)."""
    return day_window_utc(day, zone)


def meeting_day(occurrence: str, zone: str) -> date | None:
    """The calendar day of a ledger occurrence in ``zone`` (an all-day occurrence is its own date)."""
    try:
        if len(occurrence) == 10:
            return date.fromisoformat(occurrence)
        return to_local(datetime.fromisoformat(occurrence.replace("Z", "+00:00")), zone).date()
    except ValueError:
        return None


# -- plan -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanLine:
    """What will happen (or happened) to one meeting's confirmation, and the scripts it gets."""

    event_id: str
    meeting: str  # the meeting's start in the client's zone, or its date
    subject: str
    recipient: str
    language: str
    language_note: str
    zone: str
    outcome: str  # "will send", "sent", "skipped", "failed", ...
    send_at: datetime | None
    send_at_local: str
    reason: str
    scripts: tuple[tuple[str, str], ...] = ()
    other: tuple[str, ...] = field(default=())  # other kinds' ledger rows: "prep_note: logged"

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "meeting": self.meeting,
            "subject": self.subject,
            "recipient": self.recipient,
            "language": self.language,
            "language_note": self.language_note,
            "zone": self.zone,
            "outcome": self.outcome,
            "send_at_utc": self.send_at.isoformat() if self.send_at else None,
            "send_at_local": self.send_at_local,
            "reason": self.reason,
            "scripts": [{"script": s, "reason": r} for s, r in self.scripts],
            "other": list(self.other),
        }


@dataclass(frozen=True, slots=True)
class Planning:
    """The pure pieces the plan needs (the same ones the service uses)."""

    composer: Composer
    policy: SendPolicy
    audience: Audience
    playbooks_file: Any = None


def plan_day(
    meetings: Sequence[Meeting], rows: Sequence[ActionRow], planning: Planning, now: datetime
) -> list[PlanLine]:
    """The day's confirmations as the planner would decide them at ``now``, merged with the ledger.

    Pure: the planner's output is built in memory and never handed to ``ledger.plan``.
    """
    open_rows = [r for r in rows if r.status in OPEN_STATES]
    sent: dict[str, list[ActionRow]] = {}
    for row in rows:
        if row.status in SENT_STATES:
            sent.setdefault(row.key.event_id, []).append(row)
    plan = plan_confirmations(meetings, open_rows, planning.policy, planning.audience, now, sent)
    by_key = {row.key: row for row in rows}
    chooser = _ScriptChooser(planning.playbooks_file)
    lines = []
    for meeting, action in zip(meetings, plan.add, strict=True):
        lines.append(_line(meeting, action, by_key.get(action.key), rows, planning, chooser))
    return sorted(lines, key=lambda line: (line.meeting, line.event_id))


def _line(
    meeting: Meeting,
    action: PlannedAction,
    row: ActionRow | None,
    rows: Sequence[ActionRow],
    planning: Planning,
    chooser: _ScriptChooser,
) -> PlanLine:
    zone = action.time_zone or "UTC"
    language = planning.composer.language_for(meeting)
    requested = planning.composer.requested_language(meeting)
    outcome, send_at, reason = _outcome(action, row)
    others = tuple(
        f"{r.key.kind.value}: {r.status.value}{f' ({r.reason})' if r.reason else ''}"
        for r in rows
        if r.key.event_id == meeting.event_id and r.key.kind.value != "confirmation"
    )
    return PlanLine(
        event_id=meeting.event_id,
        meeting=_meeting_text(meeting, zone),
        subject=meeting.subject or "",
        recipient=action.to_address or action.key.recipient,
        language=language,
        language_note=f"fallback: {requested}\u2192{language}" if requested != language else "",
        zone=zone,
        outcome=outcome,
        send_at=send_at,
        send_at_local=f"{to_local(send_at, zone):%Y-%m-%d %H:%M} {zone}" if send_at else "",
        reason=reason,
        scripts=chooser.choose(meeting, language),
        other=others,
    )


def _outcome(action: PlannedAction, row: ActionRow | None) -> tuple[str, datetime | None, str]:
    if row is not None and row.status is not Status.PLANNED:
        at = row.sent_at if row.sent_at else None
        return row.status.value, at, row.reason
    if action.status is Status.SKIPPED:
        return "skipped", None, action.reason
    due = row.due_at if row is not None else action.due_at
    return "will send", due, row.reason if row is not None else ""


def _meeting_text(meeting: Meeting, zone: str) -> str:
    if meeting.all_day or meeting.start_at is None:
        return f"{meeting.activity_date} (all day)"
    return f"{to_local(meeting.start_at, zone):%Y-%m-%d %H:%M}"


class _ScriptChooser:
    """choose_scripts from prepbot.playbooks when it is installed; no scripts otherwise."""

    def __init__(self, path: Any) -> None:
        self._playbooks: Any = None
        self._playbook: Any = None
        try:
            self._playbooks = importlib.import_module("prepbot.playbooks")
            self._playbook = self._playbooks.load_playbook(path)
        except ImportError:
            self._playbooks = None

    def choose(self, meeting: Meeting, client_language: str) -> tuple[tuple[str, str], ...]:
        if self._playbooks is None or self._playbook is None:
            return ()
        owner = meeting.owner.language if meeting.owner else None
        choices = self._playbooks.choose_scripts(
            meeting, self._playbook, language=owner or "en", client_language=client_language
        )
        return tuple((c.script, c.reason) for c in choices)


def row_json(row: ActionRow) -> dict[str, Any]:
    """A ledger row as JSON (the shape ``prepbot log --json`` prints)."""

    def text(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value

    return {
        "id": row.id,
        "event_id": row.key.event_id,
        "occurrence": row.key.occurrence,
        "recipient": row.key.recipient,
        "kind": row.key.kind.value,
        "status": row.status.value,
        "reason": row.reason,
        "due_at": text(row.due_at),
        "sent_at": text(row.sent_at),
        "attempt": row.attempt,
        "message_id": row.message_id,
        "crm_id": row.crm_id,
        "language": row.language,
        "time_zone": row.time_zone,
        "template_version": row.template_version,
        "updated_at": text(row.updated_at),
    }


# -- status ---------------------------------------------------------------------------------------


def advice(row: ActionRow) -> str:
    """What an admin should do about a row that needs attention."""
    reason = row.reason.lower()
    if row.status is Status.IN_DOUBT:
        return (
            "the relay may have the message: call the client; prepbot will not send it again "
            "(policy hold; the owner has a Task)"
        )
    if reason.startswith("template"):
        return "fix the template: run 'prepbot templates check', then 'prepbot preview EVENT_ID'"
    if reason.startswith(("delivery 5", "smtp 5")) or "rejected" in reason:
        return "the relay refused the address: check the client's email address in Salesforce"
    if reason.startswith(("delivery 4", "smtp 4")) or "gave up" in reason:
        return "the relay kept deferring it: check the relay's health and limits"
    if "crm" in reason or "salesforce" in reason:
        return "check the connection to the org: 'prepbot config check'"
    return f"see 'prepbot log --event {row.key.event_id}'"


@dataclass(frozen=True, slots=True)
class StatusView:
    """The ledger at a glance."""

    counts: dict[str, int]
    attention: list[tuple[ActionRow, str]]
    upcoming: list[ActionRow]
    last_change_at: datetime | None
    workers: list[WorkerLine] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "attention": [{**row_json(row), "advice": tip} for row, tip in self.attention],
            "upcoming": [row_json(row) for row in self.upcoming],
            "last_change_at": self.last_change_at.isoformat() if self.last_change_at else None,
            "workers": [line.as_json() for line in self.workers],
        }


def status_view(
    counts: dict[Status, int],
    attention_rows: Iterable[ActionRow],
    open_rows: Iterable[ActionRow],
    latest: ActionRow | None,
    *,
    upcoming: int = 10,
    workers: Sequence[WorkerLine] = (),
) -> StatusView:
    """Counts for every status, in-doubt then failed rows with advice, the next planned sends."""
    order = {Status.IN_DOUBT: 0, Status.FAILED: 1}
    needing = sorted(attention_rows, key=lambda r: (order.get(r.status, 2), r.due_at))
    planned = [r for r in open_rows if r.status is Status.PLANNED][:upcoming]
    return StatusView(
        counts={status.value: counts.get(status, 0) for status in Status},
        attention=[(row, advice(row)) for row in needing],
        upcoming=planned,
        last_change_at=latest.updated_at if latest else None,
        workers=list(workers),
    )


# -- workers --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerLine:
    """One `prepbot run` process as its last heartbeat left it."""

    name: str
    role: str  # all, planner or worker
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    seen_ago: timedelta
    live: bool  # heartbeat within the stale limit
    claims: int  # rows it holds claimed or sending
    planner: bool  # the live process that plans now (holds the planner lease)
    standby: bool  # a live planner waiting for the lease

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "seen_at": self.seen_at.isoformat(),
            "seen_seconds_ago": round(self.seen_ago.total_seconds()),
            "state": "live" if self.live else "stale",
            "claims": self.claims,
            "planner": self.planner,
            "standby": self.standby,
        }


def stale_after(sync_interval: timedelta, dispatch_interval: timedelta) -> timedelta:
    """A process not seen for three of the longer interval is stale (crashed, stopped or cut off)."""
    return 3 * max(sync_interval, dispatch_interval)


def worker_lines(rows: Iterable[WorkerRow], now: datetime, stale: timedelta) -> list[WorkerLine]:
    """The ledger's workers, planner first, then live ones by name; the planner is read off the heartbeats.

    A planning process heartbeats its role as ``planner:leader`` (or ``all:leader``) while it holds
    the planner lease, ``planner:standby`` while another one does (prepbot/roles.py).
    """
    lines = [_worker_line(row, now, stale) for row in rows]
    # A planner killed while leading still reads "leader" until it goes stale; the lease has one
    # holder, so of several such heartbeats only the latest is the planner's.
    leaders = sorted((line for line in lines if line.planner), key=lambda line: line.seen_at)
    unseat = {line.name for line in leaders[:-1]}
    lines = [replace(line, planner=False) if line.name in unseat else line for line in lines]
    return sorted(lines, key=lambda line: (not line.planner, not line.live, line.name))


def _worker_line(row: WorkerRow, now: datetime, stale: timedelta) -> WorkerLine:
    role, _, state = row.role.partition(":")
    ago = max(now - row.seen_at, timedelta(0))
    live = ago <= stale
    return WorkerLine(
        name=row.name,
        role=role,
        host=row.host,
        pid=row.pid,
        started_at=row.started_at,
        seen_at=row.seen_at,
        seen_ago=ago,
        live=live,
        claims=row.claims,
        planner=live and state == LEADER,
        standby=live and state == STANDBY,
    )


def ago_text(ago: timedelta) -> str:
    """``42 s ago``, ``7 min ago``, ``3 h ago``, ``2 d ago``."""
    seconds = int(ago.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
