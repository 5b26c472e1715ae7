"""Pure planning: meetings + what the ledger holds + now -> confirmations to plan, supersede, skip."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from prepbot.domain import ActionKey, ActionRow, Meeting, MessageKind, PlannedAction, Status
from prepbot.timing import SendPolicy, decide_meeting_confirmation, recipient_zone, to_local

# A practical address check: one @, no spaces or control characters, a dotted ASCII domain.
# RFC 6531 (SMTPUTF8) local parts are refused on purpose: most relays reject them (reliability D7).
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True, slots=True)
class Audience:
    """Who must never get a confirmation, whatever the meeting says."""

    internal_domains: frozenset[str] = frozenset()
    confirm_leads: bool = True
    org_time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a meeting's client may be written to, and if not, why (a ledger reason)."""

    recipient: str
    address: str | None
    reason: str = ""


def is_valid_address(address: str) -> bool:
    """True for a plain ASCII address a relay will take (no display name, no spaces).

    The same local-part rules as ``messages.checked_addr_spec`` (RFC 5321 §4.5.3.1.1: at most 64
    octets; RFC 5322 dot-atom: no leading, trailing or double dot), so an address planned here is
    never refused when the message is built (reliability D7).
    """
    local = address.rpartition("@")[0]
    dotted_badly = ".." in local or local.startswith(".") or local.endswith(".")
    return (
        len(address) <= 254 and len(local) <= 64 and not dotted_badly and _ADDRESS.match(address) is not None
    )


def judge_recipient(meeting: Meeting, audience: Audience) -> Verdict:
    """Decide whether the meeting's client may be written to at all (independent of time)."""
    who = meeting.who
    if who is None:
        return Verdict("-", None, "no_who")
    address = (who.email or "").strip()
    recipient = address.lower() if address else who.id
    reason = _refusal(meeting, audience, address)
    return Verdict(recipient, address or None, reason)


def _refusal(meeting: Meeting, audience: Audience, address: str) -> str:
    who = meeting.who
    assert who is not None
    owner = meeting.owner
    checks = (
        (who.kind == "Lead" and who.is_converted, "lead_converted"),
        (who.kind == "Lead" and not audience.confirm_leads, "lead_not_confirmed"),
        (who.opted_out, "opted_out"),
        (who.bounced, "bounced"),
        (not address, "no_address"),
        (bool(address) and not is_valid_address(address), "invalid_address"),
        (_domain(address) in audience.internal_domains, "internal_only"),
        (owner is None or not owner.is_active, "owner_inactive"),
    )
    return next((reason for failed, reason in checks if failed), "")


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def confirmation_for(
    meeting: Meeting, policy: SendPolicy, audience: Audience, now: datetime
) -> PlannedAction:
    """The one confirmation action a meeting should have in the ledger right now."""
    verdict = judge_recipient(meeting, audience)
    zone = recipient_zone(
        meeting.who.time_zone if meeting.who else None,
        meeting.owner.time_zone if meeting.owner else None,
        audience.org_time_zone,
    )
    key = ActionKey(meeting.event_id, meeting.occurrence, verdict.recipient, MessageKind.CONFIRMATION)
    try:
        decision = decide_meeting_confirmation(meeting, zone, policy, now)
    except ValueError as exc:  # a record without the date its kind needs: skipped, never a crash
        return PlannedAction(key, Status.SKIPPED, now, now, f"bad_record: {exc}", verdict.address, None, zone)
    reason = verdict.reason or decision.reason
    return PlannedAction(
        key=key,
        status=Status.SKIPPED if reason else Status.PLANNED,
        due_at=decision.due_at,
        deadline_at=decision.deadline_at,
        reason=reason,
        to_address=verdict.address,
        time_zone=zone,
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What a sync decided: rows to add, and open rows to supersede because their meeting moved."""

    add: tuple[PlannedAction, ...]
    supersede: tuple[ActionRow, ...]


def plan_confirmations(
    meetings: Iterable[Meeting],
    open_rows: Iterable[ActionRow],
    policy: SendPolicy,
    audience: Audience,
    now: datetime,
    confirmed: Mapping[str, Iterable[ActionRow]] | None = None,
    judged: Mapping[str, PlannedAction] | None = None,
) -> Plan:
    """Plan a confirmation for each meeting; supersede open rows whose key no longer matches.

    ``confirmed`` maps an Event Id to its rows that were already sent: a meeting moved within
    the same local day after its confirmation went out is not confirmed again (reliability D3).
    ``judged``: :func:`confirmation_for` of these meetings at ``now``, when the caller has it.
    """
    by_event: dict[str, list[ActionRow]] = {}
    for row in open_rows:
        # Only PLANNED rows are superseded here; a claimed or sending row is re-checked by the
        # dispatcher itself right before it sends (it re-reads the meeting).
        if row.key.kind is MessageKind.CONFIRMATION and row.status is Status.PLANNED:
            by_event.setdefault(row.key.event_id, []).append(row)
    add: list[PlannedAction] = []
    supersede: list[ActionRow] = []
    for meeting in meetings:
        action = (judged or {}).get(meeting.event_id) or confirmation_for(meeting, policy, audience, now)
        action = _unless_already_confirmed(action, (confirmed or {}).get(meeting.event_id, ()))
        add.append(action)
        supersede.extend(row for row in by_event.get(meeting.event_id, ()) if row.key != action.key)
    return Plan(tuple(add), tuple(supersede))


def _unless_already_confirmed(action: PlannedAction, sent: Iterable[ActionRow]) -> PlannedAction:
    if action.status is not Status.PLANNED:
        return action
    for row in sent:
        if row.key == action.key or row.key.recipient != action.key.recipient:
            continue
        if row.status in (Status.SENT, Status.LOGGED) and _same_local_day(row, action):
            return _skipped(action, "already_confirmed")
    return action


def _same_local_day(row: ActionRow, action: PlannedAction) -> bool:
    """Both occurrences fall on the same calendar day in the recipient's zone."""
    zone = action.time_zone or "UTC"
    return _local_date(row.key.occurrence, zone) == _local_date(action.key.occurrence, zone)


def _local_date(occurrence: str, zone: str) -> str:
    if len(occurrence) == 10:  # an all-day occurrence is already a calendar date
        return occurrence
    at = datetime.fromisoformat(occurrence.replace("Z", "+00:00"))
    return to_local(at, zone).date().isoformat()


def _skipped(action: PlannedAction, reason: str) -> PlannedAction:
    return PlannedAction(
        key=action.key,
        status=Status.SKIPPED,
        due_at=action.due_at,
        deadline_at=action.deadline_at,
        reason=reason,
        to_address=action.to_address,
        language=action.language,
        time_zone=action.time_zone,
    )
