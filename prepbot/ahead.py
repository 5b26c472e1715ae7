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
    then: Callable[[], OutgoingMessage | None]  # that message, once rendered (see the port's ``then``)


class RenderAhead:
    """Holds the confirmations rendered early (at most :attr:`HOLD`) until the sends of their rows
    take them.

    The relay spends about as long on a message's commands and end of DATA as prepbot spends
    rendering a message and building its bytes, so the dispatcher does that during row n's waits
    (:class:`WaitWork`) instead of after them: row n+1 (whose commands go out with row n's data)
    and row n+2. A message is rendered from the meeting as read, its row's key, its zone and the
    cycle's clock: nothing changes between that render and its send, so the send gets what it
    would have rendered. A render that fails is kept as its error, and raised to that send.
    """

    HOLD = 2

    def __init__(self) -> None:
        self._ready: dict[int, Composed | PrepbotError] = {}

    def prepare(self, row_id: int, render: Callable[[], Composed]) -> None:
        """Render now for the row ``row_id``, unless a render for it is held already."""
        if row_id in self._ready:
            return
        try:
            value: Composed | PrepbotError = render()
        except PrepbotError as exc:
            value = exc
        while len(self._ready) >= self.HOLD:  # the oldest goes first
            del self._ready[next(iter(self._ready))]
        self._ready[row_id] = value

    def build(self, row_id: int, prepare: Callable[[OutgoingMessage], None]) -> None:
        """Hand the message held for ``row_id``, if any, to ``prepare`` (the transport builds its bytes)."""
        message = self.message(row_id)
        if message is not None:
            prepare(message)

    def message(self, row_id: int) -> OutgoingMessage | None:
        """The message rendered for ``row_id``, if one is held (it stays held for the send's take)."""
        held = self._ready.get(row_id)
        return held.message if isinstance(held, Composed) else None

    def take(self, row_id: int) -> Composed | None:
        """The message rendered for ``row_id``, or None (then render it now); it is no longer held.

        Raises:
            PrepbotError: the early render of this row failed (template, address).
        """
        held = self._ready.pop(row_id, None)
        if isinstance(held, PrepbotError):
            raise held
        return held

    def clear(self) -> None:
        """Drop what is held (a batch ended before its rows were sent)."""
        self._ready.clear()
