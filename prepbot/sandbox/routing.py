"""URL map of the sandbox and the registry of its handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from werkzeug.exceptions import NotFound
from werkzeug.routing import Map, MapAdapter, Rule

from prepbot.sandbox.calls import Call, Result

if TYPE_CHECKING:
    from prepbot.sandbox.app import SandboxApp

Handler = Callable[["SandboxApp", Call], Result]
HANDLERS: dict[str, Handler] = {}

V = "/services/data/v<version>"
RULES = [
    Rule("/services/data/", endpoint="versions", methods=["GET"]),
    Rule("/services/oauth2/token", endpoint="oauth_token", methods=["POST"]),
    Rule(f"{V}/", endpoint="resources", methods=["GET"]),
    Rule(f"{V}/limits/", endpoint="limits", methods=["GET"]),
    Rule(f"{V}/query/", endpoint="query", methods=["GET"]),
    Rule(f"{V}/queryAll/", endpoint="query_all", methods=["GET"]),
    Rule(f"{V}/query/<locator>", endpoint="query_more", methods=["GET"]),
    Rule(f"{V}/queryAll/<locator>", endpoint="query_more", methods=["GET"]),
    Rule(f"{V}/sobjects/<sobject>/", endpoint="sobject", methods=["GET", "POST"]),
    Rule(f"{V}/sobjects/<sobject>/describe/", endpoint="describe", methods=["GET"]),
    Rule(f"{V}/sobjects/<sobject>/updated/", endpoint="updated", methods=["GET"]),
    Rule(f"{V}/sobjects/<sobject>/deleted/", endpoint="deleted", methods=["GET"]),
    Rule(f"{V}/sobjects/<sobject>/<record_id>", endpoint="record", methods=["GET", "PATCH", "DELETE"]),
    Rule(f"{V}/sobjects/<sobject>/<record_id>/<field>", endpoint="blob", methods=["GET"]),
    Rule(f"{V}/composite/", endpoint="composite", methods=["POST"]),
    Rule(f"{V}/composite/sobjects/", endpoint="collections", methods=["POST", "PATCH", "DELETE"]),
    Rule(f"{V}/composite/sobjects/<sobject>", endpoint="collections_get", methods=["GET"]),
    Rule(f"{V}/actions/standard/emailSimple", endpoint="email_simple", methods=["GET", "POST"]),
    Rule("/__sandbox/<path:action>", endpoint="control", methods=["GET", "POST", "DELETE"]),
]
URL_MAP = Map(RULES, strict_slashes=False, merge_slashes=False)

# Endpoints outside the counted REST API.
UNCOUNTED = frozenset({"versions", "oauth_token", "control"})
# Subrequest kinds that composite allows at most 5 of (salesforce-api.md §2.7).
HEAVY = frozenset({"query", "query_all", "query_more", "collections", "collections_get"})


def route(endpoint: str) -> Callable[[Handler], Handler]:
    """Register `fn` as the handler of `endpoint`."""

    def register(fn: Handler) -> Handler:
        HANDLERS[endpoint] = fn
        return fn

    return register


def route_key(path: str) -> str:
    """The fault-matching key of a path: relative to the API root, no surrounding slashes."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["services", "data"]:
        rest = parts[3:] if len(parts) > 2 and parts[2].startswith("v") else parts[2:]
        return "/".join(rest)
    if parts[:1] == ["services"]:
        return "/".join(parts[1:])
    return "/".join(parts)


def match(adapter: MapAdapter, path: str, method: str) -> tuple[str, dict[str, str]]:
    """(endpoint, values) of a path; MethodNotAllowed/NotFound as Werkzeug raises them.

    With ``strict_slashes=False`` Werkzeug reports a wrong method on ``/query`` (rule ``/query/``) as
    NotFound; retrying with the slash gives the right MethodNotAllowed.
    """
    try:
        endpoint, values = adapter.match(path, method)
    except NotFound:
        if path.endswith("/"):
            raise
        endpoint, values = adapter.match(path + "/", method)
    return str(endpoint), {str(k): str(v) for k, v in values.items()}
