"""When the day-before confirmation is due: recipient zones, working days, quiet hours, DST, late bookings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from prepbot.domain import Meeting
from prepbot.errors import ConfigError
from prepbot.timing import (
    SendPolicy,
    confirmation_due_at,
    day_window_utc,
    decide_confirmation,
    decide_meeting_confirmation,
    in_quiet_hours,
    local_instant,
    meeting_start_local,
    next_send_at,
    recipient_zone,
    send_window_ok,
    to_local,
)

DEFAULT = SendPolicy()
EVERY_DAY = SendPolicy(working_days=frozenset(range(7)))
NO_QUIET = SendPolicy(working_days=frozenset(range(7)), quiet_start=time(0), quiet_end=time(0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A local wall time as a UTC instant (fold=0), for readable expectations."""
    return local_instant(date(year, month, day), time(hour, minute, second), zone)


def due_local(start_at: datetime, zone: str, policy: SendPolicy = DEFAULT) -> str:
    return to_local(confirmation_due_at(start_at, None, zone, policy), zone).isoformat()


# --- the day before, in the recipient's zone ---------------------------------------------------


def test_a_tuesday_meeting_is_due_on_monday_at_ten_local() -> None:
    start = local("Europe/Amsterdam", 2026, 6, 2, 14, 0)
    assert due_local(start, "Europe/Amsterdam") == "2026-06-01T10:00:00+02:00"


def test_a_monday_meeting_is_due_on_the_friday_before() -> None:
    start = local("Europe/Amsterdam", 2026, 6, 8, 9, 0)
    assert due_local(start, "Europe/Amsterdam") == "2026-06-05T10:00:00+02:00"


def test_holidays_are_skipped_like_weekends() -> None:
    policy = SendPolicy(holidays=frozenset({date(2026, 6, 5), date(2026, 6, 4)}))
    start = local("Europe/Amsterdam", 2026, 6, 8, 9, 0)
    assert due_local(start, "Europe/Amsterdam", policy) == "2026-06-03T10:00:00+02:00"


def test_custom_working_days_are_respected() -> None:
    sunday_to_thursday = SendPolicy(working_days=frozenset({6, 0, 1, 2, 3}))
    start = local("Asia/Jerusalem", 2026, 6, 7, 11, 0)  # a Sunday; the day before is Saturday
    assert due_local(start, "Asia/Jerusalem", sunday_to_thursday) == "2026-06-04T10:00:00+03:00"


def test_the_day_before_is_taken_in_the_recipients_zone_not_the_owners() -> None:
    start = utc(2026, 6, 3, 3, 0)  # Wed 08:30 in Kolkata, but Tue 20:00 in Los Angeles
    assert due_local(start, "Asia/Kolkata") == "2026-06-02T10:00:00+05:30"
    assert due_local(start, "America/Los_Angeles") == "2026-06-01T10:00:00-07:00"


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "Pacific/Chatham", "America/Santiago", "Europe/London"])
@pytest.mark.parametrize("wall", [time(0, 15), time(23, 45)])
def test_meetings_at_00_15_and_23_45_local_share_the_same_day_before(zone: str, wall: time) -> None:
    start = local_instant(date(2026, 6, 3), wall, zone)  # a Wednesday, in every one of these zones
    due = to_local(confirmation_due_at(start, None, zone, DEFAULT), zone)
    assert (due.date(), due.time()) == (date(2026, 6, 2), time(10, 0))


def test_half_hour_and_45_minute_zones_get_their_own_ten_oclock() -> None:
    start = utc(2026, 6, 3, 12, 0)  # Wed 17:30 in Kolkata, already Thu 00:45 in Chatham
    assert confirmation_due_at(start, None, "Asia/Kolkata", DEFAULT) == utc(2026, 6, 2, 4, 30)
    assert confirmation_due_at(start, None, "Pacific/Chatham", DEFAULT) == utc(2026, 6, 2, 21, 15)


# --- all-day meetings keep their calendar date ------------------------------------------------


@pytest.mark.parametrize(
    "zone", ["Pacific/Chatham", "America/Los_Angeles", "Pacific/Kiritimati", "Etc/GMT+12"]
)
def test_an_all_day_meeting_is_confirmed_the_day_before_its_date_in_every_zone(zone: str) -> None:
    decision = decide_confirmation(None, date(2026, 6, 3), zone, DEFAULT, utc(2026, 5, 1))
    assert to_local(decision.due_at, zone).isoformat()[:16] == "2026-06-02T10:00"
    assert to_local(decision.deadline_at, zone).isoformat()[:16] == "2026-06-03T00:00"


def test_an_all_day_event_carrying_a_midnight_gmt_start_is_read_by_its_date() -> None:
    # Salesforce stores all-day Events with StartDateTime at 00:00 GMT of the ActivityDate.
    meeting = Meeting(
        event_id="00U1",
        subject="Visit",
        start_at=utc(2026, 6, 3),
        end_at=utc(2026, 6, 4),
        all_day=True,
        activity_date=date(2026, 6, 3),
        owner_id="005A",
    )
    decision = decide_meeting_confirmation(meeting, "America/Los_Angeles", DEFAULT, utc(2026, 5, 1))
    assert decision.deadline_at == utc(2026, 6, 3, 7, 0)  # local midnight, not 2 June 17:00 local
    assert decision.due_at == utc(2026, 6, 2, 17, 0)


def test_giving_both_a_start_and_an_all_day_date_is_refused() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        decide_confirmation(utc(2026, 6, 3, 9), date(2026, 6, 3), "UTC", DEFAULT, utc(2026, 5, 1))


def test_meeting_start_local_shows_the_wall_clock_of_the_zone() -> None:
    assert meeting_start_local(utc(2026, 6, 3, 3, 0), None, "Asia/Kolkata").isoformat() == (
        "2026-06-03T08:30:00+05:30"
    )
    assert meeting_start_local(None, date(2026, 6, 3), "Pacific/Chatham").isoformat() == (
        "2026-06-03T00:00:00+12:45"
    )


# --- DST (reliability.md T1) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "meeting", "expected_due"),
    [
        # 10:00 on the transition day itself (every day a working day here).
        ("America/New_York", local("America/New_York", 2026, 3, 9, 9), utc(2026, 3, 8, 14)),
        ("America/New_York", local("America/New_York", 2026, 11, 2, 9), utc(2026, 11, 1, 15)),
        ("Europe/London", local("Europe/London", 2026, 3, 30, 9), utc(2026, 3, 29, 9)),
        ("Europe/London", local("Europe/London", 2026, 10, 26, 9), utc(2026, 10, 25, 10)),
        ("Australia/Lord_Howe", local("Australia/Lord_Howe", 2026, 10, 5, 9), utc(2026, 10, 3, 23)),
        ("Australia/Lord_Howe", local("Australia/Lord_Howe", 2026, 4, 6, 9), utc(2026, 4, 4, 23, 30)),
        ("America/Santiago", local("America/Santiago", 2026, 9, 7, 9), utc(2026, 9, 6, 13)),
        ("America/Santiago", local("America/Santiago", 2026, 4, 6, 9), utc(2026, 4, 5, 14)),
    ],
)
def test_ten_oclock_on_a_dst_transition_day_is_ten_oclock_on_the_local_clock(
    zone: str, meeting: datetime, expected_due: datetime
) -> None:
    due = confirmation_due_at(meeting, None, zone, EVERY_DAY)
    assert due == expected_due
    assert to_local(due, zone).time() == time(10, 0)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected"),
    [
        ("America/New_York", date(2026, 3, 8), time(2, 30), "2026-03-08T03:30:00-04:00"),
        ("Europe/London", date(2026, 3, 29), time(1, 30), "2026-03-29T02:30:00+01:00"),
        ("Australia/Lord_Howe", date(2026, 10, 4), time(2, 15), "2026-10-04T02:45:00+11:00"),
    ],
)
def test_a_send_time_that_does_not_exist_moves_forward_by_the_gap(
    zone: str, day: date, wall: time, expected: str
) -> None:
    meeting = local_instant(day + timedelta(days=1), time(12), zone)
    policy = SendPolicy(
        send_at=wall, working_days=frozenset(range(7)), quiet_start=time(0), quiet_end=time(0)
    )
    assert to_local(confirmation_due_at(meeting, None, zone, policy), zone).isoformat() == expected


@pytest.mark.parametrize(
    ("zone", "day", "wall", "expected_utc"),
    [
        ("America/New_York", date(2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30)),
        ("Europe/London", date(2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30)),
        ("Australia/Lord_Howe", date(2026, 4, 5), time(1, 45), utc(2026, 4, 4, 14, 45)),
    ],
)
def test_a_send_time_that_exists_twice_is_the_first_of_the_two(
    zone: str, day: date, wall: time, expected_utc: datetime
) -> None:
    meeting = local_instant(day + timedelta(days=1), time(12), zone)
    policy = SendPolicy(
        send_at=wall, working_days=frozenset(range(7)), quiet_start=time(0), quiet_end=time(0)
    )
    assert confirmation_due_at(meeting, None, zone, policy) == expected_utc


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Europe/London", date(2026, 3, 29), 23),
        ("Europe/London", date(2026, 10, 25), 25),
        ("Australia/Lord_Howe", date(2026, 10, 4), 23.5),
        ("Australia/Lord_Howe", date(2026, 4, 5), 24.5),
        ("America/Santiago", date(2026, 9, 6), 23),  # midnight itself does not exist
        ("America/Santiago", date(2026, 4, 4), 25),
        ("Asia/Kolkata", date(2026, 3, 8), 24),
    ],
)
def test_a_local_day_window_spans_the_hours_the_local_clock_really_has(
    zone: str, day: date, hours: float
) -> None:
    start, end = day_window_utc(day, zone)
    assert end - start == timedelta(hours=hours)
    assert to_local(start, zone).date() == day
    assert to_local(start - timedelta(microseconds=1), zone).date() == day - timedelta(days=1)
    assert to_local(end - timedelta(microseconds=1), zone).date() == day


# --- quiet hours ---------------------------------------------------------------------------------


def test_quiet_hours_wrap_midnight_and_end_exclusive() -> None:
    zone = "Europe/Amsterdam"
    assert in_quiet_hours(local(zone, 2026, 6, 1, 20, 0), zone, DEFAULT)
    assert in_quiet_hours(local(zone, 2026, 6, 1, 3, 0), zone, DEFAULT)
    assert in_quiet_hours(local(zone, 2026, 6, 1, 7, 59), zone, DEFAULT)
    assert not in_quiet_hours(local(zone, 2026, 6, 1, 8, 0), zone, DEFAULT)
    assert not in_quiet_hours(local(zone, 2026, 6, 1, 19, 59), zone, DEFAULT)


def test_quiet_hours_are_read_on_the_recipients_clock() -> None:
    at = utc(2026, 6, 1, 16, 0)  # 18:00 in Amsterdam, 21:30 in Kolkata
    assert not in_quiet_hours(at, "Europe/Amsterdam", DEFAULT)
    assert in_quiet_hours(at, "Asia/Kolkata", DEFAULT)


def test_equal_quiet_start_and_end_mean_no_quiet_hours() -> None:
    assert not in_quiet_hours(utc(2026, 6, 1, 3), "UTC", NO_QUIET)


@pytest.mark.parametrize(
    ("send_at", "quiet", "expected"),
    [
        (time(7, 0), (time(20), time(8)), "2026-06-01T08:00"),  # the morning part: later that day
        (time(21, 0), (time(20), time(8)), "2026-06-01T08:00"),  # the evening part: same day, never the next
        (time(13, 0), (time(12), time(14)), "2026-06-01T14:00"),  # a midday quiet window
        (time(11, 59), (time(12), time(14)), "2026-06-01T11:59"),
    ],
)
def test_a_send_time_inside_quiet_hours_moves_to_their_end_on_the_same_day(
    send_at: time, quiet: tuple[time, time], expected: str
) -> None:
    policy = SendPolicy(send_at=send_at, quiet_start=quiet[0], quiet_end=quiet[1])
    start = local("Europe/Amsterdam", 2026, 6, 2, 12)
    assert due_local(start, "Europe/Amsterdam", policy)[:16] == expected


# --- late bookings (T4) and past meetings (T5) ---------------------------------------------------

AMS = "Europe/Amsterdam"


def test_a_meeting_booked_before_the_day_before_moment_is_sent_then() -> None:
    decision = decide_confirmation(local(AMS, 2026, 6, 2, 14), None, AMS, DEFAULT, local(AMS, 2026, 5, 20, 9))
    assert (decision.action, decision.due_at, decision.reason, decision.late) == (
        "send_at",
        local(AMS, 2026, 6, 1, 10),
        "",
        False,
    )
    assert decision.deadline_at == local(AMS, 2026, 6, 2, 14)


def test_a_late_booking_in_the_afternoon_is_sent_at_once() -> None:
    now = local(AMS, 2026, 6, 1, 15, 7)
    decision = decide_confirmation(local(AMS, 2026, 6, 2, 10), None, AMS, DEFAULT, now)
    assert (decision.action, decision.due_at, decision.late) == ("send_at", now, True)


def test_a_late_booking_in_quiet_hours_waits_for_their_end_when_that_leaves_enough_notice() -> None:
    decision = decide_confirmation(
        local(AMS, 2026, 6, 2, 11), None, AMS, DEFAULT, local(AMS, 2026, 6, 1, 22, 30)
    )
    assert (decision.action, decision.due_at) == ("send_at", local(AMS, 2026, 6, 2, 8))


def test_a_late_booking_whose_quiet_hours_end_too_close_to_the_start_is_skipped_too_late() -> None:
    decision = decide_confirmation(
        local(AMS, 2026, 6, 2, 10, 59), None, AMS, DEFAULT, local(AMS, 2026, 6, 1, 22, 30)
    )
    assert (decision.action, decision.reason) == ("skip", "too_late")


def test_a_booking_less_than_min_notice_ahead_is_skipped_too_late() -> None:
    decision = decide_confirmation(
        local(AMS, 2026, 6, 2, 11), None, AMS, DEFAULT, local(AMS, 2026, 6, 2, 8, 0, 1)
    )
    assert (decision.action, decision.reason) == ("skip", "too_late")


def test_a_booking_exactly_min_notice_ahead_is_still_sent() -> None:
    now = local(AMS, 2026, 6, 2, 8)
    decision = decide_confirmation(local(AMS, 2026, 6, 2, 11), None, AMS, DEFAULT, now)
    assert (decision.action, decision.due_at) == ("send_at", now)


@pytest.mark.parametrize("after", [timedelta(0), timedelta(seconds=1), timedelta(days=30)])
def test_a_meeting_that_has_started_is_never_sent(after: timedelta) -> None:
    start = local(AMS, 2026, 6, 2, 11)
    decision = decide_confirmation(start, None, AMS, DEFAULT, start + after)
    assert (decision.action, decision.reason) == ("skip", "past_meeting")


def test_with_zero_min_notice_a_send_is_still_never_at_the_start() -> None:
    policy = SendPolicy(min_notice=timedelta(0), quiet_start=time(0), quiet_end=time(0))
    start = local(AMS, 2026, 6, 2, 11)
    almost = decide_confirmation(start, None, AMS, policy, start - timedelta(microseconds=1))
    assert (almost.action, almost.due_at) == ("send_at", start - timedelta(microseconds=1))


def test_a_day_before_moment_inside_min_notice_is_replaced_by_the_first_allowed_moment() -> None:
    policy = SendPolicy(send_at=time(23, 0), quiet_start=time(0), quiet_end=time(0))
    start = local(AMS, 2026, 6, 2, 0, 30)  # 23:00 the day before is only 1.5 h ahead of it
    decision = decide_confirmation(start, None, AMS, policy, local(AMS, 2026, 6, 1, 12))
    assert (decision.action, decision.due_at, decision.late) == ("send_at", local(AMS, 2026, 6, 1, 12), True)


def test_a_send_is_allowed_at_its_due_moment_and_not_in_quiet_hours_or_within_min_notice() -> None:
    start = local(AMS, 2026, 6, 2, 11)
    decision = decide_confirmation(start, None, AMS, DEFAULT, local(AMS, 2026, 5, 1, 9))
    assert send_window_ok(decision.due_at, start, AMS, DEFAULT)
    assert send_window_ok(local(AMS, 2026, 6, 2, 8), start, AMS, DEFAULT)  # late dispatch: exactly 3 h
    assert not send_window_ok(local(AMS, 2026, 6, 2, 8, 1), start, AMS, DEFAULT)
    assert not send_window_ok(local(AMS, 2026, 6, 1, 21), start, AMS, DEFAULT)


def test_next_send_at_waits_out_quiet_hours_or_gives_up_near_the_start() -> None:
    start = local(AMS, 2026, 6, 2, 14)
    assert next_send_at(local(AMS, 2026, 6, 1, 12), start, AMS, DEFAULT) == local(AMS, 2026, 6, 1, 12)
    assert next_send_at(local(AMS, 2026, 6, 1, 21), start, AMS, DEFAULT) == local(AMS, 2026, 6, 2, 8)
    assert next_send_at(local(AMS, 2026, 6, 2, 11, 30), start, AMS, DEFAULT) is None


# --- recipient zone and argument checks ----------------------------------------------------------


def test_the_recipient_zone_is_the_first_known_of_contact_owner_and_org() -> None:
    assert recipient_zone("Asia/Kolkata", "Europe/Amsterdam", "UTC") == "Asia/Kolkata"
    assert recipient_zone(None, "Europe/Amsterdam", "UTC") == "Europe/Amsterdam"
    assert recipient_zone("Mars/Olympus_Mons", " ", "UTC") == "UTC"
    assert recipient_zone(" Pacific/Chatham ", None, "UTC") == "Pacific/Chatham"
    assert recipient_zone("asia/kolkata", "../../etc/passwd", "UTC") == "UTC"


def test_an_unknown_org_default_zone_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Nowhere/Land"):
        recipient_zone(None, None, "Nowhere/Land")


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        decide_confirmation(utc(2026, 6, 2), None, "UTC", DEFAULT, datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="naive"):
        confirmation_due_at(datetime(2026, 6, 2), None, "UTC", DEFAULT)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"working_days": frozenset()},
        {"working_days": frozenset({7})},
        {"min_notice": timedelta(minutes=-1)},
        {"send_at": time(10, tzinfo=UTC)},
    ],
)
def test_an_impossible_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SendPolicy(**kwargs)  # type: ignore[arg-type]


def test_holidays_that_swallow_every_working_day_are_reported_not_looped_on() -> None:
    policy = SendPolicy(
        working_days=frozenset({0}),
        holidays=frozenset(date(2026, 6, 1) - timedelta(days=n) for n in range(3700)),
    )
    with pytest.raises(ValueError, match="holidays"):
        confirmation_due_at(utc(2026, 6, 2, 12), None, "UTC", policy)
