"""Pure timing: when a day-before confirmation is due, in the recipient's zone, outside quiet hours.

Every function here is a function of its arguments (and ``now`` where given): no I/O beyond
reading the pinned tz database, no wall clock, no config. Instants (``*_at``) are aware UTC.

Wall times are turned into instants in one place, :func:`local_instant`, with ``fold=0``
(PEP 495) and normalised through UTC:

- a wall time that does not exist (the spring-forward gap, e.g. 02:30 in New York on
  2026-03-08) is read with the offset in force *before* the gap, so it lands as far after the
  gap's start as it was asked for (02:30 EST = 03:30 EDT): never earlier than asked;
- a wall time that exists twice (fall-back, e.g. 01:30 in New York on 2026-11-01) is the
  *first* of the two (EDT), so the earlier instant wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from prepbot import zones
from prepbot.domain import Meeting
from prepbot.errors import ConfigError

__all__ = [
    "Decision",
    "SendPolicy",
    "confirmation_due_at",
    "day_window_utc",
    "decide_confirmation",
    "decide_meeting_confirmation",
    "in_quiet_hours",
    "local_instant",
    "meeting_deadline_at",
    "meeting_start_local",
    "next_send_at",
    "previous_working_day",
    "recipient_zone",
    "send_window_ok",
    "to_local",
]

# A policy whose holidays swallow every working day for this long is a configuration bug.
_MAX_LOOKBACK_DAYS = 3660


@dataclass(frozen=True, slots=True)
class SendPolicy:
    """When confirmations may go out; every time of day is read in the recipient's zone.

    Quiet hours are ``[quiet_start, quiet_end)`` and may wrap midnight; equal times mean
    "no quiet hours". ``min_notice`` is the least time between a send and the meeting start,
    for late bookings and for late dispatch alike.
    """

    send_at: time = time(10, 0)
    working_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0
    holidays: frozenset[date] = field(default_factory=frozenset)
    quiet_start: time = time(20, 0)
    quiet_end: time = time(8, 0)
    min_notice: timedelta = timedelta(hours=3)

    def __post_init__(self) -> None:
        if not self.working_days or not self.working_days <= frozenset(range(7)):
            raise ValueError(f"working_days must be a non-empty subset of 0..6, got {set(self.working_days)}")
        for name in ("send_at", "quiet_start", "quiet_end"):
            if getattr(self, name).tzinfo is not None:
                raise ValueError(f"{name} is a wall time in the recipient's zone; give it without tzinfo")
        if self.min_notice < timedelta(0):
            raise ValueError("min_notice must not be negative")

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` is one of the working weekdays and not a holiday."""
        return day.weekday() in self.working_days and day not in self.holidays

    def is_quiet(self, wall: time) -> bool:
        """True when the wall time ``wall`` falls inside quiet hours."""
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= wall < end
        return wall >= start or wall < end  # the window wraps midnight


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do about one confirmation.

    ``action`` is ``"send_at"`` (send at ``due_at``) or ``"skip"`` (``reason`` says why; ``due_at``
    is then the day-before moment it would have had, for the record). ``deadline_at`` is the
    meeting start. ``late`` is True when the day-before moment could not be used and the send was
    placed at the first allowed moment instead (booked late, or a slot within ``min_notice``).
    """

    action: Literal["send_at", "skip"]
    due_at: datetime
    deadline_at: datetime
    reason: Literal["", "past_meeting", "too_late"] = ""
    late: bool = False


# --- zones and wall times -------------------------------------------------------------------


def recipient_zone(contact_zone: str | None, owner_zone: str | None, org_default: str) -> str:
    """The first known zone of: the contact's, the owner's, the org default (blank or unknown keys skipped).

    Raises:
        ConfigError: not even ``org_default`` is a known zone.
    """
    for candidate in (contact_zone, owner_zone, org_default):
        key = (candidate or "").strip()
        if key and zones.is_known_zone(key):
            return key
    raise ConfigError(
        f"unknown time zone {org_default!r} for the org default",
        hint="use an IANA key such as 'Europe/Amsterdam'",
    )


def local_instant(day: date, wall: time, zone: str) -> datetime:
    """The UTC instant of wall time ``wall`` on ``day`` in the zone (``fold=0``; see the module docstring)."""
    return datetime.combine(day, wall.replace(fold=0), tzinfo=zones.zone(zone)).astimezone(UTC)


def to_local(at: datetime, zone: str) -> datetime:
    """The instant ``at`` as an aware datetime on the zone's wall clock."""
    return _utc(at).astimezone(zones.zone(zone))


def day_window_utc(local_day: date, zone: str) -> tuple[datetime, datetime]:
    """``[start, end)`` of a local calendar day as UTC instants; a day may last 23, 23.5, 24, 24.5 or 25 h."""
    next_day = local_day + timedelta(days=1)
    return local_instant(local_day, time(0), zone), local_instant(next_day, time(0), zone)


def meeting_deadline_at(meeting_start_at: datetime | None, all_day_date: date | None, zone: str) -> datetime:
    """When a meeting starts: its start, or for an all-day one the first instant of its date in the zone.

    The all-day date is a calendar date (Salesforce ``ActivityDate``) and is never shifted by a zone.

    Raises:
        ValueError: not exactly one of the two is given, or the start is naive.
    """
    if (meeting_start_at is None) == (all_day_date is None):
        raise ValueError(
            "give exactly one of meeting_start_at (timed meeting) and all_day_date (all-day meeting); "
            "decide_meeting_confirmation() picks the right one from a Meeting"
        )
    if all_day_date is not None:
        return day_window_utc(all_day_date, zone)[0]
    assert meeting_start_at is not None  # for mypy: the check above rules None out
    return _utc(meeting_start_at)


def meeting_start_local(meeting_start_at: datetime | None, all_day_date: date | None, zone: str) -> datetime:
    """The meeting start on the zone's wall clock (local midnight of the date for all-day meetings)."""
    return to_local(meeting_deadline_at(meeting_start_at, all_day_date, zone), zone)


def in_quiet_hours(at: datetime, zone: str, policy: SendPolicy) -> bool:
    """True when the recipient's wall clock reads a quiet-hours time at ``at``."""
    return policy.is_quiet(to_local(at, zone).time())


# --- the day-before moment --------------------------------------------------------------------


def previous_working_day(day: date, policy: SendPolicy) -> date:
    """The last working day strictly before ``day`` (weekends and holidays skipped).

    Raises:
        ValueError: the holidays leave no working day in the ten years before ``day``.
    """
    candidate = day
    for _ in range(_MAX_LOOKBACK_DAYS):
        candidate -= timedelta(days=1)
        if policy.is_working_day(candidate):
            return candidate
    raise ValueError(f"no working day in the {_MAX_LOOKBACK_DAYS} days before {day}: check the holidays")


def confirmation_due_at(
    meeting_start_at: datetime | None, all_day_date: date | None, zone: str, policy: SendPolicy
) -> datetime:
    """The day-before moment: ``send_at`` on the previous working day, in the recipient's zone, as UTC.

    The previous working day is taken before the meeting's *local* date in the recipient's zone
    (for all-day meetings: the calendar date itself). When ``send_at`` lies in quiet hours, the
    send moves to ``quiet_end`` of that same day, the first moment of the day when sending is
    allowed; it never moves to another day. A DST gap can still push that wall time into quiet
    hours; then the next quiet-hours end is taken.

    Raises:
        ValueError: bad arguments (see :func:`meeting_deadline_at`) or an impossible policy.
    """
    start_at = meeting_deadline_at(meeting_start_at, all_day_date, zone)
    meeting_day = all_day_date if all_day_date is not None else to_local(start_at, zone).date()
    send_day = previous_working_day(meeting_day, policy)
    wall = policy.quiet_end if policy.is_quiet(policy.send_at) else policy.send_at
    due_at = local_instant(send_day, wall, zone)
    return _leave_quiet_hours(due_at, zone, policy)


def _leave_quiet_hours(at: datetime, zone: str, policy: SendPolicy) -> datetime:
    """``at`` itself when it is outside quiet hours, else the next instant the quiet hours end."""
    local = to_local(at, zone)
    if not policy.is_quiet(local.time()):
        return at
    # Inside a wrapping window's evening part the quiet hours end tomorrow, otherwise today.
    ends_tomorrow = policy.quiet_start > policy.quiet_end and local.time() >= policy.quiet_start
    end_day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
    end_at = local_instant(end_day, policy.quiet_end, zone)
    # A DST gap right at quiet_end reads it later, which is never quiet; fold=0 never reads it earlier.
    return max(end_at, at)


# --- decisions ----------------------------------------------------------------------------------


def next_send_at(at: datetime, deadline_at: datetime, zone: str, policy: SendPolicy) -> datetime | None:
    """The first instant at or after ``at`` when a send is allowed; None when none is left before the start.

    Allowed means outside quiet hours and at least ``min_notice`` before ``deadline_at`` (and
    strictly before it, even with a zero ``min_notice``). The dispatcher uses this for rows it
    reaches late; :func:`decide_confirmation` uses it for late bookings.
    """
    candidate = _leave_quiet_hours(_utc(at), zone, policy)
    return candidate if _before_cutoff(candidate, _utc(deadline_at), policy) else None


def send_window_ok(at: datetime, deadline_at: datetime, zone: str, policy: SendPolicy) -> bool:
    """May a confirmation go out at ``at``? Outside quiet hours and ``min_notice`` or more before the start.

    The same rule :func:`decide_confirmation` plans with, so a send planned by it is always
    allowed at its ``due_at``, and a late dispatch (outage, clock step) is allowed until
    ``deadline_at - min_notice``.
    """
    at = _utc(at)
    return not in_quiet_hours(at, zone, policy) and _before_cutoff(at, _utc(deadline_at), policy)


def decide_confirmation(
    meeting_start_at: datetime | None,
    all_day_date: date | None,
    zone: str,
    policy: SendPolicy,
    now: datetime,
) -> Decision:
    """Decide whether and when the day-before confirmation for one meeting goes out.

    Pass ``meeting_start_at`` for a timed meeting, or ``all_day_date`` for an all-day one
    (never both; :func:`decide_meeting_confirmation` takes a ``Meeting``). Rules, in order:

    1. The meeting has started (``now >= start``): skip, ``past_meeting``. Never sent.
    2. The day-before moment is still ahead (``now <= due``) and leaves ``min_notice``: send then.
    3. Otherwise (booked late, or a policy whose day-before moment falls within ``min_notice``):
       send at once if ``now`` is outside quiet hours, else when the quiet hours end; either only
       if that is at least ``min_notice`` before the start. If not: skip, ``too_late``.

    A ``send_at`` decision's ``due_at`` is always before the start and outside quiet hours.

    Raises:
        ValueError: bad arguments (see :func:`meeting_deadline_at`) or a naive ``now``.
    """
    now = _utc(now)
    deadline_at = meeting_deadline_at(meeting_start_at, all_day_date, zone)
    due_at = confirmation_due_at(meeting_start_at, all_day_date, zone, policy)
    if now >= deadline_at:
        return Decision("skip", due_at, deadline_at, "past_meeting")
    if now <= due_at and _before_cutoff(due_at, deadline_at, policy):
        return Decision("send_at", due_at, deadline_at)
    late_at = next_send_at(now, deadline_at, zone, policy)
    if late_at is None:
        return Decision("skip", due_at, deadline_at, "too_late", late=True)
    return Decision("send_at", late_at, deadline_at, late=True)


def decide_meeting_confirmation(meeting: Meeting, zone: str, policy: SendPolicy, now: datetime) -> Decision:
    """:func:`decide_confirmation` for a ``Meeting``: all-day by ``activity_date``, others by ``start_at``.

    Salesforce also fills ``StartDateTime`` (midnight GMT) on all-day Events and ``ActivityDate``
    on timed ones, so the ``all_day`` flag alone says which of the two is the meeting's time.

    Raises:
        ValueError: the field the meeting needs is missing.
    """
    if meeting.all_day:
        return decide_confirmation(None, meeting.activity_date, zone, policy, now)
    return decide_confirmation(meeting.start_at, None, zone, policy, now)


def _before_cutoff(at: datetime, deadline_at: datetime, policy: SendPolicy) -> bool:
    return at < deadline_at and at <= deadline_at - policy.min_notice


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: prepbot's instants are timezone-aware UTC")
    return at.astimezone(UTC)
