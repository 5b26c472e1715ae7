"""sObject Collections and Composite (salesforce-api.md §2.6, §2.7).

Facts not pinned down by the docs and chosen here: a collection record without ``attributes.type``
rejects the whole request (400 ``INVALID_FIELD``); more than 25 composite subrequests or more than
5 query/collection subrequests give 400 ``LIMIT_EXCEEDED``; a reference to a failed or missing result
gives that subrequest 400 ``PROCESSING_HALTED`` with an "Invalid reference specified" message.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from prepbot.sandbox import ids
from prepbot.sandbox.calls import ApiError, Call, Result, is_api_error, lock_error, save_error
from prepbot.sandbox.routing import HEAVY, URL_MAP, route

if TYPE_CHECKING:
    from prepbot.sandbox.app import SandboxApp

MAX_RECORDS = 200
MAX_SUBREQUESTS = 25
MAX_HEAVY = 5
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": (
        "Record rolled back because not all records were valid and the request was using AllOrNone header"
    ),
    "fields": [],
}
HALTED = [
    {
        "errorCode": "PROCESSING_HALTED",
        "message": "The transaction was rolled back since another operation in the same transaction failed.",
    }
]
_REF = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")
_REF_ID = re.compile(r"[A-Za-z0-9_]+")


class _RollBack(Exception):
    """Raised inside a store transaction to undo it."""


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _locked_index(call: Call) -> int | None:
    fault = call.fault("lock_record")
    return fault.record if fault else None


def _one(app: SandboxApp, call: Call, op: str, index: int, rec: Any) -> dict[str, Any]:
    """Create, update or delete one record in its own savepoint; its SaveResult."""
    record_id = rec if op == "DELETE" else (rec.get("id") or rec.get("Id"))
    try:
        with app.store.transaction():
            if _locked_index(call) == index:
                raise lock_error(record_id or "")
            if op == "DELETE":
                name = app.store.canonical_type(_type_of(app, rec))
                app.store.delete(name, rec)
                return {"id": rec, "success": True, "errors": []}
            name = app.store.canonical_type(rec["attributes"]["type"])
            fields = {k: v for k, v in rec.items() if k != "attributes" and k.lower() != "id"}
            if op == "POST":
                return {"id": app.store.create(name, fields), "success": True, "errors": []}
            if not record_id:
                raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
            app.store.update(name, record_id, fields)
            return {"id": record_id, "success": True, "errors": []}
    except Exception as exc:
        if not is_api_error(exc):
            raise
        result: dict[str, Any] = {"success": False, "errors": [save_error(exc)]}
        if record_id:
            result["id"] = record_id
        return result


def _type_of(app: SandboxApp, record_id: str) -> str:
    name = ids.type_of_id(record_id)
    if name is None:
        raise ApiError(400, "MALFORMED_ID", f"malformed id {record_id}")
    return name


def _records(call: Call) -> tuple[str, list[Any], bool]:
    """(operation, records or ids, allOrNone) of a collections call, validated."""
    if call.method == "DELETE":
        ids = [i for i in call.args.get("ids", "").split(",") if i]
        records: list[Any] = ids
        all_or_none = _flag(call.args.get("allOrNone"))
    else:
        body = call.body if isinstance(call.body, dict) else {}
        records = body.get("records") if isinstance(body.get("records"), list) else None  # type: ignore[assignment]
        if records is None:
            raise ApiError(400, "JSON_PARSER_ERROR", "The request body must contain a records array")
        all_or_none = _flag(body.get("allOrNone"))
        for rec in records:
            if (
                not isinstance(rec, dict)
                or not isinstance(rec.get("attributes"), dict)
                or not rec["attributes"].get("type")
            ):
                raise ApiError(
                    400, "INVALID_FIELD", "When creating or updating records, attributes.type is required"
                )
    if not records:
        raise ApiError(400, "MISSING_ARGUMENT", "No records or ids specified")
    if len(records) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    return call.method, records, all_or_none or call.force_all_or_none


@route("collections")
def collections(app: SandboxApp, call: Call) -> Result:
    """POST/PATCH/DELETE composite/sobjects: one SaveResult per record, HTTP 200."""
    op, records, all_or_none = _records(call)
    if not all_or_none:
        # Each record still succeeds or fails on its own (creates: a store batch; others: a savepoint
        # each); one outer transaction saves a commit per record.
        with app.store.transaction(), _lookups(app, op):
            return Result(body=_save_all(app, call, op, records))
    results: list[dict[str, Any]] = []
    try:
        with app.store.transaction(), _lookups(app, op):
            results = _save_all(app, call, op, records)
            if any(not r["success"] for r in results):
                raise _RollBack
    except _RollBack:
        results = [_rolled_back(r, keep_id=op != "POST") for r in results]
        return Result(body=results, failed=True)
    return Result(body=results)


def _save_all(app: SandboxApp, call: Call, op: str, records: list[Any]) -> list[dict[str, Any]]:
    """One SaveResult per record: creates through one store batch, anything else record by record."""
    if op != "POST" or app.store.running_user_id is None:
        return [_one(app, call, op, i, r) for i, r in enumerate(records)]
    with app.store.create_batch() as batch:
        for index, rec in enumerate(records):
            try:
                if _locked_index(call) == index:
                    raise lock_error(rec.get("id") or rec.get("Id") or "")
                name = app.store.canonical_type(rec["attributes"]["type"])
            except ApiError as exc:
                batch.add_error(exc)
                continue
            batch.add(name, {k: v for k, v in rec.items() if k != "attributes" and k.lower() != "id"})
    return [_create_result(rec, outcome) for rec, outcome in zip(records, batch.outcomes, strict=True)]


def _create_result(rec: dict[str, Any], outcome: str | ApiError) -> dict[str, Any]:
    """The SaveResult of one create, as `_one` gives it (a failure keeps an Id the body gave)."""
    if isinstance(outcome, str):
        return {"id": outcome, "success": True, "errors": []}
    result: dict[str, Any] = {"success": False, "errors": [save_error(outcome)]}
    record_id = rec.get("id") or rec.get("Id")
    if record_id:
        result["id"] = record_id
    return result


def _lookups(app: SandboxApp, op: str) -> AbstractContextManager[None]:
    """Cached reference lookups for a create-only collection (updates may change what they read)."""
    return app.store.cached_lookups() if op == "POST" else nullcontext()


def _rolled_back(result: dict[str, Any], *, keep_id: bool) -> dict[str, Any]:
    if not result["success"]:
        return result
    out: dict[str, Any] = {"success": False, "errors": [dict(ROLLED_BACK)]}
    if keep_id:
        out["id"] = result.get("id")
    return out


@route("collections_get")
def collections_get(app: SandboxApp, call: Call) -> Result:
    """GET composite/sobjects/<T>?ids=&fields=: records in order, null when not found."""
    name = app.store.canonical_type(call.params["sobject"])
    ids = [i for i in call.args.get("ids", "").split(",") if i]
    fields = [f for f in call.args.get("fields", "").split(",") if f]
    if not ids or not fields:
        raise ApiError(400, "MISSING_ARGUMENT", "ids and fields are required")
    if len(ids) > MAX_RECORDS:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records")
    out: list[Any] = []
    for record_id in ids:
        try:
            out.append(app.store.retrieve(name, record_id, fields=fields, api_version=call.version))
        except Exception as exc:
            if not is_api_error(exc) or getattr(exc, "status", 0) != 404:
                raise
            out.append(None)
    return Result(body=out)


def _resolve_path(value: Any, path: str) -> Any:
    """Walk `.field` / `[n]` steps into a subresponse body; KeyError/IndexError/TypeError if absent."""
    for name, index in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", path):
        value = value[int(index)] if index else value[name]
    if value is None:
        raise KeyError(path)
    return value


def _substitute(value: Any, bodies: dict[str, Any]) -> Any:
    """Replace every `@{ref.path}` in strings (recursively); a whole-string reference keeps its type."""
    if isinstance(value, dict):
        return {k: _substitute(v, bodies) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, bodies) for v in value]
    if not isinstance(value, str) or "@{" not in value:
        return value

    def lookup(match: re.Match[str]) -> Any:
        ref, path = match.group(1), match.group(2)
        try:
            return _resolve_path(bodies[ref], path)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            msg = (
                f"Invalid reference specified. No value for {ref}{path} found in {ref}. Provided referenceId "
                f"('{ref}') must match the referenceId of a previous successful subrequest."
            )
            raise ApiError(400, "PROCESSING_HALTED", msg) from exc

    whole = _REF.fullmatch(value)
    if whole:
        return lookup(whole)
    return _REF.sub(lambda m: str(lookup(m)), value)


def _subrequests(call: Call) -> tuple[list[dict[str, Any]], bool]:
    """The validated `compositeRequest` list and allOrNone flag."""
    body = call.body if isinstance(call.body, dict) else {}
    subs = body.get("compositeRequest")
    if not isinstance(subs, list) or not subs:
        raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
    if len(subs) > MAX_SUBREQUESTS:
        raise ApiError(
            400, "LIMIT_EXCEEDED", f"Composite Request limit exceeded: at most {MAX_SUBREQUESTS} subrequests"
        )
    seen: set[str] = set()
    heavy = 0
    for sub in subs:
        ref = sub.get("referenceId") if isinstance(sub, dict) else None
        if not isinstance(ref, str) or not _REF_ID.fullmatch(ref) or ref in seen:
            raise ApiError(400, "INVALID_FIELD", f"Invalid or duplicate referenceId: {ref!r}")
        if not isinstance(sub.get("url"), str) or not isinstance(sub.get("method"), str):
            raise ApiError(400, "INVALID_FIELD", f"Subrequest {ref} needs a method and a url")
        seen.add(ref)
        heavy += _is_heavy(sub["method"], sub["url"])
    if heavy > MAX_HEAVY:
        raise ApiError(
            400, "LIMIT_EXCEEDED", f"At most {MAX_HEAVY} query or collection subrequests are allowed"
        )
    return subs, _flag(body.get("allOrNone"))


def _is_heavy(method: str, url: str) -> bool:
    try:
        endpoint, _ = URL_MAP.bind("127.0.0.1").match(url.split("?", 1)[0], method.upper())
    except Exception:
        return False
    return endpoint in HEAVY


def _run_sub(
    app: SandboxApp, call: Call, index: int, sub: dict[str, Any], bodies: dict[str, Any], aon: bool
) -> Result:
    try:
        if _locked_index(call) == index:
            raise lock_error()
        url = _substitute(sub["url"], bodies)
        body = _substitute(sub.get("body"), bodies)
    except ApiError as exc:
        return Result.error(exc)
    return app.subcall(call, sub["method"], str(url), body, force_all_or_none=aon)


def _entry(sub: dict[str, Any], result: Result) -> dict[str, Any]:
    headers = {"Location": result.headers["Location"]} if "Location" in result.headers else {}
    return {
        "body": result.body,
        "httpHeaders": headers,
        "httpStatusCode": result.status,
        "referenceId": sub["referenceId"],
    }


def _halted(sub: dict[str, Any]) -> dict[str, Any]:
    return {
        "body": [dict(e) for e in HALTED],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": sub["referenceId"],
    }


@route("composite")
def composite(app: SandboxApp, call: Call) -> Result:
    """POST composite: run subrequests in order with `@{ref}` substitution; top level always 200."""
    subs, all_or_none = _subrequests(call)
    bodies: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    failed_at: int | None = None
    try:
        with app.store.transaction():
            for index, sub in enumerate(subs):
                result = _run_sub(app, call, index, sub, bodies, all_or_none)
                entries.append(_entry(sub, result))
                if result.ok:
                    bodies[sub["referenceId"]] = result.body
                elif all_or_none:
                    failed_at = index
                    raise _RollBack
    except _RollBack:
        halted = [_halted(s) for s in subs]
        halted[failed_at or 0] = entries[failed_at or 0]
        entries = halted
    return Result(body={"compositeResponse": entries})
