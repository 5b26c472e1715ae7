"""Planning confirmations: who gets one, when, and why not (pure, fixed clock)."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, date, datetime, timedelta

import pytest

from prepbot.domain import ActionKey, ActionRow, Meeting, MessageKind, Owner, Person, Status
from prepbot.planner import Audience, confirmation_for, is_valid_address, plan_confirmations
from prepbot.timing import SendPolicy

NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00 in Amsterdam
POLICY = SendPolicy()
AUDIENCE = Audience(internal_domains=frozenset({"acme.com"}), org_time_zone="UTC")
OWNER = Owner(
    id="005000000000001AAA", name="Sanne Bakker", email="sanne@acme.com", time_zone="Europe/Amsterdam"
)
CLIENT = Person(
    id="003000000000001AAA", kind="Contact", last_name="Jansen", first_name="Piet", email="Piet@Boerderij.nl"
)


def meeting(**changes: object) -> Meeting:
    base = Meeting(
        event_id="00U000000000001AAA",
        subject="Visit",
        start_at=datetime(2026, 12, 2, 9, 0, tzinfo=UTC),
        end_at=None,
        all_day=False,
        activity_date=date(2026, 12, 2),
        owner_id=OWNER.id,
        owner=OWNER,
        who=CLIENT,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_a_meeting_on_wednesday_is_confirmed_tuesday_at_ten_in_the_clients_zone() -> None:
    action = confirmation_for(meeting(), POLICY, AUDIENCE, NOW)
    assert action.status is Status.PLANNED and action.reason == ""
    assert action.due_at == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 10:00 Amsterdam
    assert action.key.recipient == "piet@boerderij.nl" and action.to_address == "Piet@Boerderij.nl"
    assert action.time_zone == "Europe/Amsterdam"


def test_the_contacts_own_zone_wins_over_the_owners() -> None:
    who = dataclasses.replace(CLIENT, time_zone="Asia/Kolkata")
    action = confirmation_for(meeting(who=who), POLICY, AUDIENCE, NOW)
    assert action.time_zone == "Asia/Kolkata"
    assert action.due_at == datetime(2026, 12, 1, 4, 30, tzinfo=UTC)  # 10:00 IST


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"who": None}, "no_who"),
        ({"who": dataclasses.replace(CLIENT, opted_out=True)}, "opted_out"),
        ({"who": dataclasses.replace(CLIENT, bounced=True)}, "bounced"),
        ({"who": dataclasses.replace(CLIENT, email=None)}, "no_address"),
        ({"who": dataclasses.replace(CLIENT, email="piet@@boerderij")}, "invalid_address"),
        ({"who": dataclasses.replace(CLIENT, email="jörg@bauer.de")}, "invalid_address"),
        ({"who": dataclasses.replace(CLIENT, email="colleague@acme.com")}, "internal_only"),
        ({"who": dataclasses.replace(CLIENT, kind="Lead", is_converted=True)}, "lead_converted"),
        ({"owner": dataclasses.replace(OWNER, is_active=False)}, "owner_inactive"),
        ({"start_at": NOW - timedelta(hours=1)}, "past_meeting"),
        ({"start_at": NOW + timedelta(hours=2)}, "too_late"),
    ],
)
def test_never_sent_each_with_its_reason(change: dict[str, object], reason: str) -> None:
    action = confirmation_for(meeting(**change), POLICY, AUDIENCE, NOW)
    assert action.status is Status.SKIPPED
    assert action.reason == reason


def test_leads_are_skipped_when_the_org_does_not_confirm_leads() -> None:
    lead = dataclasses.replace(CLIENT, kind="Lead")
    assert confirmation_for(meeting(who=lead), POLICY, AUDIENCE, NOW).status is Status.PLANNED
    no_leads = dataclasses.replace(AUDIENCE, confirm_leads=False)
    assert confirmation_for(meeting(who=lead), POLICY, no_leads, NOW).reason == "lead_not_confirmed"


def test_a_late_booking_far_enough_ahead_is_sent_at_once() -> None:
    action = confirmation_for(meeting(start_at=NOW + timedelta(hours=5)), POLICY, AUDIENCE, NOW)
    assert action.status is Status.PLANNED and action.due_at == NOW


def row_for(key: ActionKey, status: Status) -> ActionRow:
    return ActionRow(id=1, key=key, status=status, due_at=NOW, deadline_at=NOW + timedelta(days=1))


def test_a_moved_meeting_supersedes_its_open_row_and_gets_a_new_key() -> None:
    old = confirmation_for(meeting(), POLICY, AUDIENCE, NOW)
    moved = meeting(start_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    plan = plan_confirmations([moved], [row_for(old.key, Status.PLANNED)], POLICY, AUDIENCE, NOW)
    assert [r.key for r in plan.supersede] == [old.key]
    assert plan.add[0].key.occurrence == "2026-12-03T09:00:00Z"


def test_an_unchanged_meeting_supersedes_nothing() -> None:
    action = confirmation_for(meeting(), POLICY, AUDIENCE, NOW)
    plan = plan_confirmations([meeting()], [row_for(action.key, Status.PLANNED)], POLICY, AUDIENCE, NOW)
    assert plan.supersede == () and plan.add[0].key == action.key


def test_a_meeting_moved_within_the_same_day_after_its_confirmation_is_not_confirmed_again() -> None:
    sent = confirmation_for(meeting(), POLICY, AUDIENCE, NOW)
    later = meeting(start_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC))
    confirmed = {later.event_id: [row_for(sent.key, Status.LOGGED)]}
    plan = plan_confirmations([later], [], POLICY, AUDIENCE, NOW, confirmed)
    assert plan.add[0].status is Status.SKIPPED and plan.add[0].reason == "already_confirmed"
    next_day = meeting(start_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    plan = plan_confirmations(
        [next_day], [], POLICY, AUDIENCE, NOW, {later.event_id: [row_for(sent.key, Status.SENT)]}
    )
    assert plan.add[0].status is Status.PLANNED


def test_an_all_day_meeting_is_planned_by_its_calendar_date() -> None:
    action = confirmation_for(
        meeting(all_day=True, start_at=None, activity_date=date(2026, 12, 2)), POLICY, AUDIENCE, NOW
    )
    assert action.key.occurrence == "2026-12-02"
    assert action.status is Status.PLANNED


def test_key_kind_is_confirmation_and_address_check_is_strict() -> None:
    assert confirmation_for(meeting(), POLICY, AUDIENCE, NOW).key.kind is MessageKind.CONFIRMATION
    assert is_valid_address("a.b+c@example.co.uk")
    assert not is_valid_address("a b@example.com") and not is_valid_address("a@example")


def test_a_meeting_copied_with_a_new_start_has_the_new_start_s_occurrence() -> None:
    """The occurrence is kept with the meeting (read ten times a cycle): a copy made with
    ``dataclasses.replace``, or sent to the render process, carries its own start's."""
    moved = dataclasses.replace(meeting(), start_at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    assert moved.occurrence == "2026-12-03T09:00:00Z"
    assert pickle.loads(pickle.dumps(moved)).occurrence == "2026-12-03T09:00:00Z"
    all_day = dataclasses.replace(moved, all_day=True, start_at=None, activity_date=date(2026, 12, 4))
    assert all_day.occurrence == "2026-12-04"
    assert all_day == dataclasses.replace(all_day)
