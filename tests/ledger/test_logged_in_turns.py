"""A batch's LOGGED moves go in short transactions, so the sender's SENDING and SENT moves never
wait for the whole batch's (issue 7); every row still ends LOGGED and counted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prepbot.delivery import DEFAULT_CADENCE, LOGGED_PER_TRANSACTION, Settler
from prepbot.domain import Settlement, Status
from prepbot.ledger.sql import SqlLedger
from prepbot.report import Report
from tests.ledger.conftest import LEASE, NOW, key, planned


def test_a_batch_is_logged_in_transactions_of_a_few_rows(ledger: SqlLedger) -> None:
    n = 2 * LOGGED_PER_TRANSACTION + 3
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
    assert sizes == [LOGGED_PER_TRANSACTION, LOGGED_PER_TRANSACTION, 3]
    assert {row.status for row in ledger.rows()} == {Status.LOGGED}
    assert {row.crm_id for row in ledger.rows()} == {f"00T{row.id}" for row in rows}
    assert report.logged == n
