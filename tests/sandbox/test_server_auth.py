"""OAuth token endpoint: JWT bearer and client credentials, driven by unmodified simple-salesforce."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from prepbot.sandbox.runner import SandboxHandle
from tests.conftest import RUNNING_USER
from tests.sandbox.server_helpers import RedirectToSandbox

USERNAME = RUNNING_USER["Username"]


def _rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private.decode(), public.decode()


PRIVATE_KEY, PUBLIC_KEY = _rsa_pair()
OTHER_PRIVATE_KEY, _ = _rsa_pair()


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    apps = [
        {"consumer_key": "jwt-app", "certificate": PUBLIC_KEY},
        {"consumer_key": "cc-app", "consumer_secret": "s3cret", "run_as": "@runner"},
    ]
    return {"$apps": apps, "User": [dict(RUNNING_USER)]}


def _session(sandbox: SandboxHandle, login_host: str) -> Any:
    session = sandbox.session()
    session.mount(f"https://{login_host}", RedirectToSandbox(sandbox.instance_url))
    return session


def _jwt_client(sandbox: SandboxHandle, key: str = PRIVATE_KEY, username: str = USERNAME) -> Salesforce:
    return Salesforce(
        username=username,
        consumer_key="jwt-app",
        privatekey=key,
        session=_session(sandbox, "login.salesforce.com"),
        version="62.0",
    )


def test_jwt_bearer_login_with_simple_salesforce(sandbox: SandboxHandle) -> None:
    sf = _jwt_client(sandbox)
    assert sf.sf_instance == sandbox.instance_url.removeprefix("https://")
    assert sf.query("SELECT Username FROM User")["records"][0]["Username"] == USERNAME


def test_jwt_signed_by_another_key_is_refused(sandbox: SandboxHandle) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        _jwt_client(sandbox, key=OTHER_PRIVATE_KEY)
    assert exc.value.code == "invalid_grant"


def test_jwt_for_an_unknown_user_is_refused(sandbox: SandboxHandle) -> None:
    # simple-salesforce warns about self-authorisation on "user hasn't approved this consumer".
    with pytest.raises(SalesforceAuthenticationFailed), pytest.warns(UserWarning):
        _jwt_client(sandbox, username="nobody@example.com")


def test_jwt_expired_or_from_unknown_app_is_refused(sandbox: SandboxHandle) -> None:
    session = sandbox.session()
    url = f"{sandbox.instance_url}/services/oauth2/token"
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = {
        "iss": "jwt-app",
        "sub": USERNAME,
        "aud": "https://login.salesforce.com",
        "exp": str(int(time.time()) - 60),
    }
    expired = session.post(
        url, data={"grant_type": grant, "assertion": jwt.encode(claims, PRIVATE_KEY, "RS256")}
    )
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
    claims.update(iss="who-knows", exp=str(int(time.time()) + 60))
    unknown = session.post(
        url, data={"grant_type": grant, "assertion": jwt.encode(claims, PRIVATE_KEY, "RS256")}
    )
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_client_id"
    assert "Sforce-Limit-Info" not in unknown.headers


def test_expired_session_is_refreshed_by_a_new_jwt_login(sandbox: SandboxHandle) -> None:
    sf = _jwt_client(sandbox)
    sandbox.expire_tokens()
    assert sf.query("SELECT Id FROM User")["totalSize"] == 1  # simple-salesforce re-logged in once


def test_client_credentials_with_simple_salesforce(sandbox: SandboxHandle) -> None:
    sf = Salesforce(
        consumer_key="cc-app",
        consumer_secret="s3cret",
        domain="acme.my",
        session=_session(sandbox, "acme.my.salesforce.com"),
        version="62.0",
    )
    new_id = sf.Contact.create({"LastName": "Via client credentials"})["id"]
    assert sf.Contact.get(new_id)["CreatedById"] == sandbox.store.running_user_id


def test_client_credentials_with_a_wrong_secret_is_refused(sandbox: SandboxHandle) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(
            consumer_key="cc-app",
            consumer_secret="wrong",
            domain="acme.my",
            session=_session(sandbox, "acme.my.salesforce.com"),
        )
    assert exc.value.code == "invalid_client"


def test_token_endpoint_is_not_counted(sandbox: SandboxHandle) -> None:
    _jwt_client(sandbox)
    assert sandbox.api_calls.used == 0


def test_apps_survive_a_restart_of_the_state_folder(
    sandbox_factory: Any, sandbox_seed: Any, tmp_path: Any
) -> None:
    sandbox_factory(seed_data=sandbox_seed, state_dir=tmp_path).stop()
    again = sandbox_factory(state_dir=tmp_path)
    sf = Salesforce(
        consumer_key="cc-app",
        consumer_secret="s3cret",
        domain="acme.my",
        session=_session(again, "acme.my.salesforce.com"),
        version="62.0",
    )
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] == 1
