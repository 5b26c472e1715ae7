"""Pure parts of the Salesforce adapter: SOQL text, JSON -> domain mapping, error mapping, note HTML."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pytest
import requests

from prepbot.crm.note_html import clean_title, encode_note, escape_note_text, note_html
from prepbot.crm.sf_auth import JwtAuth
from prepbot.crm.sf_errors import error_for_exception, error_for_status, may_retry
from prepbot.crm.sf_records import to_meeting
from prepbot.crm.sf_writes import subresults, task_body
from prepbot.crm.soql import FieldMapping, all_day_dates, event_select, window_query
from prepbot.domain import TaskRecord
from prepbot.errors import CrmAuthError, CrmQueryError, CrmUnavailableError

MAPPING = FieldMapping(
    contact_language="Preferred_Language__c",
    lead_time_zone="Time_Zone__c",
    event_no_show_field="Meeting_Outcome__c",
    event_travel_distance="Travel_Distance_km__c",
)


def test_note_text_is_escaped_the_way_salesforce_accepts_it() -> None:
    assert escape_note_text("a & b < c > d \" e ' f") == "a &amp; b &lt; c &gt; d &quot; e &#39; f"
    assert escape_note_text("Zoë\r\nЖ\x00\x07") == "Zoë<br>Ж"  # UTF-8 kept, control characters gone


def test_note_html_makes_paragraphs_and_line_breaks() -> None:
    assert note_html("one\ntwo\n\n  three  ") == "<p>one<br>two</p><p>three</p>"
    assert note_html(["<script>", ""]) == "<p>&lt;script&gt;</p>"
    decoded = base64.b64decode(encode_note("<p>x</p>\n<p>é</p>")).decode("utf-8")
    assert decoded == "<p>x</p> <p>é</p>"
    assert clean_title("a\r\nb\x00c") == "a bc"


def test_mapped_field_names_cannot_inject_soql() -> None:
    with pytest.raises(ValueError, match="contact_language"):
        FieldMapping(contact_language="Name FROM User --")


def test_event_query_brings_who_what_owner_invitees_and_mapped_fields() -> None:
    select = event_select(MAPPING)
    assert "TYPEOF Who WHEN Contact THEN" in select and "Preferred_Language__c" in select
    assert "WHEN Lead THEN" in select and "Time_Zone__c" in select
    assert "Meeting_Outcome__c" in select and "Travel_Distance_km__c" in select
    assert "FROM EventRelations WHERE IsInvitee = true" in select


def test_all_day_dates_cover_every_zone_of_the_window() -> None:
    start = datetime(2026, 11, 29, 8, tzinfo=UTC)
    end = datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert all_day_dates(start, end) == (date(2026, 11, 28), date(2026, 11, 30))
    soql = window_query(MAPPING, start, end)
    assert soql.args == (start, end, date(2026, 11, 28), date(2026, 11, 30))
    assert "IsChild = false AND IsRecurrence = false" in soql.template


def test_an_all_day_event_keeps_its_date_and_has_no_instant() -> None:
    record = {
        "Id": "00U000000000001AAA",
        "IsAllDayEvent": True,
        "StartDateTime": "2026-11-29T00:00:00.000+0000",
        "ActivityDate": "2026-11-29",
        "OwnerId": "005000000000001AAA",
        "Meeting_Outcome__c": "No Show",
        "Travel_Distance_km__c": 200,
        "SystemModstamp": "2026-11-20T10:00:00.000+0000",
    }
    meeting = to_meeting(record, MAPPING)
    assert meeting.all_day and meeting.start_at is None and meeting.activity_date == date(2026, 11, 29)
    assert meeting.no_show and meeting.travel_distance_km == 200.0
    assert meeting.modstamp == datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "body", "kind", "retry"),
    [
        (401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired"}], CrmAuthError, False),
        (400, [{"errorCode": "MALFORMED_QUERY", "message": "x"}], CrmQueryError, False),
        (400, [{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "x"}], CrmUnavailableError, True),
        (403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "x"}], CrmUnavailableError, False),
        (403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "x"}], CrmQueryError, False),
        (404, [{"errorCode": "NOT_FOUND", "message": "x"}], CrmQueryError, False),
        (503, "Service Unavailable", CrmUnavailableError, True),
    ],
)
def test_errors_are_mapped_by_status_and_error_code(
    status: int, body: object, kind: type, retry: bool
) -> None:
    err = error_for_status(status, body, resource="query")
    assert type(err) is kind
    assert may_retry(err, idempotent=True) is retry


def test_transport_failures_are_retryable_but_a_timed_out_write_is_not_resent() -> None:
    err = error_for_exception(requests.exceptions.ReadTimeout("slow"), resource="composite")
    assert isinstance(err, CrmUnavailableError)
    assert may_retry(err, idempotent=True)
    assert not may_retry(err, idempotent=False)
    assert error_for_exception(KeyError("x"), resource="query") is None


def test_a_failed_composite_subrequest_fails_each_of_its_records() -> None:
    ok = [{"id": "069A", "success": True, "errors": []}]
    refused = [{"errorCode": "INVALID_FIELD", "message": "m"}]
    response = {
        "compositeResponse": [
            {"referenceId": "notes", "httpStatusCode": 200, "body": ok},
            {"referenceId": "links", "httpStatusCode": 400, "body": refused},
        ]
    }
    subs = subresults(response, ["notes", "links"], {"notes": 1, "links": 1})
    assert subs["notes"][0]["success"]
    assert subs["links"][0]["errors"][0]["statusCode"] == "INVALID_FIELD"


def test_a_task_body_is_truncated_to_the_description_limit() -> None:
    task = TaskRecord("Email: hi", "x" * 40_000, "005A", None, "006A", date(2026, 11, 28))
    body = task_body(task)
    assert len(body["Description"]) == 32_000 and "WhoId" not in body and body["WhatId"] == "006A"


@pytest.mark.parametrize(
    ("login_url", "aud"),
    [
        ("https://login.salesforce.com", "https://login.salesforce.com"),
        ("https://acme.my.salesforce.com", "https://login.salesforce.com"),
        ("https://test.salesforce.com", "https://test.salesforce.com"),
        ("https://acme--uat.sandbox.my.salesforce.com", "https://test.salesforce.com"),
    ],
)
def test_the_jwt_audience_follows_production_or_sandbox_login(login_url: str, aud: str) -> None:
    assert JwtAuth("u", "k", private_key_pem="x", login_url=login_url).claim_audience() == aud
    assert "secret-pem" not in repr(JwtAuth("u", "k", private_key_pem="secret-pem"))
