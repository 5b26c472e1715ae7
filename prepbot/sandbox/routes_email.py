"""Invocable action ``emailSimple`` (salesforce-api.md §2.10): validate, record, optionally log.

Nothing is delivered: each accepted input is appended to ``app.emails`` (the inspection list behind
``GET /__sandbox/emails``). With ``logEmailOnSend`` the sandbox creates what Salesforce logs on the
timelines: an EmailMessage (Status ``'3'`` Sent) related to ``relatedRecordId`` and a completed Task
(TaskSubtype ``Email``) on ``recipientId`` (Contact/Lead) and ``relatedRecordId``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from prepbot.sandbox import ids
from prepbot.sandbox.calls import ApiError, Call, Result, is_api_error, save_error
from prepbot.sandbox.routing import route

if TYPE_CHECKING:
    from prepbot.sandbox.app import SandboxApp

log = logging.getLogger(__name__)
MAX_RECIPIENTS = 150
_TO_KEYS = ("emailAddresses", "emailAddressesArray", "recipientAddresses", "recipientAddressList")
_CC_KEYS = ("ccRecipientAddressList", "ccAddresses")
_BCC_KEYS = ("bccRecipientAddressList", "bccAddresses")
_DESCRIBE_INPUTS = (
    "emailAddresses",
    "emailAddressesArray",
    "recipientId",
    "emailSubject",
    "emailBody",
    "senderType",
    "senderAddress",
    "sendRichBody",
    "useLineBreaks",
    "emailTemplateId",
    "logEmailOnSend",
    "relatedRecordId",
)


def _addresses(inp: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    """Addresses from comma lists and arrays, in order, without blanks."""
    out: list[str] = []
    for key in keys:
        value = inp.get(key)
        items = value if isinstance(value, list) else str(value or "").split(",")
        out += [str(a).strip() for a in items if str(a).strip()]
    return out


def _recipient_email(app: SandboxApp, recipient_id: str, version: str) -> str:
    """The Email of a Contact/Lead/User recipient."""
    kind = ids.type_of_id(recipient_id)
    if kind not in ("Contact", "Lead", "User"):
        raise ApiError(
            400, "INVALID_ID_FIELD", "recipientId must be a contact, lead or user Id", ["recipientId"]
        )
    rec = app.store.retrieve(kind, recipient_id, fields=["Email"], api_version=version)
    if not rec.get("Email"):
        raise ApiError(400, "INVALID_EMAIL_ADDRESS", "The recipient has no email address", ["recipientId"])
    return str(rec["Email"])


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _validate(app: SandboxApp, call: Call, inp: Any) -> dict[str, Any]:
    """The email an input describes; ApiError when invalid."""
    if not isinstance(inp, dict):
        raise ApiError(400, "INVALID_INPUT", "Each input must be an object")
    template = inp.get("emailTemplateId")
    subject, body = inp.get("emailSubject"), inp.get("emailBody")
    if not template and not (isinstance(subject, str) and subject.strip()):
        raise ApiError(
            400, "REQUIRED_FIELD_MISSING", "Missing required input parameter: emailSubject", ["emailSubject"]
        )
    if not template and not (isinstance(body, str) and body.strip()):
        raise ApiError(
            400, "REQUIRED_FIELD_MISSING", "Missing required input parameter: emailBody", ["emailBody"]
        )
    sender_type = inp.get("senderType") or "CurrentUser"
    if sender_type == "OrgWideEmailAddress" and not inp.get("senderAddress"):
        raise ApiError(
            400,
            "REQUIRED_FIELD_MISSING",
            "senderAddress is required for OrgWideEmailAddress",
            ["senderAddress"],
        )
    to = _addresses(inp, _TO_KEYS)
    recipient_id = inp.get("recipientId")
    if recipient_id:
        to.append(_recipient_email(app, str(recipient_id), call.version))
    cc, bcc = _addresses(inp, _CC_KEYS), _addresses(inp, _BCC_KEYS)
    if not to and not cc and not bcc:
        raise ApiError(400, "REQUIRED_FIELD_MISSING", "Specify at least one recipient", ["emailAddresses"])
    if len(to) + len(cc) + len(bcc) > MAX_RECIPIENTS:
        raise ApiError(
            400, "LIMIT_EXCEEDED", f"Too many recipients (max {MAX_RECIPIENTS})", ["emailAddresses"]
        )
    return {
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "subject": subject,
        "body": body,
        "html": _flag(inp.get("sendRichBody")),
        "senderType": sender_type,
        "senderAddress": inp.get("senderAddress"),
        "recipientId": recipient_id,
        "relatedRecordId": inp.get("relatedRecordId"),
        "emailTemplateId": template,
        "logEmailOnSend": _flag(inp.get("logEmailOnSend")),
        "runningUserId": call.user_id,
    }


def _log_activity(app: SandboxApp, email: dict[str, Any]) -> None:
    """Create the EmailMessage and the completed email Task Salesforce logs for a sent email."""
    now = app.store.now()
    who = (
        email["recipientId"]
        if ids.type_of_id(str(email["recipientId"] or "")) in ("Contact", "Lead")
        else None
    )
    # Only what the sandbox's What fields accept; other related records are not logged on a What.
    related = email["relatedRecordId"]
    what = related if ids.type_of_id(str(related or "")) in ("Account", "Opportunity") else None
    related_to = what
    if who and ids.type_of_id(who) == "Lead":
        what = None  # a Lead Who forbids a What (salesforce-api.md §1.5)
    task: dict[str, Any] = {
        "Subject": f"Email: {email['subject'] or ''}"[:255],
        "TaskSubtype": "Email",
        "Type": "Email",
        "Status": "Completed",
        "Priority": "Normal",
        "ActivityDate": now.date().isoformat(),
        "Description": email["body"],
        "WhoId": who,
        "WhatId": what,
    }
    email["taskId"] = app.store.create("Task", {k: v for k, v in task.items() if v is not None})
    message: dict[str, Any] = {
        "Subject": email["subject"],
        "Status": "3",
        "Incoming": False,
        "ToAddress": "; ".join(email["to"]),
        "CcAddress": "; ".join(email["cc"]) or None,
        "BccAddress": "; ".join(email["bcc"]) or None,
        "MessageDate": now.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "RelatedToId": related_to,
        "FromAddress": _sender_address(app, email),
        "HtmlBody" if email["html"] else "TextBody": email["body"],
        "ActivityId": email["taskId"],
    }
    email["emailMessageId"] = app.store.create(
        "EmailMessage", {k: v for k, v in message.items() if v is not None}
    )


def _sender_address(app: SandboxApp, email: dict[str, Any]) -> str | None:
    """The org-wide address when given, else the running user's email."""
    if email["senderAddress"]:
        return str(email["senderAddress"])
    user_id = app.store.running_user_id
    if not user_id:
        return None
    user = app.store.retrieve("User", user_id, fields=["Email"], api_version="62.0")
    return str(user["Email"]) if user.get("Email") else None


def _send(app: SandboxApp, call: Call, inp: Any) -> dict[str, Any]:
    """One input's action result."""
    try:
        with app.store.transaction():
            email = _validate(app, call, inp)
            single = email["logEmailOnSend"] or bool(email["emailTemplateId"])
            count = len(email["to"]) + len(email["cc"]) + len(email["bcc"])
            if not app.counter.take_emails(count, single=single):
                raise ApiError(
                    400,
                    "SINGLE_EMAIL_LIMIT_EXCEEDED",
                    "The daily limit for the org's emails has been exceeded.",
                )
            if email["logEmailOnSend"]:
                _log_activity(app, email)
            email["sentAt"] = app.store.now().isoformat()
    except Exception as exc:
        if not is_api_error(exc):
            raise
        return {
            "actionName": "emailSimple",
            "errors": [save_error(exc)],
            "isSuccess": False,
            "outputValues": None,
        }
    app.emails.append(email)
    log.info("sandbox emailSimple recorded for %d recipient(s)", count)
    return {"actionName": "emailSimple", "errors": None, "isSuccess": True, "outputValues": None}


@route("email_simple")
def email_simple(app: SandboxApp, call: Call) -> Result:
    """POST actions/standard/emailSimple `{"inputs": [...]}`; GET describes the inputs."""
    if call.method == "GET":
        inputs = [
            {"name": n, "type": "STRING", "required": n in ("emailSubject", "emailBody")}
            for n in _DESCRIBE_INPUTS
        ]
        return Result(
            body={"name": "emailSimple", "label": "Send Email", "type": "EMAILSIMPLE", "inputs": inputs}
        )
    given = call.body.get("inputs") if isinstance(call.body, dict) else None
    if not isinstance(given, list) or not given:
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must contain an inputs array")
    results = [_send(app, call, inp) for inp in given]
    status = 200 if all(r["isSuccess"] for r in results) else 400
    return Result(status=status, body=results)
