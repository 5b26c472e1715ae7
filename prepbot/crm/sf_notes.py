"""Finding prep notes again in the org: ContentNotes linked to records, by title (reliability C6)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prepbot.crm.salesforce import SalesforceCrm
from prepbot.errors import CrmQueryError

IN_BATCH = 200  # record Ids per IN (...) list: keeps the GET URL short
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def find_notes(crm: SalesforceCrm, linked_entity_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """The notes linked to these records: record Id -> [(ContentNote Id, Title)].

    ContentDocumentLink must be filtered on ``LinkedEntityId`` (brief §1.10), which is what this
    does; one query per 200 records. Used only after a create whose outcome is unknown.

    Raises:
        CrmAuthError, CrmQueryError, CrmUnavailableError.
    """
    wanted = list(dict.fromkeys(linked_entity_ids))
    found: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(wanted), IN_BATCH):
        ids = ", ".join(f"'{_checked(i)}'" for i in wanted[start : start + IN_BATCH])
        query = (
            "SELECT ContentDocumentId, LinkedEntityId, ContentDocument.Title FROM ContentDocumentLink "
            f"WHERE LinkedEntityId IN ({ids})"
        )
        result = _query_all(crm, query)
        for row in result.get("records", []):
            title = (row.get("ContentDocument") or {}).get("Title") or ""
            linked = _short(str(row.get("LinkedEntityId") or ""), wanted)
            found.setdefault(linked, []).append((str(row.get("ContentDocumentId")), str(title)))
    return found


def _short(record_id: str, asked: Sequence[str]) -> str:
    """The Id as the caller spelled it (Salesforce may answer with the 18-character form)."""
    for candidate in asked:
        if record_id[:15] == candidate[:15]:
            return candidate
    return record_id


def _query_all(crm: SalesforceCrm, query: str) -> Any:
    return crm.call("query", lambda sf: sf.query_all(query))


def _checked(record_id: str) -> str:
    """A Salesforce Id, quoted as is: only 15/18 alphanumerics reach the query (no escaping needed)."""
    if not _RECORD_ID.match(record_id):
        raise CrmQueryError(f"not a Salesforce record Id: {record_id[:40]!r}")
    return record_id
