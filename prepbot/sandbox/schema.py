"""Field and object definitions of the sandbox org, and the per-store registry with custom fields."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from prepbot.sandbox.errors import SfApiError

TEXT_TYPES = frozenset(
    {
        "string",
        "textarea",
        "picklist",
        "multipicklist",
        "combobox",
        "email",
        "phone",
        "url",
        "encryptedstring",
    }
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
CUSTOM_TYPES = TEXT_TYPES | NUMBER_TYPES | {"boolean", "date", "datetime", "reference"}

NAME_FIELDS = (
    "Id",
    "Name",
    "FirstName",
    "LastName",
    "Alias",
    "Email",
    "Phone",
    "Title",
    "Type",
    "IsActive",
    "Username",
)
"""The field set of Salesforce's ``Name`` object, through which polymorphic lookups are traversed."""

SYSTEM_FIELDS = ("CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp")


@dataclass(slots=True)
class FieldDef:
    """One field: API name, type and the properties describe reports."""

    name: str
    type: str
    required: bool = False
    createable: bool = True
    updateable: bool = True
    values: tuple[str, ...] = ()
    restricted: bool = True
    refs: tuple[str, ...] = ()
    relationship: str | None = None
    polymorphic: bool = False
    length: int | None = None
    default: Any = None
    derived: bool = False
    seedable: bool = False
    custom: bool = False

    @property
    def stored(self) -> bool:
        """Whether the field has its own column (compound and base64 fields do not)."""
        return self.type not in ("address", "base64")

    @property
    def nillable(self) -> bool:
        return self.type != "boolean" and self.type != "id" and not self.required

    @property
    def filterable(self) -> bool:
        # Long text areas (over 255 characters) can't be filtered or sorted in SOQL.
        long_text = self.type == "textarea" and (self.length or 0) > 255
        return self.type not in ("address", "base64", "junctionidlist") and not long_text

    @property
    def is_text(self) -> bool:
        return self.type in TEXT_TYPES


@dataclass(slots=True)
class ChildRel:
    """A child relationship usable in a subquery: ``(SELECT ... FROM <name>)``."""

    name: str
    child: str
    field: str
    cascade: bool = False


@dataclass(slots=True)
class ObjectDef:
    """One sObject type: its fields by lower-case name, storage table and relationships."""

    name: str
    fields: dict[str, FieldDef]
    table: str
    owned: bool = True
    createable: bool = True
    children: dict[str, ChildRel] = field(default_factory=dict)

    def field(self, name: str) -> FieldDef | None:
        """The field called ``name`` (any case), or None."""
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship is called ``name`` (any case), or None."""
        low = name.lower()
        for f in self.fields.values():
            if f.relationship is not None and f.relationship.lower() == low:
                return f
        return None

    def stored_fields(self) -> list[FieldDef]:
        return [f for f in self.fields.values() if f.stored]


class Schema:
    """The object definitions of one store: the standard objects plus declared custom fields."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self.objects: dict[str, ObjectDef] = {o.name.lower(): copy.deepcopy(o) for o in objects}
        for obj in self.objects.values():
            obj.children = {}
        for obj in list(self.objects.values()):
            for f in obj.fields.values():
                self._link_children(obj, f)

    def _link_children(self, obj: ObjectDef, f: FieldDef) -> None:
        for rel_name, parent, cascade in _CHILD_RELATIONSHIPS.get((obj.name, f.name), ()):
            self.objects[parent.lower()].children[rel_name.lower()] = ChildRel(
                rel_name, obj.name, f.name, cascade
            )

    def get(self, name: str) -> ObjectDef | None:
        """The object called ``name`` (any case), or None."""
        return self.objects.get(name.lower())

    def require(self, name: str) -> ObjectDef:
        """The object called ``name``; unknown -> 404 ``NOT_FOUND`` like an unknown sobjects URL."""
        obj = self.get(name)
        if obj is None:
            raise SfApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return obj

    def add_custom(self, sobject: str, name: str, spec: dict[str, Any]) -> FieldDef:
        """Declare the custom field ``name`` on ``sobject`` from a seed ``$fields`` spec."""
        obj = self.require(sobject)
        fdef = custom_field(name, spec)
        existing = obj.field(name)
        if existing is not None and not existing.custom:
            raise SfApiError(400, "DUPLICATE_DEVELOPER_NAME", f"{name} is a standard field of {obj.name}")
        obj.fields[name.lower()] = fdef
        return fdef


def custom_field(name: str, spec: dict[str, Any]) -> FieldDef:
    """Build a custom FieldDef from ``{"type": ..., "values": [...], "length": n, "referenceTo": T}``."""
    if not name.endswith("__c") or not name[:-3].replace("_", "a").isalnum():
        raise SfApiError(400, "INVALID_FIELD", f"Custom field names end in __c: {name!r}")
    ftype = str(spec.get("type", "string")).lower()
    if ftype == "datetime" or ftype == "dateTime".lower():
        ftype = "datetime"
    if ftype not in CUSTOM_TYPES:
        raise SfApiError(400, "INVALID_TYPE", f"Unsupported custom field type {ftype!r} for {name}")
    values = tuple(str(v) for v in spec.get("values", ()))
    if ftype in ("picklist", "multipicklist") and not values:
        raise SfApiError(400, "INVALID_FIELD", f"Picklist field {name} needs 'values'")
    refs: tuple[str, ...] = ()
    relationship = None
    if ftype == "reference":
        refs = (str(spec["referenceTo"]),) if "referenceTo" in spec else ()
        if not refs:
            raise SfApiError(400, "INVALID_FIELD", f"Reference field {name} needs 'referenceTo'")
        relationship = name[:-3] + "__r"
    length = spec.get("length", 255 if ftype in ("string", "email", "phone", "url") else None)
    return FieldDef(
        name,
        ftype,
        values=values,
        restricted=bool(spec.get("restricted", True)),
        refs=refs,
        relationship=relationship,
        length=length,
        custom=True,
        required=bool(spec.get("required", False)),
        default=spec.get("default"),
    )


def with_flags(f: FieldDef, **changes: Any) -> FieldDef:
    """A copy of ``f`` with some properties changed."""
    return replace(f, **changes)


# (child object, field) -> [(relationship name, parent object, cascade delete)]
_CHILD_RELATIONSHIPS: dict[tuple[str, str], tuple[tuple[str, str, bool], ...]] = {
    ("EventRelation", "EventId"): (("EventRelations", "Event", True),),
    ("OpportunityContactRole", "OpportunityId"): (("OpportunityContactRoles", "Opportunity", True),),
    ("OpportunityContactRole", "ContactId"): (("OpportunityContactRoles", "Contact", True),),
    ("Contact", "AccountId"): (("Contacts", "Account", True),),
    ("Opportunity", "AccountId"): (("Opportunities", "Account", True),),
    ("ContentDocumentLink", "ContentDocumentId"): (
        ("ContentDocumentLinks", "ContentDocument", True),
        ("ContentDocumentLinks", "ContentNote", False),
    ),
    ("Note", "ParentId"): (
        ("Notes", "Account", True),
        ("Notes", "Opportunity", True),
        ("Notes", "Contact", True),
    ),
}
