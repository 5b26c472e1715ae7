"""Activity and content objects of the sandbox org: Event, EventRelation, Task, EmailMessage, notes."""

from __future__ import annotations

from prepbot.sandbox.schema_fields import (
    _ANY_RECORD,
    _PEOPLE,
    _WHAT,
    _WHO,
    b,
    create_only,
    derived,
    obj,
    pick,
    readonly,
    ref,
    s,
    t,
    ta,
)

_TASK_STATUS = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")
_EMAIL_STATUS = ("0", "1", "2", "3", "4", "5")
_ACTIVITY_TYPES = ("Call", "Email", "Meeting", "Other")

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
