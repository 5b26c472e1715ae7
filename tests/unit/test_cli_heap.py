"""`tick` and `run` keep start-up's objects out of the garbage collector's scans while they work (issue 7)."""

from __future__ import annotations

import gc
import subprocess
import sys

from prepbot.cli import CYCLE_GC_THRESHOLD, long_lived_heap


def test_the_long_lived_heap_is_frozen_only_while_the_cycle_runs() -> None:
    before, threshold = gc.get_freeze_count(), gc.get_threshold()
    with long_lived_heap():
        assert gc.get_freeze_count() > before
        assert gc.get_threshold() == (CYCLE_GC_THRESHOLD, *threshold[1:])
        assert threshold[0] < CYCLE_GC_THRESHOLD
    assert gc.get_freeze_count() == before
    assert gc.get_threshold() == threshold


def test_the_command_line_leaves_the_heap_to_the_os_when_it_ends() -> None:
    """`main()` freezes the heap as the command ends, even when it ends in an error: the interpreter's
    last collections then skip it (0.3 s after a 1,000-meeting tick). Run in a child process, so
    that this test process's own collector is not frozen."""
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from prepbot.cli import main\n"
        "sys.argv = ['prepbot'] + sys.argv[1:]\n"
        "main()\n"
    )
    for args, code in ((["--help"], 0), (["tick", "--config", "/nonexistent/prepbot.toml"], 2)):
        done = subprocess.run(
            [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == code, done.stderr
        assert "frozen at exit: True" in done.stdout
