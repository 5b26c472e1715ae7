"""The render process (issue 7): jobs done in a forked child, in order, and never lost."""

from __future__ import annotations

import gc
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from prepbot.offload import InlineMap, OffloadError, ProcessMap


def where(job: int) -> tuple[int, int]:
    """The job and the process that did it."""
    if job < 0:
        raise KeyError(f"no such job {job}")
    return job, os.getpid()


@pytest.fixture
def pmap() -> Iterator[ProcessMap[int, tuple[int, int]]]:
    made: ProcessMap[int, tuple[int, int]] = ProcessMap(where)
    yield made
    made.close()


def test_jobs_are_done_in_the_child_in_order_and_collected_in_any_order(
    pmap: ProcessMap[int, tuple[int, int]],
) -> None:
    first, second = pmap.submit([1, 2, 3]), pmap.submit([4])
    assert second() == [(4, pmap.pid)]
    assert first() == [(1, pmap.pid), (2, pmap.pid), (3, pmap.pid)]
    assert pmap.pid != os.getpid()


def test_a_job_that_raises_is_reported_with_the_childs_traceback(
    pmap: ProcessMap[int, tuple[int, int]],
) -> None:
    failing = pmap.submit([1, -1])
    with pytest.raises(OffloadError, match="KeyError: 'no such job -1'"):
        failing()
    assert pmap.submit([5])() == [(5, pmap.pid)]  # the child goes on


def echo(job: str) -> str:
    return job


def niceness(_job: int) -> int:
    return os.nice(0)


@pytest.mark.parametrize("nice", [0, 7])
def test_the_child_takes_the_cpu_priority_it_was_given_below_its_parent(nice: int) -> None:
    """The sender paces a cycle: the render process can run below it (issue 7)."""
    made: ProcessMap[int, int] = ProcessMap(niceness, nice=nice)
    try:
        assert made.submit([0])() == [min(os.nice(0) + nice, 19)]
        assert os.nice(0) == niceness(0)  # this process keeps its own priority
    finally:
        made.close()


def frozen(_job: int) -> int:
    return gc.get_freeze_count()


def test_the_child_keeps_what_it_inherited_out_of_the_collector_s_scans() -> None:
    """The objects the fork copied live as long as the child (issue 7: a full collection of them
    costs the render process tens of milliseconds)."""
    assert gc.get_freeze_count() == 0
    made: ProcessMap[int, int] = ProcessMap(frozen)
    try:
        [count] = made.submit([0])()
        assert count > 1000  # the test process's modules, at least
    finally:
        made.close()


@pytest.mark.timeout(60)
def test_batches_bigger_than_the_pipe_may_all_be_submitted_before_any_is_collected() -> None:
    """The dispatcher starts a batch's notes in parts and collects them all later (issue 7). The
    child must not wait for a collector while this process sends it the next part: with both
    ends writing to full pipes, both processes would wait for ever."""
    made: ProcessMap[str, str] = ProcessMap(echo)
    try:
        parts = [[f"{i}".ljust(1 << 20, "x")] for i in range(4)]  # 1 MiB each way, per part
        pending = [made.submit(part) for part in parts]
        assert [collect() for collect in reversed(pending)] == parts[::-1]
        assert made.pid is not None  # all done in the child
    finally:
        made.close()


def test_a_killed_child_costs_speed_not_jobs(
    pmap: ProcessMap[int, tuple[int, int]], caplog: pytest.LogCaptureFixture
) -> None:
    child = pmap.pid
    assert child is not None
    os.kill(child, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="prepbot.offload"):
        lost = pmap.submit([7])  # sent to a dead child, or refused by its closed pipe
        assert lost() == [(7, os.getpid())]
        assert pmap.submit([8])() == [(8, os.getpid())]
    assert "render process gone" in caplog.text
    assert pmap.pid is None


def test_close_stops_the_child(pmap: ProcessMap[int, tuple[int, int]]) -> None:
    child = pmap.pid
    assert child is not None
    pmap.close()
    with pytest.raises(ChildProcessError):  # reaped: no zombie left either
        os.waitpid(child, os.WNOHANG)
    pmap.close()  # twice is fine


def test_the_child_ends_when_its_parent_dies() -> None:
    code = (
        "import os, sys; from prepbot.offload import ProcessMap\n"
        "m = ProcessMap(abs); print(m.pid, flush=True); os._exit(0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    child = int(run.stdout.split()[0])
    deadline = time.monotonic() + 30
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the render process outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie has ended (its reaper is init)
    except FileNotFoundError:
        return False


def test_inline_map_does_the_jobs_at_once_in_this_process() -> None:
    done: list[int] = []

    def double(job: int) -> int:
        done.append(job)
        return job * 2

    inline: InlineMap[int, int] = InlineMap(double)
    results = inline.submit([1, 2])
    assert done == [1, 2]
    assert results() == [2, 4]
    inline.close()


def test_a_child_never_closed_does_not_hold_up_the_parents_exit() -> None:
    code = "from prepbot.offload import ProcessMap\nm = ProcessMap(abs)\nprint(m.submit([-3])())\n"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert run.stdout.strip() == "[3]"  # and it exited: multiprocessing's exit handler ended the child
