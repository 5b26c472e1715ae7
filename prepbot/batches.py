"""Successive slices of a stream, for the cycle's reads and writes in batches."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")
Work = Callable[[threading.Event], None]  # told to stop by the event; must not raise


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Successive lists of at most ``size`` items (streams: never holds more than one chunk)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def first_while(items: Iterable[T], work: Work | None) -> Iterator[T]:
    """``items``, with ``work`` run in a thread of its own while the first one is awaited (a read
    from the org, during which this thread only waits). Once it is there, or the read failed,
    ``work`` is told to stop and is waited for: none of it runs alongside what the caller then
    does with the items."""
    iterator = iter(items)
    if work is None:
        yield from iterator
        return
    stop = threading.Event()
    thread = threading.Thread(target=work, args=(stop,), name="prepbot-warm-up", daemon=True)
    thread.start()
    try:
        first = list(islice(iterator, 1))
    finally:
        stop.set()
        thread.join()
    yield from first
    yield from iterator


def read_while(read: Callable[[], T], work: Work | None) -> T:
    """``read()``, with ``work`` run alongside it and ended, as :func:`first_while` does."""

    def once() -> Iterator[T]:
        yield read()

    return next(first_while(once(), work))
