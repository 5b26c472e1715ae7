"""The seam for message kinds other than the confirmation: what the service's cycle tells a flow."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from prepbot.domain import ActionRow, Meeting, MessageKind
from prepbot.report import Report
from prepbot.writes import Writes

# A batch's flows hear of its progress every this many rows (Flow.batch_progress): the prep notes of
# a 200-row batch's first rows render while its last ones are sent, so little is left at its end.
PROGRESS_EVERY = 40


class Flow(Protocol):
    """Another message kind's planning and sending, plugged into the service's cycle.

    The service reads the org once and hands each flow what it read; a flow plans its own
    ledger rows (its ``kinds``) and handles them when the dispatcher claims them.
    """

    kinds: frozenset[MessageKind]

    def on_meetings(self, meetings: Sequence[Meeting], now: datetime, report: Report) -> None:
        """Meetings read by this sync (one chunk at a time): plan or refresh what they need."""
        ...

    def after_sync(self, now: datetime, report: Report) -> None:
        """Once per sync, after every chunk (e.g. read recently missed meetings)."""
        ...

    def dispatch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Handle claimed rows of this flow's kinds; ``fresh`` holds their meetings as re-read just now."""
        ...

    def batch_progress(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> None:
        """Part of a claimed batch was handled: ``rows``, settled. A flow may start its work on them
        now, while the rest is sent (e.g. render their prep notes); ``after_batch`` still follows
        with the whole batch. Called while the relay handles a message, at most every
        :data:`PROGRESS_EVERY` rows, and maybe not at all."""
        ...

    def after_batch(
        self, rows: list[ActionRow], fresh: dict[str, Meeting], now: datetime, report: Report
    ) -> Writes | None:
        """After a claimed batch was handled, with the meetings it was sent for (e.g. the prep notes
        of the confirmations just sent, once, with no second read). Returns the batch's writes to
        the org, which the service makes in the background while it sends the next batch, or None."""
        ...

    def after_dispatch(self, now: datetime, report: Report) -> None:
        """Once per dispatch, after every batch (e.g. refresh notes whose confirmation changed)."""
        ...
