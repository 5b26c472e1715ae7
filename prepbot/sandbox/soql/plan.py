"""The compiled form of a query: SQL fragments plus the projection that shapes each record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prepbot.sandbox.schema import ChildRel, FieldDef, ObjectDef


@dataclass(slots=True)
class Frag:
    """A piece of SQL with its bound parameters, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class ParentSel:
    """A parent relationship in the SELECT list.

    ``mode`` is ``plain`` (a lookup to one object type), ``name`` (a polymorphic lookup seen through
    the ``Name`` object) or ``typeof`` (``TYPEOF ... WHEN ... END``).
    """

    key: str
    ref: FieldDef
    mode: str
    plain: Projection | None = None
    name_fields: list[str] = field(default_factory=list)
    when: dict[str, Projection] = field(default_factory=dict)
    else_fields: list[str] | None = None


@dataclass(slots=True)
class ChildSel:
    """A child subquery: ``(SELECT ... FROM EventRelations WHERE ...)``."""

    key: str
    rel: ChildRel
    obj: ObjectDef
    projection: Projection
    where: Frag
    order_sql: str
    limit: int | None
    offset: int | None


@dataclass(slots=True)
class Projection:
    """The selected items of one object, in SELECT order (fields, parents, children)."""

    obj: ObjectDef
    fields: list[FieldDef] = field(default_factory=list)
    parents: dict[str, ParentSel] = field(default_factory=dict)
    children: list[ChildSel] = field(default_factory=list)
    order: list[tuple[str, str]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


@dataclass(slots=True)
class CompiledQuery:
    """A whole top-level query ready to run."""

    obj: ObjectDef
    projection: Projection
    where: Frag
    order_sql: str
    limit: int | None
    offset: int | None
    is_count: bool
