"""BackgroundWrites: a batch's writes run beside the next batch, one batch at a time (issue 7)."""

from __future__ import annotations

import threading

import pytest

from prepbot.failpoints import FailpointCrash
from prepbot.report import Report
from prepbot.writes import BackgroundWrites, Writes


def test_writes_run_in_order_in_another_thread_and_their_report_is_merged_on_join() -> None:
    writes, seen = BackgroundWrites(), []

    def note(name: str) -> Writes:
        def write(report: Report) -> None:
            seen.append((name, threading.current_thread() is threading.main_thread()))
            report.bump(name)

        return write

    cycle = Report()
    writes.submit([note("tasks"), note("notes")], cycle)
    writes.join(cycle)
    assert seen == [("tasks", False), ("notes", False)]
    assert cycle.counts == {"tasks": 1, "notes": 1}


def test_the_next_batch_starts_only_once_the_previous_one_is_written() -> None:
    writes, order = BackgroundWrites(), []
    release = threading.Event()

    def first(report: Report) -> None:
        release.wait(10)
        order.append("first done")

    cycle = Report()
    writes.submit([first], cycle)
    order.append("first submitted")
    release.set()
    writes.submit([lambda report: order.append("second")], cycle)
    writes.join(cycle)
    assert order == ["first submitted", "first done", "second"]


@pytest.mark.parametrize("error", [RuntimeError("ledger down"), FailpointCrash("after_task_create")])
def test_what_the_writes_raised_is_raised_in_the_dispatcher_thread(error: BaseException) -> None:
    writes = BackgroundWrites()

    def broken(report: Report) -> None:
        report.errors.append("written before the failure")
        raise error

    cycle = Report()
    writes.submit([broken], cycle)
    with pytest.raises(type(error)):
        writes.join(cycle)
    assert cycle.errors == ["written before the failure"]
    writes.join(cycle)  # raised once, then nothing is in flight


def test_an_error_of_the_previous_batch_stops_the_next_submit() -> None:
    writes, ran = BackgroundWrites(), []

    def broken(report: Report) -> None:
        raise RuntimeError("ledger down")

    writes.submit([broken], Report())
    with pytest.raises(RuntimeError):
        writes.submit([lambda report: ran.append("next")], Report())
    assert ran == []


def test_inline_writes_run_at_submit_in_the_calling_thread() -> None:
    writes, seen = BackgroundWrites(background=False), []
    cycle = Report()
    writes.submit([lambda report: seen.append(threading.current_thread() is threading.main_thread())], cycle)
    assert seen == [True]
