"""Injected faults (in-process API and HTTPS control endpoints) as simple-salesforce sees them."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from prepbot.sandbox.runner import SandboxHandle
from tests.sandbox.server_helpers import api

V = "/services/data/v62.0"
Q = "SELECT Id FROM User"


@pytest.fixture
def sf(sandbox: Any) -> Any:
    """An unmodified simple_salesforce.Salesforce on the sandbox (session-id auth, API v62.0)."""
    return sandbox.client()


def test_session_expired_fault_gives_401(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("query*", "session_expired")
    with pytest.raises(SalesforceExpiredSession):
        sf.query(Q)
    assert sf.query(Q)["totalSize"] == 1  # the fault fired once only


def test_limit_exceeded_fault_gives_403(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("query", "limit_exceeded")
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.query(Q)
    assert exc.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


@pytest.mark.parametrize(("kind", "status"), [("unavailable", 503), ("server_error", 500)])
def test_unavailable_and_server_error_faults(sandbox: SandboxHandle, sf: Any, kind: str, status: int) -> None:
    sandbox.faults.add("query", kind)
    with pytest.raises(SalesforceGeneralError) as exc:
        sf.query(Q)
    assert exc.value.status == status


def test_lock_row_fault_on_a_single_request(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("sobjects/Contact*", "lock_row", method="POST")
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "Locked"})
    assert exc.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_lock_record_fails_one_record_of_a_collection(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("composite/sobjects", "lock_record", record=1)
    records = [{"attributes": {"type": "Contact"}, "LastName": n} for n in ("A", "B", "C")]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_lock_record_with_all_or_none_rolls_everything_back(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("composite/sobjects", "lock_record", record=0)
    records = [{"attributes": {"type": "Contact"}, "LastName": n} for n in ("A", "B")]
    results = sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "UNABLE_TO_LOCK_ROW",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    ]


def test_fault_on_the_third_call_only(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("query", "unavailable", nth=3)
    outcomes = []
    for _ in range(4):
        try:
            sf.query(Q)
            outcomes.append("ok")
        except SalesforceGeneralError:
            outcomes.append("503")
    assert outcomes == ["ok", "ok", "503", "ok"]


def test_fault_for_the_next_two_calls(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("composite/sobjects", "unavailable", times=2)
    body = {"records": [{"attributes": {"type": "Contact"}, "LastName": "X"}]}
    for _ in range(2):
        with pytest.raises(SalesforceGeneralError):
            sf.restful("composite/sobjects", method="POST", json=body)
    assert sf.restful("composite/sobjects", method="POST", json=body)[0]["success"]


def test_replacing_faults_are_not_counted_as_api_calls(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("query", "unavailable")
    with pytest.raises(SalesforceGeneralError):
        sf.query(Q)
    sf.query(Q)
    assert sandbox.api_calls.used == 1


def test_slow_fault_delays_but_answers(sandbox: SandboxHandle, sf: Any) -> None:
    fault = sandbox.faults.add("query", "slow", delay=0.2)
    assert sf.query(Q)["totalSize"] == 1
    assert fault.fired == 1


def test_truncated_fault_breaks_the_json(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("query", "truncated")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        sf.query(Q)


def test_session_expiry_mid_pagination(sandbox: SandboxHandle, sf: Any) -> None:
    records = [{"attributes": {"type": "Contact"}, "LastName": f"P{i}"} for i in range(200)]
    sf.restful("composite/sobjects", method="POST", json={"records": records})
    sf.restful("composite/sobjects", method="POST", json={"records": records})
    sandbox.faults.add("query/*", "session_expired")
    pages = sf.query_all_iter("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"})
    with pytest.raises(SalesforceExpiredSession):
        list(pages)


def test_expired_tokens_give_401_until_renewed(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.expire_tokens()
    with pytest.raises(SalesforceExpiredSession):
        sf.query(Q)
    assert sandbox.client(session_id=sandbox.renew_token()).query(Q)["totalSize"] == 1


def test_control_endpoints_over_https(sandbox: SandboxHandle) -> None:
    added = api(
        sandbox, "POST", "/__sandbox/faults", json={"route": "limits", "kind": "unavailable", "nth": 2}
    )
    assert added.status_code == 201
    assert api(sandbox, "GET", f"{V}/limits").status_code == 200
    assert api(sandbox, "GET", f"{V}/limits").status_code == 503
    faults = api(sandbox, "GET", "/__sandbox/faults").json()
    assert (faults[0]["seen"], faults[0]["fired"]) == (2, 1)
    assert api(sandbox, "GET", "/__sandbox/api-usage").json()["used"] == 1
    assert api(sandbox, "POST", "/__sandbox/reset-counters", json={}).json()["used"] == 0
    assert api(sandbox, "DELETE", "/__sandbox/faults").status_code == 204
    clock = api(sandbox, "POST", "/__sandbox/clock", json={"now": "2026-12-01T08:00:00Z"}).json()
    assert clock["now"].startswith("2026-12-01T08:00:00")
    assert api(sandbox, "POST", "/__sandbox/clock", json={"now": None}).status_code == 200
    assert api(sandbox, "POST", "/__sandbox/expire-tokens").status_code == 204
    assert api(sandbox, "GET", f"{V}/limits").status_code == 401
    assert api(sandbox, "GET", "/__sandbox/status").status_code == 200  # control still works
    assert api(sandbox, "GET", "/__sandbox/emails").json() == []


def test_control_endpoints_need_the_sandbox_token(sandbox: SandboxHandle) -> None:
    assert api(sandbox, "GET", "/__sandbox/status", token="wrong").status_code == 401


def test_bad_fault_specification_is_rejected(sandbox: SandboxHandle) -> None:
    with pytest.raises(ValueError):
        sandbox.faults.add("query", "explode")
    resp = api(sandbox, "POST", "/__sandbox/faults", json={"route": "query", "kind": "explode"})
    assert resp.status_code == 400


def test_lock_record_on_composite_fails_that_subrequest(sandbox: SandboxHandle, sf: Any) -> None:
    sandbox.faults.add("composite", "lock_record", record=1)
    subs = [
        {
            "method": "POST",
            "url": f"{V}/sobjects/Contact",
            "referenceId": f"c{i}",
            "body": {"LastName": f"C{i}"},
        }
        for i in range(3)
    ]
    res = sf.restful("composite", method="POST", json={"compositeRequest": subs})["compositeResponse"]
    assert [r["httpStatusCode"] for r in res] == [201, 400, 201]
    assert res[1]["body"][0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
