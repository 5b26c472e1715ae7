"""REST data routes: versions, limits, query/queryAll with locators, sObject CRUD, describe, blobs,
and getUpdated/getDeleted (salesforce-api.md §2.2, §2.3, §2.5, §2.9)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prepbot.sandbox.calls import ApiError, Call, Result, lock_error
from prepbot.sandbox.routing import route

if TYPE_CHECKING:
    from prepbot.sandbox.app import SandboxApp

MIN_BATCH, MAX_BATCH = 200, 2000
_BATCH = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_SEASONS = ("Winter", "Spring", "Summer")
LATEST_VERSION = 68


def _label(version: int) -> str:
    """Release name of an API version: v62.0 is Winter '25, three releases a year."""
    idx = version - 62
    return f"{_SEASONS[idx % 3]} '{25 + idx // 3:02d}"


@route("versions")
def versions(app: SandboxApp, call: Call) -> Result:
    """GET /services/data/: every version from 31.0 to the latest."""
    body = [
        {"label": _label(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
        for v in range(31, LATEST_VERSION + 1)
    ]
    return Result(body=body)


@route("resources")
def resources(app: SandboxApp, call: Call) -> Result:
    """GET /services/data/vNN.N/: the resources this sandbox serves."""
    names = ("limits", "query", "queryAll", "sobjects", "composite", "actions")
    return Result(body={n: f"{call.data_root}/{n}" for n in names})


@route("limits")
def limits(app: SandboxApp, call: Call) -> Result:
    """GET limits/."""
    return Result(body=app.counter.limits_body())


def _batch_size(call: Call) -> int:
    """`Sforce-Query-Options: batchSize=N`, clamped to 200..2000 (default 2000)."""
    header = next((v for k, v in call.headers.items() if k.lower() == "sforce-query-options"), "")
    match = _BATCH.search(header)
    if not match:
        return MAX_BATCH
    return min(MAX_BATCH, max(MIN_BATCH, int(match.group(1))))


def _page(app: SandboxApp, call: Call, cursor: Any, offset: int, size: int, kind: str, loc: str) -> Result:
    """One page of a cursor, with `nextRecordsUrl` when more rows remain."""
    records = cursor.fetch(offset, size)
    end = offset + len(records)
    body: dict[str, Any] = {"totalSize": cursor.total_size, "done": end >= cursor.total_size}
    if not body["done"]:
        if not loc:
            loc = app.cursors.open(cursor, size)
        body["nextRecordsUrl"] = f"{call.data_root}/{kind}/{loc}-{end}"
    body["records"] = records
    return Result(body=body)


def _run_query(app: SandboxApp, call: Call, *, include_deleted: bool) -> Result:
    soql = call.args.get("q")
    if not soql:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    cursor = app.store.query(soql, include_deleted=include_deleted, api_version=call.version)
    kind = "queryAll" if include_deleted else "query"
    return _page(app, call, cursor, 0, _batch_size(call), kind, "")


@route("query")
def query(app: SandboxApp, call: Call) -> Result:
    """GET query/?q=SOQL."""
    return _run_query(app, call, include_deleted=False)


@route("query_all")
def query_all(app: SandboxApp, call: Call) -> Result:
    """GET queryAll/?q=SOQL (also deleted and archived rows)."""
    return _run_query(app, call, include_deleted=True)


@route("query_more")
def query_more(app: SandboxApp, call: Call) -> Result:
    """GET query/<locator>-<offset>: the next page of an open cursor."""
    locator, _, offset = call.params["locator"].partition("-")
    entry = app.cursors.get(locator)
    if entry is None or not offset.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    cursor, size = entry
    kind = "queryAll" if call.route.startswith("queryAll") else "query"
    return _page(app, call, cursor, int(offset), size, kind, locator)


def record_url(call: Call, sobject: str, record_id: str) -> str:
    """`/services/data/vNN.N/sobjects/<T>/<id>`."""
    return f"{call.data_root}/sobjects/{sobject}/{record_id}"


def _fields_body(call: Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return call.body


@route("sobject")
def sobject(app: SandboxApp, call: Call) -> Result:
    """POST sobjects/<T>/ creates (201); GET gives the object's basic information."""
    name = app.store.canonical_type(call.params["sobject"])
    if call.method == "GET":
        describe = app.store.describe(name, call.version)
        keys = ("name", "label", "labelPlural", "keyPrefix", "createable", "updateable", "queryable", "urls")
        return Result(body={"objectDescribe": {k: describe.get(k) for k in keys}, "recentItems": []})
    new_id = app.store.create(name, _fields_body(call))
    location = record_url(call, name, new_id)
    return Result(
        status=201, body={"id": new_id, "success": True, "errors": []}, headers={"Location": location}
    )


@route("describe")
def describe(app: SandboxApp, call: Call) -> Result:
    """GET sobjects/<T>/describe/."""
    return Result(body=app.store.describe(app.store.canonical_type(call.params["sobject"]), call.version))


@route("record")
def record(app: SandboxApp, call: Call) -> Result:
    """GET (?fields=), PATCH (204) and DELETE (204) of one record."""
    name = app.store.canonical_type(call.params["sobject"])
    record_id = call.params["record_id"]
    if call.method == "GET":
        fields = [f.strip() for f in call.args.get("fields", "").split(",") if f.strip()] or None
        return Result(body=app.store.retrieve(name, record_id, fields=fields, api_version=call.version))
    if call.fault("lock_record"):
        raise lock_error(record_id)
    if call.method == "PATCH":
        app.store.update(name, record_id, _fields_body(call))
    else:
        app.store.delete(name, record_id)
    return Result(status=204)


@route("blob")
def blob(app: SandboxApp, call: Call) -> Result:
    """GET sobjects/<T>/<id>/<field>: the bytes of a base64 field (ContentNote Content)."""
    name = app.store.canonical_type(call.params["sobject"])
    data = app.store.blob(name, call.params["record_id"], call.params["field"])
    return Result(raw=data, content_type="application/octetstream")


def _parse_instant(value: str | None, name: str) -> datetime:
    """An ISO 8601 instant from the query string, seconds truncated (getUpdated rules)."""
    if not value:
        raise ApiError(400, "MISSING_ARGUMENT", f"Missing required parameter: {name}")
    text = value.strip().replace(" ", "+")  # an unencoded '+' arrives as a space
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(400, "INVALID_REPLICATION_DATE", f"Invalid date format: {value}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).replace(second=0, microsecond=0)


def _window(app: SandboxApp, call: Call) -> tuple[str, datetime, datetime]:
    name = app.store.canonical_type(call.params["sobject"])
    start = _parse_instant(call.args.get("start"), "start")
    end = _parse_instant(call.args.get("end"), "end")
    if start >= end:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
    if start < app.store.now() - timedelta(days=30):
        raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    return name, start, end


@route("updated")
def updated(app: SandboxApp, call: Call) -> Result:
    """GET sobjects/<T>/updated/?start=&end=."""
    name, start, end = _window(app, call)
    return Result(body=app.store.updated(name, start, end))


@route("deleted")
def deleted(app: SandboxApp, call: Call) -> Result:
    """GET sobjects/<T>/deleted/?start=&end=."""
    name, start, end = _window(app, call)
    return Result(body=app.store.deleted(name, start, end))
