"""How prepbot reaches an org: the HTTPS session (CA bundle, timeouts) and the three auth kinds."""

from __future__ import annotations

# simple-salesforce builds its login URLs as ``https://{domain}.salesforce.com`` (brief §3.1), which
# can reach neither a My Domain with a custom host nor the sandbox. So the OAuth token is minted
# here with one small POST, and simple-salesforce is then given ``session_id`` + ``instance_url``.
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import certifi
import jwt
import requests

from prepbot.crm.sf_errors import error_for_exception, error_for_status
from prepbot.errors import ConfigError, CrmAuthError, CrmError

log = logging.getLogger(__name__)

TOKEN_PATH = "/services/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_S = 180  # Salesforce accepts an assertion whose exp is at most 3 minutes ahead


@dataclass(frozen=True, slots=True)
class SessionAuth:
    """An access token obtained elsewhere (the sandbox, a CLI login). A 401 is final."""

    session_id: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class JwtAuth:
    """OAuth 2.0 JWT bearer flow (production default): a signed assertion, no stored password.

    ``login_url`` is where the token is minted (``https://login.salesforce.com``, a My Domain URL,
    or the sandbox's instance URL); ``audience`` is the ``aud`` claim. None derives it from
    ``login_url``: ``https://test.salesforce.com`` for Salesforce sandboxes (``test.salesforce.com``,
    ``*.sandbox.my.salesforce.com``), else ``https://login.salesforce.com`` (Salesforce's JWT doc).
    Give the key as PEM text or as a file path.
    """

    username: str
    consumer_key: str
    private_key_pem: str | None = field(default=None, repr=False)
    private_key_file: str | None = None
    login_url: str = "https://login.salesforce.com"
    audience: str | None = None

    def claim_audience(self) -> str:
        """The ``aud`` claim to sign."""
        if self.audience:
            return self.audience
        host = (urlsplit(self.login_url).hostname or "").lower()
        sandbox = host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com")
        return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


@dataclass(frozen=True, slots=True)
class ClientCredentialsAuth:
    """OAuth 2.0 client credentials flow: the app runs as its configured "Run As" user.

    ``login_url`` must be the org's My Domain URL; None = the adapter's ``instance_url``.
    """

    consumer_key: str
    consumer_secret: str = field(repr=False)
    login_url: str | None = None


Auth = SessionAuth | JwtAuth | ClientCredentialsAuth


class TimeoutSession(requests.Session):
    """A requests session that never lets a call wait for ever: every request gets a timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Send the request with ``default_timeout`` unless the caller gave one."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


def build_session(*, ca_bundle: str | None, timeout: float) -> TimeoutSession:
    """An HTTPS session that verifies against ``ca_bundle`` (or certifi's roots) whatever the environment.

    ``trust_env = False``: with it on, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE silently override
    ``session.verify`` (brief §0.2), and proxy variables would reroute the calls.
    """
    session = TimeoutSession(timeout)
    session.trust_env = False
    session.verify = ca_bundle or certifi.where()
    return session


def _private_key(auth: JwtAuth) -> str:
    if auth.private_key_pem:
        return auth.private_key_pem
    if not auth.private_key_file:
        raise ConfigError("no private key given", key="salesforce.private_key_file")
    try:
        return Path(auth.private_key_file).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        # Name the path, never the content (reliability X1).
        raise ConfigError(
            f"cannot read the private key file {auth.private_key_file} ({type(exc).__name__})",
            key="salesforce.private_key_file",
        ) from None


def _token_request(auth: JwtAuth | ClientCredentialsAuth) -> tuple[dict[str, str], tuple[str, str] | None]:
    if isinstance(auth, JwtAuth):
        claims = {
            "iss": auth.consumer_key,
            "sub": auth.username,
            "aud": auth.claim_audience(),
            "exp": int(time.time()) + JWT_LIFETIME_S,
        }
        try:
            assertion = jwt.encode(claims, _private_key(auth), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ConfigError(
                f"the private key cannot sign a JWT ({type(exc).__name__})", key="salesforce.private_key_file"
            ) from None
        return {"grant_type": JWT_GRANT, "assertion": assertion}, None
    return {"grant_type": "client_credentials"}, (auth.consumer_key, auth.consumer_secret)


def mint_token(auth: JwtAuth | ClientCredentialsAuth, session: requests.Session, instance_url: str) -> str:
    """Obtain a fresh access token from the org's token endpoint.

    Raises:
        CrmAuthError: the endpoint refused the credentials (``invalid_grant``, ``invalid_client``...).
        CrmUnavailableError: the endpoint could not be reached or answered 5xx.
        ConfigError: the private key is missing or unusable.
    """
    data, basic = _token_request(auth)
    url = (auth.login_url or instance_url).rstrip("/") + TOKEN_PATH
    try:
        response = session.post(url, data=data, auth=basic)
        body = response.json() if response.content else {}
    except (requests.exceptions.RequestException, ValueError) as exc:
        mapped = error_for_exception(exc, resource="oauth2/token")
        raise (mapped or CrmAuthError("Salesforce oauth2/token: unreadable answer")) from None
    if response.status_code >= 500:
        raise error_for_status(response.status_code, body, resource="oauth2/token")
    token = body.get("access_token") if isinstance(body, dict) else None
    if response.status_code >= 300 or not token:
        err: CrmError = error_for_status(max(response.status_code, 400), body, resource="oauth2/token")
        raise CrmAuthError(str(err), status=response.status_code, error_code=err.error_code)
    log.info("minted a Salesforce access token (%s)", type(auth).__name__)
    return str(token)
