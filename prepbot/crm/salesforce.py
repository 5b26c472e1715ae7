"""SalesforceCrm: prepbot's Crm port over simple-salesforce (the only module that imports it)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.format import format_soql

from prepbot.crm.prefetch import Prefetch
from prepbot.crm.sf_auth import Auth, ClientCredentialsAuth, JwtAuth, SessionAuth, build_session, mint_token
from prepbot.crm.sf_errors import (
    INVALID_SESSION,
    LIMIT_EXCEEDED,
    action_results,
    error_for_exception,
    error_for_status,
    may_have_applied,
    may_retry,
    surely_unsent,
)
from prepbot.crm.sf_records import SeenRows, modstamp, opportunity_ids, org_date, to_meeting, to_roles
from prepbot.crm.sf_tasks import find_tasks
from prepbot.crm.sf_writer import Writer
from prepbot.crm.soql import (
    IN_BATCH,
    FieldMapping,
    Soql,
    by_id_query,
    changes_query,
    field_check_query,
    future_meetings_query,
    no_show_query,
    roles_query,
    window_query,
)
from prepbot.domain import Changes, ContactRole, Meeting, NoteRecord, TaskRecord, WriteResult
from prepbot.errors import (
    ConfigError,
    CrmAuthError,
    CrmError,
    CrmInDoubtError,
    CrmQueryError,
    CrmUnavailableError,
)

__all__ = ["ClientCredentialsAuth", "FieldMapping", "JwtAuth", "SalesforceCrm", "SessionAuth"]

log = logging.getLogger(__name__)
T = TypeVar("T")
Record = Mapping[str, Any]
Roles = dict[str, tuple[ContactRole, ...]]
BACKOFF_CAP_S = 30.0
COMPOSITE_QUERIES = 5  # query subrequests allowed in one composite call (brief §2.7)
CONFIG_KEYS = {"event_no_show_field": "event_no_show"}  # FieldMapping name -> config key (config.py)
EMAIL_SIMPLE = "actions/standard/emailSimple"


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _aware(*values: datetime) -> None:
    if any(v.tzinfo is None for v in values):
        raise ValueError("SalesforceCrm needs timezone-aware datetimes")


class SalesforceCrm:
    """The Crm port on a Salesforce org (or the sandbox), over HTTPS with simple-salesforce.

    Every request carries a timeout and verifies TLS against ``ca_bundle`` (or certifi's roots),
    whatever REQUESTS_CA_BUNDLE says. Failures become CrmAuthError / CrmQueryError /
    CrmUnavailableError (``sf_errors``). Transient ones are retried with jittered exponential
    backoff (``max_retries``); REQUEST_LIMIT_EXCEEDED stops every call for ``limit_backoff``.
    With JWT or client-credentials auth a 401 INVALID_SESSION_ID mints one new token and retries
    once; with a session id it is final. A 401 that stays ("auth broken") stops every call for
    ``limit_backoff`` too. ``calls_made`` counts API requests (tokens excluded).
    """

    def __init__(
        self,
        *,
        instance_url: str,
        auth: Auth,
        api_version: str = "62.0",
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        page_size: int = 2000,
        fields: FieldMapping = FieldMapping(),  # noqa: B008  (frozen, so a shared default is safe)
        max_retries: int = 4,
        backoff_base: float = 0.5,
        limit_backoff: timedelta = timedelta(minutes=15),
        sync_overlap: timedelta = timedelta(minutes=5),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not 200 <= page_size <= 2000:
            raise ValueError("page_size must be within 200..2000 (Salesforce's batchSize range)")
        self._instance_url = instance_url.rstrip("/")
        self._auth = auth
        self._api_version = api_version
        self._session = build_session(ca_bundle=ca_bundle, timeout=timeout)
        self._session.hooks["response"].append(self._note_org_time)
        self.org_time: datetime | None = None  # the org's clock (Date header) at its last answer
        self._batch = {"Sforce-Query-Options": f"batchSize={page_size}"}
        self._fields = fields
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._limit_backoff = limit_backoff.total_seconds()
        self._overlap = sync_overlap
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._sf: Salesforce | None = None
        self._blocked_until: float | None = None
        self._auth_broken_until: float | None = None  # a 401 that a new token did not cure
        self._usage: tuple[int, int] | None = None
        self._seen = SeenRows()
        # The newest SystemModstamp of any Event read (the org's clock): where an incremental sync
        # may start after a full read.
        self.newest_modstamp: datetime | None = None
        self.calls_made = 0
        self.tokens_minted = 0
        self._writer = Writer(self)
        # One request at a time: the dispatcher reads while its batch writes run in the background
        # (prepbot.writes); the client, its session and these counters are not shared concurrently.
        self._request_lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) daily API requests from the last ``Sforce-Limit-Info`` header, if any."""
        return self._usage

    @property
    def max_retries(self) -> int:
        """How many times a failed request (or a locked record) is sent again."""
        return self._max_retries

    @property
    def api_version(self) -> str:
        """The REST API version every URL uses (``62.0``)."""
        return self._api_version

    def close(self) -> None:
        """Release the HTTP connections."""
        self._session.close()

    def _note_org_time(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.org_time = org_date(response.headers.get("Date")) or self.org_time

    def _synced_to(self, read_at: datetime | None) -> None:
        """A query answered at org time ``read_at`` saw every row committed ``sync_overlap`` before
        it: an incremental sync may start there, even when no row changed since (so a steady sync
        re-reads nothing, in a new process too)."""
        if read_at is not None:
            mark = read_at - self._overlap
            self.newest_modstamp = max(mark, self.newest_modstamp or mark)

    def _client(self) -> Salesforce:
        if self._sf is None:
            if isinstance(self._auth, SessionAuth):
                token = self._auth.session_id
            else:
                token = mint_token(self._auth, self._session, self._instance_url)
                self.tokens_minted += 1
            self._sf = Salesforce(
                session_id=token,
                instance_url=self._instance_url,
                session=self._session,
                version=self._api_version,
                # plain dicts: simple_salesforce's default OrderedDict hook doubles the parse of a page
                object_pairs_hook=dict,
            )
        return self._sf

    def _once(self, resource: str, op: Callable[[Salesforce], T]) -> T:
        with self._request_lock:
            return self._request(resource, op)

    def _request(self, resource: str, op: Callable[[Salesforce], T]) -> T:
        sf = self._client()
        self.calls_made += 1
        try:
            result = op(sf)
        except SalesforceError as exc:  # the body is a list of {"errorCode", "message"}; no token in it
            raise error_for_status(exc.status, exc.content, resource=resource) from None
        except (requests.exceptions.RequestException, ValueError) as exc:
            mapped = error_for_exception(exc, resource=resource)
            if mapped is None:
                raise
            raise mapped from exc
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self._usage = (int(usage[0]), int(usage[1]))
        return result

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, capped."""
        full = min(BACKOFF_CAP_S, self._backoff_base * 2.0**attempt)
        return full / 2 + self._jitter() * full / 2

    def backoff(self, attempt: int) -> None:
        """Sleep before retry number ``attempt + 1`` (used by the per-record retries too)."""
        self._sleep(self._delay(attempt))

    def _refuse_during_limit_backoff(self, resource: str) -> None:
        if self._auth_broken_until is not None:
            left = self._auth_broken_until - self._clock()
            if left > 0:
                raise CrmAuthError(
                    f"Salesforce {resource}: auth broken (401 even with a fresh login); "
                    f"no calls for another {left:.0f} s",
                    status=401,
                    error_code=INVALID_SESSION,
                )
            self._auth_broken_until = None
        if self._blocked_until is None:
            return
        left = self._blocked_until - self._clock()
        if left > 0:
            raise CrmUnavailableError(
                f"Salesforce {resource}: daily API limit reached; no calls for another {left:.0f} s",
                status=403,
                error_code=LIMIT_EXCEEDED,
            )
        self._blocked_until = None

    def call(self, resource: str, op: Callable[[Salesforce], T], *, idempotent: bool = True) -> T:
        """Run one API request with the refresh, retry and limit policies (no recursion)."""
        refreshed, attempt = False, 0
        while True:
            self._refuse_during_limit_backoff(resource)
            try:
                return self._once(resource, op)
            except CrmError as exc:
                if (
                    exc.error_code == INVALID_SESSION
                    and not refreshed
                    and not isinstance(self._auth, SessionAuth)
                ):
                    log.warning("Salesforce session expired; minting a new token once")
                    refreshed, self._sf = True, None
                    continue
                if exc.error_code == INVALID_SESSION:  # F2: even a fresh login is refused
                    self._auth_broken_until = self._clock() + self._limit_backoff
                    log.error("Salesforce auth broken; pausing calls for %.0f s", self._limit_backoff)
                    text = f"Salesforce {resource}: auth broken: {exc}"
                    raise CrmAuthError(text, status=exc.status, error_code=exc.error_code) from None
                if exc.error_code == LIMIT_EXCEEDED and exc.status == 403:
                    self._blocked_until = self._clock() + self._limit_backoff
                    log.error("Salesforce API limit reached; pausing calls for %.0f s", self._limit_backoff)
                    raise
                unsent = exc.__cause__ is not None and surely_unsent(exc.__cause__)
                if attempt >= self._max_retries or not may_retry(exc, idempotent=idempotent, unsent=unsent):
                    raise
                log.warning(
                    "Salesforce %s failed (%s); retry %d", resource, exc.error_code or exc.status, attempt + 1
                )
                self.backoff(attempt)
                attempt += 1

    # ------------------------------------------------------------------ read path

    def _pages(self, soql: Soql, *, include_deleted: bool = False) -> Iterator[list[Record]]:
        """Stream a query page by page (``batchSize`` = page_size), each page one retried call."""
        query = format_soql(soql.template, *soql.args)
        name = "queryAll" if include_deleted else "query"
        # handed straight on, not kept here: a local would hold the first page for the whole read
        yield from self._rest_of(
            name,
            self.call(name, lambda sf: sf.query(query, include_deleted=include_deleted, headers=self._batch)),
        )

    def _rest_of(self, name: str, page: Mapping[str, Any]) -> Iterator[list[Record]]:
        """This page's records, then the following pages through ``nextRecordsUrl``.

        The next page is asked for before this one is handed over: the org answers it while the
        caller works on this page (a tick sends this page's meetings meanwhile), instead of the
        caller waiting for it between two pages (issue 7). Same calls, same order, same errors
        (raised when the caller asks for that page).

        Each page's rows are handed over, not kept: while the caller works on a page, this holds
        only the next one (issue 7: a page of 2,000 Events is about 22 MiB of parsed JSON).
        """
        current: Mapping[str, Any] | None = page
        del page
        while current is not None:
            next_url = current.get("nextRecordsUrl")
            more = None
            if not current.get("done", True) and next_url:
                more = Prefetch(partial(self._query_more, name, str(next_url)))
            handed = [list(current.get("records") or [])]
            current = None
            yield handed.pop()
            if more is not None:
                current = more.result()

    def _query_more(self, name: str, url: str) -> Any:
        return self.call(name, lambda sf: sf.query_more(url, identifier_is_url=True, headers=self._batch))

    def _role_rows(self, opportunity_ids: Sequence[str]) -> list[Record]:
        """OpportunityContactRoles of these Opportunities: one query for up to 400; for more, one
        composite call carrying up to five such queries (it counts as one API call, and keeps each
        query's URL as short as the plain GET's)."""
        if len(opportunity_ids) <= IN_BATCH:
            return [row for page in self._pages(roles_query(opportunity_ids)) for row in page]
        rows: list[Record] = []
        for group in _chunks(opportunity_ids, IN_BATCH * COMPOSITE_QUERIES):
            subs = [
                {"method": "GET", "referenceId": f"roles{k}", "url": self._query_url(roles_query(batch))}
                for k, batch in enumerate(_chunks(group, IN_BATCH))
            ]
            body = {"allOrNone": False, "compositeRequest": subs}
            for entry in self.restful("composite", "POST", body, idempotent=True)["compositeResponse"]:
                status, page = int(entry.get("httpStatusCode") or 500), entry.get("body")
                if status >= 300 or not isinstance(page, Mapping):
                    raise error_for_status(status, page, resource="composite query")
                rows.extend(row for records in self._rest_of("query", page) for row in records)
        return rows

    def _query_url(self, soql: Soql) -> str:
        return f"/services/data/v{self._api_version}/query?" + urlencode(
            {"q": format_soql(soql.template, *soql.args)}
        )

    def restful(self, path: str, method: str, body: Any, *, idempotent: bool) -> Any:
        """One REST call (``composite``, ``composite/sobjects``) under the retry and refresh policy."""
        return self.call(path, lambda sf: sf.restful(path, method=method, json=body), idempotent=idempotent)

    def _meetings(self, records: Sequence[Record], roles: Roles) -> list[Meeting]:
        """A page of Event rows as Meetings, with one IN-batched OpportunityContactRole follow-up.

        ``roles`` caches the roles read for earlier pages of the same operation: an Opportunity
        met again on a later page costs no new query.
        """
        wanted = [i for i in opportunity_ids(records) if i not in roles]
        rows = self._role_rows(wanted) if wanted else []
        roles.update(dict.fromkeys(wanted, ()))
        roles.update(to_roles(rows))
        if records:
            newest = max(modstamp(r) for r in records)
            self.newest_modstamp = max(newest, self.newest_modstamp or newest)
        return [to_meeting(r, self._fields, roles) for r in records]

    def meetings_between(self, start_at: datetime, end_at: datetime) -> Iterator[Meeting]:
        """Yield the meetings that start in ``[start_at, end_at)``, page by page.

        Timed events are selected by StartDateTime; all-day events by ActivityDate, for every date
        that begins inside the window in some zone (``soql.all_day_dates``), so a caller sees an
        all-day event in each window that touches its date and dedupes by key. Child copies and
        series masters are excluded. Cost: one call per page of events, plus one per page for the
        OpportunityContactRoles of Opportunities not met on earlier pages (per 400 of them).

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        _aware(start_at, end_at)
        roles: Roles = {}
        for records in self._pages(window_query(self._fields, start_at, end_at)):
            self._synced_to(self.org_time)
            meetings = self._meetings(records, roles)
            del records  # the page's raw rows go while its meetings are handed out
            yield from meetings

    def meetings_by_id(self, event_ids: Sequence[str]) -> dict[str, Meeting]:
        """Re-read these Events (400 Ids per query); deleted or missing ones are absent.

        Keys are the 18-character Ids Salesforce returns.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        found: dict[str, Meeting] = {}
        roles: Roles = {}
        for batch in _chunks(list(dict.fromkeys(event_ids)), IN_BATCH):
            for records in self._pages(by_id_query(self._fields, batch)):
                found.update((m.event_id, m) for m in self._meetings(records, roles))
        return found

    def changes_since(
        self, watermark: datetime, until: datetime, starting: tuple[datetime, datetime] | None = None
    ) -> Changes:
        """Events modified or deleted in ``[watermark - sync_overlap, until)``: one queryAll call.

        queryAll returns Recycle-Bin rows with ``IsDeleted = true``: those become ``deleted_ids``.
        The overlap catches rows committed late with an earlier SystemModstamp. A row at or before
        ``watermark`` that this adapter already reported *identically* (same SystemModstamp and
        same content digest) is not reported again, so a steady-state sync costs one call; a row
        changed within the same second (SystemModstamp has second precision) differs in content
        and is reported. A new adapter reports the overlap once more (the ledger dedupes). The new
        watermark is the largest SystemModstamp seen (the org's clock, never prepbot's), or
        ``watermark`` when nothing changed. ``starting`` adds, in the same call, the Events that start
        in that window whether changed or not (what a moving sync window newly covers).

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        _aware(watermark, until)
        meetings: list[Meeting] = []
        deleted: list[str] = []
        newest = watermark
        roles: Roles = {}
        for records in self._pages(
            changes_query(self._fields, watermark - self._overlap, until, starting), include_deleted=True
        ):
            fresh = self._seen.fresh(records, watermark)
            read_at = [self.org_time - self._overlap] if self.org_time is not None else []
            newest = max([newest, *read_at, *(modstamp(r) for r in records)])
            deleted.extend(str(r["Id"]) for r in fresh if r.get("IsDeleted"))
            meetings.extend(self._meetings([r for r in fresh if not r.get("IsDeleted")], roles))
        self._seen.forget_before(newest - self._overlap)
        return Changes(meetings=tuple(meetings), deleted_ids=tuple(deleted), watermark=newest)

    def no_shows_between(self, start_at: datetime, end_at: datetime) -> Iterator[Meeting]:
        """Yield the meetings that started in ``[start_at, end_at)`` and are marked as missed.

        "Missed" means the mapped ``event_no_show_field`` holds ``event_no_show_value`` (filtered in
        SOQL; a value "true"/"false" is compared as a checkbox). Records have the shape of
        ``meetings_between``. Nothing is read when no no-show field is mapped.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        _aware(start_at, end_at)
        soql = no_show_query(self._fields, start_at, end_at)
        if soql is None:
            return
        roles: Roles = {}
        for records in self._pages(soql):
            missed = [m for m in self._meetings(records, roles) if m.no_show]
            del records
            yield from missed

    def future_meetings_of(self, who_ids: Sequence[str], after: datetime) -> set[str]:
        """The Who Ids (of ``who_ids``) that have another meeting starting after ``after``.

        One query per 400 Ids; all-day meetings count from the next UTC date. Ids come back in
        Salesforce's 18-character form.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        _aware(after)
        found: set[str] = set()
        for batch in _chunks(list(dict.fromkeys(who_ids)), IN_BATCH):
            for records in self._pages(future_meetings_query(batch, after)):
                found.update(str(r["WhoId"]) for r in records if r.get("WhoId"))
        return found

    def check_fields(self) -> None:
        """Verify that every mapped custom field exists (one ``LIMIT 1`` query per field).

        Raises:
            ConfigError: Salesforce answered INVALID_FIELD; ``key`` is ``salesforce.fields.<name>``.
            CrmAuthError, CrmUnavailableError.
        """
        for name, (sobject, api_name) in self._fields.mapped().items():
            query = format_soql(field_check_query(sobject, api_name).template)
            try:
                self.call("query", lambda sf: sf.query(query))  # noqa: B023 (called at once)
            except CrmQueryError as exc:
                if exc.error_code != "INVALID_FIELD":
                    raise
                raise ConfigError(
                    f"the {sobject} object has no field {api_name!r}",
                    key=f"salesforce.fields.{CONFIG_KEYS.get(name, name)}",
                    hint=f"use the API name from Setup > Object Manager > {sobject} > Fields (custom: __c)",
                ) from None

    # ------------------------------------------------------------------ write path

    def create_tasks(self, tasks: Sequence[TaskRecord]) -> list[WriteResult]:
        """Create Tasks in sObject Collections of 200; one WriteResult per task, in order.

        A locked record is retried alone. When a later chunk fails as a whole, its tasks get a
        failed result (nothing is raised, since earlier chunks were written).

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError: the first chunk failed (nothing written).
        """
        return self._writer.create_tasks(tasks)

    def find_tasks(self, tasks: Sequence[TaskRecord]) -> dict[str, str]:
        """Tasks already in the org like ``tasks`` (Who, owner, subject, date, subtype): ref -> Id.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError.
        """
        return find_tasks(lambda soql: self.call("query", lambda sf: sf.query_all(soql)), tasks)

    def save_notes(self, notes: Sequence[NoteRecord]) -> list[WriteResult]:
        """Create (ContentNote + ContentDocumentLink in one composite call per 200) or update notes.

        A note whose link failed is linked again on its own (never created twice); if that fails
        too, its result carries the note's Id and the link's error.

        Raises:
            CrmAuthError, CrmQueryError, CrmUnavailableError: the first chunk failed (nothing written).
        """
        return self._writer.save_notes(notes)

    def send_email_simple(self, inputs: Sequence[Mapping[str, object]]) -> list[dict[str, object]]:
        """Run the ``emailSimple`` action (salesforce-api.md §2.10): one POST for all ``inputs``.

        Retried only when Salesforce certainly did not act (503, a lock, a request that never
        left, a refreshed session), as for every other write.

        Returns:
            One result per input, in order: ``{"isSuccess", "errors": [{"statusCode", ...}], ...}``.
            Refused inputs (the action answers 400 with these results) are returned, not raised.

        Raises:
            CrmInDoubtError: the request went out but no usable answer came back (a read timeout,
                a dropped connection, a 5xx other than 503, an unreadable body): the email may
                have been sent.
            CrmAuthError, CrmQueryError, CrmUnavailableError: the request was refused as a whole.
        """
        body = {"inputs": [dict(i) for i in inputs]}

        def post(sf: Salesforce) -> Any:
            try:
                return sf.restful(EMAIL_SIMPLE, method="POST", json=body)
            except SalesforceError as exc:
                if exc.status < 500 and action_results(exc.content) is not None:
                    return exc.content  # per-input refusals: the caller decides input by input
                raise

        try:
            raw = self.call(EMAIL_SIMPLE, post, idempotent=False)
        except CrmUnavailableError as exc:
            if not may_have_applied(exc):
                raise
            raise CrmInDoubtError(str(exc), status=exc.status, error_code=exc.error_code) from exc
        results = action_results(raw)
        if results is None or len(results) != len(inputs):
            raise CrmInDoubtError(f"Salesforce {EMAIL_SIMPLE}: unexpected response shape")
        return results
