"""The ledger's state machine (architecture.md §6) as data: which settle moves are allowed."""

from __future__ import annotations

from prepbot.domain import Status

S = Status

# Moves a caller may make with settle(). CLAIMED is only entered through claim_due() (it bumps the
# fencing attempt) and IN_DOUBT from SENDING; terminal states have no way out: an in_doubt row is
# never turned into "sent" after the fact (RFC 1047: prepbot cannot know).
ALLOWED: dict[Status, frozenset[Status]] = {
    # PLANNED -> PLANNED reschedules (a new due_at, e.g. the recipient's zone changed).
    S.PLANNED: frozenset({S.PLANNED, S.SKIPPED, S.FAILED, S.SUPERSEDED, S.CANCELLED}),
    # CLAIMED -> PLANNED: retry later with nothing sent (e.g. the CRM re-read failed).
    S.CLAIMED: frozenset({S.SENDING, S.PLANNED, S.SKIPPED, S.FAILED, S.SUPERSEDED, S.CANCELLED}),
    # SENDING -> PLANNED only for a retryable failure where the relay got nothing (SMTP 4xx, connect).
    S.SENDING: frozenset({S.SENT, S.PLANNED, S.FAILED, S.IN_DOUBT}),
    S.SENT: frozenset({S.LOGGED}),
    # IN_DOUBT -> IN_DOUBT records the owner's Task (the alert) on a row recovery made in doubt.
    S.IN_DOUBT: frozenset({S.IN_DOUBT}),
}

# States a worker's claim can be taken into by someone else (recover, the planner): a worker that
# finds its row there has lost it, which is a stale claim rather than a programming error.
TAKEN_AWAY = frozenset({S.PLANNED, S.IN_DOUBT, S.SUPERSEDED, S.CANCELLED})

# States in which a worker holds a lease.
LEASED = frozenset({S.CLAIMED, S.SENDING})

# Rows the planner may still withdraw (supersede, cancel): nothing has gone out for them.
WITHDRAWABLE = frozenset({S.PLANNED, S.CLAIMED})

# What plan() may insert: a row to send later, or a decision already taken with its reason.
PLANNABLE = frozenset({S.PLANNED, S.SKIPPED, S.FAILED})

OPEN = frozenset(status for status in Status if not status.is_terminal)


def is_allowed(source: Status, target: Status) -> bool:
    """Whether settle() may move a row from ``source`` to ``target``."""
    return target in ALLOWED.get(source, frozenset())


def sources_of(target: Status) -> frozenset[Status]:
    """Every state from which settle() may reach ``target``."""
    return frozenset(source for source, targets in ALLOWED.items() if target in targets)
