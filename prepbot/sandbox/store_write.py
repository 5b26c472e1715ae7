"""The write path of the store: body validation, defaults, system fields, references and rules."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import KEY_PREFIXES, new_id, normalize_id, type_of_id
from prepbot.sandbox.rules import Record, RuleContext, apply_rules
from prepbot.sandbox.schema import SYSTEM_FIELDS, FieldDef, ObjectDef
from prepbot.sandbox.values import to_db

if TYPE_CHECKING:
    from prepbot.sandbox.store import Store
    from prepbot.sandbox.store_batch import CreateBatch

_READ_ONLY_MESSAGE = (
    "Unable to create/update fields: {names}. Please check the security settings of this field and verify "
    "that it is read/write for your profile or permission set."
)


class Writer:
    """Validates and persists records for a Store (which holds the connection and the lock)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db: sqlite3.Connection = store._db
        self._counters: dict[str, int] = {}
        self.cache: dict[tuple[str, str, str], Any] | None = None
        self.batch_ids: set[str] = set()
        self._default_cache: dict[tuple[str, int], Record] = {}
        self._dirty_counters: set[str] = set()
        self._ref_table_cache: dict[tuple[str, ...], set[str]] = {}
        # The open create batch, whose pending rows must be written before a read that could see them.
        self.batch: CreateBatch | None = None

    # --- Lookups protocol used by rules -------------------------------------------------------------

    def lookup(self, sobject: str, record_id: str | None, field: str) -> Any:
        if not record_id:
            return None
        obj = self.store.schema.require(sobject)
        key = (obj.table, record_id, field)
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        if self.batch is not None:
            self.batch.before_lookup(record_id)
        row = self.db.execute(f'SELECT "{field}" FROM "{obj.table}" WHERE "Id" = ?', (record_id,)).fetchone()
        value = row[0] if row is not None else None
        if self.cache is not None:
            self.cache[key] = value
        return value

    def duplicate_of(self, sobject: str, values: dict[str, Any], exclude_id: str | None) -> str | None:
        obj = self.store.schema.require(sobject)
        if self.batch is not None:
            self.batch.before_duplicate_check(obj.table, values)
        where = " AND ".join(f'"{k}" = ?' for k in values)
        sql = f'SELECT "Id" FROM "{obj.table}" WHERE {where} AND "IsDeleted" = 0 AND "Id" IS NOT ?'
        row = self.db.execute(sql, (*values.values(), exclude_id)).fetchone()
        return str(row[0]) if row is not None else None

    def next_id(self, sobject: str) -> str:
        prefix = KEY_PREFIXES[sobject]
        if prefix not in self._counters:
            row = self.db.execute("SELECT value FROM _meta WHERE key = ?", (f"counter:{prefix}",)).fetchone()
            self._counters[prefix] = int(row[0]) if row else 0
        self._counters[prefix] += 1
        self._dirty_counters.add(prefix)
        return new_id(sobject, self._counters[prefix])

    def flush_counters(self) -> None:
        """Persist the Id high-water marks (a rolled-back transaction only leaves a gap)."""
        self.persist_counters({p: self._counters[p] for p in self._dirty_counters})
        self._dirty_counters.clear()

    def persist_counters(self, values: dict[str, int]) -> None:
        """Raise the stored Id high-water marks to ``values`` (key prefix -> counter)."""
        if values:
            self.db.executemany(
                "INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                "value = max(CAST(value AS INTEGER), excluded.value)",
                [(f"counter:{p}", str(v)) for p, v in values.items()],
            )

    # --- bodies -----------------------------------------------------------------------------------

    def coerce_body(
        self, obj: ObjectDef, body: dict[str, Any], *, mode: str, record_id: str | None = None
    ) -> dict[str, Any]:
        """Map a JSON body to canonical field names and stored values (mode: create, update or seed)."""
        values: dict[str, Any] = {}
        read_only: list[str] = []
        for key, raw in body.items():
            if key == "attributes":
                continue
            f = obj.field(key)
            if f is None:
                raise SfApiError(
                    400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}"
                )
            if f.name == "Id":
                values["Id"] = self._body_id(obj, raw, mode, record_id)
                continue
            if not self._writable(f, mode):
                read_only.append(f.name)
                continue
            values[f.name] = raw if f.type == "base64" else to_db(f, raw)
        if read_only:
            raise SfApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                _READ_ONLY_MESSAGE.format(names=", ".join(read_only)),
                read_only,
            )
        return values

    def _body_id(self, obj: ObjectDef, raw: Any, mode: str, record_id: str | None) -> str:
        if mode == "create":
            raise SfApiError(
                400, "INVALID_FIELD", "The Id field should not be specified in the sobject data."
            )
        rid = normalize_id(raw)
        if mode == "update" and rid != record_id:
            raise SfApiError(
                400, "INVALID_FIELD", "The Id in the body does not match the record being updated."
            )
        if mode == "seed" and type_of_id(rid) != self.store.schema.require(obj.table).name:
            raise SfApiError(400, "MALFORMED_ID", f"{rid} is not a valid {obj.name} Id", ["Id"])
        return rid

    @staticmethod
    def _writable(f: FieldDef, mode: str) -> bool:
        if mode == "seed":
            return f.createable or f.seedable
        return f.createable if mode == "create" else f.updateable

    # --- records ------------------------------------------------------------------------------------

    def prepare_insert(
        self, obj: ObjectDef, body: dict[str, Any], *, seed: bool = False, given_id: str | None = None
    ) -> Record:
        values = self.coerce_body(obj, body, mode="seed" if seed else "create")
        rec: Record = dict(self._defaults(obj))
        rec.update(values)
        rec["Id"] = values.get("Id") or given_id or self.next_id(obj.name)
        missing = [f.name for f in obj.fields.values() if f.required and rec.get(f.name) in (None, "")]
        if missing:
            raise SfApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        self._system_fields(obj, rec, values)
        self.check_references(obj, rec, set(values))
        ctx = RuleContext(self, self.store.now_db(), self.store.tz, None, set(values))
        apply_rules(obj.name, ctx, rec)
        return rec

    def prepare_update(self, obj: ObjectDef, old: Record, body: dict[str, Any]) -> Record:
        values = self.coerce_body(obj, body, mode="update", record_id=old["Id"])
        values.pop("Id", None)
        rec = dict(old)
        rec.update(values)
        missing = [
            n for n in values if (f := obj.field(n)) is not None and f.required and rec[n] in (None, "")
        ]
        if missing:
            raise SfApiError(
                400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
            )
        now = self.store.now_db()
        rec["LastModifiedDate"] = rec["SystemModstamp"] = now
        rec["LastModifiedById"] = self.store.running_user_id
        self.check_references(obj, rec, set(values))
        ctx = RuleContext(self, now, self.store.tz, old, set(values))
        apply_rules(obj.name, ctx, rec)
        return rec

    def _defaults(self, obj: ObjectDef) -> Record:
        key = (obj.name, len(obj.fields))  # custom fields added later change the key
        cached = self._default_cache.get(key)
        if cached is None:
            cached = {f.name: self._default(f) for f in obj.fields.values() if f.stored}
            self._default_cache[key] = cached
        return cached

    @staticmethod
    def _default(f: FieldDef) -> Any:
        if f.default is not None:
            return int(f.default) if f.type == "boolean" else f.default
        return 0 if f.type == "boolean" else None

    def _system_fields(self, obj: ObjectDef, rec: Record, given: dict[str, Any]) -> None:
        now = self.store.now_db()
        user = self.store.running_user_id
        rec["CreatedDate"] = given.get("CreatedDate") or now
        rec["LastModifiedDate"] = given.get("LastModifiedDate") or rec["CreatedDate"]
        rec["SystemModstamp"] = given.get("SystemModstamp") or max(
            rec["LastModifiedDate"], rec["CreatedDate"]
        )
        rec["CreatedById"] = given.get("CreatedById") or user or (rec["Id"] if obj.name == "User" else None)
        rec["LastModifiedById"] = given.get("LastModifiedById") or rec["CreatedById"]
        rec["IsDeleted"] = 0
        if obj.owned and not rec.get("OwnerId"):
            rec["OwnerId"] = user
        for name in SYSTEM_FIELDS:
            rec.setdefault(name, None)

    def check_references(self, obj: ObjectDef, rec: Record, changed: set[str]) -> None:
        """Every changed reference must name an existing, live record of an allowed type."""
        for name in changed:
            f = obj.field(name)
            value = rec.get(name)
            if f is None or f.type != "reference" or not value:
                continue
            target_type = type_of_id(value)
            if target_type not in f.refs and target_type not in self._ref_tables(f.refs):
                label = f.refs[0] if len(f.refs) == 1 else "Name" if f.name == "WhoId" else f.relationship
                raise SfApiError(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"{label} ID: id value of incorrect type: {value}",
                    [f.name],
                )
            if value in self.batch_ids or self.store.schema.get(target_type or "") is None:
                continue
            deleted = self.lookup(target_type or "", value, "IsDeleted")
            if deleted is None:
                raise SfApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
            if deleted:
                raise SfApiError(400, "ENTITY_IS_DELETED", "entity is deleted", [f.name])

    def _ref_tables(self, refs: tuple[str, ...]) -> set[str]:
        """The tables of the objects a reference field may point to (the schema's objects are fixed)."""
        tables = self._ref_table_cache.get(refs)
        if tables is None:
            schema = self.store.schema
            tables = {schema.require(r).table for r in refs if schema.get(r)}
            self._ref_table_cache[refs] = tables
        return tables

    # --- persistence --------------------------------------------------------------------------------

    def insert_rows(self, obj: ObjectDef, recs: list[Record]) -> None:
        if not recs:
            return
        cols = list(dict.fromkeys(c for r in recs for c in r))
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" * len(cols))
        try:
            self.db.executemany(
                f'INSERT INTO "{obj.table}" ({names}) VALUES ({marks})',
                [tuple(r.get(c) for c in cols) for r in recs],
            )
        except sqlite3.IntegrityError as exc:
            raise SfApiError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: Id duplicates value on record ({exc})",
                ["Id"],
            ) from None

    def update_row(self, obj: ObjectDef, rec: Record, old: Record) -> None:
        cols = [c for c in rec if c != "Id" and (c not in old or rec[c] != old[c])]
        if not cols:
            return
        sets = ", ".join(f'"{c}" = ?' for c in cols)
        self.db.execute(
            f'UPDATE "{obj.table}" SET {sets} WHERE "Id" = ?', (*(rec[c] for c in cols), rec["Id"])
        )
