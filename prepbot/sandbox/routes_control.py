"""Test control endpoints under ``/__sandbox/`` (bearer: the start token, valid even after expiry).

=========================  ======  ==========================================================
path                       method  effect
=========================  ======  ==========================================================
``/__sandbox/status``      GET     ``{"api_usage": {used,max,remaining}, "faults", "emails": N, "now"}``
``/__sandbox/faults``      POST    add a fault: ``{"route", "kind", "nth"?, "times"?, "method"?,
                                   "delay"?, "record"?}`` (see `prepbot.sandbox.faults`) -> the fault
``/__sandbox/faults``      GET     the faults (with ``seen``/``fired`` counts)
``/__sandbox/faults``      DELETE  remove every fault
``/__sandbox/clock``       POST    ``{"now": "2026-12-01T09:00:00Z"}`` fixes the store's clock;
                                   ``{"now": null}`` goes back to the real clock
``/__sandbox/expire-tokens`` POST  every API token answers 401 INVALID_SESSION_ID from now on
``/__sandbox/renew-token`` POST    a new start token (also written to the state's access_token file)
``/__sandbox/api-usage``   GET     ``{"used", "max", "remaining"}``
``/__sandbox/reset-counters`` POST ``{"used"?: 0, "daily_max"?: N}``: a new API "day"
``/__sandbox/emails``      GET     emails recorded by emailSimple; DELETE forgets them
=========================  ======  ==========================================================
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prepbot.sandbox.calls import ApiError, Call, Result
from prepbot.sandbox.routing import route

if TYPE_CHECKING:
    from prepbot.sandbox.app import SandboxApp


def usage(app: SandboxApp) -> dict[str, int]:
    """The API counter as a dict."""
    return {"used": app.counter.used, "max": app.counter.daily_max, "remaining": app.counter.remaining}


def parse_now(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO 8601 text (None stays None)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(400, "INVALID_FIELD", f"not an ISO 8601 instant: {value}") from exc
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def set_clock(app: SandboxApp, now: datetime | None) -> None:
    """Fix the store's "now" (None: the real clock)."""
    app.store.set_clock(None if now is None else (lambda: now))


def _faults(app: SandboxApp, call: Call) -> Result:
    if call.method == "GET":
        return Result(body=app.faults.list())
    if call.method == "DELETE":
        app.faults.clear()
        return Result(status=204)
    spec = call.body if isinstance(call.body, dict) else {}
    keys = ("nth", "times", "method", "delay", "record")
    try:
        fault = app.faults.add(
            str(spec.get("route", "")), str(spec.get("kind", "")), **{k: spec[k] for k in keys if k in spec}
        )
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "INVALID_FIELD", str(exc)) from exc
    return Result(status=201, body=fault.as_dict())


def _reset(app: SandboxApp, call: Call) -> Result:
    spec = call.body if isinstance(call.body, dict) else {}
    app.counter.reset(used=int(spec.get("used", 0)), daily_max=spec.get("daily_max"))
    return Result(body=usage(app))


def _emails(app: SandboxApp, call: Call) -> Result:
    if call.method == "DELETE":
        app.emails.clear()
        return Result(status=204)
    return Result(body=list(app.emails))


def _status(app: SandboxApp, call: Call) -> Result:
    body = {
        "api_usage": usage(app),
        "faults": app.faults.list(),
        "emails": len(app.emails),
        "now": app.store.now().isoformat(),
    }
    return Result(body=body)


def _clock(app: SandboxApp, call: Call) -> Result:
    spec = call.body if isinstance(call.body, dict) else {}
    set_clock(app, parse_now(spec.get("now")))
    return Result(body={"now": app.store.now().isoformat()})


def _expire(app: SandboxApp, call: Call) -> Result:
    app.tokens.expire_all()
    return Result(status=204)


def _renew(app: SandboxApp, call: Call) -> Result:
    return Result(body={"access_token": app.tokens.renew(app.store.running_user_id)})


_ACTIONS = {
    ("status", "GET"): _status,
    ("faults", "GET"): _faults,
    ("faults", "POST"): _faults,
    ("faults", "DELETE"): _faults,
    ("clock", "POST"): _clock,
    ("expire-tokens", "POST"): _expire,
    ("renew-token", "POST"): _renew,
    ("api-usage", "GET"): lambda app, call: Result(body=usage(app)),
    ("reset-counters", "POST"): _reset,
    ("emails", "GET"): _emails,
    ("emails", "DELETE"): _emails,
}


@route("control")
def control(app: SandboxApp, call: Call) -> Result:
    """Dispatch a /__sandbox/ action."""
    action = _ACTIONS.get((call.params["action"].strip("/"), call.method))
    if action is None:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return action(app, call)
