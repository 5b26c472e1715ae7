"""The standard objects of the sandbox org (fields per docs/salesforce-api.md §1)."""

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


_SALUTATIONS = ("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.", "Mx.")
_STAGES = (
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
)
STAGE_PROBABILITY = {
    "Prospecting": 10,
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 50,
    "Id. Decision Makers": 60,
    "Perception Analysis": 70,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Closed Won": 100,
    "Closed Lost": 0,
}
_TASK_STATUS = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
_EMAIL_STATUS = ("0", "1", "2", "3", "4", "5")
_ACTIVITY_TYPES = ("Call", "Email", "Meeting", "Other")


def _person_email_fields() -> list[FieldDef]:
    return [
        t("Email", "email", length=80),
        b("HasOptedOutOfEmail"),
        b("IsEmailBounced"),
        s("EmailBouncedReason"),
        t("EmailBouncedDate", "datetime"),
    ]


USER = obj(
    "User",
    [
        create_only(s("Username", 80, required=True)),
        s("FirstName", 40),
        s("LastName", 80, required=True),
        derived(s("Name", 121)),
        t("Email", "email", length=128, required=True),
        s("Alias", 8),
        s("CommunityNickname", 40),
        b("IsActive", True),
        s("Title", 80),
        t("Phone", "phone", length=40),
        t("MobilePhone", "phone", length=40),
        s("Department", 80),
        s("CompanyName", 80),
        s("TimeZoneSidKey", 40, default="GMT"),
        s("LocaleSidKey", 40, default="en_US"),
        s("LanguageLocaleKey", 40, default="en_US"),
        pick(
            "EmailEncodingKey",
            (
                "UTF-8",
                "ISO-8859-1",
                "Shift_JIS",
                "ISO-2022-JP",
                "EUC-JP",
                "ks_c_5601-1987",
                "Big5",
                "GB2312",
                "Big5-HKSCS",
                "x-SJIS_0213",
            ),
            default="UTF-8",
        ),
        pick("UserType", ("Standard", "PowerPartner", "CsnOnly", "Guest"), default="Standard"),
    ],
    owned=False,
)

ACCOUNT = obj(
    "Account",
    [
        s("Name", required=True),
        pick(
            "Type",
            (
                "Prospect",
                "Customer - Direct",
                "Customer - Channel",
                "Channel Partner / Reseller",
                "Installation Partner",
                "Technology Partner",
                "Other",
            ),
            restricted=False,
        ),
        pick("Industry", (), restricted=False),
        t("Phone", "phone", length=40),
        t("Website", "url", length=255),
        ta("Description"),
        t("NumberOfEmployees", "int"),
        t("AnnualRevenue", "currency"),
        s("AccountNumber", 40),
        s("Site", 80),
        ref("ParentId", "Account"),
        *address("Billing", "BillingAddress"),
        *address("Shipping", "ShippingAddress"),
    ],
)

CONTACT = obj(
    "Contact",
    [
        ref("AccountId", "Account"),
        pick("Salutation", _SALUTATIONS, restricted=False),
        s("FirstName", 40),
        s("LastName", 80, required=True),
        derived(s("Name", 121)),
        s("Title", 128),
        s("Department", 80),
        *_person_email_fields(),
        t("Phone", "phone", length=40),
        t("MobilePhone", "phone", length=40),
        b("DoNotCall"),
        b("HasOptedOutOfFax"),
        t("Birthdate", "date"),
        pick("LeadSource", (), restricted=False),
        ta("Description"),
        *address("Mailing", "MailingAddress"),
    ],
)

LEAD = obj(
    "Lead",
    [
        pick("Salutation", _SALUTATIONS, restricted=False),
        s("FirstName", 40),
        s("LastName", 80, required=True),
        derived(s("Name", 121)),
        s("Company", required=True),
        s("Title", 128),
        *_person_email_fields(),
        t("Phone", "phone", length=40),
        t("MobilePhone", "phone", length=40),
        pick(
            "Status",
            ("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"),
            default="Open - Not Contacted",
        ),
        pick("LeadSource", (), restricted=False),
        pick("Industry", (), restricted=False),
        ta("Description"),
        readonly(b("IsConverted")),
        readonly(ref("ConvertedContactId", "Contact")),
        readonly(ref("ConvertedAccountId", "Account")),
        readonly(t("ConvertedDate", "date")),
        *address("", "Address"),
    ],
    owner=ref("OwnerId", "User", poly=True),
)

OPPORTUNITY = obj(
    "Opportunity",
    [
        s("Name", 120, required=True),
        ref("AccountId", "Account"),
        pick("StageName", _STAGES, required=True),
        t("CloseDate", "date", required=True),
        t("Amount", "currency"),
        t("Probability", "percent"),
        pick("Type", ("Existing Business", "New Business"), restricted=False),
        pick("LeadSource", (), restricted=False),
        s("NextStep"),
        ta("Description"),
        derived(b("IsClosed")),
        derived(b("IsWon")),
    ],
)

OPPORTUNITY_CONTACT_ROLE = obj(
    "OpportunityContactRole",
    [
        create_only(ref("OpportunityId", "Opportunity", required=True)),
        ref("ContactId", "Contact", required=True),
        pick(
            "Role",
            (
                "Business User",
                "Decision Maker",
                "Economic Buyer",
                "Economic Decision Maker",
                "Evaluator",
                "Executive Sponsor",
                "Influencer",
                "Technical Buyer",
                "Other",
            ),
        ),
        b("IsPrimary"),
    ],
    owned=False,
)

_ACTIVITY_COMMON = [
    t(
        "Subject",
        "combobox",
        length=255,
        values=("Call", "Email", "Meeting", "Send Letter/Quote", "Other"),
        restricted=False,
    ),
    ref("WhoId", *_WHO, poly=True),
    ref("WhatId", *_WHAT, poly=True),
    derived(ref("AccountId", "Account")),
    ta("Description"),
    pick("Type", _ACTIVITY_TYPES, restricted=False),
    t("ActivityDate", "date"),
    b("IsReminderSet"),
    t("ReminderDateTime", "datetime"),
    readonly(b("IsArchived")),
]

EVENT = obj(
    "Event",
    [
        *_ACTIVITY_COMMON,
        t("StartDateTime", "datetime"),
        t("EndDateTime", "datetime"),
        t("DurationInMinutes", "int"),
        b("IsAllDayEvent"),
        t("ActivityDateTime", "datetime"),
        derived(t("EndDate", "date")),
        s("Location"),
        b("IsPrivate"),
        pick("ShowAs", ("Busy", "OutOfOffice", "Free"), default="Busy"),
        create_only(pick("EventSubtype", ("Event",), default="Event")),
        create_only(b("IsRecurrence")),
        readonly(ref("RecurrenceActivityId", "Event", rel="RecurrenceActivity")),
        readonly(t("RecurrenceStartDateTime", "datetime")),
        readonly(t("RecurrenceEndDateOnly", "date")),
        readonly(
            pick(
                "RecurrenceType",
                (
                    "RecursDaily",
                    "RecursEveryWeekday",
                    "RecursMonthly",
                    "RecursMonthlyNth",
                    "RecursWeekly",
                    "RecursYearly",
                    "RecursYearlyNth",
                ),
            )
        ),
        readonly(b("IsRecurrence2")),
        readonly(b("IsRecurrence2Exception")),
        readonly(b("IsRecurrence2Exclusion")),
        readonly(ta("Recurrence2PatternText", 1000)),
        readonly(b("IsChild")),
        readonly(b("IsGroupEvent")),
        readonly(pick("GroupEventType", ("0", "1", "2", "3"))),
    ],
    owner=ref("OwnerId", "User", poly=True),
)

EVENT_RELATION = obj(
    "EventRelation",
    [
        create_only(ref("EventId", "Event", required=True)),
        create_only(ref("RelationId", *_PEOPLE, poly=True, required=True)),
        b("IsInvitee", True),
        b("IsParent"),
        b("IsWhat"),
        readonly(b("IsOrganizer")),
        pick("Status", ("New", "Accepted", "Declined"), default="New"),
        s("Response"),
        t("RespondedDate", "datetime"),
        derived(ref("AccountId", "Account")),
    ],
    owned=False,
)

TASK = obj(
    "Task",
    [
        *_ACTIVITY_COMMON,
        pick("Status", _TASK_STATUS, required=True, default="Not Started"),
        pick("Priority", ("High", "Normal", "Low"), required=True, default="Normal"),
        create_only(
            pick("TaskSubtype", ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"), default="Task")
        ),
        derived(b("IsClosed")),
        derived(b("IsHighPriority")),
        derived(t("CompletedDateTime", "datetime")),
        create_only(b("IsRecurrence")),
        pick("CallType", ("Internal", "Inbound", "Outbound")),
    ],
    owner=ref("OwnerId", "User", poly=True),
)

EMAIL_MESSAGE = obj(
    "EmailMessage",
    [
        s("Subject", 3000),
        ta("TextBody", 32000),
        ta("HtmlBody", 32000),
        t("FromAddress", "email", length=255),
        s("FromName", 1000),
        ta("ToAddress", 4000),
        ta("CcAddress", 4000),
        ta("BccAddress", 4000),
        t("MessageDate", "datetime"),
        b("Incoming"),
        pick("Status", _EMAIL_STATUS, required=True),
        ref("RelatedToId", *_WHAT, poly=True, rel="RelatedTo"),
        ref("ParentId", "Account", rel="Parent"),
        ref("ActivityId", "Task"),
        b("IsExternallyVisible"),
        t("ToIds", "junctionidlist"),
        t("CcIds", "junctionidlist"),
        t("BccIds", "junctionidlist"),
        ta("Headers", 32000),
    ],
    owned=False,
)

_CONTENT_COMMON = [
    s("Title", 255, required=True),
    derived(s("FileType", 20)),
    derived(s("FileExtension", 40)),
    derived(t("ContentSize", "int")),
    derived(ref("LatestPublishedVersionId", "ContentVersion")),
]

CONTENT_NOTE = obj(
    "ContentNote",
    [
        *_CONTENT_COMMON,
        t("Content", "base64"),
        derived(s("TextPreview", 255)),
        derived(b("IsReadOnly")),
        derived(pick("SharingPrivacy", ("N", "P"))),
        derived(ref("LatestContentId", "ContentDocument", rel="LatestContent")),
        derived(t("LastViewedDate", "datetime")),
    ],
    table="ContentDocument",
)

CONTENT_DOCUMENT = obj(
    "ContentDocument",
    [
        *_CONTENT_COMMON,
        derived(pick("SharingPrivacy", ("N", "P"))),
        derived(t("LastViewedDate", "datetime")),
        derived(ta("Description", 255)),
        derived(t("ContentModifiedDate", "datetime")),
    ],
    createable=False,
)

CONTENT_DOCUMENT_LINK = obj(
    "ContentDocumentLink",
    [
        create_only(ref("ContentDocumentId", "ContentDocument", required=True)),
        create_only(ref("LinkedEntityId", *_ANY_RECORD, poly=True, required=True)),
        pick("ShareType", ("V", "C", "I"), required=True),
        pick("Visibility", ("AllUsers", "InternalUsers", "SharedUsers"), default="AllUsers"),
    ],
    owned=False,
)

NOTE = obj(
    "Note",
    [
        create_only(ref("ParentId", *_ANY_RECORD, poly=True, required=True, rel="Parent")),
        s("Title", 80, required=True),
        ta("Body", 32000),
        b("IsPrivate"),
    ],
)

STANDARD_OBJECTS = [
    USER,
    ACCOUNT,
    CONTACT,
    LEAD,
    OPPORTUNITY,
    OPPORTUNITY_CONTACT_ROLE,
    EVENT,
    EVENT_RELATION,
    TASK,
    EMAIL_MESSAGE,
    CONTENT_DOCUMENT,
    CONTENT_NOTE,
    CONTENT_DOCUMENT_LINK,
    NOTE,
]

LOAD_ORDER = [o.name for o in STANDARD_OBJECTS if o.createable]
"""Seed load order: every object after the objects its references point to."""
