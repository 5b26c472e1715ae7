"""The cycle's time line that `prepbot tick` prints and `prepbot run` logs after each cycle."""

from __future__ import annotations

from prepbot.report import cycle_line


def test_a_cycle_that_handled_meetings_says_its_rate() -> None:
    assert cycle_line(1000, 4.0) == "cycle 4.00 s, 250.0 meetings/s"
    assert cycle_line(3, 0.123) == "cycle 0.12 s, 24.4 meetings/s"


def test_a_cycle_with_no_meetings_says_only_its_time() -> None:
    assert cycle_line(0, 0.5) == "cycle 0.50 s"
    assert cycle_line(5, 0.0) == "cycle 0.00 s"  # never a division by zero
