"""OAuth 2.0 token endpoint: JWT bearer and client credentials flows (salesforce-api.md §5).

Apps come from the seed files' ``"$apps"`` list: ``{"consumer_key", "consumer_secret", "certificate"
(PEM certificate or public key; when present the JWT's RS256 signature is verified), "run_as"
("@seedkey" or a Username; the client-credentials user)}``. With no app configured, any JWT issuer is
accepted unverified (a convenience for quick demos).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509

from prepbot.sandbox.calls import Call, Result
from prepbot.sandbox.routing import route

if TYPE_CHECKING:
    from prepbot.sandbox.app import SandboxApp

log = logging.getLogger(__name__)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    """A token-endpoint failure: 400 (or 401) with `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@route("oauth_token")
def token(app: SandboxApp, call: Call) -> Result:
    """POST /services/oauth2/token (form-encoded)."""
    grant = call.args.get("grant_type", "")
    try:
        if grant == JWT_GRANT:
            user_id, app_key = _jwt_user(app, call.args.get("assertion", ""))
        elif grant == "client_credentials":
            user_id, app_key = _client_credentials_user(app, call)
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
    except OAuthError as exc:
        log.info("sandbox token request refused: %s", exc.error)
        return Result(status=exc.status, body={"error": exc.error, "error_description": exc.description})
    access_token = app.tokens.issue(user_id)
    issued_at = str(int(time.time() * 1000))
    signature = base64.b64encode(
        hmac.new(app_key.encode(), f"{user_id}{issued_at}".encode(), hashlib.sha256).digest()
    ).decode()
    body = {
        "access_token": access_token,
        "scope": "api",
        "instance_url": app.instance_url,
        "id": f"{app.instance_url}/id/00D000000000001AAA/{user_id}",
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
    }
    return Result(body=body)


def _find_app(app: SandboxApp, consumer_key: str) -> dict[str, Any] | None:
    return next((a for a in app.apps if a.get("consumer_key") == consumer_key), None)


def _public_key(pem: str) -> Any:
    """The public key of a PEM certificate, or a PEM public key as is."""
    if "BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return pem


def _jwt_user(app: SandboxApp, assertion: str) -> tuple[str, str]:
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise OAuthError("invalid_grant", "invalid assertion") from exc
    issuer = str(claims.get("iss", ""))
    cfg = _find_app(app, issuer)
    if app.apps and cfg is None:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if cfg and cfg.get("certificate"):
        try:
            # exp may be a numeric string (simple-salesforce sends one): checked below instead.
            jwt.decode(
                assertion,
                _public_key(cfg["certificate"]),
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_aud": False},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise OAuthError("invalid_grant", "invalid assertion") from exc
    _check_claims(claims)
    user_id = _active_user(app, str(claims.get("sub", "")))
    if user_id is None:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")
    return user_id, issuer


def _check_claims(claims: dict[str, Any]) -> None:
    """`exp` in the future (int or numeric string), `aud` an https URL, `sub` present."""
    try:
        exp = float(claims["exp"])
    except (KeyError, TypeError, ValueError) as exc:
        raise OAuthError("invalid_grant", "invalid assertion: exp missing") from exc
    if exp < time.time() - 5:
        raise OAuthError("invalid_grant", "expired authorization code")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.startswith("https://") for a in auds):
        raise OAuthError("invalid_grant", "audience is invalid")
    if not claims.get("sub"):
        raise OAuthError("invalid_grant", "invalid assertion: sub missing")


def _client_credentials_user(app: SandboxApp, call: Call) -> tuple[str, str]:
    key, secret = _basic_credentials(call)
    cfg = _find_app(app, key)
    if cfg is None or not hmac.compare_digest(str(cfg.get("consumer_secret", "")), secret):
        raise OAuthError("invalid_client", "invalid client credentials")
    user_id = cfg.get("run_as_id") or _active_user(app, str(cfg.get("run_as", "")))
    if not user_id:
        raise OAuthError("invalid_grant", "no client credentials user enabled")
    return str(user_id), key


def _basic_credentials(call: Call) -> tuple[str, str]:
    header = next((v for k, v in call.headers.items() if k.lower() == "authorization"), "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            key, _, secret = base64.b64decode(encoded).decode().partition(":")
            return key, secret
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "invalid client credentials") from exc
    return call.args.get("client_id", ""), call.args.get("client_secret", "")


def _active_user(app: SandboxApp, username: str) -> str | None:
    """Id of the active User with this Username (case-insensitive), or None."""
    if not username or username.startswith("@"):
        return None
    literal = username.replace("\\", "\\\\").replace("'", "\\'")
    cursor = app.store.query(
        f"SELECT Id, IsActive FROM User WHERE Username = '{literal}'",
        include_deleted=False,
        api_version="62.0",
    )
    rows = cursor.fetch(0, 1)
    if not rows or rows[0].get("IsActive") is False:
        return None
    return str(rows[0]["Id"])
