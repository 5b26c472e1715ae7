"""Seeded chaos against the processes of a scale Stack: SIGKILL + restart, SIGSTOP/SIGCONT, stray ticks.

Reliability rows C7 (two planners at once: a stray `prepbot tick` plans and sends without the lease),
C8 (several workers claiming at once) and C9 (a worker paused past its lease, then resumed mid-send).
The random choices come from one seed (printed), so a run's sequence of faults can be replayed; the
moments at which they land depend on the machine's speed.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.scale_stack import ROOT, Process, Stack

KINDS = ("kill_worker", "kill_planner", "pause_worker", "pause_planner", "stray_tick")
WEIGHTS = (4, 2, 4, 2, 1)


@dataclass
class Chaos:
    """Injects one fault every few seconds; ``settle()`` resumes everything that is paused."""

    stack: Stack
    rng: random.Random
    lease: int
    events: Counter[str] = field(default_factory=Counter)
    journal: list[str] = field(default_factory=list)
    _paused: list[tuple[float, Process]] = field(default_factory=list)
    _ticks: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _next_at: float = 0.0

    def step(self) -> None:
        """Resume what is due, and inject the next fault when its moment has come."""
        now = time.monotonic()
        for resume_at, process in list(self._paused):
            if resume_at <= now:
                self.stack.resume(process)
                self._paused.remove((resume_at, process))
        if now >= self._next_at:
            self._inject(self.rng.choices(KINDS, WEIGHTS)[0])
            self._next_at = now + self.rng.uniform(2.0, 6.0)

    def _inject(self, kind: str) -> None:
        role = "planner" if kind.endswith("planner") else "worker"
        candidates = [p for p in self.stack.processes if p.role == role and not p.stopped]
        if kind == "stray_tick":
            self._stray_tick()
        elif not candidates:
            return
        elif kind.startswith("kill"):
            victim = self.rng.choice(candidates)
            self.stack.restart(victim)  # SIGKILL, then a new process of the same name (Restart=always)
        else:
            victim = self.rng.choice(candidates)
            # Some pauses outlast the lease (C9: its claims are taken over; its late commit is fenced).
            seconds = self.rng.uniform(3.0, self.lease * 1.6)
            self.stack.pause(victim)
            self._paused.append((time.monotonic() + seconds, victim))
            kind = f"{kind}{'_past_lease' if seconds > self.lease else ''}"
        self.events[kind] += 1
        self.journal.append(f"{time.strftime('%H:%M:%S')} {kind}")

    def _stray_tick(self) -> None:
        """`prepbot tick` next to the daemons: a second planner without the lease (C7) and one more worker."""
        if any(tick.poll() is None for tick in self._ticks):
            return
        log = (self.stack.folder / "logs" / f"tick-{len(self._ticks)}.log").open("wb")
        self._ticks.append(
            subprocess.Popen(
                [sys.executable, "-m", "prepbot", "tick", "--config", str(self.stack.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        )
        log.close()

    def settle(self) -> None:
        """Resume every paused process and wait for the stray ticks (killed after five minutes)."""
        for _, process in self._paused:
            self.stack.resume(process)
        self._paused.clear()
        for tick in self._ticks:
            try:
                tick.wait(300)
            except subprocess.TimeoutExpired:
                tick.kill()
                tick.wait(30)

    def stop(self) -> None:
        """Kill what is left (on failure)."""
        for tick in self._ticks:
            if tick.poll() is None:
                tick.kill()
                tick.wait(30)

    def summary(self) -> dict[str, Any]:
        return {"faults": sum(self.events.values()), "by_kind": dict(sorted(self.events.items()))}
