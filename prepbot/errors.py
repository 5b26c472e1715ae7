"""The one exception tree of prepbot; no other module defines exceptions."""

from __future__ import annotations


class PrepbotError(Exception):
    """Base of every error prepbot raises on purpose.

    ``retryable`` tells the service whether the same operation may succeed later.
    """

    retryable: bool = False


class ConfigError(PrepbotError):
    """A bad or missing setting; the CLI exits 2 and names the key."""

    def __init__(self, message: str, *, key: str | None = None, hint: str | None = None) -> None:
        self.key = key
        self.hint = hint
        text = message if key is None else f"{key}: {message}"
        if hint:
            text = f"{text} (fix: {hint})"
        super().__init__(text)


class CrmError(PrepbotError):
    """A Salesforce call failed.

    ``status`` is the HTTP status (0 when no response arrived) and ``error_code`` the
    Salesforce ``errorCode``/``statusCode`` when one was given.
    """

    def __init__(self, message: str, *, status: int = 0, error_code: str | None = None) -> None:
        self.status = status
        self.error_code = error_code
        super().__init__(message)


class CrmAuthError(CrmError):
    """401 or refused credentials: nothing will work until an admin fixes the connection."""


class CrmQueryError(CrmError):
    """400 MALFORMED_QUERY / INVALID_FIELD and other permanent request errors: a bug or a bad mapping."""


class CrmUnavailableError(CrmError):
    """Retryable: 5xx, timeouts, REQUEST_LIMIT_EXCEEDED, UNABLE_TO_LOCK_ROW."""

    retryable = True


class CrmInDoubtError(CrmError):
    """A write (e.g. the emailSimple action) was sent but no usable answer came back: Salesforce may
    have carried it out. Never repeated blindly (the same rule as RFC 1047 for SMTP)."""


class CrmRecordError(CrmError):
    """One record of a batch write was refused; the others are unaffected."""


class TemplateError(PrepbotError):
    """Template syntax error, undefined variable, sandbox violation or render cap.

    ``template`` is the template file (or name) and ``line`` the line in it when known;
    ``hint`` says what to change. ``prepbot templates check`` prints them as ``file:line``.
    """

    def __init__(
        self, message: str, *, template: str | None = None, line: int | None = None, hint: str | None = None
    ) -> None:
        self.template = template
        self.line = line
        self.hint = hint
        super().__init__(message)


class MessageError(PrepbotError):
    """A message cannot be built safely: an invalid address, a header not on the allow-list,
    or a header value that would inject another header (reliability.md H1, H6). Permanent."""


class DeliveryError(PrepbotError):
    """A message could not be handed to the relay."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class DeliveryRejectedError(DeliveryError):
    """Permanent refusal (SMTP 5xx): do not retry."""


class DeliveryUnavailableError(DeliveryError):
    """Retryable: connection failure, timeout, SMTP 4xx."""

    retryable = True


class DeliveryConnectError(DeliveryUnavailableError):
    """Retryable, and about the relay rather than one message: it could not be reached or would
    not start a session (refused, reset, no banner in time, 421 greeting, 454 at STARTTLS/AUTH).
    Nothing of any message was sent; the next message would fare the same, so the cycle stops."""


class DeliveryInDoubtError(DeliveryError):
    """The relay may or may not have accepted the message (RFC 1047): never retried blindly."""


class DeliveryRelayError(DeliveryError):
    """The relay cannot be used as configured (credentials, TLS, refused service).

    Not retryable: the message is not at fault, so the service should not burn its retry
    budget on it; it stops sending through this relay, alerts, and leaves the rows for later.
    """


class DeliveryAuthError(DeliveryRelayError):
    """The relay refused our credentials (SMTP 535/534/530/538) or offers no usable AUTH."""


class DeliveryTlsError(DeliveryRelayError):
    """TLS could not be established safely: certificate not verified, wrong host name, or
    STARTTLS required but not offered. Raised before any credentials are sent."""


class LedgerError(PrepbotError):
    """The ledger database failed; the tick is retried later."""

    retryable = True


class LedgerStateError(LedgerError):
    """The ledger refused a change that does not fit its state: an illegal transition, an unknown row,
    or a database schema that is not at the revision this code expects. Retrying will not help."""

    retryable = False


class StaleClaimError(LedgerError):
    """A worker tried to settle a row whose claim another attempt has since taken over."""

    retryable = False
