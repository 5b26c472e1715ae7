"""Load a seed document into a Store (format: see the docstring of prepbot.sandbox.store)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import normalize_id
from prepbot.sandbox.schema_objects import LOAD_ORDER

if TYPE_CHECKING:
    from prepbot.sandbox.store import Store


def _seed_error(message: str) -> SfApiError:
    return SfApiError(400, "INVALID_SEED", message)


def load_seed(store: Store, data: dict[str, Any]) -> dict[str, str]:
    """Load ``data`` inside the caller's transaction; returns every ``$key`` with its Id.

    Raises:
        SfApiError: naming the object and record index that failed.
    """
    if not isinstance(data, dict):
        raise _seed_error("A seed must be a JSON object")
    for sobject, fields in (data.get("$fields") or {}).items():
        store.add_custom_fields(sobject, fields)
    batches: dict[str, list[dict[str, Any]]] = {}
    for name, records in data.items():
        if name == "$fields":
            continue
        obj = store.schema.get(name)
        if obj is None or obj.name not in LOAD_ORDER:
            raise SfApiError(400, "INVALID_TYPE", f"Seed: sObject type '{name}' is not supported.")
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise _seed_error(f"Seed: '{name}' must be a list of records")
        batches.setdefault(obj.name, []).extend(records)
    keys = _assign_keys(store, batches)
    for name in LOAD_ORDER:
        if name in batches:
            _load_batch(store, name, batches[name], keys)
    return keys


def _assign_keys(store: Store, batches: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Give every ``$key`` record its Id up front, so references may point anywhere in the seed."""
    keys: dict[str, str] = {}
    for name, records in batches.items():
        for i, rec in enumerate(records):
            key = rec.get("$key")
            if key is None:
                continue
            if not isinstance(key, str) or key in keys:
                raise _seed_error(f"Seed {name}[{i}]: duplicate or invalid $key {key!r}")
            if "Id" in rec:
                keys[key] = normalize_id(rec["Id"])
            else:
                keys[key] = store._writer.next_id(name)
    return keys


def _resolve(value: Any, keys: dict[str, str], where: str) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        if value[1:] not in keys:
            raise SfApiError(400, "INVALID_CROSS_REFERENCE_KEY", f"{where}: unknown seed key '{value}'")
        return keys[value[1:]]
    if isinstance(value, list):
        return [_resolve(v, keys, where) for v in value]
    return value


def _load_batch(store: Store, name: str, records: list[dict[str, Any]], keys: dict[str, str]) -> None:
    bodies: list[dict[str, Any]] = []
    ids: list[str | None] = []
    for i, rec in enumerate(records):
        where = f"Seed {name}[{i}]"
        key = rec.get("$key")
        body = {k: _resolve(v, keys, f"{where}.{k}") for k, v in rec.items() if k != "$key"}
        bodies.append(body)
        ids.append(keys[key] if key is not None and "Id" not in rec else None)
    writer = store._writer
    writer.batch_ids = set(keys.values()) | {normalize_id(b["Id"]) for b in bodies if "Id" in b}
    try:
        store.bulk_insert(name, bodies, seed=True, ids=ids, label=f"Seed {name}")
    finally:
        writer.batch_ids = set()
