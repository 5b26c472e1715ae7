"""Check a parsed SOQL query against the schema and compile it to SQL plus a projection plan."""

from __future__ import annotations

import itertools

from prepbot.sandbox.ids import KEY_PREFIXES
from prepbot.sandbox.schema import FieldDef, ObjectDef
from prepbot.sandbox.soql import ast
from prepbot.sandbox.soql.plan import ChildSel, CompiledQuery, Frag, ParentSel, Projection
from prepbot.sandbox.soql.where import MAX_DEPTH, Ctx, WhereCompiler, name_field, name_field_def, q

MAX_OFFSET = 2000
_CDL_FILTER_FIELDS = frozenset({"id", "linkedentityid", "contentdocumentid"})
_UNSUPPORTED_TYPE = (
    "sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to "
    "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
    "appropriate names."
)
_UNKNOWN_CHILD = (
    "Didn't understand relationship '{name}' in FROM part of query call. If you are attempting to use a "
    "custom relationship, be sure to append the '__r' after the custom relationship name. Please reference "
    "your WSDL or the describe call for the appropriate names."
)


class Compiler:
    """Compiles one query (and its subqueries) in a given context."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx
        self.where = WhereCompiler(ctx)
        self._aliases = itertools.count(1)

    def compile(self, query: ast.Query) -> CompiledQuery:
        obj = self.ctx.schema.get(query.sobject)
        if obj is None:
            raise self.ctx.error(
                "INVALID_TYPE",
                _Pos(query.sobject_line, query.sobject_column),
                _UNSUPPORTED_TYPE.format(name=query.sobject),
            )
        counts = [i for i in query.select if isinstance(i, ast.Count)]
        if counts and len(query.select) > 1:
            raise self.ctx.error("MALFORMED_QUERY", counts[0], "COUNT() can't be used with other fields")
        projection = Projection(obj)
        if not counts:
            for item in query.select:
                self._add_item(projection, item)
        if obj.name == "ContentDocumentLink":
            self._check_cdl_filter(query)
        where = self._where(obj, query.where)
        self._check_offset(query)
        order_sql = self._order(obj, query.order)
        return CompiledQuery(obj, projection, where, order_sql, query.limit, query.offset, bool(counts))

    def _where(self, obj: ObjectDef, cond: ast.Condition | None) -> Frag:
        frag = self.where.compile(obj, cond) if cond is not None else Frag("1")
        if self.ctx.include_deleted:
            return frag
        return Frag(f"t0.{q('IsDeleted')} = 0 AND {frag.sql}", frag.params)

    def _check_offset(self, query: ast.Query) -> None:
        if query.offset is not None and query.offset > MAX_OFFSET:
            raise self.ctx.error(
                "NUMBER_OUTSIDE_VALID_RANGE", query, f"Maximum SOQL offset allowed is {MAX_OFFSET}"
            )

    def _check_cdl_filter(self, query: ast.Query) -> None:
        cond = query.where
        terms = list(cond.operands) if isinstance(cond, ast.And) else [cond] if cond is not None else []
        for term in terms:
            ok_compare = isinstance(term, ast.Compare) and term.op == "="
            ok_in = isinstance(term, ast.InList) and not term.negated
            if (ok_compare or ok_in) and ".".join(term.path.parts).lower() in _CDL_FILTER_FIELDS:  # type: ignore[union-attr]
                return
        raise self.ctx.error(
            "MALFORMED_QUERY",
            query,
            "Implementation restriction: ContentDocumentLink requires a filter by a single Id on "
            "ContentDocumentId "
            "or LinkedEntityId using the equals operator or multiple Id's using the IN operator.",
        )

    # --- SELECT list -------------------------------------------------------------------------------

    def _add_item(self, proj: Projection, item: ast.FieldPath | ast.TypeOf | ast.Count | ast.Query) -> None:
        if isinstance(item, ast.FieldPath):
            self._add_path(proj, item.parts, item, 0)
        elif isinstance(item, ast.TypeOf):
            self._add_typeof(proj, item)
        elif isinstance(item, ast.Query):
            self._add_child(proj, item)
        else:
            raise self.ctx.error("MALFORMED_QUERY", item, "COUNT() can't be used with other fields")

    def _mark(self, proj: Projection, key: str, node: ast.FieldPath, shown: str) -> None:
        if key in proj.seen:
            raise self.ctx.error("MALFORMED_QUERY", node, f"duplicate field selected: {shown}")
        proj.seen.add(key)

    def _add_path(self, proj: Projection, parts: tuple[str, ...], node: ast.FieldPath, depth: int) -> None:
        if len(parts) == 1:
            f = proj.obj.field(parts[0])
            if f is None:
                raise self.ctx.no_column(node, parts[0], proj.obj.name)
            self._mark(proj, f.name.lower(), node, f.name)
            proj.fields.append(f)
            proj.order.append(("field", f.name.lower()))
            return
        if depth >= MAX_DEPTH:
            raise self.ctx.error(
                "MALFORMED_QUERY",
                node,
                "SOQL statements cannot query relationships that are more than 5 levels away",
            )
        sel = self._parent_sel(proj, parts[0], node)
        if sel.mode == "typeof":
            raise self.ctx.error(
                "MALFORMED_QUERY",
                node,
                f"Field '{node.text}' can't be selected together with TYPEOF {sel.key}",
            )
        if sel.plain is not None:
            self._add_path(sel.plain, parts[1:], node, depth + 1)
            return
        if len(parts) > 2:
            raise self.ctx.no_relationship(node, parts[1])
        fname = name_field(parts[1])
        if fname is None:
            raise self.ctx.no_column(node, parts[1], "Name")
        self._mark(proj, f"{sel.key.lower()}.{fname.lower()}", node, node.text)
        sel.name_fields.append(fname)

    def _parent_sel(self, proj: Projection, rel_name: str, node: ast.FieldPath) -> ParentSel:
        ref = proj.obj.relationship(rel_name)
        if ref is None or ref.relationship is None:
            raise self.ctx.no_relationship(node, rel_name)
        key = ref.relationship.lower()
        sel = proj.parents.get(key)
        if sel is None:
            sel = ParentSel(ref.relationship, ref, "name" if ref.polymorphic else "plain")
            if not ref.polymorphic:
                target = self.ctx.schema.get(ref.refs[0])
                if target is None:
                    raise self.ctx.no_relationship(node, rel_name)
                sel.plain = Projection(target)
            proj.parents[key] = sel
            proj.order.append(("parent", key))
        return sel

    def _add_typeof(self, proj: Projection, item: ast.TypeOf) -> None:
        ref = proj.obj.relationship(item.relationship)
        if ref is None or ref.relationship is None:
            raise self.ctx.no_relationship(item, item.relationship)
        if not ref.polymorphic:
            raise self.ctx.error(
                "MALFORMED_QUERY",
                item,
                f"TYPEOF can only be used on a polymorphic relationship, not '{ref.relationship}'",
            )
        key = ref.relationship.lower()
        if key in proj.parents:
            raise self.ctx.error(
                "MALFORMED_QUERY",
                item,
                f"'{ref.relationship}' is selected both with TYPEOF and as a field path",
            )
        sel = ParentSel(ref.relationship, ref, "typeof")
        for when in item.whens:
            target = self.ctx.schema.get(when.type_name)
            if target is None:
                raise self.ctx.error("INVALID_TYPE", when, _UNSUPPORTED_TYPE.format(name=when.type_name))
            if target.name in sel.when:
                raise self.ctx.error("MALFORMED_QUERY", when, f"duplicate WHEN clause: {target.name}")
            wp = Projection(target)
            for fp in when.fields:
                self._add_path(wp, fp.parts, fp, 1)
            sel.when[target.name] = wp
        if item.else_fields is not None:
            sel.else_fields = [self._else_field(fp) for fp in item.else_fields]
        proj.parents[key] = sel
        proj.order.append(("parent", key))

    def _else_field(self, fp: ast.FieldPath) -> str:
        fname = name_field(fp.parts[0]) if len(fp.parts) == 1 else None
        if fname is None:
            raise self.ctx.no_column(fp, fp.text, "Name")
        return fname

    def _add_child(self, proj: Projection, sub: ast.Query) -> None:
        rel = proj.obj.children.get(sub.sobject.lower())
        pos = _Pos(sub.sobject_line, sub.sobject_column)
        if rel is None:
            raise self.ctx.error("INVALID_TYPE", pos, _UNKNOWN_CHILD.format(name=sub.sobject))
        if any(c.key.lower() == rel.name.lower() for c in proj.children):
            raise self.ctx.error("MALFORMED_QUERY", pos, f"duplicate subquery: {rel.name}")
        child = self.ctx.schema.require(rel.child)
        cproj = Projection(child)
        for item in sub.select:
            if isinstance(item, ast.Query | ast.Count):
                raise self.ctx.error("MALFORMED_QUERY", item, "nested subqueries are not supported")
            self._add_item(cproj, item)
        self._check_offset(sub)
        sel = ChildSel(
            rel.name,
            rel,
            child,
            cproj,
            self._where(child, sub.where),
            self._order(child, sub.order),
            sub.limit,
            sub.offset,
        )
        proj.children.append(sel)
        proj.order.append(("child", rel.name.lower()))

    # --- ORDER BY ----------------------------------------------------------------------------------

    def _order(self, obj: ObjectDef, items: list[ast.OrderItem]) -> str:
        keys = []
        for item in items:
            expr, f = self._order_expr(obj, item.path.parts, item.path, "t0", 0)
            if f is not None and f.is_text and "(" in expr:
                expr += " COLLATE SFCI"
            nulls_first = item.nulls_first if item.nulls_first is not None else not item.descending
            keys.append(
                f"{expr} {'DESC' if item.descending else 'ASC'} NULLS {'FIRST' if nulls_first else 'LAST'}"
            )
        keys.append("t0.rowid ASC")
        return ", ".join(keys)

    def _order_expr(
        self, obj: ObjectDef, parts: tuple[str, ...], node: ast.FieldPath, alias: str, depth: int
    ) -> tuple[str, FieldDef | None]:
        if len(parts) == 1:
            f = obj.field(parts[0])
            if f is None:
                raise self.ctx.no_column(node, parts[0], obj.name)
            if not f.filterable:
                raise self.ctx.error(
                    "INVALID_FIELD", node, f"field '{f.name}' can not be sorted in a query call"
                )
            return f"{alias}.{q(f.name)}", f
        ref = obj.relationship(parts[0])
        if ref is None or depth >= MAX_DEPTH:
            raise self.ctx.no_relationship(node, parts[0])
        if ref.polymorphic:
            return self._order_polymorphic(ref, parts[1:], node, alias)
        target = self.ctx.schema.get(ref.refs[0])
        if target is None:
            raise self.ctx.no_relationship(node, parts[0])
        inner = f"o{next(self._aliases)}"
        expr, f = self._order_expr(target, parts[1:], node, inner, depth + 1)
        return (
            f"(SELECT {expr} FROM {q(target.table)} {inner} WHERE {inner}.{q('Id')} = {alias}.{q(ref.name)})",
            f,
        )

    def _order_polymorphic(
        self, ref: FieldDef, rest: tuple[str, ...], node: ast.FieldPath, alias: str
    ) -> tuple[str, FieldDef | None]:
        fname = name_field(rest[0]) if len(rest) == 1 else None
        if fname is None:
            raise self.ctx.no_column(node, ".".join(rest), "Name")
        col = f"{alias}.{q(ref.name)}"
        if fname == "Type":
            whens = " ".join(f"WHEN '{KEY_PREFIXES[t]}' THEN '{t}'" for t in ref.refs if t in KEY_PREFIXES)
            return f"(CASE substr({col}, 1, 3) {whens} END)", None
        options, found = [], None
        for type_name in ref.refs:
            target = self.ctx.schema.get(type_name)
            f = (
                name_field_def(target, fname, self.ctx.name_email_for_contacts)
                if target is not None
                else None
            )
            if target is None or f is None:
                continue
            found = found or f
            options.append(f"(SELECT {q(f.name)} FROM {q(target.table)} WHERE {q('Id')} = {col})")
        if not options:
            return "NULL", None
        expr = options[0] if len(options) == 1 else f"coalesce({', '.join(options)})"
        return expr, found


class _Pos:
    """A position for error messages when no AST node carries it."""

    def __init__(self, line: int, column: int) -> None:
        self.line, self.column = line, column


def compile_query(query: ast.Query, ctx: Ctx) -> CompiledQuery:
    """Compile a parsed query.

    Raises:
        SfApiError: 400 INVALID_TYPE / INVALID_FIELD / MALFORMED_QUERY in Salesforce's message style.
    """
    return Compiler(ctx).compile(query)
