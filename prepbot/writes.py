"""A batch's writes to the org, made in the background while the dispatcher sends the next batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from prepbot.report import Report

Writes = Callable[[Report], None]
T = TypeVar("T")
R = TypeVar("R")
# Rows per ledger transaction of the background writer (a batch's LOGGED moves, its notes' states):
# about 0.7 ms of the write lock each (issue 7)
BACKGROUND_ROWS_PER_TRANSACTION = 25


class BackgroundWrites:
    """Runs one batch's writes at a time in a thread of their own (issue 7).

    The org answers a collection of 200 Tasks or notes in a fraction of a second (seconds on a
    busy org); prepbot's own work per message is milliseconds. Made inline, every batch waits for
    the org twice. Made here, the org writes batch n while batch n+1 is rendered and sent. The
    writes are the ones made inline, in the same order, one batch after the other, so a crash
    leaves what it left before: SENT rows whose Tasks the restart adopts (reliability C5), notes
    found again by title (C6).

    :meth:`submit` waits for the previous batch's writes first, so at most one batch is in flight,
    and :meth:`join` ends a cycle: what the writes reported is merged into the cycle's report and
    what they raised is raised in the dispatcher's thread. With ``background=False`` they run inline.
    """

    def __init__(self, *, background: bool = True) -> None:
        self.background = background
        self._thread: threading.Thread | None = None
        self._report = Report()
        self._error: BaseException | None = None

    def submit(self, writes: Sequence[Writes], report: Report) -> None:
        """Start ``writes`` (in order), once the batch before has been written.

        Raises:
            BaseException: whatever the previous batch's writes raised (see :meth:`join`).
        """
        self.join(report)
        if not writes:
            return
        if not self.background:
            for write in writes:
                write(report)
            return
        self._report = Report()
        self._thread = threading.Thread(target=self._run, args=(list(writes),), name="prepbot-writes")
        self._thread.start()

    def join(self, report: Report) -> None:
        """Wait for the writes in flight; merge their report into ``report`` and raise their error."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join()
        report.merge(self._report)
        error, self._error = self._error, None
        if error is not None:
            raise error

    def _run(self, writes: list[Writes]) -> None:
        try:
            for write in writes:
                write(self._report)
        except BaseException as exc:  # a ledger failure, a failpoint: raised again by join()
            self._error = exc


def in_turns(items: Sequence[T], write: Callable[[Sequence[T]], Iterable[R] | None]) -> list[R]:
    """``write`` over ``items``, ``BACKGROUND_ROWS_PER_TRANSACTION`` at a time, in order.

    For the background writer's ledger writes: it makes them while the sender sends the next batch,
    and every send's SENDING and SENT moves need the ledger's write lock too. Short transactions,
    with a turn for the sender between them, keep it waiting a fraction of a millisecond, not for a
    whole batch's rows (issue 7).
    """
    out: list[R] = []
    for start in range(0, len(items), BACKGROUND_ROWS_PER_TRANSACTION):
        if start:
            time.sleep(0)  # lets a sender waiting for the write lock take it first
        out.extend(write(items[start : start + BACKGROUND_ROWS_PER_TRANSACTION]) or ())
    return out
