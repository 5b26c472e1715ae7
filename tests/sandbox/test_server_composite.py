"""sObject Collections and Composite over HTTPS with unmodified simple-salesforce."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

V = "/services/data/v62.0"


@pytest.fixture
def sf(sandbox: Any) -> Any:
    """An unmodified simple_salesforce.Salesforce on the sandbox (session-id auth, API v62.0)."""
    return sandbox.client()


def _contact(last_name: str | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"attributes": {"type": "Contact"}}
    if last_name is not None:
        rec["LastName"] = last_name
    return rec


def _count(sf: Any) -> int:
    return int(sf.query("SELECT COUNT() FROM Contact")["totalSize"])


def test_collection_without_all_or_none_saves_the_valid_records(sf: Any) -> None:
    body = {"allOrNone": False, "records": [_contact("Ok 1"), _contact(None), _contact("Ok 2")]}
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert "errorCode" not in results[1]["errors"][0]
    assert _count(sf) == 2


def test_collection_with_all_or_none_rolls_back_every_record(sf: Any) -> None:
    body = {"allOrNone": True, "records": [_contact("Ok 1"), _contact(None), _contact("Ok 2")]}
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert [r["success"] for r in results] == [False, False, False]
    codes = [r["errors"][0]["statusCode"] for r in results]
    assert codes == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "REQUIRED_FIELD_MISSING",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]
    assert _count(sf) == 0


def test_collection_counts_as_one_api_call(sandbox: Any, sf: Any) -> None:
    records = [_contact(f"N{i}") for i in range(200)]
    sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert sandbox.api_calls.used == 1


def test_collection_over_200_records_is_rejected(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful("composite/sobjects", method="POST", json={"records": [_contact("x")] * 201})
    assert exc.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_collection_record_without_type_is_rejected(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite/sobjects", method="POST", json={"records": [{"LastName": "x"}]})


def test_collection_update_delete_and_get(sf: Any) -> None:
    ids = [
        r["id"]
        for r in sf.restful(
            "composite/sobjects", method="POST", json={"records": [_contact("A"), _contact("B")]}
        )
    ]
    updates = [{"attributes": {"type": "Contact"}, "id": i, "Title": "CEO"} for i in ids]
    assert all(
        r["success"] for r in sf.restful("composite/sobjects", method="PATCH", json={"records": updates})
    )
    got = sf.restful(f"composite/sobjects/Contact?ids={','.join(ids)}&fields=Id,Title")
    assert [g["Title"] for g in got] == ["CEO", "CEO"]
    deleted = sf.restful(f"composite/sobjects?ids={ids[0]}&allOrNone=false", method="DELETE")
    assert deleted == [{"id": ids[0], "success": True, "errors": []}]
    assert _count(sf) == 1


def test_composite_resolves_references_between_subrequests(sf: Any) -> None:
    account = sf.Account.create({"Name": "Boerderij De Hoeve"})["id"]
    subrequests = [
        {"method": "GET", "referenceId": "acc", "url": f"{V}/query?q=SELECT+Id,Name+FROM+Account"},
        {
            "method": "POST",
            "referenceId": "c1",
            "url": f"{V}/sobjects/Contact",
            "body": {"LastName": "Visser", "AccountId": "@{acc.records[0].Id}"},
        },
        {"method": "GET", "referenceId": "back", "url": f"{V}/sobjects/Contact/@{{c1.id}}"},
    ]
    res = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": subrequests})
    acc, c1, back = res["compositeResponse"]
    assert acc["httpStatusCode"] == 200 and acc["body"]["records"][0]["Id"] == account
    assert c1["httpStatusCode"] == 201
    assert c1["httpHeaders"]["Location"] == f"{V}/sobjects/Contact/{c1['body']['id']}"
    assert back["body"]["AccountId"] == account


def test_composite_references_into_collection_results(sf: Any) -> None:
    subrequests = [
        {
            "method": "POST",
            "referenceId": "many",
            "url": f"{V}/composite/sobjects",
            "body": {"records": [_contact("A"), _contact("B"), _contact("C"), _contact("D")]},
        },
        {
            "method": "PATCH",
            "referenceId": "upd",
            "url": f"{V}/sobjects/Contact/@{{many[3].id}}",
            "body": {"Title": "Founder"},
        },
    ]
    res = sf.restful("composite", method="POST", json={"compositeRequest": subrequests})["compositeResponse"]
    assert res[1]["httpStatusCode"] == 204 and res[1]["body"] is None
    assert sf.Contact.get(res[0]["body"][3]["id"])["Title"] == "Founder"


def test_composite_all_or_none_failure_rolls_back_and_halts_the_others(sf: Any) -> None:
    subrequests = [
        {
            "method": "POST",
            "referenceId": "ok",
            "url": f"{V}/sobjects/Contact",
            "body": {"LastName": "Kept?"},
        },
        {"method": "POST", "referenceId": "bad", "url": f"{V}/sobjects/Contact", "body": {"FirstName": "x"}},
        {
            "method": "POST",
            "referenceId": "later",
            "url": f"{V}/sobjects/Contact",
            "body": {"LastName": "Later"},
        },
    ]
    res = sf.restful("composite", method="POST", json={"allOrNone": True, "compositeRequest": subrequests})
    ok, bad, later = res["compositeResponse"]
    assert bad["httpStatusCode"] == 400 and bad["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    for halted in (ok, later):
        assert halted["httpStatusCode"] == 400
        assert halted["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert _count(sf) == 0


def test_composite_without_all_or_none_keeps_successes_and_halts_dependents(sf: Any) -> None:
    subrequests = [
        {"method": "POST", "referenceId": "bad", "url": f"{V}/sobjects/Contact", "body": {"FirstName": "x"}},
        {"method": "GET", "referenceId": "dep", "url": f"{V}/sobjects/Contact/@{{bad.id}}"},
        {"method": "POST", "referenceId": "ok", "url": f"{V}/sobjects/Contact", "body": {"LastName": "Kept"}},
    ]
    bad, dep, ok = sf.restful("composite", method="POST", json={"compositeRequest": subrequests})[
        "compositeResponse"
    ]
    assert bad["httpStatusCode"] == 400
    assert dep["httpStatusCode"] == 400 and dep["body"][0]["errorCode"] == "PROCESSING_HALTED"
    assert ok["httpStatusCode"] == 201
    assert _count(sf) == 1


def test_composite_counts_as_one_call_and_limits_subrequests(sandbox: Any, sf: Any) -> None:
    sub = {"method": "GET", "url": f"{V}/limits"}
    sf.restful(
        "composite",
        method="POST",
        json={"compositeRequest": [dict(sub, referenceId=f"r{i}") for i in range(25)]},
    )
    assert sandbox.api_calls.used == 1
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful(
            "composite",
            method="POST",
            json={"compositeRequest": [dict(sub, referenceId=f"r{i}") for i in range(26)]},
        )
    queries = [
        {"method": "GET", "url": f"{V}/query?q=SELECT+Id+FROM+User", "referenceId": f"q{i}"} for i in range(6)
    ]
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json={"compositeRequest": queries})
