"""The reliability invariants O1–O3 (reliability.md) as one check over what a scenario left behind.

Usage::

    obs = observe(ledger, read_mails(paths), sf=org.client(), who_ids=[...], linked_ids=[...])
    assert violations(obs, now) == []

An :class:`Observation` is everything the oracle looks at: the ledger's rows and their history, the
mails the relay holds (parsed from .eml bytes), and optionally the org's Tasks and prep notes and
what the test knows about its meetings (:class:`Truth`: moved, deleted, opted out). The oracle
never looks at prepbot's internals beyond the ledger, so a state machine test can call it after
every step. ``violations`` returns one readable line per broken promise (empty = all hold):

- O1 no duplicate: at most one mail per Message-ID and per (Event, recipient, kind), plus one per
  in-doubt resend the ``resend`` policy made; at most one email Task per (Who, Subject) and one
  prep note per (record, title).
- O2 no silent loss: no row leased past its lease, planned past its deadline or sent but never
  logged; skipped/failed rows carry a reason; an in-doubt confirmation held by ``hold`` carries
  the owner's Task (its alert); every expected (Event, recipient) confirmation has a row.
- O3 no wrong send: no mail without a ledger row, none sent at or after the meeting start, none
  for a meeting deleted or moved, or to a recipient opted out, at the time it was sent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from prepbot.domain import ActionRow, MessageKind, Status, Transition
from prepbot.messages import make_message_id

KIND_HEADER = "X-Prepbot-Template"


@dataclass(frozen=True)
class Mail:
    """One complete message the relay holds (headers only)."""

    message_id: str  # without angle brackets
    to: str
    kind: str  # "confirmation", "no_show_email", ... from X-Prepbot-Template ("" when absent)

    @classmethod
    def parse(cls, data: bytes) -> Mail:
        msg = BytesParser(policy=policy.default).parsebytes(data, headersonly=True)
        to = msg["To"].addresses[0].addr_spec.lower() if msg["To"] else ""
        template = str(msg.get(KIND_HEADER, "") or "")
        return cls(str(msg["Message-ID"] or "").strip().strip("<>"), to, template.split("/", 1)[0])


@dataclass(frozen=True)
class Task:
    """A Salesforce Task as the oracle needs it."""

    id: str
    who_id: str | None
    subject: str
    subtype: str  # "Email" (a logged email) or "Task" (a to-do, e.g. the in-doubt call)


@dataclass(frozen=True)
class Note:
    """A prep note (ContentNote) linked to a record."""

    id: str
    linked_entity_id: str
    title: str


@dataclass(frozen=True)
class Truth:
    """What the org said about a meeting from ``since`` on (the test's clock)."""

    event_id: str
    start_at: datetime | None  # None: deleted
    since: datetime
    opted_out: frozenset[str] = frozenset()


@dataclass
class Observation:
    """What a scenario left behind; build it with :func:`observe` or by hand."""

    rows: list[ActionRow]
    history: dict[int, list[Transition]]
    mails: list[Mail]
    message_id_domain: str
    in_doubt_policy: str = "hold"
    tasks: list[Task] | None = None  # None: the org's Tasks were not looked at
    notes: list[Note] | None = None
    truths: list[Truth] = field(default_factory=list)
    expected: set[tuple[str, str]] = field(default_factory=set)  # (Event Id, recipient) confirmations

    def row_by_message_id(self) -> dict[str, ActionRow]:
        return {make_message_id(row.key, self.message_id_domain): row for row in self.rows}

    def resends(self, row: ActionRow) -> int:
        """How many times the ``resend`` policy planned this row again after an in-doubt send."""
        return sum(
            1
            for t in self.history.get(row.id, [])
            if t.from_status in (Status.SENDING, Status.IN_DOUBT)
            and t.to_status is Status.PLANNED
            and "in doubt" in t.reason
        )

    def in_doubt(self) -> list[ActionRow]:
        """Rows whose send was in doubt: held as IN_DOUBT, or resent by policy."""
        return [row for row in self.rows if row.status is Status.IN_DOUBT or self.resends(row)]


def read_mails(paths: Iterable[Path | str], recipients: Iterable[str] | None = None) -> list[Mail]:
    """Parse .eml files (the sandbox sink's outbox); keep only mails to ``recipients`` if given."""
    wanted = {r.lower() for r in recipients} if recipients is not None else None
    mails = [Mail.parse(Path(p).read_bytes()) for p in paths]
    return [m for m in mails if wanted is None or m.to in wanted]


def observe(
    ledger: Any,
    mails: Sequence[Mail],
    *,
    message_id_domain: str,
    in_doubt_policy: str = "hold",
    sf: Any = None,
    who_ids: Sequence[str] = (),
    linked_ids: Sequence[str] = (),
    truths: Sequence[Truth] = (),
    expected: Iterable[tuple[str, str]] = (),
) -> Observation:
    """Read the ledger (a SqlLedger) and, with ``sf`` (simple_salesforce), the Tasks of ``who_ids``
    and the notes on ``linked_ids``."""
    rows = ledger.rows()
    obs = Observation(
        rows=rows,
        history={row.id: ledger.history(row.id) for row in rows},
        mails=list(mails),
        message_id_domain=message_id_domain,
        in_doubt_policy=in_doubt_policy,
        truths=list(truths),
        expected=set(expected),
    )
    if sf is not None:
        obs.tasks = _tasks(sf, who_ids) if who_ids else []
        obs.notes = _notes(sf, linked_ids) if linked_ids else []
    return obs


def _in(ids: Sequence[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)


def _tasks(sf: Any, who_ids: Sequence[str]) -> list[Task]:
    soql = f"SELECT Id, WhoId, Subject, TaskSubtype FROM Task WHERE WhoId IN ({_in(who_ids)})"
    return [
        Task(r["Id"], r.get("WhoId"), r.get("Subject") or "", r.get("TaskSubtype") or "")
        for r in sf.query_all(soql)["records"]
    ]


def _notes(sf: Any, linked_ids: Sequence[str]) -> list[Note]:
    soql = (
        "SELECT ContentDocumentId, LinkedEntityId, ContentDocument.Title FROM ContentDocumentLink "
        f"WHERE LinkedEntityId IN ({_in(linked_ids)})"
    )
    return [
        Note(r["ContentDocumentId"], r["LinkedEntityId"], (r.get("ContentDocument") or {}).get("Title") or "")
        for r in sf.query_all(soql)["records"]
    ]


# -- the invariants -----------------------------------------------------------------------------------


def violations(obs: Observation, now: datetime) -> list[str]:
    """Every broken invariant, one line each, as of ``now`` (the last tick's clock)."""
    return [*no_duplicate(obs), *no_silent_loss(obs, now), *no_wrong_send(obs)]


def no_duplicate(obs: Observation) -> list[str]:
    """O1: mails per Message-ID and per (Event, recipient, kind); Tasks and notes per record."""
    found: list[str] = []
    by_id = obs.row_by_message_id()
    per_id = Counter(m.message_id for m in obs.mails)
    for message_id, count in per_id.items():
        row = by_id.get(message_id)
        allowed = 1 + (obs.resends(row) if row is not None else 0)
        if count > allowed:
            found.append(f"O1 duplicate: Message-ID {message_id} accepted {count} times (allowed {allowed})")
    per_key: Counter[tuple[str, str, str]] = Counter()
    allowed_key: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in obs.rows:
        triple = (row.key.event_id, row.key.recipient.lower(), row.key.kind.value)
        allowed_key[triple] = max(allowed_key[triple], 1 + obs.resends(row))
    for mail in obs.mails:
        row = by_id.get(mail.message_id)
        if row is not None:
            per_key[(row.key.event_id, row.key.recipient.lower(), row.key.kind.value)] += 1
    for triple, count in per_key.items():
        if count > allowed_key[triple]:
            found.append(f"O1 duplicate: {count} mails for {triple} (allowed {allowed_key[triple]})")
    for (who, subject), count in Counter(
        (t.who_id, t.subject) for t in obs.tasks or [] if t.subtype == "Email"
    ).items():
        if count > 1:
            found.append(f"O1 duplicate: {count} email Tasks on {who} titled {subject!r}")
    for (linked, title), count in Counter((n.linked_entity_id, n.title) for n in obs.notes or []).items():
        if count > 1:
            found.append(f"O1 duplicate: {count} prep notes on {linked} titled {title!r}")
    return found


def no_silent_loss(obs: Observation, now: datetime) -> list[str]:
    """O2: every row is settled, waiting with a future deadline, or (in doubt) alerted."""
    found: list[str] = []
    task_ids = {t.id for t in obs.tasks} if obs.tasks is not None else None
    for row in obs.rows:
        what = f"row {row.id} {row.key.kind.value} {row.key.event_id}/{row.key.recipient}"
        status = row.status
        if status in (Status.CLAIMED, Status.SENDING) and (row.lease_until is None or row.lease_until <= now):
            found.append(f"O2 stuck: {what} still {status.value} after its lease")
        elif status is Status.PLANNED and row.deadline_at <= now:
            found.append(f"O2 lost: {what} still planned after its deadline")
        elif status is Status.SENT and (row.sent_at is None or row.sent_at < now):
            found.append(f"O2 unlogged: {what} sent but never logged on the records")
        elif status in (Status.SKIPPED, Status.FAILED) and not row.reason:
            found.append(f"O2 silent: {what} {status.value} without a reason")
        elif status is Status.IN_DOUBT and _needs_owner_task(obs, row):
            if not row.crm_id:
                found.append(f"O2 silent: {what} in doubt without the owner's Task")
            elif task_ids is not None and row.crm_id not in task_ids:
                found.append(f"O2 silent: {what} in doubt; its owner Task {row.crm_id} is not in the org")
        elif _lost_task(row, task_ids):
            found.append(f"O2 unlogged: {what} logged as Task {row.crm_id}, not in the org")
    keys = {(row.key.event_id, row.key.recipient.lower()) for row in obs.rows}
    for event_id, recipient in sorted(obs.expected - keys):
        found.append(f"O2 lost: no ledger row for the confirmation of {event_id} to {recipient}")
    return found


def _lost_task(row: ActionRow, task_ids: set[str] | None) -> bool:
    """A logged confirmation whose Task is not in the org (when the org's Tasks were read)."""
    if row.status is not Status.LOGGED or row.key.kind is not MessageKind.CONFIRMATION:
        return False
    return task_ids is not None and bool(row.crm_id) and row.crm_id not in task_ids


def _needs_owner_task(obs: Observation, row: ActionRow) -> bool:
    return obs.in_doubt_policy == "hold" and row.key.kind is MessageKind.CONFIRMATION


def no_wrong_send(obs: Observation) -> list[str]:
    """O3: every mail belongs to a row, went out before the start, to a live, unmoved meeting."""
    found: list[str] = []
    by_id = obs.row_by_message_id()
    for mail in obs.mails:
        row = by_id.get(mail.message_id)
        if row is None:
            found.append(f"O3 unknown: a mail to {mail.to} ({mail.message_id}) matches no ledger row")
            continue
        for at in _send_times(obs, row):
            found.extend(_wrong_at(obs, row, at, mail))
    return found


def _send_times(obs: Observation, row: ActionRow) -> list[datetime]:
    """When the row's sends reached the relay (its moves into SENDING)."""
    times = [t.at for t in obs.history.get(row.id, []) if t.to_status is Status.SENDING]
    return times or ([row.sent_at] if row.sent_at else [])


def _wrong_at(obs: Observation, row: ActionRow, at: datetime, mail: Mail) -> list[str]:
    what = f"mail to {mail.to} for {row.key.event_id}"
    if at >= row.deadline_at:
        return [
            f"O3 late: {what} sent at {at.isoformat()}, the meeting started {row.deadline_at.isoformat()}"
        ]
    truth = _truth_at(obs, row.key.event_id, at)
    if truth is None:
        return []
    if truth.start_at is None:
        return [f"O3 cancelled: {what} sent at {at.isoformat()} after the meeting was deleted"]
    if row.key.kind is MessageKind.CONFIRMATION and truth.start_at != row.deadline_at:
        return [f"O3 moved: {what} sent at {at.isoformat()} for the old time {row.deadline_at.isoformat()}"]
    if mail.to in {r.lower() for r in truth.opted_out}:
        return [f"O3 opted out: {what} sent at {at.isoformat()} after the opt-out"]
    return []


def _truth_at(obs: Observation, event_id: str, at: datetime) -> Truth | None:
    known = [t for t in obs.truths if t.event_id == event_id and t.since <= at]
    return max(known, key=lambda t: t.since) if known else None
