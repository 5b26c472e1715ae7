"""The sandbox's WSGI application: auth, API usage, fault injection and dispatch to the route handlers.

Request pipeline (salesforce-api.md §2, §6): match the URL (any ``/services/data/vNN.N/``), check the
bearer token (401 ``INVALID_SESSION_ID``), check the daily budget (403 ``REQUEST_LIMIT_EXCEEDED``),
apply injected faults (see `prepbot.sandbox.faults`), count the call, run the handler under the store
lock, and add ``Sforce-Limit-Info`` to every answer except ``GET /services/data/``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

# Importing the route modules registers their handlers.
from prepbot.sandbox import routes_composite, routes_control, routes_data, routes_email, routes_oauth
from prepbot.sandbox.auth import TokenRegistry
from prepbot.sandbox.calls import ApiError, Call, Result, is_api_error, lock_error
from prepbot.sandbox.cursors import CursorRegistry
from prepbot.sandbox.faults import LOCK_ROW, REPLACING, SLOW, TRUNCATED, Fault, Faults
from prepbot.sandbox.limits import ApiCounter
from prepbot.sandbox.routing import HANDLERS, UNCOUNTED, URL_MAP, match, route_key

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from prepbot.sandbox.store import Store

log = logging.getLogger(__name__)
_ROUTE_MODULES = (routes_composite, routes_control, routes_data, routes_email, routes_oauth)
_VERSION = re.compile(r"\d{1,3}\.\d")

SESSION_INVALID = ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
LIMIT_EXCEEDED = ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
_FAULT_ERRORS = {
    "session_expired": SESSION_INVALID,
    "limit_exceeded": LIMIT_EXCEEDED,
    "unavailable": ApiError(503, "SERVER_UNAVAILABLE", "Service Unavailable"),
    "server_error": ApiError(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred."),
    "insufficient_access": ApiError(
        403, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on cross-reference id"
    ),
}


class SandboxApp:
    """The WSGI callable; also the object route handlers work with (`store`, `counter`, ...)."""

    def __init__(
        self,
        store: Store,
        *,
        tokens: TokenRegistry,
        counter: ApiCounter,
        faults: Faults,
        apps: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.store = store
        self.tokens = tokens
        self.counter = counter
        self.faults = faults
        self.apps: list[dict[str, Any]] = [dict(a) for a in apps]
        self.emails: list[dict[str, Any]] = []
        self.cursors = CursorRegistry()
        self.instance_url = ""
        # SQLite and the store are not safe for concurrent writers: one call at a time.
        self.lock = threading.RLock()
        self._adapter = URL_MAP.bind("127.0.0.1")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        try:
            endpoint, params = match(URL_MAP.bind_to_environ(request.environ), request.path, request.method)
        except NotFound:
            return self._respond(
                Result.error(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
            )
        except MethodNotAllowed as exc:
            allowed = ",".join(exc.valid_methods or [])
            msg = f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}"
            return self._respond(Result.error(ApiError(405, "METHOD_NOT_ALLOWED", msg)))
        except HTTPException as exc:  # werkzeug redirects etc.; not expected with strict_slashes off
            return self._respond(Result.error(ApiError(exc.code or 400, "NOT_FOUND", str(exc))))
        version = params.pop("version", "")
        if version and not _VERSION.fullmatch(version):
            return self._respond(
                Result.error(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
            )
        result = self._pipeline(request, endpoint, version, params)
        return self._respond(result, limit_header=endpoint not in ("versions", "oauth_token", "control"))

    def _pipeline(self, request: Request, endpoint: str, version: str, params: dict[str, str]) -> Result:
        route = route_key(request.path)
        if endpoint in UNCOUNTED:
            return self._uncounted(request, endpoint, version, route, params)
        valid, user_id = self.tokens.user_of(_bearer(request))
        if not valid:
            return Result.error(SESSION_INVALID)
        if self.counter.exhausted():
            return Result.error(LIMIT_EXCEEDED)
        firing = self.faults.take(request.method, route)
        replaced = self._apply_faults(firing)
        if replaced is not None:
            return replaced
        self.counter.count()
        try:
            body = _json_body(request)
        except ApiError as exc:
            return Result.error(exc)
        call = Call(
            request.method,
            endpoint,
            version,
            route,
            params,
            request.args.to_dict(),
            body,
            dict(request.headers),
            user_id,
            firing,
        )
        result = self.dispatch(call)
        if any(f.kind == TRUNCATED for f in firing):
            result.headers["X-Sandbox-Fault"] = TRUNCATED
        return result

    def _uncounted(
        self, request: Request, endpoint: str, version: str, route: str, params: dict[str, str]
    ) -> Result:
        if endpoint == "oauth_token":
            replaced = self._apply_faults(self.faults.take(request.method, route))
            if replaced is not None:
                return replaced
            form: Mapping[str, str] = request.form.to_dict()
            call = Call("POST", endpoint, version, route, params, form, None, dict(request.headers))
            return self.dispatch(call)
        if endpoint == "control" and not self.tokens.is_control(_bearer(request)):
            return Result.error(SESSION_INVALID)
        try:
            body = _json_body(request)
        except ApiError as exc:
            return Result.error(exc)
        call = Call(
            request.method,
            endpoint,
            version,
            route,
            params,
            request.args.to_dict(),
            body,
            dict(request.headers),
        )
        return self.dispatch(call)

    def _apply_faults(self, firing: list[Fault]) -> Result | None:
        """Sleep for `slow` faults; return the replacement answer of a replacing fault, if any."""
        for fault in firing:
            if fault.kind == SLOW:
                time.sleep(fault.delay)
        for fault in firing:
            if fault.kind in REPLACING:
                log.info("sandbox fault %s on %s", fault.kind, fault.route)
                err = lock_error() if fault.kind == LOCK_ROW else _FAULT_ERRORS[fault.kind]
                return Result.error(err)
        return None

    def dispatch(self, call: Call) -> Result:
        """Run the handler of `call.endpoint` with the store lock held; API errors become answers."""
        handler = HANDLERS[call.endpoint]
        with self.lock:
            previous = self.store.running_user_id
            if call.user_id:
                self.store.running_user_id = call.user_id
            try:
                return handler(self, call)
            except Exception as exc:
                if is_api_error(exc):
                    return Result.error(exc)
                error_id = uuid.uuid4().hex[:10]
                log.exception("sandbox handler %s failed (ErrorId %s)", call.endpoint, error_id)
                msg = f"An unexpected error occurred. Please include this ErrorId if you contact support: {error_id}"  # noqa: E501
                return Result.error(ApiError(500, "UNKNOWN_EXCEPTION", msg))
            finally:
                self.store.running_user_id = previous

    def subcall(self, parent: Call, method: str, url: str, body: Any, *, force_all_or_none: bool) -> Result:
        """Run a composite subrequest through the same routes (no auth, counting or faults)."""
        parts = urlsplit(url)
        try:
            endpoint, params = match(self._adapter, parts.path, method.upper())
        except MethodNotAllowed:
            return Result.error(ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed"))
        except HTTPException:
            return Result.error(ApiError(404, "NOT_FOUND", "The requested resource does not exist"))
        version = params.pop("version", "")
        if endpoint in UNCOUNTED or endpoint == "composite" or not version:
            return Result.error(ApiError(400, "INVALID_URL", f"Invalid subrequest URL: {parts.path}"))
        call = Call(
            method.upper(),
            endpoint,
            version,
            route_key(parts.path),
            params,
            dict(parse_qsl(parts.query)),
            body,
            parent.headers,
            parent.user_id,
            [],
            force_all_or_none,
            nested=True,
        )
        return self.dispatch(call)

    def _respond(self, result: Result, *, limit_header: bool = True) -> Response:
        if result.raw is not None:
            data = result.raw
        elif result.body is None and result.status == 204:
            data = b""
        else:
            data = json.dumps(result.body, ensure_ascii=False).encode("utf-8")
        if result.headers.pop("X-Sandbox-Fault", None) == TRUNCATED:
            data = data[: len(data) // 2]
        response = Response(data, status=result.status, headers=result.headers)
        if result.status != 204:
            response.content_type = result.content_type
        if limit_header:
            response.headers["Sforce-Limit-Info"] = self.counter.header()
        # Date and SystemModstamp come from one clock, as in an org: a sync watermark may use both.
        response.headers["Date"] = format_datetime(self.store.now(), usegmt=True)
        return response


def _bearer(request: Request) -> str:
    """The token of `Authorization: Bearer <token>` (Salesforce also accepts the `OAuth` scheme)."""
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else ""


def _json_body(request: Request) -> Any:
    """The parsed JSON body, or None when empty; 400 JSON_PARSER_ERROR when malformed."""
    data = request.get_data(cache=True)
    if not data.strip():
        return None
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in request body: {exc}") from exc
