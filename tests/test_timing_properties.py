"""Properties of the timing rules over every zone, policy and booking moment Hypothesis can think of."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prepbot.timing import (
    Decision,
    SendPolicy,
    confirmation_due_at,
    day_window_utc,
    decide_confirmation,
    in_quiet_hours,
    local_instant,
    meeting_deadline_at,
    send_window_ok,
    to_local,
)
from prepbot.zones import known_zones

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Every zone of the pinned tzdata, with the awkward ones named first so shrinking prefers them.
AWKWARD = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham"]
zones = st.sampled_from([*AWKWARD, "Asia/Kolkata", *sorted(known_zones() - set(AWKWARD))])
minutes = st.builds(time, st.integers(0, 23), st.integers(0, 59))
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@st.composite
def meetings(draw: st.DrawFn) -> tuple[datetime | None, date | None]:
    """A timed start (aware UTC) or an all-day date, never both."""
    start = draw(instants)
    return (None, start.date()) if draw(st.booleans()) else (start, None)


@st.composite
def policies(draw: st.DrawFn, around: date) -> SendPolicy:
    """Any valid policy; holidays fall in the fortnight before ``around`` so they matter."""
    holidays = draw(st.frozensets(st.integers(0, 14).map(lambda n: around - timedelta(days=n)), max_size=6))
    return SendPolicy(
        send_at=draw(minutes),
        working_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        holidays=holidays,
        quiet_start=draw(minutes),
        quiet_end=draw(minutes),
        min_notice=draw(st.integers(0, 12 * 60).map(lambda m: timedelta(minutes=m))),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[datetime | None, date | None, str, SendPolicy, datetime]:
    """A meeting, a recipient zone, a policy, and a ``now`` from 3 weeks before to a day after the start."""
    start_at, all_day = draw(meetings())
    zone = draw(zones)
    around = all_day if all_day is not None else start_at.date()  # type: ignore[union-attr]
    policy = draw(st.one_of(st.just(SendPolicy()), policies(around)))
    deadline_at = meeting_deadline_at(start_at, all_day, zone)
    # Mostly in the last two days before the start, where the rules interact; some weeks ahead, some past.
    ahead = draw(
        st.one_of(st.integers(1, 2 * 86400), st.integers(2 * 86400, 21 * 86400), st.integers(-86400, 0))
    )
    return start_at, all_day, zone, policy, deadline_at - timedelta(seconds=ahead)


def decide(case: tuple[datetime | None, date | None, str, SendPolicy, datetime]) -> Decision:
    return decide_confirmation(*case)


@PROPERTY
@given(cases())
def test_a_send_is_always_before_the_start_and_never_before_now(
    case: tuple[datetime | None, date | None, str, SendPolicy, datetime],
) -> None:
    decision = decide(case)
    if decision.action == "send_at":
        assert case[4] <= decision.due_at < decision.deadline_at
        assert decision.due_at <= decision.deadline_at - case[3].min_notice


@PROPERTY
@given(cases())
def test_a_send_is_never_planned_inside_quiet_hours_and_dispatch_agrees_with_the_plan(
    case: tuple[datetime | None, date | None, str, SendPolicy, datetime],
) -> None:
    _, _, zone, policy, _ = case
    decision = decide(case)
    if decision.action == "send_at":
        assert not in_quiet_hours(decision.due_at, zone, policy)
        assert send_window_ok(decision.due_at, decision.deadline_at, zone, policy)


@PROPERTY
@given(cases())
def test_a_day_before_send_falls_on_a_working_day_before_the_meeting_day(
    case: tuple[datetime | None, date | None, str, SendPolicy, datetime],
) -> None:
    start_at, all_day, zone, policy, _ = case
    decision = decide(case)
    if decision.action == "send_at" and not decision.late:
        due_day = to_local(decision.due_at, zone).date()
        meeting_day = all_day if all_day is not None else to_local(start_at, zone).date()  # type: ignore[arg-type]
        assert policy.is_working_day(due_day)
        assert due_day < meeting_day


@PROPERTY
@given(cases())
def test_the_decision_depends_only_on_its_inputs(
    case: tuple[datetime | None, date | None, str, SendPolicy, datetime],
) -> None:
    start_at, all_day, zone, policy, now = case
    elsewhere = now.astimezone(to_local(now, "Asia/Kolkata").tzinfo)  # the same instant, another zone
    assert decide(case) == decide(case) == decide_confirmation(start_at, all_day, zone, policy, elsewhere)


@PROPERTY
@given(cases(), st.timedeltas(timedelta(0), timedelta(days=400)))
def test_a_meeting_that_has_started_is_never_sent(
    case: tuple[datetime | None, date | None, str, SendPolicy, datetime], after: timedelta
) -> None:
    start_at, all_day, zone, policy, _ = case
    now = meeting_deadline_at(start_at, all_day, zone) + after
    decision = decide_confirmation(start_at, all_day, zone, policy, now)
    assert (decision.action, decision.reason) == ("skip", "past_meeting")


@PROPERTY
@given(cases())
def test_a_skip_always_says_why(case: tuple[datetime | None, date | None, str, SendPolicy, datetime]) -> None:
    decision = decide(case)
    assert (decision.action == "skip") == (decision.reason in {"past_meeting", "too_late"})
    assert decision.due_at == confirmation_due_at(case[0], case[1], case[2], case[3]) or decision.late


@PROPERTY
@given(zones, instants.map(lambda at: at.date()))
def test_a_local_day_window_covers_exactly_that_local_date(zone: str, day: date) -> None:
    start, end = day_window_utc(day, zone)
    assert timedelta(hours=21) <= end - start <= timedelta(hours=27)
    assert to_local(start, zone).date() == day
    assert to_local(end - timedelta(microseconds=1), zone).date() == day
    assert to_local(start - timedelta(microseconds=1), zone).date() < day


@PROPERTY
@given(zones, instants.map(lambda at: at.date()), minutes)
def test_a_wall_time_is_read_exactly_or_moved_forward_through_a_gap_never_back(
    zone: str, day: date, wall: time
) -> None:
    local = to_local(local_instant(day, wall, zone), zone)
    assert (local.date(), local.time()) >= (day, wall)
    assert local - datetime.combine(day, wall, tzinfo=local.tzinfo) <= timedelta(hours=3)
