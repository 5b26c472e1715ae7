"""The read path of the store: wire-format records, query cursors and batched relationship loading."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import type_of_id
from prepbot.sandbox.schema import FieldDef, ObjectDef
from prepbot.sandbox.soql.plan import ChildSel, CompiledQuery, ParentSel, Projection
from prepbot.sandbox.soql.where import name_field_def
from prepbot.sandbox.values import to_wire

if TYPE_CHECKING:
    from prepbot.sandbox.store import Store

Row = dict[str, Any] | sqlite3.Row
_CHUNK = 5000
# The compound address JSON as seen on the wire (state/country codes only appear with code picklists).
_ADDRESS_PARTS = (
    "Street",
    "City",
    "State",
    "PostalCode",
    "Country",
    "Latitude",
    "Longitude",
    "GeocodeAccuracy",
)
_ADDRESS_KEYS = {
    "Street": "street",
    "City": "city",
    "State": "state",
    "PostalCode": "postalCode",
    "Country": "country",
    "StateCode": "stateCode",
    "CountryCode": "countryCode",
    "Latitude": "latitude",
    "Longitude": "longitude",
    "GeocodeAccuracy": "geocodeAccuracy",
}


def url_of(sobject: str, record_id: str, api_version: str) -> str:
    return f"/services/data/v{api_version}/sobjects/{sobject}/{record_id}"


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


class QueryCursor:
    """The rows a query matched, in the query's order; ``fetch`` shapes one page of records."""

    def __init__(
        self,
        reader: Reader,
        compiled: CompiledQuery,
        rowids: list[int],
        api_version: str,
        include_deleted: bool,
        total: int,
    ) -> None:
        self._reader = reader
        self._compiled = compiled
        self._rowids = rowids
        self._api_version = api_version
        self._include_deleted = include_deleted
        self.total_size = total

    def fetch(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Records of rows ``[offset, offset + limit)`` (COUNT() queries have none)."""
        if self._compiled.is_count:
            return []
        wanted = self._rowids[max(offset, 0) : max(offset, 0) + max(limit, 0)]
        return self._reader.page(self._compiled, wanted, self._api_version, self._include_deleted)


class Reader:
    """Turns stored rows into Salesforce JSON, loading parents and children in batches."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db: sqlite3.Connection = store._db

    # --- single records -----------------------------------------------------------------------------

    def field_value(self, obj: ObjectDef, f: FieldDef, row: Row, api_version: str) -> Any:
        if f.type == "address":
            return self._address(f, row)
        if f.type == "base64":
            return url_of(obj.name, row["Id"], api_version) + f"/{f.name}"
        return to_wire(f, row[f.name])

    @staticmethod
    def _address(f: FieldDef, row: Row) -> dict[str, Any] | None:
        prefix = f.name[: -len("Address")]
        values = {_ADDRESS_KEYS[p]: row[prefix + p] for p in _ADDRESS_PARTS}
        if all(v is None for v in values.values()):
            return None
        return dict(sorted(values.items()))

    def wire_record(
        self, obj: ObjectDef, row: Row, fields: list[str] | None, api_version: str
    ) -> dict[str, Any]:
        if fields is None:
            defs = list(obj.fields.values())
        else:
            defs = []
            for name in fields:
                f = obj.field(name.strip())
                if f is None:
                    raise SfApiError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{name}' on entity '{obj.name}'. If you "
                        "are attempting to use a custom field, be sure to append the '__c' after the "
                        "custom field name. Please reference your WSDL or the describe call for the "
                        "appropriate names.",
                    )
                defs.append(f)
        out: dict[str, Any] = {
            "attributes": {"type": obj.name, "url": url_of(obj.name, row["Id"], api_version)}
        }
        for f in defs:
            out[f.name] = self.field_value(obj, f, row, api_version)
        return out

    # --- queries ------------------------------------------------------------------------------------

    def open_cursor(self, compiled: CompiledQuery, api_version: str, include_deleted: bool) -> QueryCursor:
        table = compiled.obj.table
        sql = f'SELECT t0.rowid FROM "{table}" t0 WHERE {compiled.where.sql} ORDER BY {compiled.order_sql}'
        params = list(compiled.where.params)
        if compiled.limit is not None or compiled.offset is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [compiled.limit if compiled.limit is not None else -1, compiled.offset or 0]
        if compiled.is_count:
            total = int(self.db.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])
            return QueryCursor(self, compiled, [], api_version, include_deleted, total)
        rowids = [r[0] for r in self.db.execute(sql, params)]
        return QueryCursor(self, compiled, rowids, api_version, include_deleted, len(rowids))

    def page(
        self, compiled: CompiledQuery, rowids: list[int], api_version: str, include_deleted: bool
    ) -> list[dict[str, Any]]:
        with self.store._lock:
            by_rowid: dict[int, sqlite3.Row] = {}
            for chunk in _chunks(rowids):
                marks = ",".join("?" * len(chunk))
                sql = f'SELECT rowid AS _rowid, * FROM "{compiled.obj.table}" WHERE rowid IN ({marks})'
                for row in self.db.execute(sql, chunk):
                    by_rowid[row["_rowid"]] = row
            rows = [by_rowid[r] for r in rowids if r in by_rowid]
            return self.materialize(compiled.projection, rows, api_version, include_deleted)

    def materialize(
        self, proj: Projection, rows: Sequence[Row], api_version: str, include_deleted: bool
    ) -> list[dict[str, Any]]:
        """Shape rows per the projection; one SQL per relationship for the whole batch."""
        obj = proj.obj
        parents = {
            key: self._parents(sel, rows, api_version, include_deleted) for key, sel in proj.parents.items()
        }
        children = {
            c.key.lower(): self._children(c, rows, api_version, include_deleted) for c in proj.children
        }
        fields = {f.name.lower(): f for f in proj.fields}
        out = []
        for row in rows:
            rec: dict[str, Any] = {
                "attributes": {"type": obj.name, "url": url_of(obj.name, row["Id"], api_version)}
            }
            for kind, key in proj.order:
                if kind == "field":
                    f = fields[key]
                    rec[f.name] = self.field_value(obj, f, row, api_version)
                elif kind == "parent":
                    sel = proj.parents[key]
                    ref = row[sel.ref.name]
                    rec[sel.key] = parents[key].get(ref) if ref else None
                else:
                    child = next(c for c in proj.children if c.key.lower() == key)
                    rec[child.key] = children[key].get(row["Id"])
            out.append(rec)
        return out

    def _fetch_ids(self, table: str, ids: list[str], include_deleted: bool) -> list[sqlite3.Row]:
        rows: list[sqlite3.Row] = []
        deleted = "" if include_deleted else ' AND "IsDeleted" = 0'
        for chunk in _chunks(ids):
            sql = f'SELECT * FROM "{table}" WHERE "Id" IN ({",".join("?" * len(chunk))}){deleted}'
            rows.extend(self.db.execute(sql, chunk))
        return rows

    def _parents(
        self, sel: ParentSel, rows: Sequence[Row], api_version: str, include_deleted: bool
    ) -> dict[str, dict[str, Any]]:
        by_type: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            ref = row[sel.ref.name]
            if ref:
                by_type[type_of_id(ref) or ""].add(ref)
        result: dict[str, dict[str, Any]] = {}
        for type_name, ids in by_type.items():
            target = self.store.schema.get(type_name) if type_name else None
            if target is None:
                continue
            prows = self._fetch_ids(target.table, sorted(ids), include_deleted)
            result.update(self._shape_parent(sel, target, prows, api_version, include_deleted))
        return result

    def _shape_parent(
        self,
        sel: ParentSel,
        target: ObjectDef,
        prows: list[sqlite3.Row],
        api_version: str,
        include_deleted: bool,
    ) -> dict[str, dict[str, Any]]:
        proj: Projection | None = None
        if sel.mode == "plain":
            proj = sel.plain
        elif sel.mode == "typeof":
            proj = sel.when.get(target.name)
        if proj is not None:
            shaped = self.materialize(proj, prows, api_version, include_deleted)
            return {row["Id"]: rec for row, rec in zip(prows, shaped, strict=True)}
        if sel.mode == "name":
            return {
                row["Id"]: self._name_record(target, row, sel.name_fields, "Name", api_version)
                for row in prows
            }
        fields = sel.else_fields or []
        return {row["Id"]: self._name_record(target, row, fields, target.name, api_version) for row in prows}

    def _name_record(
        self, target: ObjectDef, row: Row, fields: list[str], type_label: str, api_version: str
    ) -> dict[str, Any]:
        rec: dict[str, Any] = {
            "attributes": {"type": type_label, "url": url_of(target.name, row["Id"], api_version)}
        }
        for fname in fields:
            rec[fname] = self._name_value(target, row, fname)
        return rec

    def _name_value(self, target: ObjectDef, row: Row, fname: str) -> Any:
        if fname == "Type":
            return target.name
        f = name_field_def(target, fname, self.store.name_email_for_contacts)
        if f is None:
            return None
        return to_wire(f, row[f.name])

    def _children(
        self, sel: ChildSel, rows: Sequence[Row], api_version: str, include_deleted: bool
    ) -> dict[str, dict[str, Any] | None]:
        parent_ids = [row["Id"] for row in rows]
        grouped: dict[str, list[sqlite3.Row]] = defaultdict(list)
        for chunk in _chunks(parent_ids):
            marks = ",".join("?" * len(chunk))
            sql = (
                f'SELECT t0.* FROM "{sel.obj.table}" t0 WHERE t0."{sel.rel.field}" IN ({marks}) '
                f"AND {sel.where.sql} ORDER BY {sel.order_sql}"
            )
            for crow in self.db.execute(sql, [*chunk, *sel.where.params]):
                grouped[crow[sel.rel.field]].append(crow)
        start = sel.offset or 0
        for key, items in grouped.items():
            grouped[key] = items[start : start + sel.limit if sel.limit is not None else None]
        flat = [c for items in grouped.values() for c in items]
        shaped = iter(self.materialize(sel.projection, flat, api_version, include_deleted))
        result: dict[str, dict[str, Any] | None] = {}
        for key, items in grouped.items():
            records = [next(shaped) for _ in items]
            result[key] = {"totalSize": len(records), "done": True, "records": records} if records else None
        return result


def describe_object(obj: ObjectDef, api_version: str) -> dict[str, Any]:
    """The subset of a describe result the sandbox reports."""
    from prepbot.sandbox.ids import KEY_PREFIXES

    fields = []
    for f in obj.fields.values():
        fields.append(
            {
                "name": f.name,
                "type": f.type if f.type != "datetime" else "datetime",
                "label": f.name,
                "nillable": f.nillable,
                "createable": f.createable,
                "updateable": f.updateable,
                "custom": f.custom,
                "length": f.length or 0,
                "filterable": f.filterable,
                "sortable": f.filterable,
                "defaultedOnCreate": f.default is not None or f.type == "boolean",
                "referenceTo": list(f.refs),
                "relationshipName": f.relationship,
                "polymorphicForeignKey": f.polymorphic,
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": v == f.default} for v in f.values
                ],
            }
        )
    return {
        "name": obj.name,
        "label": obj.name,
        "keyPrefix": KEY_PREFIXES.get(obj.name),
        "custom": False,
        "createable": obj.createable,
        "updateable": obj.createable,
        "deletable": True,
        "queryable": True,
        "retrieveable": True,
        "fields": fields,
        "childRelationships": [
            {
                "relationshipName": r.name,
                "childSObject": r.child,
                "field": r.field,
                "cascadeDelete": r.cascade,
            }
            for r in obj.children.values()
        ],
        "urls": {
            "sobject": f"/services/data/v{api_version}/sobjects/{obj.name}",
            "describe": f"/services/data/v{api_version}/sobjects/{obj.name}/describe",
            "rowTemplate": f"/services/data/v{api_version}/sobjects/{obj.name}/{{ID}}",
        },
    }
