"""Frozen value types shared by every layer: meetings, people, deals, ledger keys and outcomes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

PersonKind = Literal["Contact", "Lead"]
Channel = Literal["in_person", "call", "video"]


@dataclass(frozen=True, slots=True)
class Owner:
    """The Salesforce User who owns a meeting and signs what prepbot sends for it."""

    id: str
    name: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    time_zone: str | None = None  # TimeZoneSidKey, e.g. "Europe/Amsterdam"
    locale: str | None = None  # LocaleSidKey, e.g. "nl_NL"
    language: str | None = None  # LanguageLocaleKey, e.g. "nl_NL"
    is_active: bool = True
    title: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """The client side of a meeting: a Contact or a Lead (the Event's Who)."""

    id: str
    kind: PersonKind
    last_name: str
    first_name: str | None = None
    salutation: str | None = None
    title: str | None = None
    email: str | None = None
    opted_out: bool = False
    bounced: bool = False
    phone: str | None = None
    mailing_street: str | None = None
    mailing_city: str | None = None
    mailing_postal_code: str | None = None
    mailing_country: str | None = None
    mailing_country_code: str | None = None
    account_id: str | None = None
    company: str | None = None  # Lead.Company or the Contact's Account.Name
    lead_source: str | None = None
    language: str | None = None  # from the mapped preferred-language field, if any
    time_zone: str | None = None  # from the mapped time-zone field, if any
    is_converted: bool = False  # Leads only

    @property
    def name(self) -> str:
        """Full name as Salesforce shows it ("First Last")."""
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True, slots=True)
class ContactRole:
    """An OpportunityContactRole: who plays which part in a deal."""

    contact_id: str
    role: str | None
    is_primary: bool = False
    contact_name: str | None = None
    contact_title: str | None = None
    contact_country: str | None = None  # Contact.MailingCountry, for "Anna de Vries (in Spain)"


@dataclass(frozen=True, slots=True)
class Deal:
    """The Event's What: an Opportunity (with its Account) or an Account."""

    id: str
    kind: str  # "Opportunity" or "Account" (other What types are kept by name only)
    name: str
    stage: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    lead_source: str | None = None
    is_closed: bool = False
    is_won: bool = False
    roles: tuple[ContactRole, ...] = ()


@dataclass(frozen=True, slots=True)
class Invitee:
    """An EventRelation row: someone else invited to the meeting."""

    relation_id: str
    kind: str  # "User", "Contact", "Lead" (from the Id's key prefix)
    status: str | None = None
    email: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Meeting:
    """One occurrence of a Salesforce Event, with everything a message or a prep note needs.

    Timed meetings carry ``start_at``/``end_at`` (aware UTC). All-day meetings carry
    ``all_day=True`` and their calendar ``activity_date``, which is never shifted by a zone.
    """

    event_id: str
    subject: str | None
    start_at: datetime | None
    end_at: datetime | None
    all_day: bool
    activity_date: date | None
    owner_id: str
    modstamp: datetime | None = None
    location: str | None = None
    description: str | None = None
    event_type: str | None = None
    show_as: str | None = None
    owner: Owner | None = None
    who: Person | None = None
    what: Deal | None = None
    invitees: tuple[Invitee, ...] = ()
    is_private: bool = False
    recurrence_master_id: str | None = None
    no_show: bool = False  # the mapped no-show field holds the configured value
    travel_distance_km: float | None = None
    custom: tuple[tuple[str, object], ...] = field(default=())  # other mapped fields, by logical name
    # derived from the start, once: read about ten times per meeting in a cycle (issue 7)
    _occurrence: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_occurrence", self._occurrence_text())

    @property
    def occurrence(self) -> str:
        """Stable text of this occurrence's start: ISO UTC instant, or the date for all-day events."""
        return self._occurrence

    def _occurrence_text(self) -> str:
        if self.all_day or self.start_at is None:
            return self.activity_date.isoformat() if self.activity_date else ""
        return self.start_at.strftime("%Y-%m-%dT%H:%M:%SZ")


class MessageKind(enum.StrEnum):
    """What prepbot produces for a meeting; part of the ledger key."""

    CONFIRMATION = "confirmation"
    PREP_NOTE = "prep_note"
    NO_SHOW_EMAIL = "no_show_email"
    NO_SHOW_TASK = "no_show_task"
    OWNER_BRIEF = "owner_brief"


class Status(enum.StrEnum):
    """Ledger state machine (architecture.md §6)."""

    PLANNED = "planned"
    CLAIMED = "claimed"
    SENDING = "sending"
    SENT = "sent"
    LOGGED = "logged"
    SKIPPED = "skipped"
    FAILED = "failed"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    IN_DOUBT = "in_doubt"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset(
    {Status.LOGGED, Status.SKIPPED, Status.FAILED, Status.SUPERSEDED, Status.CANCELLED, Status.IN_DOUBT}
)


@dataclass(frozen=True, slots=True)
class ActionKey:
    """The ledger's unique key: (Event Id, occurrence start, recipient, message kind)."""

    event_id: str
    occurrence: str
    recipient: str  # lower-cased address, or the Who Id when there is no address, or "-"
    kind: MessageKind


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A rendered message ready for a transport."""

    message_id: str  # without angle brackets
    from_name: str
    from_address: str
    to_name: str
    to_address: str
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    language: str = "en"
    template_version: str = ""
    who_id: str | None = None  # the Contact/Lead whose Email is ``to_address`` (emailSimple recipientId)
    what_id: str | None = None  # the record to log the email on as well (emailSimple relatedRecordId)


@dataclass(frozen=True, slots=True)
class DeliveryReceipt:
    """What the relay said when it accepted a message."""

    message_id: str
    accepted_at: datetime
    reply: str = ""


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A Salesforce Task prepbot writes (an email log or a to-do for the owner)."""

    subject: str
    description: str
    owner_id: str
    who_id: str | None
    what_id: str | None
    activity_date: date
    status: str = "Completed"
    subtype: str = "Email"  # TaskSubtype: "Email" for a logged email, "Task" for a to-do
    priority: str = "Normal"
    ref: str = ""  # the caller's reference, echoed in the result


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """A prep note: a ContentNote (HTML body) linked to one record."""

    title: str
    html: str
    linked_entity_id: str
    note_id: str | None = None  # set to update an existing note in place
    ref: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Per-record outcome of a batched write: an Id, or the error that refused it."""

    ref: str
    id: str | None
    error_code: str | None = None
    message: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.id is not None and self.error_code is None


@dataclass(frozen=True, slots=True)
class Changes:
    """Result of an incremental sync: changed meetings, deleted Event Ids, the next watermark."""

    meetings: tuple[Meeting, ...]
    deleted_ids: tuple[str, ...]
    watermark: datetime


@dataclass(frozen=True, slots=True)
class Settlement:
    """One move of a ledger row, for a batch of them (``Ledger.settle_many``)."""

    row_id: int
    status: Status
    reason: str = ""
    attempt: int | None = None  # the claim's fencing token, for a CLAIMED/SENDING row
    crm_id: str | None = None


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """What the planner wants in the ledger for one key: due at ``due_at``, or decided now.

    ``status`` is PLANNED (send at ``due_at``) or SKIPPED (with ``reason``).
    ``deadline_at`` is the latest instant a send is still allowed (the meeting start).
    """

    key: ActionKey
    status: Status
    due_at: datetime
    deadline_at: datetime
    reason: str = ""
    to_address: str | None = None
    language: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class ActionRow:
    """One ledger row as stored: a key, where it is in the state machine, and why."""

    id: int
    key: ActionKey
    status: Status
    due_at: datetime
    deadline_at: datetime
    attempt: int = 0
    reason: str = ""
    to_address: str | None = None
    language: str | None = None
    time_zone: str | None = None
    lease_until: datetime | None = None
    worker: str | None = None
    message_id: str | None = None
    crm_id: str | None = None  # the Task / ContentNote Id written for this row
    template_version: str | None = None
    sent_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded move of a ledger row through the state machine (``from_status`` None = created)."""

    action_id: int
    at: datetime
    from_status: Status | None
    to_status: Status
    reason: str = ""
    attempt: int = 0
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class NoteState:
    """The ledger's record of a meeting's prep note: which ContentNote, on which record, with what content.

    ``note_id`` None means a create was started but its outcome is not known (a crash between the
    create and storing the Id, reliability C6): look the note up before creating another one.
    """

    event_id: str
    occurrence: str  # the occurrence the note last described (a moved meeting keeps its note)
    linked_entity_id: str
    note_id: str | None
    content_hash: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """Who a running prepbot process is, as it announces itself in the ledger (``heartbeat``).

    ``name`` is unique among the live processes (it is also the ``worker`` stamped on the rows it
    claims); ``role`` is ``all``, ``planner`` or ``worker``.
    """

    name: str
    role: str
    host: str
    pid: int
    started_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerRow:
    """A process the ledger knows of: its last heartbeat and the rows it holds claimed right now.

    ``claims`` counts the rows in CLAIMED or SENDING whose ``worker`` is ``name``. A ``seen_at``
    older than a few heartbeats means the process is gone or stuck (its leases will expire).
    """

    name: str
    role: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime
    claims: int = 0
