"""Pure helpers of the SMTP transport: settings checks, envelope bytes, reply mapping, redaction."""

from __future__ import annotations

import base64
import copy
import io
import ipaddress
import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Literal

from prepbot.errors import (
    ConfigError,
    DeliveryAuthError,
    DeliveryConnectError,
    DeliveryError,
    DeliveryRejectedError,
    DeliveryRelayError,
    DeliveryTlsError,
    DeliveryUnavailableError,
)

Security = Literal["starttls", "tls", "none"]

# 530 auth required, 534 mechanism too weak, 535 credentials invalid, 538 encryption required
# (RFC 4954 §6): the relay refuses *us*, not the message, so these never count against a message.
AUTH_CODES = frozenset({530, 534, 535, 538})
_MAX_REPLY_CHARS = 300
_LINE_END = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_BAD_ADDRESS_CHARS = re.compile(r"[\x00-\x20\x7f<>]")
_ATEXT = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-"  # RFC 5322 §3.2.3
_DOT_ATOM_ADDRESS = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The transport's validated keyword arguments (the password is kept out of ``repr``)."""

    host: str
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    timeout: float
    data_end_timeout: float
    ca_bundle: str | None
    local_hostname: str | None
    max_messages_per_connection: int
    envelope_sender: str | None
    pipelining: bool = True


@dataclass(frozen=True, slots=True)
class Envelope:
    """One SMTP transaction's input: envelope addresses and the DATA bytes, terminator included."""

    sender: str
    recipients: tuple[str, ...]
    payload: bytes
    smtputf8: bool  # an envelope address is not ASCII (RFC 6531)
    eight_bit: bool  # the content has 8-bit bytes (RFC 6152)


class Redactor:
    """Replaces the relay password, and the base64 forms AUTH sends it in, by ``***``."""

    def __init__(self, username: str | None, password: str | None) -> None:
        forms: set[str] = set()
        if password:
            user = username or ""
            for raw in (password, f"\0{user}\0{password}", f"{user}\0{user}\0{password}"):
                forms.add(base64.b64encode(raw.encode("utf-8")).decode("ascii"))
            forms.add(password)
        # Longest first, so a base64 form is replaced whole before any shorter overlap.
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, "***")
        return text


def is_loopback(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1 (the only hosts allowed without TLS)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def make_envelope(
    message: EmailMessage, sender: str, recipients: Sequence[str], serialised: bytes | None = None
) -> Envelope:
    """Check the envelope addresses and encode ``message`` for DATA (from ``serialised``, its CRLF
    bytes as already made by the builder, when given).

    Raises:
        DeliveryRejectedError: an address is empty or has spaces, control characters or angle
            brackets (a CR/LF would otherwise become an SMTP command injection).
    """
    for address in (sender, *recipients):
        if not _is_address(address):
            raise DeliveryRejectedError(f"smtp envelope: invalid address {address[:80]!r}")
    smtputf8 = not all(address.isascii() for address in (sender, *recipients))
    payload = encode_payload(message, utf8=smtputf8, serialised=serialised)
    return Envelope(sender, tuple(recipients), payload, smtputf8, not payload.isascii())


def _is_address(address: str) -> bool:
    return "@" in address and not _BAD_ADDRESS_CHARS.search(address)


def encode_payload(message: EmailMessage, *, utf8: bool = False, serialised: bytes | None = None) -> bytes:
    """RFC 5321 DATA bytes: CRLF line ends, dot-stuffed (§4.5.2), ending in ``CRLF.CRLF``.

    Bcc headers are removed, as ``smtplib.send_message`` does.
    """
    if message["Bcc"] is not None or message["Resent-Bcc"] is not None:
        serialised = None  # those bytes carry the Bcc
        message = copy.copy(message)
        del message["Bcc"]
        del message["Resent-Bcc"]
    data = None if utf8 else serialised  # the builder's checked bytes: sent as they are
    if data is None:
        policy = message.policy
        if utf8 and isinstance(policy, EmailPolicy):  # RFC 6532 headers, only when SMTPUTF8 is used
            policy = policy.clone(utf8=True)
        buffer = io.BytesIO()
        BytesGenerator(buffer, policy=policy).flatten(message, linesep="\r\n")
        data = buffer.getvalue()
    data = _LEADING_DOT.sub(b"..", _LINE_END.sub(b"\r\n", data))
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


def reply_text(reply: bytes | str, redact: Redactor) -> str:
    """A server reply as one short printable line, secrets removed."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return redact(_CONTROL.sub(" ", text).strip())[:_MAX_REPLY_CHARS]


def reply_error(stage: str, code: int, reply: bytes | str, redact: Redactor) -> DeliveryError:
    """Map a refusal inside a mail transaction (MAIL, RCPT, DATA, end of DATA) by its code.

    4xx is transient (RFC 5321 §4.2.1), 5xx permanent; the AUTH codes mean the relay refuses us.
    """
    text = f"smtp {stage}: {code} {reply_text(reply, redact)}".rstrip()
    if code in AUTH_CODES:
        return DeliveryAuthError(text, code=code)
    if 400 <= code < 500:
        return DeliveryUnavailableError(text, code=code)
    if 500 <= code < 600:
        return DeliveryRejectedError(text, code=code)
    return DeliveryUnavailableError(f"smtp {stage}: unexpected reply {code}", code=code if code > 0 else None)


def setup_error(stage: str, exc: BaseException, redact: Redactor) -> DeliveryError:
    """Map a failure while connecting, greeting, securing or authenticating.

    Nothing of a message has been sent yet, so nothing here is ever a rejection of the message:
    transient faults are a retryable :class:`DeliveryConnectError` (the relay, not the message, is
    the problem), and a relay that refuses us is a :class:`DeliveryRelayError`.
    """
    # Order matters: SMTPException (and so every smtplib error) is a subclass of OSError.
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryTlsError(f"smtp {stage}: TLS certificate not accepted: {exc.verify_message}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryConnectError(f"smtp {stage}: connection lost: {redact(str(exc))}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _setup_reply_error(stage, exc.smtp_code, exc.smtp_error, redact)
    if isinstance(exc, smtplib.SMTPException):  # no AUTH offered, no usable mechanism
        return DeliveryAuthError(f"smtp {stage}: {redact(str(exc))}")
    if isinstance(exc, OSError):  # refused, reset, timeout, DNS, TLS handshake faults
        return DeliveryConnectError(f"smtp {stage}: {type(exc).__name__}: {redact(str(exc))}")
    return DeliveryConnectError(f"smtp {stage}: {type(exc).__name__}")


def _setup_reply_error(stage: str, code: int, reply: bytes | str, redact: Redactor) -> DeliveryError:
    text = f"smtp {stage}: {code} {reply_text(reply, redact)}".rstrip()
    if not 500 <= code < 600:  # 421 closing, 454 temporary AUTH/TLS failure, or an unreadable reply
        return DeliveryConnectError(text, code=code if code > 0 else None)
    if stage == "AUTH" or code in AUTH_CODES:
        return DeliveryAuthError(text, code=code)
    if stage == "STARTTLS":
        return DeliveryTlsError(text, code=code)
    return DeliveryRelayError(text, code=code)  # e.g. 554 "no service for you" in the greeting


def validate_settings(s: SmtpSettings, *, allow_insecure_loopback: bool) -> None:
    """Raise :class:`ConfigError` naming the ``smtp.*`` key of the first bad setting."""
    if not s.host:
        raise ConfigError("must name the relay", key="smtp.host")
    if not 0 < s.port < 65536:
        raise ConfigError(f"{s.port} is not a TCP port", key="smtp.port")
    if s.security not in ("starttls", "tls", "none"):
        raise ConfigError(f"{s.security!r} is not one of starttls, tls, none", key="smtp.security")
    if s.security == "none" and not (allow_insecure_loopback and is_loopback(s.host)):
        where = f"not {s.host!r}" if allow_insecure_loopback else "and that is switched off here"
        raise ConfigError(
            f"'none' (no TLS) is only allowed for a loopback relay, {where}",
            key="smtp.security",
            hint="use 'starttls' (port 587) or 'tls' (port 465)",
        )
    if (s.username is None) != (s.password is None):
        raise ConfigError("username and password go together", key="smtp.password")
    if s.timeout <= 0 or s.data_end_timeout <= 0:
        raise ConfigError("must be a positive number of seconds", key="smtp.timeout")
    if s.local_hostname is not None and (
        not s.local_hostname.isascii() or _BAD_ADDRESS_CHARS.search(s.local_hostname)
    ):
        raise ConfigError("must be an ASCII host name (it is sent in EHLO)", key="smtp.local_hostname")
    if s.envelope_sender is not None and not _is_address(s.envelope_sender):
        raise ConfigError(f"{s.envelope_sender[:80]!r} is not an email address", key="smtp.envelope_sender")
    if s.max_messages_per_connection < 1:
        raise ConfigError("must be at least 1", key="smtp.max_messages_per_connection")


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Verifying client context: CERT_REQUIRED and host name check (smtplib's own default has neither)."""
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load CA bundle {ca_bundle!r} ({type(exc).__name__})", key="smtp.ca_bundle"
        ) from None


def quoted_address(address: str) -> str:
    """``smtplib.quoteaddr(address)``: ``<local@domain>``. A plain ``dot-atom@domain`` is its own
    addr-spec, so it is bracketed as it is; anything else goes through the stdlib's address parser
    (a third of the envelope's time when every address went through it, issue 7)."""
    if _DOT_ATOM_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def pipelined_commands(sender: str, recipients: Sequence[str], options: Sequence[str]) -> bytes:
    """MAIL FROM, one RCPT TO per recipient and DATA as one RFC 2920 command group.

    The addresses were checked by :func:`make_envelope` (no CR, LF or angle brackets), so no
    command can carry another; UTF-8 only when the relay was asked for SMTPUTF8.
    """
    extra = "".join(f" {option}" for option in options)
    lines = [f"MAIL FROM:{quoted_address(sender)}{extra}"]
    lines += [f"RCPT TO:{quoted_address(rcpt)}" for rcpt in recipients]
    lines.append("DATA")
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    return "".join(f"{line}\r\n" for line in lines).encode(encoding)
