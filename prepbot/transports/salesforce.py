"""Salesforce transport: each message goes out through the org's ``emailSimple`` action (API doc §2.10).

How a message maps onto the action's inputs:

* Recipient: with ``log_email_on_send`` and a known ``who_id``, only ``recipientId`` (the Contact or
  Lead): Salesforce sends to that record's Email (which prepbot re-read right before sending) and
  logs the email on its timeline. ``recipientId`` counts as a recipient itself, so also giving the
  address would address the client twice. Otherwise the address goes in ``emailAddresses``
  (API v32-v64) or ``recipientAddresses`` (v65+, which renamed the recipient inputs); the name
  follows the adapter's ``api_version`` (prepbot's default is 62.0).
* ``emailSubject``; ``emailBody`` is the HTML part with ``sendRichBody`` when the message has
  one, else the plain text. ``relatedRecordId`` is the What (an Opportunity or Account; never set
  with a Lead, as Salesforce forbids a What on a Lead's activities).
* ``senderType`` ``CurrentUser`` (the API user: with an integration user, clients see its name),
  ``DefaultWorkflowUser`` or ``OrgWideEmailAddress`` with ``senderAddress`` (recommended). The
  message's From, Reply-To, extra headers and Message-ID cannot be set through emailSimple:
  Salesforce writes its own, so "never twice" rests on prepbot's ledger alone (no relay-side
  dedupe by Message-ID is possible).
* ``logEmailOnSend``: Salesforce logs the email (EmailMessage + Task) on the records itself, so
  ``logs_activity`` is True and the service writes no Task of its own. It also moves the email
  onto the org's daily *single email* limit (else the workflow email limit applies).

Outcomes: an input refused with ``errors[].statusCode`` becomes DeliveryRejectedError (permanent),
DeliveryUnavailableError (SINGLE_EMAIL_LIMIT_EXCEEDED and other retry-later codes) or
DeliveryRelayError (the org does not let this user send email at all); a request refused as a
whole follows the CRM errors (auth -> DeliveryAuthError, unavailable -> DeliveryUnavailableError);
a request that went out without a usable answer is DeliveryInDoubtError (Salesforce may have sent it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal, Protocol

from prepbot.domain import DeliveryReceipt, OutgoingMessage
from prepbot.errors import (
    ConfigError,
    CrmAuthError,
    CrmError,
    CrmInDoubtError,
    CrmQueryError,
    CrmUnavailableError,
    DeliveryAuthError,
    DeliveryError,
    DeliveryInDoubtError,
    DeliveryRejectedError,
    DeliveryRelayError,
    DeliveryUnavailableError,
)
from prepbot.ports import Clock

log = logging.getLogger(__name__)

SenderType = Literal["CurrentUser", "DefaultWorkflowUser", "OrgWideEmailAddress"]
SENDER_TYPES = ("CurrentUser", "DefaultWorkflowUser", "OrgWideEmailAddress")
RENAMED_IN = (65, 0)  # API version that renamed emailAddresses -> recipientAddresses (§2.10)

# statusCodes that say "not now" rather than "never": the daily single-email limit resets, locks clear.
RETRY_CODES = frozenset(
    {"SINGLE_EMAIL_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE"}
)
# statusCodes that say this org or user cannot send email at all (Setup > Deliverability, or the
# "Send Email" permission): no message is at fault, so the service holds the rows and alerts.
RELAY_CODES = frozenset({"NO_MASS_MAIL_PERMISSION"})
_MAX_TEXT = 300


class EmailAction(Protocol):
    """What the transport needs from the CRM adapter (``SalesforceCrm`` provides it)."""

    @property
    def api_version(self) -> str: ...

    def send_email_simple(self, inputs: Sequence[Mapping[str, object]]) -> list[dict[str, object]]: ...


class SalesforceEmailTransport:
    """The ``Transport`` port over the org's ``emailSimple`` action (see the module docstring)."""

    def __init__(
        self,
        *,
        crm: EmailAction,
        sender_type: SenderType = "CurrentUser",
        sender_address: str | None = None,
        log_email_on_send: bool = True,
        clock: Clock | None = None,
    ) -> None:
        """Validate the sender settings; nothing is called until the first send.

        Args:
            crm: the adapter that runs the action (its retry and session policies apply).
            sender_type: ``CurrentUser``, ``DefaultWorkflowUser`` or ``OrgWideEmailAddress``.
            sender_address: the verified org-wide address; required with ``OrgWideEmailAddress``.
            log_email_on_send: let Salesforce log the email on the Who and What.
            clock: source of the receipt's ``accepted_at`` (default: the system clock, UTC).

        Raises:
            ConfigError: an unknown sender type, or an org-wide sender without an address.
        """
        if sender_type not in SENDER_TYPES:
            raise ConfigError(f"unknown sender type {sender_type!r}", key="delivery.salesforce_sender_type")
        if sender_type == "OrgWideEmailAddress" and not sender_address:
            raise ConfigError(
                "OrgWideEmailAddress needs the org-wide address", key="delivery.salesforce_sender_address"
            )
        self._crm = crm
        self._sender_type = sender_type
        self._sender_address = sender_address
        self._clock = clock
        self.logs_activity = log_email_on_send

    def __repr__(self) -> str:
        return (
            f"SalesforceEmailTransport(sender_type={self._sender_type!r}, "
            f"log_email_on_send={self.logs_activity})"
        )

    def prepare(self, message: OutgoingMessage) -> None:
        """Nothing: the action's inputs are built by :meth:`send` in microseconds."""

    def send(
        self,
        message: OutgoingMessage,
        *,
        on_data_end: Callable[[], None] | None = None,
        while_waiting: Callable[[], None] | None = None,
        while_commands: Callable[[], None] | None = None,
        then: Callable[[], OutgoingMessage | None] | None = None,
    ) -> DeliveryReceipt:
        """Send ``message`` through emailSimple (one API call); ``on_data_end`` runs right before it.

        ``while_waiting``, ``while_commands`` and ``then`` are never called: the call's answer comes
        with the request's own round trip.

        Returns:
            The receipt; ``message_id`` is prepbot's own (Salesforce does not report the one it wrote).

        Raises:
            DeliveryRejectedError: Salesforce refused the input for good (e.g. INVALID_EMAIL_ADDRESS).
            DeliveryUnavailableError: try later (5xx before processing, REQUEST_LIMIT_EXCEEDED,
                SINGLE_EMAIL_LIMIT_EXCEEDED, a lock).
            DeliveryInDoubtError: the request went out without a usable answer; it may have been sent.
            DeliveryAuthError: the session is refused. DeliveryRelayError: the org or user may not
                send email, or the action is not available to this user.
        """
        inputs = self.inputs_for(message)
        if on_data_end is not None:
            on_data_end()
        try:
            results = self._crm.send_email_simple([inputs])
        except CrmError as exc:
            raise _delivery_error(exc) from exc
        result = results[0]
        if result.get("isSuccess") is not True:
            raise _refusal(result.get("errors"))
        log.debug("emailSimple: accepted %s", message.message_id)
        return DeliveryReceipt(
            message_id=message.message_id, accepted_at=self._now(), reply="emailSimple isSuccess"
        )

    def inputs_for(self, message: OutgoingMessage) -> dict[str, object]:
        """The emailSimple input for ``message`` (documented in the module docstring)."""
        inputs: dict[str, object] = {"emailSubject": " ".join(message.subject.split())}
        if self.logs_activity and message.who_id:
            inputs["recipientId"] = message.who_id
        else:
            inputs[self._address_input()] = message.to_address
        if message.html and message.html.strip():
            inputs.update(emailBody=message.html, sendRichBody=True)
        else:
            inputs["emailBody"] = message.text
        inputs["senderType"] = self._sender_type
        if self._sender_address and self._sender_type == "OrgWideEmailAddress":
            inputs["senderAddress"] = self._sender_address
        inputs["logEmailOnSend"] = self.logs_activity
        if message.what_id:
            inputs["relatedRecordId"] = message.what_id
        return inputs

    def close(self) -> None:
        """Nothing to release: the CRM adapter's connections belong to its owner."""

    def _address_input(self) -> str:
        return "recipientAddresses" if _version(self._crm.api_version) >= RENAMED_IN else "emailAddresses"

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.strip().lstrip("v").partition(".")
    return int(major), int(minor or 0)


def _delivery_error(exc: CrmError) -> DeliveryError:
    """The delivery outcome of a request refused (or unanswered) as a whole."""
    text = f"emailSimple: {exc}"
    if isinstance(exc, CrmInDoubtError):
        return DeliveryInDoubtError(text)
    if isinstance(exc, CrmAuthError):
        return DeliveryAuthError(text)
    if isinstance(exc, CrmUnavailableError):
        return DeliveryUnavailableError(text)
    if isinstance(exc, CrmQueryError) and exc.status in (403, 404):
        return DeliveryRelayError(text)  # no permission for the action, or no such action here
    return DeliveryRejectedError(text)


def _refusal(errors: object) -> DeliveryError:
    """The delivery outcome of one refused input, decided by its first ``statusCode``."""
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = str(first.get("statusCode") or "UNKNOWN")
    message = str(first.get("message") or "")[:_MAX_TEXT]
    text = f"emailSimple refused: {code}" + (f": {message}" if message else "")
    if code in RETRY_CODES:
        return DeliveryUnavailableError(text)
    if code in RELAY_CODES:
        return DeliveryRelayError(text)
    return DeliveryRejectedError(text)
