"""The typed syntax tree of a parsed SOQL query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldPath:
    """``Account.Owner.Name``: relationship names, then the field (case as written)."""

    parts: tuple[str, ...]
    line: int
    column: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Count:
    """``COUNT()``."""

    line: int
    column: int


@dataclass(frozen=True, slots=True)
class When:
    """``WHEN Contact THEN Id, Email``."""

    type_name: str
    fields: tuple[FieldPath, ...]
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class TypeOf:
    """``TYPEOF Who WHEN ... ELSE ... END``."""

    relationship: str
    whens: tuple[When, ...]
    else_fields: tuple[FieldPath, ...] | None
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Value:
    """A literal: kind is string, number, datetime, date, boolean, null or date_literal."""

    kind: str
    value: Any
    text: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Compare:
    path: FieldPath
    op: str
    value: Value


@dataclass(frozen=True, slots=True)
class InList:
    path: FieldPath
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class Like:
    path: FieldPath
    pattern: Value


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Condition, ...]


Condition = Compare | InList | Like | Not | And | Or


@dataclass(frozen=True, slots=True)
class OrderItem:
    path: FieldPath
    descending: bool
    nulls_first: bool | None


@dataclass(slots=True)
class Query:
    """A whole SELECT (top level or child subquery, where ``sobject`` is the relationship name)."""

    select: list[FieldPath | TypeOf | Count | Query]
    sobject: str
    sobject_line: int
    sobject_column: int
    where: Condition | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None
    line: int = 1
    column: int = 1
