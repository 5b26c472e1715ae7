"""Salesforce failures -> prepbot's error tree, decided by HTTP status and errorCode (never message text)."""

from __future__ import annotations

import json
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from prepbot.errors import CrmAuthError, CrmError, CrmQueryError, CrmUnavailableError

# errorCode/statusCode values that mean "try again later" whatever the HTTP status.
RETRYABLE_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"})
LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
INVALID_SESSION = "INVALID_SESSION_ID"
LOCKED = "UNABLE_TO_LOCK_ROW"

_MAX_MESSAGE = 300


def first_error(content: Any) -> tuple[str | None, str]:
    """The (errorCode, message) of a Salesforce error body: a JSON array of errors, or anything else."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        err = content[0]
        code = err.get("errorCode") or err.get("statusCode")
        return (str(code) if code else None), str(err.get("message") or "")
    if isinstance(content, dict):  # OAuth errors: {"error": ..., "error_description": ...}
        code = content.get("errorCode") or content.get("error")
        return (str(code) if code else None), str(
            content.get("message") or content.get("error_description") or ""
        )
    return None, ""


def error_for_status(status: int, content: Any, *, resource: str) -> CrmError:
    """Map an HTTP error response to a CrmError subclass.

    Args:
        status: the HTTP status code (>= 300).
        content: the parsed JSON body (a list of ``{"errorCode", "message"}``), or its text.
        resource: a short name of the call (``query``, ``composite/sobjects``), for the message.

    Returns:
        CrmAuthError for 401; CrmUnavailableError for 5xx, UNABLE_TO_LOCK_ROW and
        REQUEST_LIMIT_EXCEEDED; CrmQueryError for every other 4xx (a bug, a bad mapping or a
        missing permission: permanent).
    """
    code, message = first_error(content)
    text = f"Salesforce {resource}: HTTP {status}" + (f" {code}" if code else "")
    if message:
        text += f": {message[:_MAX_MESSAGE]}"
    if status == 401:
        return CrmAuthError(text, status=status, error_code=code)
    if status >= 500 or code in RETRYABLE_CODES:
        return CrmUnavailableError(text, status=status, error_code=code)
    return CrmQueryError(text, status=status, error_code=code)


def error_for_exception(exc: Exception, *, resource: str) -> CrmError | None:
    """Map a transport failure (requests) or an unreadable body to CrmUnavailableError; else None."""
    if isinstance(exc, requests.exceptions.JSONDecodeError | json.JSONDecodeError):
        return CrmUnavailableError(f"Salesforce {resource}: unreadable response body (truncated JSON?)")
    if isinstance(exc, requests.exceptions.Timeout):
        kind = "timed out"
    elif isinstance(exc, requests.exceptions.SSLError):
        kind = "TLS failure"
    elif isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.ChunkedEncodingError):
        kind = "connection failed"
    elif isinstance(exc, requests.exceptions.RequestException):
        kind = "request failed"
    else:
        return None
    # The exception text names host and port only; requests never puts headers (the token) in it.
    return CrmUnavailableError(f"Salesforce {resource}: {kind} ({type(exc).__name__})")


def surely_unsent(exc: BaseException) -> bool:
    """True when the request never reached the server (connect refused or connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: BaseException | None = exc
    for _ in range(8):  # a bounded walk: cause chains can, in theory, loop
        if seen is None:
            return False
        if isinstance(seen, NewConnectionError):  # the TCP connect itself failed
            return True
        reason = getattr(seen, "reason", None)  # urllib3's MaxRetryError carries the cause here
        seen = reason if isinstance(reason, BaseException) else (seen.__cause__ or seen.__context__)
    return False


def may_retry(exc: CrmError, *, idempotent: bool, unsent: bool = False) -> bool:
    """Whether a failed call may be sent again automatically.

    REQUEST_LIMIT_EXCEEDED is never retried here (it starts the long back-off instead). Writes are
    retried only when the server certainly did not apply them: 503, a lock timeout, or a request
    that never left (``unsent``); a read timeout or a 500 on a POST may have created records.
    """
    if not isinstance(exc, CrmUnavailableError) or exc.error_code == LIMIT_EXCEEDED:
        return False
    return idempotent or unsent or exc.error_code == LOCKED or exc.status == 503


def may_have_applied(exc: CrmError) -> bool:
    """Whether a failed write may still have been carried out (so it must not be sent again).

    Certainly not applied: 4xx refusals, 503 (refused before processing), a lock timeout,
    REQUEST_LIMIT_EXCEEDED, and a request that never left (``surely_unsent``). Anything else that
    failed after the request went out (other 5xx, a read timeout, a dropped connection, an
    unreadable body) may have been applied.
    """
    if not isinstance(exc, CrmUnavailableError) or exc.status == 503 or exc.error_code in RETRYABLE_CODES:
        return False
    if exc.status >= 500:
        return True
    return exc.status == 0 and not (exc.__cause__ is not None and surely_unsent(exc.__cause__))


def action_results(content: Any) -> list[dict[str, Any]] | None:
    """The per-input results of an invocable action (``[{"isSuccess", "errors", ...}]``), else None."""
    if isinstance(content, dict) and "isSuccess" in content:
        content = [content]  # one REST-guide example shows a bare object (salesforce-api.md §2.10)
    if not isinstance(content, list) or not content:
        return None
    if all(isinstance(r, dict) and "isSuccess" in r for r in content):
        return [dict(r) for r in content]
    return None
