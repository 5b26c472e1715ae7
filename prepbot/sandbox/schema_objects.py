"""The standard objects of the sandbox org (fields per docs/salesforce-api.md §1): people, accounts, deals."""

from __future__ import annotations

from prepbot.sandbox.schema import FieldDef
from prepbot.sandbox.schema_activities import (
    CONTENT_DOCUMENT,
    CONTENT_DOCUMENT_LINK,
    CONTENT_NOTE,
    EMAIL_MESSAGE,
    EVENT,
    EVENT_RELATION,
    NOTE,
    TASK,
)
from prepbot.sandbox.schema_fields import address, b, create_only, derived, obj, pick, readonly, ref, s, t, ta

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
