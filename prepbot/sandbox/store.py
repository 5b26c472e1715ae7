"""The sandbox org's data: a SQLite-backed store of Salesforce records with a SOQL query engine.

Seed format (``Store.load_seed``, the ``--seed`` files of ``prepbot sandbox serve``)::

    {
      "$fields": {
        "Contact": {"Preferred_Language__c": {"type": "string"}},
        "Event": {"Meeting_Outcome__c": {"type": "picklist", "values": ["Held", "No Show"]},
                  "Travel_Distance_km__c": {"type": "double"}}
      },
      "User": [{"$key": "owner", "Username": "ann@example.com", "LastName": "Lee", "Email": "ann@example.com",
                "TimeZoneSidKey": "Europe/Amsterdam"}],
      "Contact": [{"$key": "anna", "FirstName": "Anna", "LastName": "Berg", "Email": "anna@example.com"}],
      "Event": [{"Subject": "Demo", "WhoId": "@anna", "OwnerId": "@owner",
                 "StartDateTime": "2026-11-30T09:00:00Z", "DurationInMinutes": 60}]
    }

- ``$fields`` declares custom fields (``__c``) per object: ``type`` is one of string, textarea, picklist
  (with ``values``), multipicklist, email, phone, url, boolean, int, double, currency, percent, date,
  datetime, reference (with ``referenceTo``). Only declared custom fields exist.
- Every other key is an object name; records use Salesforce API field names. An ``Id`` given is kept
  (it must be a valid Id of that object type). A record without ``Id`` may carry ``"$key": "anna"``;
  any reference field of any record may then say ``"@anna"`` instead of an Id.
- Objects are loaded in dependency order whatever the JSON order (User, Account, Contact, Lead,
  Opportunity, OpportunityContactRole, Event, EventRelation, Task, EmailMessage, ContentNote,
  ContentDocumentLink, Note). The first User is the running user.
- Seeds may also set system and read-only fields a real org fills in over time (``CreatedDate``,
  ``LastModifiedDate``, ``SystemModstamp``, ``CreatedById``, ``IsChild``, ``IsRecurrence``,
  ``RecurrenceActivityId``, ``IsArchived``, ``IsConverted``, ...). Derived fields (``Name``,
  ``Event.AccountId``, ``IsClosed``, ...) are always computed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import normalize_id, type_of_id
from prepbot.sandbox.schema import ObjectDef, Schema
from prepbot.sandbox.schema_objects import STANDARD_OBJECTS
from prepbot.sandbox.soql.compiler import compile_query
from prepbot.sandbox.soql.parser import parse
from prepbot.sandbox.soql.where import Ctx
from prepbot.sandbox.store_batch import CreateBatch
from prepbot.sandbox.store_db import Savepoints, connect, ensure_table, ensure_tables, table_fields
from prepbot.sandbox.store_query import QueryCursor, Reader, describe_object
from prepbot.sandbox.store_write import Writer
from prepbot.sandbox.values import dt_to_db, wire_dt

log = logging.getLogger(__name__)

__all__ = ["QueryCursor", "Store"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """All records of one sandbox org, in one SQLite file; every public method is thread-safe.

    Args:
        path: The SQLite file (``":memory:"`` for a throwaway org). Reopening keeps all data.
        clock: Returns the current aware datetime (system fields, date literals); default: UTC now.
        user_tz: The running user's IANA time zone, used for date literals such as ``TODAY``.
        name_email_for_contacts: Whether ``Who.Email`` (the ``Name`` object) shows a Contact/Lead email.
            Salesforce documents it as populated for users only, so the default is False.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] | None = None,
        user_tz: str = "UTC",
        name_email_for_contacts: bool = False,
    ) -> None:
        self._lock = threading.RLock()
        self._db = connect(path)
        self._clock = clock or _utc_now
        self.tz = ZoneInfo(user_tz)
        self.name_email_for_contacts = name_email_for_contacts
        self.schema = Schema(STANDARD_OBJECTS)
        self._savepoints = Savepoints(self._db, self._lock)
        with self._lock:
            self._load_custom_fields()
            ensure_tables(self._db, self.schema)
            self._writer = Writer(self)
            self._reader = Reader(self)
            self.running_user_id: str | None = self._meta("running_user_id")
            self.org_id: str = self._meta("org_id") or self._new_org_id()

    # --- plumbing -----------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def set_clock(self, clock: Callable[[], datetime] | None) -> None:
        """Replace the clock (None: the real UTC clock)."""
        self._clock = clock or _utc_now

    def now(self) -> datetime:
        """The store's current instant (aware UTC)."""
        return self._clock().astimezone(UTC)

    def now_db(self) -> str:
        return dt_to_db(self.now())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A nestable transaction (SAVEPOINT): everything inside rolls back if the block raises."""
        with self._savepoints.transaction():
            yield

    @contextmanager
    def cached_lookups(self) -> Iterator[None]:
        """Cache reference lookups (existence, parent fields) for a block that only inserts new rows.

        Inserts never change the existing records a lookup reads, so within one create-only
        request every record referencing the same owner, contact or deal asks SQLite once.
        """
        with self._lock:
            if self._writer.cache is not None:
                yield
                return
            self._writer.cache = {}
            try:
                yield
            finally:
                self._writer.cache = None

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM _meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row is not None else None

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO _meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value = excluded.value",
            (key, value),
        )

    def _new_org_id(self) -> str:
        from prepbot.sandbox.ids import to18

        org = to18("00D5b" + format(abs(hash(self.now())) % 10**10, "010d"))
        self._set_meta("org_id", org)
        self._set_meta("created", self.now_db())
        return org

    def _load_custom_fields(self) -> None:
        for sobject, name, spec in self._db.execute("SELECT sobject, name, spec FROM _custom_fields"):
            self.schema.add_custom(sobject, name, json.loads(spec))

    def add_custom_fields(self, sobject: str, fields: dict[str, dict[str, Any]]) -> None:
        """Declare custom fields on ``sobject`` (persisted: they exist after a restart too)."""
        with self.transaction():
            obj = self.schema.require(sobject)
            for name, spec in fields.items():
                self.schema.add_custom(obj.name, name, spec)
                self._db.execute(
                    "INSERT OR REPLACE INTO _custom_fields VALUES (?, ?, ?)",
                    (obj.name, name, json.dumps(spec)),
                )
            ensure_table(self._db, obj.table, table_fields(self.schema)[obj.table])

    def canonical_type(self, name: str) -> str:
        """The canonical name of an sObject type (any case); unknown -> 404 NOT_FOUND."""
        return self.schema.require(name).name

    def describe(self, sobject: str, api_version: str) -> dict[str, Any]:
        """A minimal describe result: name, key prefix, fields and child relationships."""
        return describe_object(self.schema.require(sobject), api_version)

    # --- CRUD ---------------------------------------------------------------------------------------

    def _ensure_running_user(self) -> None:
        if self.running_user_id is None:
            body = {
                "FirstName": "Sandbox",
                "LastName": "Admin",
                "Username": "admin@sandbox.prepbot.local",
                "Email": "admin@sandbox.prepbot.local",
                "TimeZoneSidKey": self.tz.key,
            }
            self._insert(self.schema.require("User"), [body], seed=False)

    def _insert(
        self,
        obj: ObjectDef,
        bodies: list[dict[str, Any]],
        *,
        seed: bool,
        ids: list[str | None] | None = None,
        label: str | None = None,
    ) -> list[str]:
        recs = []
        for i, body in enumerate(bodies):
            given = ids[i] if ids is not None else None
            try:
                recs.append(self._writer.prepare_insert(obj, body, seed=seed, given_id=given))
            except SfApiError as exc:
                raise (exc.with_prefix(f"{label}[{i}]: ") if label else exc) from None
            if obj.name == "User" and self.running_user_id is None:
                self.running_user_id = recs[-1]["Id"]
                self._set_meta("running_user_id", recs[-1]["Id"])
                recs[-1]["CreatedById"] = recs[-1]["CreatedById"] or recs[-1]["Id"]
                recs[-1]["LastModifiedById"] = recs[-1]["LastModifiedById"] or recs[-1]["Id"]
        self._writer.insert_rows(obj, recs)
        self._writer.flush_counters()
        self._after_insert(obj, recs)
        return [str(r["Id"]) for r in recs]

    def _after_insert(self, obj: ObjectDef, recs: list[dict[str, Any]]) -> None:
        if obj.name == "EventRelation":
            events = sorted({r["EventId"] for r in recs if r.get("IsInvitee")})
            for i in range(0, len(events), 500):
                chunk = events[i : i + 500]
                self._db.execute(
                    f'UPDATE "Event" SET "IsGroupEvent" = 1 WHERE "Id" IN ({",".join("?" * len(chunk))})',
                    chunk,
                )

    def create(self, sobject: str, fields: dict[str, Any]) -> str:
        """Create one record and return its 18-character Id.

        Raises:
            SfApiError: 400 INVALID_FIELD, REQUIRED_FIELD_MISSING, ... as Salesforce answers.
        """
        obj = self._createable(sobject)
        with self.transaction():
            if obj.name != "User":
                self._ensure_running_user()
            return self._insert(obj, [fields], seed=False)[0]

    def bulk_insert(
        self,
        sobject: str,
        rows: list[dict[str, Any]],
        *,
        seed: bool = False,
        ids: list[str | None] | None = None,
        label: str | None = None,
    ) -> list[str]:
        """Create many records of one type in one transaction (fast path for seeds and tests).

        With ``seed=True`` rows may carry an ``Id`` and system/read-only fields (see the module doc).
        ``ids`` pre-assigns Ids (None entries get a new one); ``label`` prefixes error messages
        with ``label[index]: `` so a seed error names its record.
        """
        obj = self._createable(sobject)
        with self.transaction():
            if obj.name != "User":
                self._ensure_running_user()
            self._writer.cache = {}
            try:
                return self._insert(obj, rows, seed=seed, ids=ids, label=label)
            finally:
                self._writer.cache = None

    @contextmanager
    def create_batch(self) -> Iterator[CreateBatch]:
        """Create many records, each valid or failing on its own as with `create`, rows inserted together.

        Every outcome (the new Id or the record's error) is in the batch's ``outcomes`` once the block
        ends. Requires a running user (the caller falls back to `create` per record without one).
        """
        with self.transaction(), self.cached_lookups():
            batch = CreateBatch(self)
            self._writer.batch = batch
            try:
                yield batch
                batch.finish()
            except BaseException:
                batch.abandon()
                raise
            finally:
                self._writer.batch = None

    def _createable(self, sobject: str) -> ObjectDef:
        obj = self.schema.require(sobject)
        if not obj.createable:
            raise SfApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.name}")
        return obj

    def _live_row(self, obj: ObjectDef, record_id: str, *, include_deleted: bool = False) -> dict[str, Any]:
        rid = normalize_id(record_id)
        row = None
        if type_of_id(rid) == self.schema.require(obj.table).name:
            row = self._db.execute(f'SELECT * FROM "{obj.table}" WHERE "Id" = ?', (rid,)).fetchone()
        if row is None:
            raise SfApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if row["IsDeleted"] and not include_deleted:
            raise SfApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return dict(row)

    def retrieve(
        self,
        sobject: str,
        record_id: str,
        *,
        fields: list[str] | None,
        api_version: str,
        include_deleted: bool = False,
    ) -> dict[str, Any]:
        """One record with ``attributes`` and the requested (default: all) fields, wire-formatted."""
        with self._lock:
            obj = self.schema.require(sobject)
            row = self._live_row(obj, record_id, include_deleted=include_deleted)
            return self._reader.wire_record(obj, row, fields, api_version)

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        """Update one record (PATCH semantics: only the given fields change)."""
        obj = self.schema.require(sobject)
        with self.transaction():
            old = self._live_row(obj, record_id)
            rec = self._writer.prepare_update(obj, old, fields)
            self._writer.update_row(obj, rec, old)

    def delete(self, sobject: str, record_id: str) -> None:
        """Soft-delete one record (and its cascade children): it moves to the Recycle Bin."""
        obj = self.schema.require(sobject)
        with self.transaction():
            row = self._live_row(obj, record_id)
            self._soft_delete(obj, [row["Id"]])

    def _soft_delete(self, obj: ObjectDef, ids: list[str]) -> None:
        now = self.now_db()
        marks = ",".join("?" * len(ids))
        self._db.execute(
            f'UPDATE "{obj.table}" SET "IsDeleted" = 1, "SystemModstamp" = ?, "LastModifiedDate" = ?, '
            f'"LastModifiedById" = ? WHERE "Id" IN ({marks})',
            (now, now, self.running_user_id, *ids),
        )
        table_obj = self.schema.require(obj.table)
        for rel in table_obj.children.values():
            if not rel.cascade:
                continue
            child = self.schema.require(rel.child)
            rows = self._db.execute(
                f'SELECT "Id" FROM "{child.table}" WHERE "{rel.field}" IN ({marks}) AND "IsDeleted" = 0', ids
            ).fetchall()
            if rows:
                self._soft_delete(child, [r[0] for r in rows])

    def blob(self, sobject: str, record_id: str, field: str) -> bytes:
        """The bytes of a base64 field (``ContentNote.Content``)."""
        with self._lock:
            obj = self.schema.require(sobject)
            f = obj.field(field)
            if f is None or f.type != "base64":
                raise SfApiError(404, "NOT_FOUND", "The requested resource does not exist")
            row = self._live_row(obj, record_id)
            return bytes(row.get("_Content") or b"")

    def count(self, sobject: str, include_deleted: bool = False) -> int:
        """How many records of a type exist (live only unless ``include_deleted``)."""
        with self._lock:
            obj = self.schema.require(sobject)
            where = "" if include_deleted else ' WHERE "IsDeleted" = 0'
            return int(self._db.execute(f'SELECT count(*) FROM "{obj.table}"{where}').fetchone()[0])

    # --- query & replication ------------------------------------------------------------------------

    def query(self, soql: str, *, include_deleted: bool, api_version: str) -> QueryCursor:
        """Run a SOQL query; the cursor holds the matching rows in order (a snapshot of which rows).

        Raises:
            SfApiError: 400 MALFORMED_QUERY / INVALID_FIELD / INVALID_TYPE / ...
        """
        with self._lock:
            ctx = Ctx(self.schema, soql, self.now(), self.tz, include_deleted, self.name_email_for_contacts)
            compiled = compile_query(parse(soql), ctx)
            return self._reader.open_cursor(compiled, api_version, include_deleted)

    def _window(self, start: datetime, end: datetime) -> tuple[str, str]:
        lo = start.astimezone(UTC).replace(second=0, microsecond=0)
        hi = min(end.astimezone(UTC), self.now()).replace(second=0, microsecond=0)
        if hi <= lo:
            raise SfApiError(
                400,
                "INVALID_REPLICATION_DATE",
                "startDate must chronologically precede endDate by more than one minute",
            )
        if lo < self.now() - timedelta(days=30):
            raise SfApiError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
        return dt_to_db(lo), dt_to_db(hi)

    def updated(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """getUpdated: Ids of live records whose SystemModstamp is in ``[start, end)`` (minutes)."""
        with self._lock:
            obj = self.schema.require(sobject)
            lo, hi = self._window(start, end)
            rows = self._db.execute(
                f'SELECT "Id" FROM "{obj.table}" WHERE "SystemModstamp" >= ? AND '
                f'"SystemModstamp" < ? AND "IsDeleted" = 0 ORDER BY "SystemModstamp"',
                (lo, hi),
            )
            return {"ids": [r[0] for r in rows], "latestDateCovered": wire_dt(datetime.fromisoformat(hi))}

    def deleted(self, sobject: str, start: datetime, end: datetime) -> dict[str, Any]:
        """getDeleted: records soft-deleted in ``[start, end)`` with their deletion instants."""
        with self._lock:
            obj = self.schema.require(sobject)
            lo, hi = self._window(start, end)
            rows = self._db.execute(
                f'SELECT "Id", "SystemModstamp" FROM "{obj.table}" WHERE "IsDeleted" = 1 AND '
                f'"SystemModstamp" >= ? AND "SystemModstamp" < ? ORDER BY "SystemModstamp"',
                (lo, hi),
            )
            records = [{"id": r[0], "deletedDate": wire_dt(datetime.fromisoformat(r[1]))} for r in rows]
            earliest = self._meta("created") or lo
            return {
                "deletedRecords": records,
                "earliestDateAvailable": wire_dt(datetime.fromisoformat(earliest)),
                "latestDateCovered": wire_dt(datetime.fromisoformat(hi)),
            }

    # --- seeds --------------------------------------------------------------------------------------

    def load_seed(self, data: dict[str, Any]) -> dict[str, str]:
        """Load a seed document (format in the module docstring); returns ``$key`` -> Id."""
        from prepbot.sandbox.seed import load_seed

        with self.transaction():
            return load_seed(self, data)
