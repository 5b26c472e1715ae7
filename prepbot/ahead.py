"""A confirmation rendered one message ahead, while the relay handles the message before it (issue 7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prepbot.composer import Composed
from prepbot.domain import OutgoingMessage
from prepbot.errors import PrepbotError


@dataclass(frozen=True, slots=True)
class WaitWork:
    """Work for one send's waits on the relay: while it handles the commands (render the next
    message) and while it handles the data (build that message's bytes); see the Transport port."""

    commands: Callable[[], None]
    data: Callable[[], None]


class RenderAhead:
    """Holds at most one early-rendered confirmation until the send of its row takes it.

    The relay spends about as long on a message's commands and end of DATA as prepbot spends
    rendering the next one and building its bytes, so the dispatcher does that during row n's waits
    (:class:`WaitWork`) instead of after them. A message
    is rendered from the meeting as read, its row's key, its zone and the cycle's clock: nothing
    changes between that render and its send, so the send gets what it would have rendered. A
    render that fails is kept as its error, and raised to that send.
    """

    def __init__(self) -> None:
        self._ready: tuple[int, Composed | PrepbotError] | None = None

    def prepare(self, row_id: int, render: Callable[[], Composed]) -> None:
        """Render now for the row ``row_id`` (replacing anything held for another row; a render
        held for this row already is kept)."""
        if self._ready is not None and self._ready[0] == row_id:
            return
        try:
            value: Composed | PrepbotError = render()
        except PrepbotError as exc:
            value = exc
        self._ready = (row_id, value)

    def build(self, prepare: Callable[[OutgoingMessage], None]) -> None:
        """Hand the message held, if any, to ``prepare`` (the transport builds its bytes)."""
        if self._ready is not None and isinstance(message := self._ready[1], Composed):
            prepare(message.message)

    def take(self, row_id: int) -> Composed | None:
        """The message rendered for ``row_id``, or None (then render it now); held is dropped.

        Raises:
            PrepbotError: the early render of this row failed (template, address).
        """
        ready, self._ready = self._ready, None
        if ready is None or ready[0] != row_id:
            return None
        if isinstance(ready[1], PrepbotError):
            raise ready[1]
        return ready[1]

    def clear(self) -> None:
        """Drop what is held (a batch ended before its row was sent)."""
        self._ready = None
