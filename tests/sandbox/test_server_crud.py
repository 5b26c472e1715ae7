"""sObject CRUD, query pagination, limits and API usage over HTTPS with unmodified simple-salesforce."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.sandbox.server_helpers import api

V = "/services/data/v62.0"


@pytest.fixture
def sf(sandbox: Any) -> Any:
    """An unmodified simple_salesforce.Salesforce on the sandbox (session-id auth, API v62.0)."""
    return sandbox.client()


def test_create_answers_201_with_id_success_and_location(sandbox: Any) -> None:
    resp = api(sandbox, "POST", f"{V}/sobjects/Contact/", json={"LastName": "Visser"})
    assert resp.status_code == 201
    body = resp.json()
    assert body["success"] is True and body["errors"] == []
    assert body["id"].startswith("003") and len(body["id"]) == 18
    assert resp.headers["Location"] == f"{V}/sobjects/Contact/{body['id']}"


def test_update_and_delete_answer_204_with_empty_body(sandbox: Any) -> None:
    new_id = api(sandbox, "POST", f"{V}/sobjects/Contact", json={"LastName": "Bakker"}).json()["id"]
    patched = api(sandbox, "PATCH", f"{V}/sobjects/Contact/{new_id}", json={"FirstName": "Jan"})
    assert (patched.status_code, patched.content) == (204, b"")
    deleted = api(sandbox, "DELETE", f"{V}/sobjects/Contact/{new_id}")
    assert (deleted.status_code, deleted.content) == (204, b"")


def test_crud_round_trip_with_simple_salesforce(sf: Any) -> None:
    contacts = sf.Contact
    new_id = contacts.create({"LastName": "de Vries", "Email": "jan@example.nl"})["id"]
    assert contacts.update(new_id, {"FirstName": "Jan"}) == 204
    got = contacts.get(new_id)
    assert got["attributes"]["type"] == "Contact"
    assert (got["FirstName"], got["LastName"], got["Email"]) == ("Jan", "de Vries", "jan@example.nl")
    assert contacts.delete(new_id) == 204
    with pytest.raises(SalesforceResourceNotFound) as exc:
        contacts.get(new_id)
    assert exc.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"


def test_retrieve_with_fields_returns_only_those(sandbox: Any, sf: Any) -> None:
    new_id = sf.Contact.create({"LastName": "Jansen", "Title": "Boer"})["id"]
    got = api(sandbox, "GET", f"{V}/sobjects/Contact/{new_id}?fields=Title").json()
    assert got["Title"] == "Boer"
    assert "LastName" not in got


def test_missing_required_field_is_400_with_errorcode_array(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"FirstName": "No last name"})
    assert exc.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"


def test_unknown_object_is_404(sf: Any) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful("sobjects/Widget__c/describe")


def test_unknown_token_is_401_invalid_session_id(sandbox: Any) -> None:
    resp = api(sandbox, "GET", f"{V}/limits", token="00Dxx!nope")
    assert resp.status_code == 401
    assert resp.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]
    with pytest.raises(SalesforceExpiredSession):
        sandbox.client(session_id="00Dxx!nope").query("SELECT Id FROM User")


def test_any_api_version_is_accepted(sandbox: Any) -> None:
    for version in ("59.0", "62.0", "66.0"):
        assert sandbox.client(version=version).query("SELECT Id FROM User")["totalSize"] == 1


def test_version_list_has_no_limit_header_but_api_calls_do(sandbox: Any) -> None:
    root = api(sandbox, "GET", "/services/data/")
    assert root.status_code == 200 and "Sforce-Limit-Info" not in root.headers
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in root.json()
    limits = api(sandbox, "GET", f"{V}/limits/")
    assert limits.headers["Sforce-Limit-Info"] == f"api-usage=1/{sandbox.api_calls.daily_max}"


def test_api_usage_is_parsed_by_simple_salesforce_and_limits_agree(sf: Any, sandbox: Any) -> None:
    sf.query("SELECT Id FROM User")
    sf.query("SELECT Id FROM User")
    assert sf.api_usage["api-usage"].used == 2
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 3}
    assert {"Max", "Remaining"} <= set(limits["SingleEmail"])
    assert sandbox.api_calls.used == 3


def test_exhausted_daily_budget_refuses_with_request_limit_exceeded(
    sandbox_factory: Any, sandbox_seed: Any
) -> None:
    small = sandbox_factory(seed_data=sandbox_seed, daily_api_limit=2)
    sf = small.client()
    sf.query("SELECT Id FROM User")
    sf.query("SELECT Id FROM User")
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query("SELECT Id FROM User")
    assert exc.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED", "fields": []}
    ]
    assert small.api_calls.used == 2


def _bulk_contacts(sf: Any, n: int) -> None:
    for start in range(0, n, 200):
        records = [
            {"attributes": {"type": "Contact"}, "LastName": f"Bulk {i:04d}"}
            for i in range(start, min(n, start + 200))
        ]
        results = sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": True, "records": records}
        )
        assert all(r["success"] for r in results)


def test_query_pages_follow_batch_size_and_next_records_url(sf: Any) -> None:
    _bulk_contacts(sf, 450)
    first = sf.query("SELECT Id, LastName FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], len(first["records"]), first["done"]) == (450, 200, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v62.0/query/0r8")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert (len(second["records"]), len(third["records"]), third["done"]) == (200, 50, True)
    assert "nextRecordsUrl" not in third
    ids = {r["Id"] for page in (first, second, third) for r in page["records"]}
    assert len(ids) == 450


def test_batch_size_is_clamped_to_at_least_200(sf: Any) -> None:
    _bulk_contacts(sf, 250)
    page = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=10"})
    assert len(page["records"]) == 200


def test_query_all_iter_reads_every_page(sf: Any) -> None:
    _bulk_contacts(sf, 450)
    calls_before = sf.api_usage.get("api-usage")
    names = [r["LastName"] for r in sf.query_all_iter("SELECT LastName FROM Contact")]
    assert len(names) == 450 and calls_before is not None


def test_unknown_query_locator_is_invalid_query_locator(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query_more("/services/data/v62.0/query/0r8000000000000AAA-200", identifier_is_url=True)
    assert exc.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_query_all_also_returns_deleted_rows(sf: Any) -> None:
    keep = sf.Contact.create({"LastName": "Keep"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    live = {r["Id"] for r in sf.query("SELECT Id FROM Contact")["records"]}
    every = {
        r["Id"]: r["IsDeleted"]
        for r in sf.query_all("SELECT Id, IsDeleted FROM Contact", include_deleted=True)["records"]
    }
    assert live == {keep}
    assert every == {keep: False, gone: True}


def test_describe_names_the_object_and_its_fields(sf: Any) -> None:
    describe = sf.Contact.describe()
    assert describe["name"] == "Contact"
    assert "LastName" in {f["name"] for f in describe["fields"]}


def test_updated_and_deleted_report_changes_in_the_window(sandbox: Any, sf: Any) -> None:
    t0 = datetime(2026, 12, 1, 9, 0, 30, tzinfo=UTC)
    sandbox.set_now(t0)
    changed = sf.Contact.create({"LastName": "Changed"})["id"]
    removed = sf.Contact.create({"LastName": "Removed"})["id"]
    sf.Contact.delete(removed)
    sandbox.set_now(t0 + timedelta(minutes=10))
    start, end = t0 - timedelta(minutes=5), t0 + timedelta(minutes=5)
    updated = sf.Contact.updated(start, end)
    assert changed in updated["ids"]
    assert "latestDateCovered" in updated
    deleted = sf.Contact.deleted(start, end)
    assert removed in [d["id"] for d in deleted["deletedRecords"]]


def test_updated_rejects_start_after_end_and_windows_older_than_30_days(sf: Any) -> None:
    now = datetime.now(UTC)
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.updated(now, now - timedelta(hours=1))
    with pytest.raises(SalesforceMalformedRequest):
        sf.Contact.updated(now - timedelta(days=31), now)


def test_content_note_body_is_served_as_a_blob(sf: Any) -> None:
    html = b"<p>Prep notes &amp; agenda</p>"
    note_id = sf.ContentNote.create({"Title": "Prep", "Content": base64.b64encode(html).decode()})["id"]
    got = sf.ContentNote.get(note_id)
    assert got["Content"] == f"{V}/sobjects/ContentNote/{note_id}/Content"
    assert sf.ContentNote.get_base64(note_id, base64_field="Content") == html


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", f"{V}/nothing/here", 404, "NOT_FOUND"),
        ("PUT", f"{V}/query", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/services/data/vABC/limits", 404, "NOT_FOUND"),
    ],
)
def test_unknown_routes_and_methods_answer_salesforce_errors(
    sandbox: Any, method: str, path: str, status: int, code: str
) -> None:
    resp = api(sandbox, method, path)
    assert resp.status_code == status
    assert resp.json()[0]["errorCode"] == code


def test_malformed_json_body_is_json_parser_error_with_limit_header(sandbox: Any) -> None:
    resp = api(
        sandbox,
        "POST",
        f"{V}/sobjects/Contact",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    assert resp.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_malformed_soql_is_rejected_not_ignored(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.query("SELECT Id FROM Contact WHERE")
    assert exc.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_a_restarted_in_thread_sandbox_keeps_its_data(
    sandbox_factory: Any, sandbox_seed: Any, tmp_path: Any
) -> None:
    first = sandbox_factory(seed_data=sandbox_seed, state_dir=tmp_path)
    new_id = first.client().Contact.create({"LastName": "Blijft"})["id"]
    token = first.access_token
    first.stop()
    second = sandbox_factory(seed_data=sandbox_seed, state_dir=tmp_path)
    assert second.access_token == token
    assert second.client().Contact.get(new_id)["LastName"] == "Blijft"
    assert second.client().query("SELECT COUNT() FROM User")["totalSize"] == 1
