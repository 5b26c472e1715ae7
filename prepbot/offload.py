"""Pure CPU work (rendering prep notes) in a second process, so a tick can use a second core.

One Python process runs its own code on one core at a time. A tick's prep notes are rendered
from data the dispatcher already holds and change nothing but their own output, so they can be
rendered in a forked child while the dispatcher sends the next batch (issue 7).

:class:`ProcessMap` forks its child when it is made (before any thread starts), sends it batches
of jobs through a pipe and hands back a function that waits for the batch's results. If the
child is gone (killed, out of memory), the jobs are done in this process instead: slower, never
lost. :class:`InlineMap` does the same work at once in the caller's thread.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
J_contra = TypeVar("J_contra", contravariant=True)
STOP_SECONDS = 5.0  # how long close() waits for the child before it kills it


def can_fork() -> bool:
    """Whether this platform can fork a child (Linux and the BSDs; not Windows)."""
    return "fork" in multiprocessing.get_all_start_methods()


class OffloadError(RuntimeError):
    """The job function raised in the child: a bug, reported with the child's traceback."""


class JobMap(Protocol[J_contra, R]):
    """Runs ``fn`` over a batch of jobs; the returned function gives the results, in order."""

    def submit(self, jobs: Sequence[J_contra]) -> Callable[[], list[R]]: ...

    def close(self) -> None: ...


class InlineMap(Generic[J, R]):
    """The jobs done at once, in the caller's thread (one core; no process to start)."""

    def __init__(self, fn: Callable[[J], R]) -> None:
        self._fn = fn

    def submit(self, jobs: Sequence[J]) -> Callable[[], list[R]]:
        results = [self._fn(job) for job in jobs]
        return lambda: results

    def close(self) -> None:
        """Nothing to stop."""


class ProcessMap(Generic[J, R]):
    """``fn`` over batches of jobs in one forked child process; results fetched when needed.

    Jobs and results cross the pipe pickled; ``fn`` itself is not (the child is a fork of this
    process, made at construction, so it has ``fn`` and everything ``fn`` holds). A thread of
    this process reads every result as soon as the child sends it, so the child never waits on
    a full pipe for a collector: any number of batches may be submitted before any is collected
    (with both ends writing to full pipes, both processes would wait for ever). Results are
    matched to their batch by number, so any thread may collect any batch, in any order.
    """

    def __init__(self, fn: Callable[[J], R], *, nice: int = 0) -> None:
        """Fork the child now. ``nice``: how much the child lowers its CPU priority (Unix nice)."""
        self._fn = fn
        self._next = 0
        self._ready: dict[int, tuple[str, Any]] = {}
        self._arrived = threading.Condition()
        self._sending = threading.Lock()
        self._broken = self._closing = False
        fork = multiprocessing.get_context("fork")
        ours, theirs = fork.Pipe()
        self._conn: Connection = ours
        self._child = fork.Process(
            target=_serve, args=(theirs, ours, fn, nice), name="prepbot-render", daemon=True
        )
        self._child.start()
        theirs.close()  # the child's end: when the child dies, our reads see EOF
        # started after the fork: a forked child has only the thread that forked it
        self._reader = threading.Thread(target=self._read, name="prepbot-render-results", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        """The child's process id (None once it is known to be gone)."""
        return None if self._broken else self._child.pid

    def submit(self, jobs: Sequence[J]) -> Callable[[], list[R]]:
        batch, jobs = self._next, list(jobs)
        self._next += 1
        if not self._broken:
            try:
                with self._sending:
                    self._conn.send((batch, jobs))
                return lambda: self._collect(batch, jobs)
            except (OSError, ValueError) as exc:  # BrokenPipeError, or a closed connection
                self._give_up(exc)
        return lambda: self._here(jobs)

    def _read(self) -> None:
        """The reader thread: file each result under its batch number until the pipe ends."""
        while True:
            try:
                number, outcome = self._conn.recv()
            except (EOFError, OSError) as exc:  # the child is gone (or closed): nothing more comes
                if not self._closing:
                    self._give_up(exc)
                with self._arrived:
                    self._broken = True
                    self._arrived.notify_all()
                return
            with self._arrived:
                self._ready[number] = outcome
                self._arrived.notify_all()

    def _collect(self, batch: int, jobs: list[J]) -> list[R]:
        with self._arrived:
            self._arrived.wait_for(lambda: batch in self._ready or self._broken)
            found = self._ready.pop(batch, None)
        if found is None:  # the child is gone before answering: do the batch here
            return self._here(jobs)
        kind, value = found
        if kind == "bug":
            raise OffloadError(f"rendering failed in the render process:\n{value}")
        return list(value)

    def _here(self, jobs: list[J]) -> list[R]:
        return [self._fn(job) for job in jobs]

    def _give_up(self, exc: BaseException) -> None:
        if not self._broken:
            log.warning("render process gone (%s): rendering in this process from now on", type(exc).__name__)
        self._broken = True

    def close(self) -> None:
        """Stop the child (it finishes the batch it is on); safe to call more than once."""
        self._closing = True
        if self._child.pid is not None and self._child.is_alive():
            try:
                with self._sending:
                    self._conn.send(None)
            except (OSError, ValueError):
                pass
            self._child.join(STOP_SECONDS)
            if self._child.is_alive():  # pragma: no cover - a child stuck in a job
                self._child.kill()
                self._child.join()
        self._reader.join(STOP_SECONDS)  # the child's end is closed: the reader sees EOF
        self._conn.close()


def _serve(conn: Connection, parents_end: Connection, fn: Callable[[Any], Any], nice: int = 0) -> None:
    """The child: answer each batch with ("ok", results) or ("bug", traceback) until told to stop."""
    parents_end.close()  # else the pipe would never report the parent's death
    # What the fork copied (modules, templates, the app) lives as long as the child: out of the
    # collector's scans, which would otherwise walk it all (46 ms at a 3,000-meeting tick; issue 7).
    gc.freeze()
    if nice > 0:  # the parent's work paces the cycle: the child takes the CPU it leaves (issue 7)
        os.nice(nice)
    # Ctrl-C reaches the whole foreground group: the parent decides what it means. A SIGTERM ends
    # the child (the parent then renders in its own process; multiprocessing's exit handler relies
    # on it to end a child that was never closed).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if message is None:
            return
        batch, jobs = message
        try:
            outcome: tuple[str, Any] = ("ok", [fn(job) for job in jobs])
        except Exception:
            outcome = ("bug", traceback.format_exc())
        conn.send((batch, outcome))
