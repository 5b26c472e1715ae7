"""emailSimple action (recording, logging as EmailMessage + Task, limits) and the SMTP sink."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from prepbot.sandbox.runner import SandboxHandle
from tests.conftest import RUNNING_USER

ACTION = "actions/standard/emailSimple"


@pytest.fixture
def sf(sandbox: Any) -> Any:
    """An unmodified simple_salesforce.Salesforce on the sandbox (session-id auth, API v62.0)."""
    return sandbox.client()


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    return {
        "User": [dict(RUNNING_USER)],
        "Account": [{"$key": "farm", "Name": "Boerderij De Hoeve"}],
        "Contact": [
            {
                "$key": "jan",
                "FirstName": "Jan",
                "LastName": "Visser",
                "Email": "jan@hoeve.example",
                "AccountId": "@farm",
            }
        ],
        "Opportunity": [
            {
                "$key": "deal",
                "Name": "Melkrobot",
                "StageName": "Prospecting",
                "CloseDate": "2026-12-20",
                "AccountId": "@farm",
            }
        ],
    }


def _ids(sf: Any) -> tuple[str, str]:
    contact = sf.query("SELECT Id FROM Contact")["records"][0]["Id"]
    deal = sf.query("SELECT Id FROM Opportunity")["records"][0]["Id"]
    return contact, deal


def test_email_simple_with_log_email_on_send_records_and_logs(sandbox: SandboxHandle, sf: Any) -> None:
    contact, deal = _ids(sf)
    before = sf.limits()["SingleEmail"]["Remaining"]
    inputs = [
        {
            "emailSubject": "Tot morgen",
            "emailBody": "Beste Jan, ...",
            "recipientId": contact,
            "relatedRecordId": deal,
            "logEmailOnSend": True,
            "senderType": "CurrentUser",
        }
    ]
    result = sf.restful(ACTION, method="POST", json={"inputs": inputs})
    assert result == [{"actionName": "emailSimple", "errors": None, "isSuccess": True, "outputValues": None}]
    assert [e["to"] for e in sandbox.emails] == [["jan@hoeve.example"]]
    assert sandbox.emails[0]["subject"] == "Tot morgen"
    tasks = sf.query("SELECT Subject, TaskSubtype, Status, WhoId, WhatId FROM Task")["records"]
    assert [(t["Subject"], t["TaskSubtype"], t["Status"], t["WhoId"], t["WhatId"]) for t in tasks] == [
        ("Email: Tot morgen", "Email", "Completed", contact, deal)
    ]
    messages = sf.query("SELECT Subject, Status, RelatedToId, FromAddress, ToAddress FROM EmailMessage")[
        "records"
    ]
    assert [(m["Subject"], m["Status"], m["RelatedToId"]) for m in messages] == [("Tot morgen", "3", deal)]
    assert (messages[0]["FromAddress"], messages[0]["ToAddress"]) == (
        RUNNING_USER["Email"],
        "jan@hoeve.example",
    )
    assert sf.limits()["SingleEmail"]["Remaining"] == before - 1


def test_email_simple_without_logging_creates_no_activity(sandbox: SandboxHandle, sf: Any) -> None:
    inputs = [{"emailSubject": "Hi", "emailBody": "Body", "emailAddresses": "a@example.com, b@example.com"}]
    assert sf.restful(ACTION, method="POST", json={"inputs": inputs})[0]["isSuccess"]
    assert sandbox.emails[0]["to"] == ["a@example.com", "b@example.com"]
    assert sf.query("SELECT COUNT() FROM Task")["totalSize"] == 0


def test_email_simple_validates_each_input(sandbox: SandboxHandle, sf: Any) -> None:
    inputs = [
        {"emailSubject": "Fine", "emailBody": "Body", "emailAddresses": "a@example.com"},
        {"emailBody": "No subject", "emailAddresses": "a@example.com"},
        {"emailSubject": "No recipient", "emailBody": "Body"},
    ]
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.restful(ACTION, method="POST", json={"inputs": inputs})
    results = exc.value.content
    assert [r["isSuccess"] for r in results] == [True, False, False]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert len(sandbox.emails) == 1


def test_email_simple_counts_once_and_is_listed_by_the_control_endpoint(
    sandbox: SandboxHandle, sf: Any
) -> None:
    inputs = [
        {"emailSubject": f"S{i}", "emailBody": "B", "emailAddresses": "x@example.com"} for i in range(3)
    ]
    sf.restful(ACTION, method="POST", json={"inputs": inputs})
    assert sandbox.api_calls.used == 1
    with sandbox.session() as session:
        listed = session.get(
            f"{sandbox.instance_url}/__sandbox/emails",
            headers={"Authorization": f"Bearer {sandbox.access_token}"},
        ).json()
    assert [e["subject"] for e in listed] == ["S0", "S1", "S2"]


def test_smtp_sink_writes_each_message_as_an_eml_file(sandbox: SandboxHandle) -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "bot@prepbot.test", "jan@hoeve.example", "Tot morgen — 10:00"
    msg.set_content("Beste Jan,\nTot morgen.")
    with smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=30) as smtp:
        smtp.send_message(msg)
        smtp.send_message(msg, to_addrs=["other@example.com"])
    files = sorted(sandbox.outbox.glob("*.eml"))
    assert len(files) == 2
    parsed = message_from_bytes(files[0].read_bytes(), policy=default)
    assert parsed["Subject"] == "Tot morgen — 10:00"
    assert parsed.get_content().replace("\r\n", "\n").strip() == "Beste Jan,\nTot morgen."
    assert sorted(m.rcpt_tos for m in sandbox.smtp_messages) == [
        ("jan@hoeve.example",),
        ("other@example.com",),
    ]


def test_logged_email_to_a_lead_has_no_what(sandbox: SandboxHandle, sf: Any) -> None:
    lead = sf.Lead.create({"LastName": "Mulder", "Company": "Tuinderij Mulder", "Email": "sanne@example.nl"})[
        "id"
    ]
    _, deal = _ids(sf)
    inputs = [
        {
            "emailSubject": "Intake",
            "emailBody": "Tot morgen",
            "recipientId": lead,
            "relatedRecordId": deal,
            "logEmailOnSend": True,
        }
    ]
    assert sf.restful(ACTION, method="POST", json={"inputs": inputs})[0]["isSuccess"]
    task = sf.query("SELECT WhoId, WhatId FROM Task")["records"][0]
    assert (task["WhoId"], task["WhatId"]) == (lead, None)
    assert sandbox.emails[0]["to"] == ["sanne@example.nl"]
