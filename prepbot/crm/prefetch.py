"""One call made in a thread of its own while the caller works, for its result later (issue 7)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Prefetch(Generic[T]):
    """``fn()`` started now in a daemon thread; :meth:`result` waits for it and returns its value,
    or raises what it raised, in the caller's thread. A result never asked for is dropped."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self._fn = fn
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="prepbot-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> T:
        """The call's value, once it is done; raises its exception instead, if it raised. Asked
        once: the value is handed over, not kept (a page of records is freed with its caller's copy)."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        value, self._value = self._value, None
        return value  # type: ignore[return-value]  # set by _run when no error was
