"""Constructors for field and object definitions (used by the standard object modules)."""

from __future__ import annotations

from typing import Any

from prepbot.sandbox.schema import FieldDef, ObjectDef

_WHAT = ("Account", "Opportunity")
_WHO = ("Contact", "Lead")
_PEOPLE = ("User", "Contact", "Lead")
_ANY_RECORD = ("Account", "Opportunity", "Contact", "Lead", "User")


def s(name: str, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, "string", length=length, **kw)


def ta(name: str, length: int = 32000, **kw: Any) -> FieldDef:
    return FieldDef(name, "textarea", length=length, **kw)


def t(name: str, ftype: str, **kw: Any) -> FieldDef:
    return FieldDef(name, ftype, **kw)


def b(name: str, default: bool = False, **kw: Any) -> FieldDef:
    return FieldDef(name, "boolean", default=default, **kw)


def pick(name: str, values: tuple[str, ...], **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", values=values, **kw)


def ref(name: str, *refs: str, rel: str | None = None, poly: bool = False, **kw: Any) -> FieldDef:
    relationship = rel if rel is not None else name[:-2]
    return FieldDef(name, "reference", refs=refs, relationship=relationship, polymorphic=poly, **kw)


def derived(f: FieldDef) -> FieldDef:
    """A read-only field the store computes on every write."""
    f.createable = f.updateable = False
    f.derived = True
    return f


def readonly(f: FieldDef) -> FieldDef:
    """A read-only field that seeds may still set (``IsChild``, ``IsConverted``, ...)."""
    f.createable = f.updateable = False
    f.seedable = True
    return f


def create_only(f: FieldDef) -> FieldDef:
    f.updateable = False
    return f


def address(prefix: str, compound: str) -> list[FieldDef]:
    """The components of a compound address plus the read-only compound field itself."""
    return [
        ta(f"{prefix}Street", 255),
        s(f"{prefix}City", 40),
        s(f"{prefix}State", 80),
        s(f"{prefix}PostalCode", 20),
        s(f"{prefix}Country", 80),
        s(f"{prefix}StateCode", 10),
        s(f"{prefix}CountryCode", 10),
        t(f"{prefix}Latitude", "double"),
        t(f"{prefix}Longitude", "double"),
        pick(
            f"{prefix}GeocodeAccuracy",
            (
                "Address",
                "NearAddress",
                "Block",
                "Street",
                "ExtendedZip",
                "Zip",
                "Neighborhood",
                "City",
                "County",
                "State",
                "Unknown",
            ),
        ),
        derived(t(compound, "address")),
    ]


def _system(owned: bool) -> list[FieldDef]:
    fields = [
        derived(t("Id", "id")),
        derived(b("IsDeleted")),
        readonly(t("CreatedDate", "datetime")),
        readonly(ref("CreatedById", "User")),
        readonly(t("LastModifiedDate", "datetime")),
        readonly(ref("LastModifiedById", "User")),
        readonly(t("SystemModstamp", "datetime")),
    ]
    if owned:
        fields.append(ref("OwnerId", "User"))
    return fields


def obj(
    name: str,
    fields: list[FieldDef],
    *,
    owned: bool = True,
    table: str | None = None,
    createable: bool = True,
    owner: FieldDef | None = None,
) -> ObjectDef:
    allf = _system(owned and owner is None) + ([owner] if owner is not None else []) + fields
    return ObjectDef(
        name, {f.name.lower(): f for f in allf}, table or name, owned or owner is not None, createable
    )
