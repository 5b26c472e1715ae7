"""Finding Tasks prepbot wrote again in the org (reliability C5: a crash after the create)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from prepbot.domain import TaskRecord
from prepbot.errors import CrmQueryError

IN_BATCH = 200  # WhoIds per IN (...) list: keeps the GET URL short
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
Query = Callable[[str], Any]  # SOQL -> the query_all answer


def find_tasks(query: Query, tasks: Sequence[TaskRecord]) -> dict[str, str]:
    """The Tasks already in the org that look like ``tasks``: ``ref`` -> Task Id.

    A Task matches on WhoId, OwnerId, Subject, ActivityDate and TaskSubtype (one query per 200
    WhoIds; the rest is compared here, so no Subject is ever spliced into SOQL). Each org Task is
    adopted by one ``ref`` at most; tasks without a WhoId are never found.

    Raises:
        CrmAuthError, CrmQueryError, CrmUnavailableError.
    """
    who_ids = list(dict.fromkeys(t.who_id for t in tasks if t.who_id))
    pool: dict[tuple[str, ...], list[str]] = {}
    for start in range(0, len(who_ids), IN_BATCH):
        ids = ", ".join(f"'{_checked(i)}'" for i in who_ids[start : start + IN_BATCH])
        answer = query(
            f"SELECT Id, WhoId, OwnerId, Subject, ActivityDate, TaskSubtype FROM Task WHERE WhoId IN ({ids})"
        )
        for row in answer.get("records", []):
            match = _match(
                row.get("WhoId"),
                row.get("OwnerId"),
                row.get("Subject"),
                row.get("ActivityDate"),
                row.get("TaskSubtype"),
            )
            pool.setdefault(match, []).append(str(row["Id"]))
    found: dict[str, str] = {}
    for task in tasks:
        matches = pool.get(
            _match(task.who_id, task.owner_id, task.subject, task.activity_date.isoformat(), task.subtype)
        )
        if matches:
            found[task.ref] = matches.pop(0)
    return found


def _match(who: Any, owner: Any, subject: Any, day: Any, subtype: Any) -> tuple[str, ...]:
    # 15-character prefixes: Salesforce may answer with the 18-character form of an Id
    return (
        str(who or "")[:15],
        str(owner or "")[:15],
        str(subject or ""),
        str(day or ""),
        str(subtype or ""),
    )


def _checked(record_id: str) -> str:
    """A Salesforce Id, quoted as is: only 15/18 alphanumerics reach the query (no escaping needed)."""
    if not _RECORD_ID.match(record_id):
        raise CrmQueryError(f"not a Salesforce record Id: {record_id[:40]!r}")
    return record_id
