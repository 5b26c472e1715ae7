"""Counts of one cycle, shared by the service and its flows (progress lines, the demo, the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Report:
    """Counts of one cycle, for the progress line and the demo."""

    meetings: int = 0
    planned: int = 0
    superseded: int = 0
    cancelled: int = 0
    claimed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    logged: int = 0
    errors: list[str] = field(default_factory=list)
    # True when this sync read only what changed since the last one (one call), not the whole window
    incremental: bool = False

    def bump(self, outcome: str) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def merge(self, other: Report) -> Report:
        for name in ("meetings", "planned", "superseded", "cancelled", "claimed", "logged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for outcome, count in other.counts.items():
            self.counts[outcome] = self.counts.get(outcome, 0) + count
        self.errors.extend(other.errors)
        return self

    def line(self) -> str:
        counts = ", ".join(f"{name} {count}" for name, count in sorted(self.counts.items()))
        return (
            f"meetings {self.meetings}, planned {self.planned}, superseded {self.superseded}, "
            f"cancelled {self.cancelled}, claimed {self.claimed}"
            + (f", {counts}" if counts else "")
            + f", logged {self.logged}"
        )


def cycle_line(meetings: int, seconds: float) -> str:
    """How long a cycle took, and its rate when it handled meetings: ``cycle 4.87 s, 205.3 meetings/s``."""
    line = f"cycle {seconds:.2f} s"
    if meetings and seconds > 0:
        line += f", {meetings / seconds:.1f} meetings/s"
    return line
