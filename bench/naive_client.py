"""The day's cycle as a user would script it with simple-salesforce: a lookup per meeting, a write per record.

Run: ``.venv/bin/python -m bench.naive_client [N ...]`` (default 1000). For each N it seeds a sandbox org
with the same N meetings as `bench.day_cycle`, then, like a hand-written script: queries tomorrow's
Events (``query_all``), and per meeting gets the Contact and the Opportunity, sends the confirmation
over one SMTP connection, creates the email Task (``sf.Task.create``) and a ContentNote with its
ContentDocumentLink. The sandbox's API counter gives the calls; the reference for issue 7's "at least
50x fewer than naive".
"""

from __future__ import annotations

import base64
import json
import smtplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from simple_salesforce.api import Salesforce

from bench.day_cycle import seed
from prepbot.sandbox.runner import SandboxProcess, client_session

API_VERSION = "62.0"
# Wednesday 2 December 2026 in Amsterdam (UTC+1), as UTC bounds: the meetings day_cycle seeds.
DAY_START, DAY_END = "2026-12-01T23:00:00Z", "2026-12-02T23:00:00Z"
EVENTS_SOQL = (
    "SELECT Id, Subject, StartDateTime, Location, WhoId, WhatId, OwnerId FROM Event "
    f"WHERE StartDateTime >= {DAY_START} AND StartDateTime < {DAY_END} ORDER BY StartDateTime"
)


def confirmation(event: dict[str, Any], contact: dict[str, Any], sender: str) -> EmailMessage:
    """The email a user's script would build with an f-string."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = contact["Email"]
    msg["Subject"] = f"Confirming our meeting: {event['Subject']}"
    msg.set_content(
        f"Dear {contact['FirstName']} {contact['LastName']},\n\n"
        f"This confirms our meeting '{event['Subject']}' at {event['StartDateTime']} "
        f"({event['Location']}).\n\nKind regards\n"
    )
    return msg


def handle_meeting(sf: Any, smtp: smtplib.SMTP, event: dict[str, Any], sender: str) -> None:
    """Everything for one meeting: 2 lookups, 1 email, 3 writes (5 API calls).

    ``sf`` is a `Salesforce`; typed Any because its ``sf.Contact``-style attributes are dynamic.
    """
    contact = sf.Contact.get(event["WhoId"])
    deal = sf.Opportunity.get(event["WhatId"])
    msg = confirmation(event, contact, sender)
    smtp.send_message(msg)
    sf.Task.create(
        {
            "Subject": f"Email: {msg['Subject']}",
            "WhoId": event["WhoId"],
            "WhatId": event["WhatId"],
            "OwnerId": event["OwnerId"],
            "ActivityDate": event["StartDateTime"][:10],
            "Status": "Completed",
            "TaskSubtype": "Email",
            "Description": msg.get_content(),
        }
    )
    html = f"<p><b>{event['Subject']}</b></p><p>Deal: {deal['Name']} ({deal['StageName']})</p>"
    note = sf.ContentNote.create(
        {"Title": f"Prep: {event['Subject']}", "Content": base64.b64encode(html.encode()).decode()}
    )
    sf.ContentDocumentLink.create(
        {"ContentDocumentId": note["id"], "LinkedEntityId": event["WhatId"], "ShareType": "I"}
    )


def run_naive(org: SandboxProcess, sender: str = "meetings@bench.test") -> int:
    """Run the naive script against a running sandbox; returns how many meetings it handled."""
    session = client_session(org.ca_bundle)
    sf = Salesforce(
        instance_url=org.instance_url, session_id=org.access_token, session=session, version=API_VERSION
    )
    events = sf.query_all(EVENTS_SOQL)["records"]
    with smtplib.SMTP(org.smtp_host, org.smtp_port, timeout=30) as smtp:
        for event in events:
            handle_meeting(sf, smtp, event, sender)
    session.close()
    return len(events)


def measure(n: int) -> dict[str, Any]:
    """Seed N meetings, run the naive script; its API calls (sandbox counter) and time."""
    with tempfile.TemporaryDirectory(prefix="prepbot-naive-") as tmp:
        seed_file = Path(tmp) / "seed.json"
        seed_file.write_text(json.dumps(seed(n)), encoding="utf-8")
        with SandboxProcess(
            "--seed",
            str(seed_file),
            "--state",
            str(Path(tmp) / "org"),
            "--daily-api-limit",
            "100000000",
            ready_timeout=900,
        ) as org:
            before = org.control("GET", "api-usage")["used"]
            started = time.perf_counter()
            handled = run_naive(org)
            seconds = time.perf_counter() - started
            calls = org.control("GET", "api-usage")["used"] - before
    return {
        "meetings": handled,
        "naive_calls": calls,
        "calls_per_meeting": round(calls / max(handled, 1), 3),
        "naive_seconds": round(seconds, 1),
        "naive_meetings_per_second": round(handled / seconds, 1) if seconds else 0.0,
    }


def main(argv: list[str]) -> int:
    for n in [int(a) for a in argv] or [1000]:
        print(json.dumps(measure(n)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
