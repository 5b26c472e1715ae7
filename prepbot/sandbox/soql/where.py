"""Compile SOQL WHERE and ORDER BY to SQLite SQL with bound parameters, typed per field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import KEY_PREFIXES, normalize_id
from prepbot.sandbox.schema import NAME_FIELDS, NUMBER_TYPES, FieldDef, ObjectDef, Schema
from prepbot.sandbox.soql import ast
from prepbot.sandbox.soql.dateliterals import date_range, instant_bounds, local_today
from prepbot.sandbox.soql.parser import located_error
from prepbot.sandbox.soql.plan import Frag
from prepbot.sandbox.values import dt_to_db, parse_date, parse_datetime

_NEGATED_OP = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_NO_COLUMN = (
    "No such column '{field}' on entity '{entity}'. If you are attempting to use a custom field, be sure to "
    "append the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_NO_RELATIONSHIP = (
    "Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom "
    "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
    "WSDL or the describe call for the appropriate names."
)
MAX_DEPTH = 5


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def name_field(name: str) -> str | None:
    """The canonical ``Name``-object field called ``name`` (any case), or None."""
    return next((f for f in NAME_FIELDS if f.lower() == name.lower()), None)


def name_field_def(target: ObjectDef, fname: str, email_for_contacts: bool) -> FieldDef | None:
    """The column behind Name-object field ``fname`` on a concrete type (None when it has none).

    ``Name.Email`` is documented as the email of a user, so for Contacts and Leads it is null unless
    the store was built with ``name_email_for_contacts=True``.
    """
    if fname == "Email" and target.name in ("Contact", "Lead") and not email_for_contacts:
        return None
    f = target.field(fname)
    return f if f is not None and f.stored and fname != "Type" else None


@dataclass(slots=True)
class Ctx:
    """What compiling a query needs besides the AST."""

    schema: Schema
    soql: str
    now: datetime
    tz: ZoneInfo
    include_deleted: bool
    name_email_for_contacts: bool = False

    def error(self, code: str, node: Any, detail: str) -> SfApiError:
        return located_error(code, self.soql, node.line, node.column, detail)

    def no_column(self, node: Any, fname: str, entity: str) -> SfApiError:
        return self.error("INVALID_FIELD", node, _NO_COLUMN.format(field=fname, entity=entity))

    def no_relationship(self, node: Any, rel: str) -> SfApiError:
        return self.error("INVALID_FIELD", node, _NO_RELATIONSHIP.format(rel=rel))


# A leaf builder gets (column SQL, field, negate) and returns SQL + params and whether NULL satisfies it.
Leaf = Callable[[str, FieldDef | None, bool], tuple[Frag, bool]]


class WhereCompiler:
    """Turns a condition tree into SQL whose two-valued logic matches SOQL (NOT is pushed to leaves)."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def compile(self, obj: ObjectDef, cond: ast.Condition, negate: bool = False) -> Frag:
        if isinstance(cond, ast.Not):
            return self.compile(obj, cond.operand, not negate)
        if isinstance(cond, ast.And | ast.Or):
            parts = [self.compile(obj, c, negate) for c in cond.operands]
            joiner = " AND " if isinstance(cond, ast.And) != negate else " OR "
            return Frag("(" + joiner.join(p.sql for p in parts) + ")", [x for p in parts for x in p.params])
        if isinstance(cond, ast.Like):
            return self._path(obj, cond.path.parts, cond.path, self._like_leaf(cond), negate)
        if isinstance(cond, ast.InList):
            return self._path(obj, cond.path.parts, cond.path, self._in_leaf(cond), negate)
        return self._path(obj, cond.path.parts, cond.path, self._compare_leaf(cond), negate)

    # --- paths -------------------------------------------------------------------------------------

    def _path(
        self,
        obj: ObjectDef,
        parts: tuple[str, ...],
        node: ast.FieldPath,
        leaf: Leaf,
        negate: bool,
        depth: int = 0,
    ) -> Frag:
        if len(parts) == 1:
            f = obj.field(parts[0])
            if f is None:
                raise self.ctx.no_column(node, parts[0], obj.name)
            if not f.filterable:
                raise self.ctx.error(
                    "INVALID_FIELD", node, f"field '{f.name}' can not be filtered in a query call"
                )
            frag, _ = leaf(q(f.name), f, negate)
            return frag
        if depth >= MAX_DEPTH:
            raise self.ctx.error(
                "MALFORMED_QUERY",
                node,
                "SOQL statements cannot query relationships that are more than 5 levels away",
            )
        ref = obj.relationship(parts[0])
        if ref is None:
            raise self.ctx.no_relationship(node, parts[0])
        if ref.polymorphic:
            return self._polymorphic(ref, parts[1:], node, leaf, negate)
        target = self.ctx.schema.get(ref.refs[0])
        if target is None:
            raise self.ctx.no_relationship(node, parts[0])
        inner = self._path(target, parts[1:], node, leaf, negate, depth + 1)
        _, null_true = leaf("NULL", None, negate)
        sql = f"{q(ref.name)} IN (SELECT {q('Id')} FROM {q(target.table)} WHERE {inner.sql})"
        if null_true:
            sql = f"({q(ref.name)} IS NULL OR {sql})"
        return Frag(sql, inner.params)

    def _polymorphic(
        self, ref: FieldDef, rest: tuple[str, ...], node: ast.FieldPath, leaf: Leaf, negate: bool
    ) -> Frag:
        fname = name_field(rest[0])
        if len(rest) > 1:
            raise self.ctx.no_relationship(node, rest[0])
        if fname is None:
            raise self.ctx.no_column(node, rest[0], "Name")
        col = q(ref.name)
        _, null_true = leaf("NULL", None, negate)
        if fname == "Type":
            frag, _ = leaf(f"substr({col}, 1, 3)", None, negate)
            return Frag(f"({col} IS NULL OR {frag.sql})" if null_true else frag.sql, frag.params)
        parts: list[str] = [f"{col} IS NULL"] if null_true else []
        params: list[Any] = []
        for type_name in ref.refs:
            target = self.ctx.schema.get(type_name)
            if target is None:
                continue
            f = name_field_def(target, fname, self.ctx.name_email_for_contacts)
            prefix = KEY_PREFIXES[target.name]
            if f is None:
                if null_true:
                    parts.append(f"substr({col}, 1, 3) = '{prefix}'")
                continue
            inner, _ = leaf(q(f.name), f, negate)
            parts.append(f"{col} IN (SELECT {q('Id')} FROM {q(target.table)} WHERE {inner.sql})")
            params.extend(inner.params)
        return Frag("(" + (" OR ".join(parts) or "0") + ")", params)

    # --- leaves ------------------------------------------------------------------------------------

    def _compare_leaf(self, cond: ast.Compare) -> Leaf:
        op = "!=" if cond.op == "<>" else cond.op

        def leaf(col: str, f: FieldDef | None, negate: bool) -> tuple[Frag, bool]:
            value = cond.value
            if value.kind == "null":
                if op not in ("=", "!="):
                    raise self.ctx.error("MALFORMED_QUERY", value, "invalid operator for null value")
                is_null = (op == "=") != negate
                return Frag(f"{col} IS NULL" if is_null else f"{col} IS NOT NULL"), is_null
            null_true = (op == "!=") != negate
            if col == "NULL":
                return Frag("0"), null_true
            if value.kind == "date_literal":
                return self._range_leaf(col, f, cond, op, negate), null_true
            param = self._typed(f, value, cond.path)
            real_op = _NEGATED_OP[op] if negate else op
            if real_op == "!=":
                sql = f"{col} IS NOT ?" if null_true else f"{col} <> ?"
            else:
                sql = f"{col} {real_op} ?"
                if null_true:
                    sql = f"({col} IS NULL OR {sql})"
            return Frag(sql, [param]), null_true

        return leaf

    def _range_leaf(self, col: str, f: FieldDef | None, cond: ast.Compare, op: str, negate: bool) -> Frag:
        lo, hi = self._bounds(f, cond.value, cond.path)
        if op in ("=", "!="):
            inside = (op == "=") != negate
            if inside:
                return Frag(f"({col} >= ? AND {col} < ?)", [lo, hi])
            return Frag(f"({col} IS NULL OR {col} < ? OR {col} >= ?)", [lo, hi])
        real = _NEGATED_OP[op] if negate else op
        bound = {"<": lo, ">=": lo, "<=": hi, ">": hi}[real]
        sql_op = {"<": "<", ">=": ">=", "<=": "<", ">": ">="}[real]
        return Frag(f"{col} {sql_op} ?", [bound])

    def _bounds(self, f: FieldDef | None, value: ast.Value, node: ast.FieldPath) -> tuple[str, str]:
        if f is None or f.type not in ("date", "datetime"):
            name = f.name if f else node.text
            raise self.ctx.error(
                "INVALID_FIELD",
                value,
                f"value of filter criterion for field '{name}' must be "
                f"of type {_type_label(f)} and should not be enclosed in quotes",
            )
        name, n = value.value
        days = date_range(name, n, local_today(self.ctx.now, self.ctx.tz))
        if f.type == "date":
            return days[0].isoformat(), days[1].isoformat()
        lo, hi = instant_bounds(days, self.ctx.tz)
        return dt_to_db(lo), dt_to_db(hi)

    def _in_leaf(self, cond: ast.InList) -> Leaf:
        def leaf(col: str, f: FieldDef | None, negate: bool) -> tuple[Frag, bool]:
            has_null = any(v.kind == "null" for v in cond.values)
            positive = cond.negated == negate  # True: "value is in the list"
            null_true = has_null if positive else not has_null
            if col == "NULL":
                return Frag("0"), null_true
            ranges = [v for v in cond.values if v.kind == "date_literal"]
            plain = [
                self._typed(f, v, cond.path) for v in cond.values if v.kind not in ("null", "date_literal")
            ]
            pieces: list[Frag] = []
            if plain:
                marks = ", ".join("?" * len(plain))
                pieces.append(Frag(f"{col} {'IN' if positive else 'NOT IN'} ({marks})", plain))
            for v in ranges:
                pieces.append(self._range_leaf(col, f, ast.Compare(cond.path, "=", v), "=", not positive))
            joiner = " OR " if positive else " AND "
            body = joiner.join(p.sql for p in pieces) or ("0" if positive else "1")
            if null_true:
                sql = f"({col} IS NULL OR ({body}))"
            else:
                sql = f"({col} IS NOT NULL AND ({body}))" if ranges else f"({body})"
            return Frag(sql, [x for p in pieces for x in p.params]), null_true

        return leaf

    def _like_leaf(self, cond: ast.Like) -> Leaf:
        def leaf(col: str, f: FieldDef | None, negate: bool) -> tuple[Frag, bool]:
            if col == "NULL":
                return Frag("0"), negate
            if f is not None and not f.is_text:
                raise self.ctx.error(
                    "INVALID_FIELD",
                    cond.path,
                    f"invalid operator on {_type_label(f)} field "
                    f"'{f.name}': LIKE can only be used on text fields",
                )
            if negate:
                return Frag(f"({col} IS NULL OR NOT sf_like({col}, ?))", [cond.pattern.value]), True
            return Frag(f"sf_like({col}, ?)", [cond.pattern.value]), False

        return leaf

    # --- typed values ------------------------------------------------------------------------------

    def _typed(self, f: FieldDef | None, value: ast.Value, node: ast.FieldPath) -> Any:
        if f is None:  # Who.Type / What.Type: compare key prefixes
            if value.kind != "string":
                raise self._type_error(None, value, node)
            return _prefix_for(self.ctx.schema, value.value)
        kind = value.kind
        expected = _value_kind(f)
        if kind != expected:
            raise self._type_error(f, value, node)
        if f.type in ("id", "reference"):
            try:
                return normalize_id(value.value)
            except SfApiError:
                raise self.ctx.error(
                    "INVALID_QUERY_FILTER_OPERATOR", value, f"invalid ID field: {value.value}"
                ) from None
        if kind == "datetime":
            return dt_to_db(parse_datetime(value.value))
        if kind == "date":
            return parse_date(value.value).isoformat()
        if kind == "boolean":
            return int(value.value)
        return value.value

    def _type_error(self, f: FieldDef | None, value: ast.Value, node: ast.FieldPath) -> SfApiError:
        name = f.name if f is not None else node.text
        label = _type_label(f)
        quotes = (
            "should be enclosed in quotes"
            if label in ("string", "id")
            else "should not be enclosed in quotes"
        )
        return self.ctx.error(
            "INVALID_FIELD",
            value,
            f"value of filter criterion for field '{name}' must be of type {label} and {quotes}",
        )


def _value_kind(f: FieldDef) -> str:
    if f.type == "boolean":
        return "boolean"
    if f.type in NUMBER_TYPES:
        return "number"
    if f.type in ("date", "datetime"):
        return f.type
    return "string"


def _type_label(f: FieldDef | None) -> str:
    if f is None:
        return "string"
    return {
        "datetime": "dateTime",
        "int": "integer",
        "currency": "double",
        "percent": "double",
        "reference": "id",
    }.get(f.type, "string" if f.is_text else f.type)


def _prefix_for(schema: Schema, type_name: str) -> str:
    obj = schema.get(type_name)
    # An unknown type name can't match any Id; "~~~" is no key prefix.
    return KEY_PREFIXES.get(obj.name, "~~~") if obj is not None else "~~~"
