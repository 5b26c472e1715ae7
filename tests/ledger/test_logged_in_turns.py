"""A batch's LOGGED moves go in short transactions, so the sender's SENDING and SENT moves never
wait for the whole batch's (issue 7); every row still ends LOGGED and counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prepbot.delivery import DEFAULT_CADENCE, Settler
from prepbot.domain import Settlement, Status
from prepbot.ledger.sql import SqlLedger
from prepbot.report import Report
from prepbot.writes import BACKGROUND_ROWS_PER_TRANSACTION, in_turns
from tests.ledger.conftest import LEASE, NOW, key, planned


def test_a_batch_is_logged_in_transactions_of_a_few_rows(ledger: SqlLedger) -> None:
    n = 2 * BACKGROUND_ROWS_PER_TRANSACTION + 3
    ledger.plan([planned(key(f"00U{i:012d}")) for i in range(n)], NOW)
    rows = ledger.claim_due(NOW, limit=n, lease=LEASE, worker="w1")
    for row in rows:
        ledger.settle(row.id, Status.SENDING, NOW, attempt=row.attempt, message_id=f"m{row.id}@x")
        ledger.settle(row.id, Status.SENT, NOW, attempt=row.attempt)
    sizes: list[int] = []
    settle_many = ledger.settle_many

    def recorded(moves: Sequence[Settlement], *args: Any) -> list[Exception | None]:
        sizes.append(len(moves))
        return settle_many(moves, *args)

    ledger.settle_many = recorded  # type: ignore[method-assign]
    report = Report()
    Settler(ledger, DEFAULT_CADENCE).logged_many([(row, "", f"00T{row.id}") for row in rows], NOW, report)
    assert sizes == [BACKGROUND_ROWS_PER_TRANSACTION, BACKGROUND_ROWS_PER_TRANSACTION, 3]
    assert {row.status for row in ledger.rows()} == {Status.LOGGED}
    assert {row.crm_id for row in ledger.rows()} == {f"00T{row.id}" for row in rows}
    assert report.logged == n


def test_in_turns_writes_every_item_in_order_a_few_at_a_time() -> None:
    """The background writer's other batch writes (the notes' states: the writer returns nothing)."""
    parts: list[list[int]] = []
    items = list(range(2 * BACKGROUND_ROWS_PER_TRANSACTION + 1))
    assert in_turns(items, lambda part: parts.append(list(part))) == []
    assert [len(part) for part in parts] == [
        BACKGROUND_ROWS_PER_TRANSACTION,
        BACKGROUND_ROWS_PER_TRANSACTION,
        1,
    ]
    assert [item for part in parts for item in part] == items
    assert in_turns(items, lambda part: [x * 2 for x in part]) == [x * 2 for x in items]
