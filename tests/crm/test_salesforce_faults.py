"""Contract: each injected Salesforce fault maps to the right error, with bounded retries and refreshes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from prepbot.crm.salesforce import ClientCredentialsAuth, JwtAuth, SalesforceCrm, SessionAuth
from prepbot.domain import TaskRecord
from prepbot.errors import CrmAuthError, CrmQueryError, CrmUnavailableError
from tests.conftest import RUNNING_USER
from tests.crm.conftest import FakeClock
from tests.crm.orgdata import DAY, generated_events, org_with

Factory = Callable[..., SalesforceCrm]
END = DAY + timedelta(days=1)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
SECRET = "cc-secret-canary-7f3a"


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    seed = org_with(generated_events(5))
    seed["$apps"] = [
        {"consumer_key": "prepbot-jwt", "certificate": PUBLIC_PEM},
        {"consumer_key": "prepbot-cc", "consumer_secret": SECRET, "run_as": "@runner"},
    ]
    return seed


def jwt_auth(sandbox: Any) -> JwtAuth:
    return JwtAuth(
        username=RUNNING_USER["Username"],
        consumer_key="prepbot-jwt",
        private_key_pem=PRIVATE_PEM,
        login_url=sandbox.instance_url,
    )


def read(crm: SalesforceCrm) -> int:
    return sum(1 for _ in crm.meetings_between(DAY, END))


def test_503_twice_then_ok_succeeds_after_two_backoffs(
    sandbox: Any, crm_for: Factory, sleeps: list[float]
) -> None:
    fault = sandbox.faults.add("query", "unavailable", times=2)
    crm = crm_for(sandbox)
    assert read(crm) == 5
    assert fault.fired == 2 and len(sleeps) == 2
    assert crm.calls_made == 3 + 1  # three tries of the Event query, then the role query


def test_503_for_ever_gives_up_after_max_retries(sandbox: Any, crm_for: Factory, sleeps: list[float]) -> None:
    sandbox.faults.add("query", "unavailable", times=None)
    crm = crm_for(sandbox, max_retries=3)
    with pytest.raises(CrmUnavailableError) as exc:
        read(crm)
    assert exc.value.status == 503 and exc.value.retryable
    assert crm.calls_made == 4 and len(sleeps) == 3
    assert all(0 < s <= 30 for s in sleeps)  # jittered and capped


def test_truncated_json_and_a_locked_row_are_retried(sandbox: Any, crm_for: Factory) -> None:
    sandbox.faults.add("query", "truncated", times=1)
    sandbox.faults.add("query", "lock_row", nth=2, times=1)
    crm = crm_for(sandbox)
    assert read(crm) == 5
    assert crm.calls_made == 3 + 1


def test_a_locked_record_in_a_collection_is_retried_alone(sandbox: Any, crm_for: Factory) -> None:
    runner = sandbox.store.running_user_id
    crm = crm_for(sandbox)
    fault = sandbox.faults.add("composite/sobjects", "lock_record", record=1)
    tasks = [
        TaskRecord(f"Email: {i}", "body", runner, None, None, date(2026, 11, 30), ref=str(i))
        for i in range(3)
    ]
    results = crm.create_tasks(tasks)
    assert [r.ok for r in results] == [True, True, True] and fault.fired == 1
    assert crm.calls_made == 2
    # had the whole collection been sent again, records 0 and 2 would exist twice
    assert sandbox.client().query("SELECT Id FROM Task")["totalSize"] == 3


def test_request_limit_exceeded_stops_all_calls_until_the_backoff_ends(
    sandbox: Any, crm_for: Factory, clock: FakeClock
) -> None:
    fault = sandbox.faults.add("query", "limit_exceeded", times=1)
    crm = crm_for(sandbox, limit_backoff=timedelta(minutes=15))
    with pytest.raises(CrmUnavailableError) as first:
        read(crm)
    assert first.value.error_code == "REQUEST_LIMIT_EXCEEDED" and crm.calls_made == 1
    used = sandbox.api_calls.used
    clock.now += 14 * 60
    with pytest.raises(CrmUnavailableError):
        read(crm)
    assert crm.calls_made == 1 and fault.seen == 1 and sandbox.api_calls.used == used  # no request at all
    clock.now += 61
    assert read(crm) == 5


def test_a_malformed_id_is_a_permanent_query_error_without_retry(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox)
    with pytest.raises(CrmQueryError):
        crm.meetings_by_id(["not an id"])
    assert crm.calls_made == 1


def test_401_with_a_session_id_is_final(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox, auth=SessionAuth("00Dxx!expired-token-canary"))
    with pytest.raises(CrmAuthError) as exc:
        read(crm)
    assert exc.value.error_code == "INVALID_SESSION_ID" and crm.calls_made == 1
    assert "canary" not in str(exc.value) and "canary" not in repr(SessionAuth("canary"))


def test_401_once_with_jwt_mints_one_new_token_and_succeeds(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox, auth=jwt_auth(sandbox))
    assert read(crm) == 5 and crm.tokens_minted == 1
    sandbox.expire_tokens()
    assert read(crm) == 5
    assert crm.tokens_minted == 2


def test_401_for_ever_with_jwt_refreshes_exactly_once_then_fails(sandbox: Any, crm_for: Factory) -> None:
    sandbox.faults.add("query", "session_expired", times=None)
    crm = crm_for(sandbox, auth=jwt_auth(sandbox))
    with pytest.raises(CrmAuthError):
        read(crm)
    assert crm.tokens_minted == 2 and crm.calls_made == 2  # no recursion, no retry loop


def test_client_credentials_mint_a_token_and_a_wrong_secret_is_an_auth_error(
    sandbox: Any, crm_for: Factory
) -> None:
    good = crm_for(sandbox, auth=ClientCredentialsAuth("prepbot-cc", SECRET))
    assert read(good) == 5 and good.tokens_minted == 1
    bad = crm_for(sandbox, auth=ClientCredentialsAuth("prepbot-cc", "wrong-secret-canary"))
    with pytest.raises(CrmAuthError) as exc:
        read(bad)
    assert "canary" not in str(exc.value) and bad.calls_made == 0


def test_the_ca_bundle_wins_over_requests_ca_bundle_in_the_environment(
    sandbox: Any, crm_for: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/nonexistent/ca.pem")
    assert read(crm_for(sandbox)) == 5


def test_an_untrusted_certificate_is_a_retryable_tls_failure(sandbox: Any, crm_for: Factory) -> None:
    crm = SalesforceCrm(
        instance_url=sandbox.instance_url, auth=SessionAuth(sandbox.access_token), max_retries=0
    )  # certifi's roots do not include the sandbox CA
    try:
        with pytest.raises(CrmUnavailableError, match="TLS"):
            read(crm)
    finally:
        crm.close()


def test_a_slow_answer_times_out_and_is_retried(sandbox: Any, crm_for: Factory, sleeps: list[float]) -> None:
    sandbox.faults.add("query", "slow", delay=1.5, times=1)
    crm = crm_for(sandbox, timeout=0.5)
    assert read(crm) == 5
    assert crm.calls_made == 3 and len(sleeps) == 1  # a timed-out read is safe to send again


def test_api_usage_comes_from_the_limit_info_header(sandbox: Any, crm_for: Factory) -> None:
    crm = crm_for(sandbox)
    assert crm.api_usage is None
    read(crm)
    assert crm.api_usage == (sandbox.api_calls.used, sandbox.api_calls.daily_max)
