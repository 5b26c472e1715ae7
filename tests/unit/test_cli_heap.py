"""`tick` and `run` keep start-up's objects out of the garbage collector's scans while they work (issue 7)."""

from __future__ import annotations

import gc

from prepbot.cli import long_lived_heap


def test_the_long_lived_heap_is_frozen_only_while_the_cycle_runs() -> None:
    before = gc.get_freeze_count()
    with long_lived_heap():
        assert gc.get_freeze_count() > before
    assert gc.get_freeze_count() == before
