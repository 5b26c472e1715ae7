"""The sandbox's internal request/response values, shared by the HTTP layer and composite dispatch."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.faults import Fault

# The HTTP side raises the data layer's error type, so every error is answered the same way.
ApiError = SfApiError


class ApiErrorLike(Protocol):
    """What the HTTP layer needs from an error: the data layer's SfApiError or our ApiError."""

    status: int
    error_code: str
    message: str
    fields: list[str]


def lock_error(record_id: str = "") -> ApiError:
    """The UNABLE_TO_LOCK_ROW error (salesforce-api.md §2.4)."""
    msg = "unable to obtain exclusive access to this record or 1 records"
    return ApiError(400, "UNABLE_TO_LOCK_ROW", f"{msg}: {record_id}" if record_id else msg)


def is_api_error(exc: BaseException) -> bool:
    """True for any exception shaped like a Salesforce API error (ours or the data layer's)."""
    return all(hasattr(exc, a) for a in ("status", "error_code", "message"))


def error_body(exc: Any) -> list[dict[str, Any]]:
    """Single-request error body: an array with `errorCode` (salesforce-api.md §2.4)."""
    return [{"message": exc.message, "errorCode": exc.error_code, "fields": list(exc.fields or [])}]


def save_error(exc: Any) -> dict[str, Any]:
    """Per-record error inside collections and actions: `statusCode`, not `errorCode`."""
    return {"statusCode": exc.error_code, "message": exc.message, "fields": list(exc.fields or [])}


@dataclass
class Call:
    """One API call, from the wire or from a composite subrequest."""

    method: str
    endpoint: str
    version: str
    route: str
    params: dict[str, str]
    args: Mapping[str, str]
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    user_id: str | None = None
    faults: list[Fault] = field(default_factory=list)
    # Set by composite with allOrNone=true: an inner collection must behave all-or-none too.
    force_all_or_none: bool = False
    nested: bool = False

    @property
    def data_root(self) -> str:
        """`/services/data/vNN.N` for building record and locator URLs."""
        return f"/services/data/v{self.version}"

    def fault(self, kind: str) -> Fault | None:
        """The firing fault of this kind, if any."""
        return next((f for f in self.faults if f.kind == kind), None)


@dataclass
class Result:
    """A handler's answer: JSON-able `body`, or raw bytes with `content_type`."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json;charset=UTF-8"
    # True when a composite with allOrNone must roll back although the HTTP status is 2xx
    # (a collection whose records failed under a forced allOrNone).
    failed: bool = False

    @classmethod
    def error(cls, exc: Any) -> Result:
        """The response for an API error."""
        return cls(status=int(exc.status), body=error_body(exc))

    @property
    def ok(self) -> bool:
        """2xx and not marked failed."""
        return self.status < 300 and not self.failed
