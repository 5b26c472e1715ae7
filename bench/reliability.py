"""`make reliability`: a seeded run of many meetings under injected faults, and the figures of reliability.md.

Run: ``python -m bench.reliability [--seed N] [--meetings N] [--faults N] [--out DIR]``.

One sandbox org, one faulty SMTP relay (AUTH with a canary password), prepbot built by
``build_app`` on a SQLite ledger, a FixedClock stepped every ``--step`` minutes over a few days.
Before each tick the schedule injects what falls due: Salesforce faults (401, 403 limit, 503, 500,
lock, slow, truncated), SMTP faults (421, 451, 550, disconnect after the data, delayed 250),
crashes at a failpoint followed by a restart on the same ledger, and data changes (moves,
deletes, opt-outs, late bookings). After the last meeting it ticks once more with the faults
cleared, checks O1–O4 and writes ``reliability.json`` and ``reliability.md`` to ``--out``.
Exit 1 when a target fails. The same seed replays the same run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.faulty_relay import KINDS as SMTP_FAULTS
from bench.reliability_figures import figures, markdown, targets
from bench.reliability_stack import (
    FAILPOINTS,
    SF_FAULTS,
    SF_ROUTES,
    Stack,
    capture_logs,
    earliest_start,
    release_logs,
)

START = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # a Monday: meetings from Tuesday on
ZONES = (
    "Europe/Amsterdam",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/Santiago",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "UTC",
)
DATA_CHANGES = ("move_same_day", "move_other_day", "delete", "opt_out", "late_booking")
# weights of the fault families: Salesforce, SMTP, crash, data change
FAMILIES = {"salesforce": 0.35, "smtp": 0.30, "crash": 0.15, "data": 0.20}


@dataclass
class Run:
    """The run's parameters and what it injected."""

    seed: int
    meetings: int
    faults: int
    step: timedelta
    days: int
    sync_every: int = 8
    until: datetime = START  # the last meeting's start: late bookings stay before it
    injected: Counter[str] = field(default_factory=Counter)
    late_bookings: int = 0
    problems: list[str] = field(default_factory=list)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=20261130, help="replays the same run")
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--faults", type=int, default=330)
    parser.add_argument("--days", type=int, default=3, help="days of meetings (from the Tuesday)")
    parser.add_argument(
        "--step", type=int, default=15, help="minutes between dispatches (the dispatch interval)"
    )
    parser.add_argument(
        "--sync-every", type=int, default=8, help="a sync (read the org, plan) every N dispatches"
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    return parser.parse_args(argv)


def meeting_start(rng: random.Random, zone: str, days: int) -> datetime | date:
    """A meeting on one of the run's days: 10 % all-day, else in the client's working hours."""
    from prepbot.zones import zone as tz

    day = START.date() + timedelta(days=1 + rng.randrange(days))
    if rng.random() < 0.1:
        return day
    hour, minute = rng.choice(range(8, 18)), rng.choice((0, 15, 30, 45))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz(zone)).astimezone(UTC)


def schedule(rng: random.Random, run: Run, ticks: int) -> dict[int, list[str]]:
    """Which faults fall due before which tick (the first tick is left clean: prepbot plans first)."""
    plan: dict[int, list[str]] = {}
    names, weights = list(FAMILIES), list(FAMILIES.values())
    for _ in range(run.faults):
        family = rng.choices(names, weights)[0]
        kind = {
            "salesforce": SF_FAULTS,
            "smtp": SMTP_FAULTS,
            "crash": FAILPOINTS,
            "data": DATA_CHANGES,
        }[family]
        plan.setdefault(rng.randrange(1, ticks), []).append(f"{family}:{rng.choice(kind)}")
    return plan


def inject(stack: Stack, rng: random.Random, run: Run, fault: str) -> bool:
    """Inject one fault; False when it must wait (a failpoint is still armed, no meeting qualifies)."""
    family, kind = fault.split(":")
    if family == "salesforce":
        route = "composite*" if kind == "lock_record" else rng.choice(SF_ROUTES)
        stack.sf_fault(kind, route, nth=rng.randint(1, 3))
    elif family == "smtp":
        stack.relay.inject(kind)
    elif family == "crash":
        if stack.armed is not None:  # one armed failpoint at a time
            return False
        stack.arm_crash(kind)
    elif not change_data(stack, rng, run, kind):
        return False
    run.injected[fault] += 1
    return True


def change_data(stack: Stack, rng: random.Random, run: Run, kind: str) -> bool:
    """A rep's change in the org; False when no meeting qualifies."""
    now = stack.now
    ahead = [
        e
        for e in stack.world.events.values()
        if e.final[1] is not None and earliest_start(e.final[1] or "") > now + timedelta(hours=2)
    ]
    if kind == "late_booking":
        address = rng.choice(sorted(stack.world.contacts))
        start = (now + timedelta(hours=rng.uniform(1, 30))).replace(second=0, microsecond=0)
        if start > run.until:
            return False
        stack.create_event(address, start, owner=rng.randrange(3))
        run.late_bookings += 1
        return True
    if not ahead:
        return False
    track = rng.choice(ahead)
    if kind == "delete":
        stack.delete_event(track.event_id)
    elif kind == "opt_out":
        stack.opt_out(track.recipient)
    else:
        old = earliest_start(track.final[1] or "")
        shift = (
            timedelta(minutes=rng.choice((30, 45, 90, -30, -60)))
            if kind == "move_same_day"
            else timedelta(days=rng.choice((1, 2, -1)))
        )
        new = min(max(old + shift, now + timedelta(hours=3)), run.until)
        stack.move_event(track.event_id, new.replace(second=0, microsecond=0))
    return True


def simulate(run: Run, workdir: Path) -> tuple[Stack, int]:
    rng = random.Random(run.seed)
    contacts = [
        (f"c{n}", f"client{n}@example-{n % 7}.test", ZONES[n % len(ZONES)]) for n in range(run.meetings)
    ]
    stack = Stack(workdir, start=START, contacts=contacts)
    for key, address, zone in contacts:
        stack.create_event(address, meeting_start(rng, zone, run.days), owner=int(key[1:]) % 3)
    run.until = max(earliest_start(e.final[1] or "") for e in stack.world.events.values())
    ticks = int((run.until + timedelta(hours=16) - START) / run.step)  # past every meeting, all-day too
    plan = schedule(rng, run, ticks)
    for index in range(ticks):
        for fault in plan.get(index, ()):
            if not inject(stack, rng, run, fault) and index + 1 < ticks:
                plan.setdefault(index + 1, []).append(fault)  # try again before the next tick
        stack.tick(sync=index % run.sync_every == 0)
        stack.clock.advance(run.step)
    return stack, ticks


def settle(stack: Stack, run: Run) -> None:
    """Faults off, a few clean ticks: retries come due, pending Tasks get written."""
    stack.clear_faults()
    stack.restart()  # disarms a failpoint that never fired
    for _ in range(4):
        stack.tick()
        stack.clock.advance(run.step)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    run = Run(args.seed, args.meetings, args.faults, timedelta(minutes=args.step), args.days, args.sync_every)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prepbot-reliability-") as tmp:
        workdir = Path(tmp)
        handler = capture_logs(workdir / "prepbot.log")
        stack = None
        try:
            stack, ticks = simulate(run, workdir)
            settle(stack, run)
            found = figures(stack, run, ticks, time.perf_counter() - started)
        finally:
            release_logs(handler)
            if stack is not None:
                stack.close()
    results = targets(found)
    write(args.out, found, results)
    print(markdown(found, results))
    return 0 if all(ok for _, ok, _ in results) else 1


def write(out: Path, found: dict[str, Any], results: list[tuple[str, bool, str]]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {**found, "targets": [{"target": t, "pass": ok, "value": v} for t, ok, v in results]}
    (out / "reliability.json").write_text(json.dumps(body, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "reliability.md").write_text(markdown(found, results) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
