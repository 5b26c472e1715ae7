"""A stateful property test: random org changes, clock moves, ticks, crashes and faults on the real stack.

Each example starts a fresh sandbox org (0.2 s), a faulty SMTP relay and prepbot built by
``build_app`` on a SQLite ledger with a FixedClock (``bench.reliability_stack.Stack``). Rules create,
move and delete meetings (timed and all-day, in several zones), opt contacts out, move the clock
(mostly forward, sometimes back a few minutes), tick, crash at an armed failpoint and restart on the
same ledger, and inject Salesforce or SMTP faults. After every step O1 and O3 hold and a completed
tick leaves no expired claim; at the end, after the clock passed every meeting, O2 holds too
(``bench.reliability_oracle``).

``PREPBOT_HYPOTHESIS_PROFILE=long`` runs many more and longer examples.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from bench import reliability_oracle as oracle
from bench.faulty_relay import KINDS as SMTP_FAULTS
from bench.reliability_stack import FAILPOINTS, SF_FAULTS, SF_ROUTES, Stack, earliest_start
from prepbot.zones import zone as tz

# A Friday before the European DST change (25 October) and a weekend: business-day rules and
# zone shifts both come into play.
START = datetime(2026, 10, 23, 6, 0, tzinfo=UTC)
ZONES = ("Europe/Amsterdam", "Asia/Kolkata", "Pacific/Chatham", "America/New_York", "Australia/Lord_Howe")
CONTACTS = [(f"c{n}", f"client{n}@example-{n}.test", zone) for n, zone in enumerate(ZONES)]
ADDRESSES = [address for _, address, _ in CONTACTS]
FINAL_STEP = timedelta(hours=1)

# CI is derandomized: the same examples every run, so a build never turns red on a new random
# seed; exploring new sequences is the long profile's job (PREPBOT_HYPOTHESIS_PROFILE=long).
settings.register_profile(
    "ci",
    max_examples=12,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=200,
    stateful_step_count=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("PREPBOT_HYPOTHESIS_PROFILE", "ci")
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def local_start(base: datetime, zone: str, day: int, quarter: int, all_day: bool) -> datetime | date:
    """A meeting ``day`` days after ``base``'s date, at ``quarter`` quarter-hours past 07:00 local."""
    when = base.astimezone(tz(zone)).date() + timedelta(days=day)
    if all_day:
        return when
    local = datetime(when.year, when.month, when.day, 7, 0, tzinfo=tz(zone)) + timedelta(minutes=15 * quarter)
    return local.astimezone(UTC)


class PrepbotMachine(RuleBasedStateMachine):
    """The model is the harness's World; the system is prepbot on the sandbox org and the relay."""

    events = Bundle("events")

    def __init__(self) -> None:
        super().__init__()
        self.workdir = Path(tempfile.mkdtemp(prefix="prepbot-sm-"))
        self.stack: Stack | None = None
        self.settled = True
        self.tick_at = START  # the instant of the last tick: the leases it saw expire are over

    @initialize(
        target=events,
        policy=st.sampled_from(["hold", "hold", "resend"]),
        meetings=st.lists(
            st.tuples(
                st.integers(0, len(CONTACTS) - 1), st.integers(0, 3), st.integers(0, 48), st.booleans()
            ),
            min_size=2,
            max_size=6,
        ),
    )
    def start(self, policy: str, meetings: list[tuple[int, int, int, bool]]) -> MultipleResults[str]:
        self.stack = Stack(
            self.workdir, start=START, contacts=CONTACTS, policy=policy, slow_delay=0.05, sf_slow_delay=0.05
        )
        ids = []
        for contact, day, quarter, all_day in meetings:
            _, address, zone = CONTACTS[contact]
            start = local_start(START, zone, day, quarter, all_day and quarter % 4 == 0)
            ids.append(self.s.create_event(address, start, owner=contact))
        return multiple(*ids)

    @property
    def s(self) -> Stack:
        assert self.stack is not None
        return self.stack

    # -- the org --------------------------------------------------------------------------------

    @rule(
        target=events,
        contact=st.sampled_from(range(len(CONTACTS))),
        day=st.integers(0, 3),
        quarter=st.integers(0, 48),
        all_day=st.sampled_from([False, False, False, True]),
    )
    def create_meeting(self, contact: int, day: int, quarter: int, all_day: bool) -> str:
        _, address, zone = CONTACTS[contact]
        return self.s.create_event(
            address, local_start(self.s.now, zone, day, quarter, all_day), owner=contact
        )

    @rule(
        event=events,
        day=st.integers(-1, 2),
        quarter=st.integers(0, 48),
        all_day=st.sampled_from([False, False, False, True]),
    )
    def move_meeting(self, event: str, day: int, quarter: int, all_day: bool) -> None:
        track = self.s.world.events[event]
        if track.final[1] is None:
            return
        zone = dict((a, z) for _, a, z in CONTACTS)[track.recipient]
        self.s.move_event(event, local_start(self.s.now, zone, day, quarter, all_day))

    @rule(target=events, contact=st.sampled_from(range(len(CONTACTS))), quarters=st.integers(4, 120))
    def book_soon(self, contact: int, quarters: int) -> str:
        """A late booking, 1 to 30 hours ahead: confirmed at once if there is time (T4)."""
        _, address, _ = CONTACTS[contact]
        now = self.s.now.replace(second=0, microsecond=0)
        start = now - timedelta(minutes=now.minute % 15) + timedelta(minutes=15 * quarters)
        return self.s.create_event(address, start, owner=contact)

    @rule(event=events, back=st.booleans())
    def move_back(self, event: str, back: bool) -> None:
        """Move a meeting back to an earlier time it had (A -> B -> A: D2's round trip)."""
        track = self.s.world.events[event]
        earlier = [occ for _, occ, _ in track.versions[:-1] if occ is not None and occ != track.final[1]]
        if track.final[1] is None or not earlier:
            return
        occurrence = earlier[0] if back else earlier[-1]
        start: datetime | date
        if "T" in occurrence:
            start = datetime.strptime(occurrence, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        else:
            start = date.fromisoformat(occurrence)
        self.s.move_event(event, start)

    @rule(event=events)
    def delete_meeting(self, event: str) -> None:
        if self.s.world.events[event].final[1] is not None:
            self.s.delete_event(event)

    @rule(contact=st.sampled_from(ADDRESSES))
    def opt_out(self, contact: str) -> None:
        self.s.opt_out(contact)

    # -- time and ticks -------------------------------------------------------------------------

    @rule(minutes=st.sampled_from([5, 15, 30, 60, 120, 240, 720, 1440]))
    def advance(self, minutes: int) -> None:
        self.s.clock.advance(timedelta(minutes=minutes))

    @rule(late=st.sampled_from([0, 0, 5, 20]))
    def tick_when_next_due(self, late: int) -> None:
        """Jump to when the next planned row is due (plus ``late`` minutes) and tick: sends happen there."""
        due = [r.due_at for r in self.s.app.ledger.open_rows() if r.status.value == "planned"]
        if due and min(due) > self.s.now:
            self.s.clock.set(min(due) + timedelta(minutes=late))
        self.tick_at = self.s.now
        self.settled = self.s.tick(sync=late > 0) is not None

    @rule(minutes=st.integers(1, 10))
    def step_back(self, minutes: int) -> None:
        """An NTP step back (C12)."""
        self.s.clock.advance(timedelta(minutes=-minutes))

    @rule(sync=st.booleans())
    def tick(self, sync: bool) -> None:
        self.tick_at = self.s.now
        self.settled = self.s.tick(sync=sync) is not None

    @rule(point=st.sampled_from(FAILPOINTS))
    def arm_crash(self, point: str) -> None:
        """Crash the next time a tick passes ``point`` (then prepbot restarts on the same ledger)."""
        if self.s.armed is None:
            self.s.arm_crash(point)

    # -- faults ---------------------------------------------------------------------------------

    @rule(kind=st.sampled_from(SF_FAULTS), route=st.sampled_from(SF_ROUTES), nth=st.integers(1, 3))
    def salesforce_fault(self, kind: str, route: str, nth: int) -> None:
        self.s.sf_fault(kind, "composite*" if kind == "lock_record" else route, nth=nth)

    @rule(kind=st.sampled_from(SMTP_FAULTS))
    def smtp_fault(self, kind: str) -> None:
        self.s.relay.inject(kind)

    # -- invariants -----------------------------------------------------------------------------

    @precondition(lambda self: self.stack is not None)
    @invariant()
    def no_duplicate_no_wrong_send(self) -> None:
        found = oracle.violations(oracle.observe(self.s), self.tick_at, settled=self.settled)
        assert found == [], "\n".join(found)

    def teardown(self) -> None:
        try:
            if self.stack is not None:
                self._finish()
        finally:
            if self.stack is not None:
                self.stack.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _finish(self) -> None:
        """O2: tick hourly past every meeting, then every key ended visibly.

        A failpoint still armed and faults not yet fired stay: they fire in these ticks (the
        crash restarts prepbot), so most examples crash somewhere while sending.
        """
        s = self.s
        starts = [earliest_start(t.final[1]) for t in s.world.events.values() if t.final[1]]
        end = max([*starts, s.now]) + timedelta(hours=16)
        while s.now <= end:
            s.tick()
            found = oracle.violations(oracle.observe(s), s.now)
            assert found == [], "\n".join(found)
            s.clock.advance(FINAL_STEP)
        s.clear_faults()
        s.restart()
        s.clock.advance(timedelta(minutes=10))  # past the last lease too
        assert s.tick() is not None
        found = oracle.violations(oracle.observe(s, with_tasks=True), s.now, settled=True, final=True)
        assert found == [], "\n".join(found)


PrepbotMachine.TestCase.settings = settings.get_profile(PROFILE)
# The outage case this machine found (a meeting starting while prepbot did not sync got no row)
# is fixed and pinned by tests/reliability/test_outage.py. 900 s: the 2-core CI runs it slowly.
test_prepbot_state_machine = pytest.mark.timeout(900)(PrepbotMachine.TestCase)
