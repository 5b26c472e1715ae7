"""Successive slices of a stream, for the cycle's reads and writes in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Successive lists of at most ``size`` items (streams: never holds more than one chunk)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
