"""Parse SOQL text into the typed AST; a syntax error becomes 400 ``MALFORMED_QUERY``."""

from __future__ import annotations

import functools
import threading
from pathlib import Path
from typing import Any

from lark import (
    Lark,
    Token,
    Transformer,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)
from lark.exceptions import VisitError
from lark.tree import Meta

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.soql import ast

_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def located_error(code: str, soql: str, line: int, column: int, detail: str) -> SfApiError:
    """An error in Salesforce's query-error layout: the query line, a caret, the position, the reason."""
    lines = soql.splitlines() or [""]
    text = lines[line - 1] if 0 < line <= len(lines) else lines[-1]
    caret = " " * max(column - 1, 0) + "^"
    return SfApiError(400, code, f"\n{text}\n{caret}\nERROR at Row:{line}:Column:{column}\n{detail}")


_BUILDING = threading.Lock()


@functools.cache
def _built() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _lark() -> Lark:
    """The parser, built once per process: a query that comes while it is being built waits for it."""
    with _BUILDING:
        return _built()


def parser_ready() -> bool:
    """Whether this process has built the parser already."""
    return _built.cache_info().currsize > 0


def warm_up() -> threading.Thread:
    """Build the parser in the background (60-90 ms of CPU) while the org is opened and seeded, so
    that the org's first query does not pay for it (issue 7: it was part of the first page's time
    in every measured cycle). Returns the thread, which a caller may join."""
    thread = threading.Thread(target=_lark, name="soql-parser", daemon=True)
    thread.start()
    return thread


def unescape(raw: str, *, keep_like_escapes: bool) -> str:
    """Decode a quoted SOQL string body. ``\\%``/``\\_`` stay escaped for LIKE patterns.

    Raises:
        ValueError: on an escape sequence SOQL does not define.
    """
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif nxt in ("%", "_"):
            out.append("\\" + nxt if keep_like_escapes else nxt)
        else:
            raise ValueError(f"\\{nxt}")
        i += 2
    return "".join(out)


def _pos(item: Any) -> tuple[int, int]:
    if isinstance(item, Token):
        return item.line or 1, item.column or 1
    meta: Meta = item
    return getattr(meta, "line", 1), getattr(meta, "column", 1)


class _ToAst(Transformer[Token, Any]):
    """Turns the Lark parse tree into ``ast`` nodes."""

    def __init__(self, soql: str) -> None:
        super().__init__()
        self.soql = soql

    def start(self, items: list[Any]) -> ast.Query:
        query: ast.Query = items[0]
        return query

    def field_path(self, items: list[Token]) -> ast.FieldPath:
        return ast.FieldPath(tuple(str(t) for t in items), *_pos(items[0]))

    def count(self, items: list[Token]) -> ast.Count:
        return ast.Count(*_pos(items[0]))

    def field_list(self, items: list[ast.FieldPath]) -> tuple[ast.FieldPath, ...]:
        return tuple(items)

    def when_clause(self, items: list[Any]) -> ast.When:
        return ast.When(str(items[1]), items[3], *_pos(items[1]))

    def else_clause(self, items: list[Any]) -> tuple[ast.FieldPath, ...]:
        fields: tuple[ast.FieldPath, ...] = items[1]
        return fields

    def typeof(self, items: list[Any]) -> ast.TypeOf:
        whens = tuple(i for i in items if isinstance(i, ast.When))
        else_fields = next((i for i in items if isinstance(i, tuple)), None)
        return ast.TypeOf(str(items[1]), whens, else_fields, *_pos(items[1]))

    def select_list(self, items: list[Any]) -> list[Any]:
        return items

    sub_list = select_list

    def query(self, items: list[Any]) -> ast.Query:
        return self._query(items[1], items[3], items[4:], items[0])

    def subquery(self, items: list[Any]) -> ast.Query:
        return self._query(items[1], items[3], items[4:], items[0])

    def _query(self, select: list[Any], name: Token, clauses: list[Any], start: Token) -> ast.Query:
        q = ast.Query(select, str(name), *_pos(name))
        q.line, q.column = _pos(start)
        for kind, value in clauses:
            setattr(q, kind, value)
        return q

    def where_clause(self, items: list[Any]) -> tuple[str, Any]:
        return "where", items[1]

    def order_clause(self, items: list[Any]) -> tuple[str, Any]:
        return "order", [i for i in items if isinstance(i, ast.OrderItem)]

    def limit_clause(self, items: list[Token]) -> tuple[str, int]:
        return "limit", int(items[1])

    def offset_clause(self, items: list[Token]) -> tuple[str, int]:
        return "offset", int(items[1])

    def order_item(self, items: list[Any]) -> ast.OrderItem:
        desc = any(isinstance(i, tuple) and i[0] == "dir" and i[1] for i in items)
        nulls = next((i[1] for i in items if isinstance(i, tuple) and i[0] == "nulls"), None)
        return ast.OrderItem(items[0], desc, nulls)

    def direction(self, items: list[Token]) -> tuple[str, bool]:
        return "dir", str(items[0]).upper() == "DESC"

    def nulls(self, items: list[Token]) -> tuple[str, bool]:
        return "nulls", str(items[1]).upper() == "FIRST"

    def and_chain(self, items: list[Any]) -> ast.And:
        return ast.And(tuple(i for i in items if not isinstance(i, Token)))

    def or_chain(self, items: list[Any]) -> ast.Or:
        return ast.Or(tuple(i for i in items if not isinstance(i, Token)))

    def not_(self, items: list[Any]) -> ast.Not:
        return ast.Not(items[1])

    def compare(self, items: list[Any]) -> ast.Compare:
        return ast.Compare(items[0], str(items[1]), items[2])

    def in_(self, items: list[Any]) -> ast.InList:
        return ast.InList(items[0], tuple(i for i in items[2:] if isinstance(i, ast.Value)), False)

    def not_in(self, items: list[Any]) -> ast.InList:
        return ast.InList(items[0], tuple(i for i in items[3:] if isinstance(i, ast.Value)), True)

    def like(self, items: list[Any]) -> ast.Like:
        return ast.Like(items[0], self.string([items[2]], like=True))

    def string(self, items: list[Token], like: bool = False) -> ast.Value:
        tok = items[0]
        try:
            text = unescape(str(tok)[1:-1], keep_like_escapes=like)
        except ValueError as exc:
            raise located_error(
                "MALFORMED_QUERY",
                self.soql,
                *_pos(tok),
                f"Invalid string literal '{str(tok)[1:-1]}'. "
                f"Illegal character sequence '{exc}' in string literal.",
            ) from None
        return ast.Value("string", text, str(tok), *_pos(tok))

    def number(self, items: list[Token]) -> ast.Value:
        tok = items[0]
        return ast.Value("number", float(tok) if "." in tok else int(tok), str(tok), *_pos(tok))

    def datetime(self, items: list[Token]) -> ast.Value:
        return ast.Value("datetime", str(items[0]), str(items[0]), *_pos(items[0]))

    def date(self, items: list[Token]) -> ast.Value:
        return ast.Value("date", str(items[0]), str(items[0]), *_pos(items[0]))

    def true(self, items: list[Token]) -> ast.Value:
        return ast.Value("boolean", True, str(items[0]), *_pos(items[0]))

    def false(self, items: list[Token]) -> ast.Value:
        return ast.Value("boolean", False, str(items[0]), *_pos(items[0]))

    def null(self, items: list[Token]) -> ast.Value:
        return ast.Value("null", None, str(items[0]), *_pos(items[0]))

    def date_literal(self, items: list[Token]) -> ast.Value:
        return ast.Value("date_literal", (str(items[0]).upper(), None), str(items[0]), *_pos(items[0]))

    def date_n_literal(self, items: list[Token]) -> ast.Value:
        name, n = str(items[0]).split(":")
        return ast.Value("date_literal", (name.upper(), int(n)), str(items[0]), *_pos(items[0]))


def parse(soql: str) -> ast.Query:
    """Parse one SOQL statement.

    Raises:
        SfApiError: 400 ``MALFORMED_QUERY`` for anything outside the supported grammar.
    """
    try:
        tree = _lark().parse(soql)
    except UnexpectedInput as exc:
        raise _syntax_error(soql, exc) from None
    try:
        result: ast.Query = _ToAst(soql).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, SfApiError):
            raise exc.orig_exc from None
        raise
    return result


def _syntax_error(soql: str, exc: UnexpectedInput) -> SfApiError:
    line, column = exc.line or 1, exc.column or 1
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        lines = soql.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
        return located_error("MALFORMED_QUERY", soql, line, column, "unexpected token: <EOF>")
    if isinstance(exc, UnexpectedToken):
        return located_error("MALFORMED_QUERY", soql, line, column, f"unexpected token: '{exc.token}'")
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = soql[pos] if pos < len(soql) else ""
        return located_error("MALFORMED_QUERY", soql, line, column, f"unexpected token: '{char}'")
    return located_error("MALFORMED_QUERY", soql, line, column, "unexpected token")
