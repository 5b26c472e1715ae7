"""SMTP transport: verified TLS, AUTH, connection reuse, and RFC 1047-aware outcome mapping."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import logging
import smtplib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from types import TracebackType

from prepbot.domain import DeliveryReceipt, OutgoingMessage
from prepbot.errors import (
    DeliveryError,
    DeliveryInDoubtError,
    DeliveryRejectedError,
    DeliveryTlsError,
    DeliveryUnavailableError,
)
from prepbot.ports import Clock
from prepbot.transports.smtp_wire import (
    Envelope,
    Redactor,
    Security,
    SmtpSettings,
    make_envelope,
    pipelined_commands,
    reply_error,
    reply_text,
    setup_error,
    tls_context,
    validate_settings,
)

log = logging.getLogger(__name__)

Build = Callable[[OutgoingMessage], EmailMessage]
Wire = Callable[[EmailMessage], "bytes | None"]  # the bytes a builder already serialised and checked
Failpoint = Callable[[str], None]
DataEnd = Callable[[], None]
Next = Callable[[], "OutgoingMessage | None"]  # the message the caller sends next, if it is ready
Outcome = DeliveryReceipt | DeliveryError

_SMTP_ERRORS = (smtplib.SMTPException, OSError)
PREPARED_KEPT = 2  # messages prepare() keeps built for their sends (the next one and the one after)


@dataclass(frozen=True, slots=True)
class _Hooks:
    """The caller's calls around one message's commands and end of DATA (see :meth:`SmtpTransport.send`)."""

    on_data_end: DataEnd | None = None
    while_waiting: DataEnd | None = None
    while_commands: DataEnd | None = None
    then: Next | None = None

    def wait(self) -> None:
        _quietly(self.while_waiting)

    def commands(self) -> None:
        _quietly(self.while_commands)


def _quietly(work: DataEnd | None) -> None:
    if work is None:
        return
    try:
        work()
    except Exception:  # the relay's replies, not this, decide what happens to the message
        log.exception("smtp: the work done while waiting for the relay's reply failed")


class SmtpTransport:
    """Delivers :class:`OutgoingMessage` objects through one SMTP relay (the ``Transport`` port).

    TLS always verifies the certificate and host name against ``ca_bundle`` (or the system
    store): smtplib alone would not (reliability.md Fact 4). With ``security="starttls"`` a relay
    that does not offer STARTTLS is refused before AUTH, so credentials never travel in clear.

    One connection is reused across :meth:`send` calls and replaced after
    ``max_messages_per_connection`` messages. If a reused connection turns out stale (closed,
    421, or a 4xx to MAIL such as a per-session limit) the transport retries once, at once, on a
    fresh connection: safe, because nothing of the message was sent on the stale one. Any other
    4xx is *not* retried here: backing off is the service's job (it reschedules the ledger row).

    Calls are serialised by a lock; use one transport per worker for parallel sending.
    """

    logs_activity = False  # the org learns of a sent message only through the Task prepbot writes

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 60.0,
        ca_bundle: str | None = None,
        local_hostname: str | None = None,
        max_messages_per_connection: int = 100,
        allow_insecure_loopback: bool = True,
        envelope_sender: str | None = None,
        data_end_timeout: float | None = None,
        pipelining: bool = True,
        build: Build | None = None,
        failpoint: Failpoint | None = None,
        clock: Clock | None = None,
        wire: Wire | None = None,
    ) -> None:
        """Validate the settings; no connection is opened until the first send.

        Args:
            host, port: the relay.
            security: ``"starttls"`` (required, never falls back), ``"tls"`` (implicit TLS,
                usually port 465) or ``"none"`` (loopback hosts only).
            username, password: AUTH credentials; both or neither. The password is never logged
                nor put in exception text.
            timeout: seconds for connecting and for each reply.
            ca_bundle: PEM file of the CAs to trust instead of the system store.
            local_hostname: the EHLO name (default: this host's FQDN).
            max_messages_per_connection: transactions per connection before reconnecting.
            allow_insecure_loopback: permit ``security="none"`` on loopback (tests, local sinks).
            envelope_sender: MAIL FROM address (default: the message's ``from_address``).
            data_end_timeout: seconds to wait for the reply to the end of DATA (default:
                ``timeout``). RFC 5321 §4.5.3.2.6 suggests 10 minutes; a short wait turns slow
                acceptances into in-doubt sends.
            pipelining: send MAIL, RCPT and DATA in one write when the relay offers PIPELINING
                (RFC 2920): two round trips a message instead of four; and, when the caller
                says which message it sends next (``send(..., then=)``), that message's MAIL,
                RCPT and DATA in the same write as this one's data: one round trip a message.
            build: turns an OutgoingMessage into an EmailMessage (default:
                ``prepbot.messages.build_message``).
            failpoint: called with ``"before_data_end"`` and ``"after_smtp_250"``; for
                crash tests. It may raise; the connection is then dropped.
            clock: source of the receipt's ``accepted_at`` (default: the system clock, UTC).
            wire: returns the bytes ``build`` serialised (and checked) for a message, or None:
                sent as they are instead of serialising the message a second time.

        Raises:
            ConfigError: a setting is invalid; the message names the ``smtp.*`` key.
        """
        self._settings = SmtpSettings(
            host=host,
            port=port,
            security=security,
            username=username,
            password=password,
            timeout=timeout,
            data_end_timeout=timeout if data_end_timeout is None else data_end_timeout,
            ca_bundle=ca_bundle,
            local_hostname=local_hostname,
            max_messages_per_connection=max_messages_per_connection,
            envelope_sender=envelope_sender,
            pipelining=pipelining,
        )
        validate_settings(self._settings, allow_insecure_loopback=allow_insecure_loopback)
        self._tls = None if security == "none" else tls_context(ca_bundle)
        self._redact = Redactor(username, password)
        self._build = build or _default_build
        self._wire = wire
        self._failpoint = failpoint or _no_failpoint
        self._clock = clock
        self._smtp: smtplib.SMTP | None = None
        self._used = 0  # transactions started on self._smtp
        self._lock = threading.Lock()
        # Messages built ahead by prepare(), by id (the message is kept, so its id stays its own).
        self._prepared: dict[int, tuple[OutgoingMessage, Envelope]] = {}
        # The message whose MAIL, RCPT and DATA went out after the last message's data, its
        # envelope and the session they went out on; their replies wait in that session.
        self._chained: tuple[OutgoingMessage, Envelope, smtplib.SMTP] | None = None

    def __repr__(self) -> str:
        s = self._settings
        return (
            f"SmtpTransport(host={s.host!r}, port={s.port}, security={s.security!r}, username={s.username!r})"
        )

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def send(
        self,
        message: OutgoingMessage,
        *,
        on_data_end: DataEnd | None = None,
        while_waiting: DataEnd | None = None,
        while_commands: DataEnd | None = None,
        then: Next | None = None,
    ) -> DeliveryReceipt:
        """Hand ``message`` to the relay for ``message.to_address``.

        ``on_data_end`` runs right before the data and its terminator go out; ``while_waiting``
        once they went out, before the reply to them is read; ``while_commands`` (with PIPELINING
        only) once MAIL, RCPT and DATA went out, before their replies are read; ``then`` gives the
        message the caller sends next, when this one's data is about to go out (the Transport port).

        Returns:
            The receipt, with the relay's reply (e.g. ``250 2.0.0 queued as ...``).

        Raises:
            DeliveryRejectedError: 5xx: permanent; ``code`` holds it, the text the relay's reply.
            DeliveryUnavailableError: connect error, timeout, 421 or other 4xx, or a connection
                lost before the end of DATA: retry later (nothing was accepted).
            DeliveryInDoubtError: the end of DATA was sent but no reply was read (RFC 1047):
                the relay may have accepted the message; never retry blindly.
            DeliveryAuthError: the relay refused our credentials (535): stop using this relay.
            DeliveryTlsError: certificate not verified, wrong host name, or no STARTTLS.
        """
        outcome = self.send_many(
            message,
            [message.to_address],
            on_data_end=on_data_end,
            while_waiting=while_waiting,
            while_commands=while_commands,
            then=then,
        )[message.to_address]
        if isinstance(outcome, DeliveryError):
            raise outcome
        return outcome

    def send_many(
        self,
        message: OutgoingMessage,
        recipients: Sequence[str],
        *,
        on_data_end: DataEnd | None = None,
        while_waiting: DataEnd | None = None,
        while_commands: DataEnd | None = None,
        then: Next | None = None,
    ) -> dict[str, Outcome]:
        """Send one message to several envelope recipients in one transaction.

        A recipient refused at RCPT gets its own error and does not fail the others; the
        accepted ones share the outcome of DATA.

        Returns:
            For each distinct recipient, a receipt or the :class:`DeliveryError` for it.

        Raises:
            DeliveryError: as :meth:`send`, for failures before any recipient was tried
                (connect, TLS, AUTH, MAIL FROM) or a connection lost during RCPT.
        """
        rcpts = list(dict.fromkeys(recipients))
        if not rcpts:
            raise ValueError("send_many needs at least one recipient")
        with self._lock:
            envelope = self._chained_envelope(message, rcpts) or self._envelope_for(message, rcpts)
            hooks = _Hooks(on_data_end, while_waiting, while_commands, then)
            try:
                return self._transaction(message, envelope, hooks)
            except DeliveryError:
                raise
            except BaseException:
                self._drop()  # a failpoint "crash", an interrupt or a bug: the session state is unknown
                raise

    def prepare(self, message: OutgoingMessage) -> None:
        """Build ``message``'s bytes now for its coming :meth:`send` (the Transport port): called
        while the relay handles a message before it; the last ``PREPARED_KEPT`` are kept. A
        message that cannot be built is left for the send to refuse."""
        try:
            envelope = self._envelope_for(message, [message.to_address])
        except Exception:  # the send builds it again and says why it cannot go
            return
        while len(self._prepared) >= PREPARED_KEPT:  # the oldest goes first
            del self._prepared[next(iter(self._prepared))]
        self._prepared[id(message)] = (message, envelope)

    def _envelope_for(self, message: OutgoingMessage, rcpts: list[str]) -> Envelope:
        prepared = self._prepared.pop(id(message), None)
        if prepared is not None and prepared[0] is message and list(prepared[1].recipients) == rcpts:
            return prepared[1]
        sender = self._settings.envelope_sender or message.from_address
        built = self._build(message)
        return make_envelope(built, sender, rcpts, self._wire(built) if self._wire else None)

    def _chained_envelope(self, message: OutgoingMessage, rcpts: list[str]) -> Envelope | None:
        """The envelope whose commands went out after the last message's data, if it is this one's."""
        chained = self._chained
        if chained is not None and chained[0] is message and list(chained[1].recipients) == rcpts:
            return chained[1]
        return None

    def close(self) -> None:
        """QUIT and close the pooled connection, if any. Safe to call more than once."""
        with self._lock:
            self._quit()

    # -- transaction ------------------------------------------------------------------------

    def _transaction(self, message: OutgoingMessage, envelope: Envelope, hooks: _Hooks) -> dict[str, Outcome]:
        if self._chained is not None and self._chained[1] is not envelope:
            # The relay holds another message's commands (a send the caller then did not make):
            # that transaction can only be ended by closing its session; nothing of it was sent.
            self._drop()
        smtp, reused = self._session()
        chained, self._chained = self._chained is not None, None  # its commands are out already
        try:
            pipelined = self._mail_from(smtp, envelope, hooks, chained)
        except DeliveryUnavailableError as exc:
            if not reused:
                raise
            # S1/S10: the pooled connection was closed or hit a per-session limit. Nothing of this
            # message went out on it, so one immediate retry on a fresh connection is safe.
            log.info("smtp: pooled connection refused MAIL (%s); reconnecting once", exc.code)
            self._drop()
            smtp, _ = self._session()
            hooks = dataclasses.replace(hooks, while_commands=None)  # it ran: once a message
            pipelined = self._mail_from(smtp, envelope, hooks)
        refused = self._rcpt_to(smtp, envelope, pipelined)
        if len(refused) == len(envelope.recipients):
            if pipelined:
                self._refuse_data(smtp)
            self._abandon(0)
            return dict(refused)
        result = self._data(smtp, envelope, message, hooks, pipelined)
        return {rcpt: refused.get(rcpt, result) for rcpt in envelope.recipients}

    def _mail_from(
        self, smtp: smtplib.SMTP, envelope: Envelope, hooks: _Hooks, chained: bool = False
    ) -> bool:
        """MAIL FROM, and its reply. With a relay that offers PIPELINING (RFC 2920), MAIL, every
        RCPT and DATA go out in one write (two round trips a message instead of four); True then,
        and their replies are read by :meth:`_rcpt_to` and :meth:`_data`. ``hooks.commands`` runs
        between that write and the first reply. ``chained``: that group went out with the data of
        the message before (:meth:`_chain`); only its replies are read."""
        pipelined = chained or (self._settings.pipelining and smtp.has_extn("pipelining"))
        if chained:  # its options were checked when the group was built (:meth:`_chain`)
            code, reply = self._command("MAIL", functools.partial(_reply_after, smtp, hooks.commands))
        elif not pipelined:
            options = self._mail_options(smtp, envelope)
            code, reply = self._command("MAIL", lambda: smtp.mail(envelope.sender, options))
        else:
            send = functools.partial(_send_then_reply, smtp, self._group(smtp, envelope), hooks.commands)
            code, reply = self._command("MAIL", send)
        if code != 250:
            if pipelined and code != 421:  # RCPT and DATA were refused too (503): read their replies
                with contextlib.suppress(DeliveryUnavailableError):  # the MAIL reply is what counts
                    self._drain(smtp, len(envelope.recipients))
            self._abandon(code)
            raise reply_error("MAIL", code, reply, self._redact)
        return pipelined

    def _group(self, smtp: smtplib.SMTP, envelope: Envelope) -> bytes:
        """MAIL, every RCPT and DATA as one pipelined write; bytes already (UTF-8 with SMTPUTF8),
        so smtplib's command encoding is moot."""
        return pipelined_commands(envelope.sender, envelope.recipients, self._mail_options(smtp, envelope))

    def _drain(self, smtp: smtplib.SMTP, recipients: int) -> None:
        """Read the replies to a pipelined group's RCPTs and DATA after MAIL was refused."""
        for _ in range(recipients):
            self._command("RCPT", smtp.getreply)
        self._refuse_data(smtp)

    def _refuse_data(self, smtp: smtplib.SMTP) -> None:
        """Read a pipelined DATA's reply when no recipient was accepted; a relay that still said
        354 gets the end of an empty message, which it must refuse (RFC 2920 §3.1)."""
        code, _reply = self._command("DATA", smtp.getreply)
        if code == 354:
            self._command("DATA", functools.partial(_send_then_reply, smtp, b".\r\n"))

    def _mail_options(self, smtp: smtplib.SMTP, envelope: Envelope) -> list[str]:
        options: list[str] = []
        if envelope.smtputf8:
            if not smtp.has_extn("smtputf8"):
                raise DeliveryRejectedError(
                    "smtp MAIL: a non-ASCII address needs SMTPUTF8; the relay lacks it"
                )
            options += ["SMTPUTF8", "BODY=8BITMIME"]
        elif envelope.eight_bit and smtp.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        if smtp.has_extn("size"):
            options.append(f"SIZE={len(envelope.payload)}")
        return options

    def _rcpt_to(self, smtp: smtplib.SMTP, envelope: Envelope, pipelined: bool) -> dict[str, DeliveryError]:
        refused: dict[str, DeliveryError] = {}
        for rcpt in envelope.recipients:
            call = smtp.getreply if pipelined else functools.partial(smtp.rcpt, rcpt)
            code, reply = self._command("RCPT", call)
            if code == 421:  # the relay is closing the session: every recipient fails alike
                self._abandon(code)
                raise reply_error("RCPT", code, reply, self._redact)
            if code not in (250, 251):
                refused[rcpt] = reply_error("RCPT", code, reply, self._redact)
        return refused

    def _data(
        self, smtp: smtplib.SMTP, envelope: Envelope, message: OutgoingMessage, hooks: _Hooks, pipelined: bool
    ) -> Outcome:
        code, reply = self._command("DATA", smtp.getreply if pipelined else lambda: smtp.docmd("DATA"))
        if code != 354:
            self._abandon(code)
            return reply_error("DATA", code, reply, self._redact)
        self._failpoint("before_data_end")
        if hooks.on_data_end is not None:  # raising here aborts: send_many drops the session mid-DATA
            hooks.on_data_end()
        chain = self._chain(smtp, hooks.then) if pipelined else None
        sent, error = _send_counted(smtp, envelope.payload if chain is None else envelope.payload + chain[2])
        if error is not None:
            self._drop()
            if sent < len(envelope.payload):  # the terminator never left: nothing was accepted
                return DeliveryUnavailableError(f"smtp DATA: connection lost while sending: {error}")
            # it left, and the next message's commands did not: the relay may have this one
            return DeliveryInDoubtError(f"smtp end of DATA: connection lost after it: {error}")
        if chain is not None:
            self._chained = (chain[0], chain[1], smtp)
        hooks.wait()  # the relay is handling the message: its reply waits in the socket meanwhile
        code, reply = self._final_reply(smtp)
        if code < 0:
            return DeliveryInDoubtError(
                f"smtp end of DATA: no reply read ({reply_text(reply, self._redact)})"
            )
        if 200 <= code < 300:
            self._failpoint("after_smtp_250")
            text = f"{code} {reply_text(reply, self._redact)}".rstrip()
            log.debug("smtp: accepted %s (%s)", message.message_id, code)
            return DeliveryReceipt(message_id=message.message_id, accepted_at=self._now(), reply=text)
        if code == 421:
            self._drop()
        if not 400 <= code < 600:  # neither accepted nor refused: the relay may have kept it
            self._drop()
            return DeliveryInDoubtError(f"smtp end of DATA: unexpected reply {code}", code=code)
        return reply_error("end of DATA", code, reply, self._redact)

    def _chain(self, smtp: smtplib.SMTP, then: Next | None) -> tuple[OutgoingMessage, Envelope, bytes] | None:
        """The next message's MAIL, RCPT and DATA, to go out right after this message's data (RFC
        2920 allows commands after the end of data in one group): its transaction then starts while
        the relay handles this one's end of DATA. None when there is no next message ready, it
        cannot be built, or this session ends before it (it is then sent as usual)."""
        if then is None or self._used >= self._settings.max_messages_per_connection:
            return None
        try:
            following = then()
            if following is None:
                return None
            envelope = self._envelope_for(following, [following.to_address])
            group = self._group(smtp, envelope)
        except Exception:  # its own send builds it again and says why it cannot go
            return None
        return following, envelope, group

    def _final_reply(self, smtp: smtplib.SMTP) -> tuple[int, bytes]:
        """Read the reply to the end of DATA; ``(-1, reason)`` when none could be read (RFC 1047)."""
        try:
            if smtp.sock is not None:
                smtp.sock.settimeout(self._settings.data_end_timeout)
            code, reply = smtp.getreply()
        except smtplib.SMTPResponseException as exc:  # an unreadable, over-long reply line
            self._drop()
            return -1, str(exc.smtp_error).encode()
        except _SMTP_ERRORS as exc:
            self._drop()
            return -1, f"{type(exc).__name__}: {exc}".encode()
        if smtp.sock is not None:
            smtp.sock.settimeout(self._settings.timeout)
        return code, reply

    def _command(self, stage: str, call: Callable[[], tuple[int, bytes]]) -> tuple[int, bytes]:
        """Run one command before the end of DATA; a lost connection is transient (nothing sent)."""
        try:
            return call()
        except _SMTP_ERRORS as exc:  # incl. smtplib's "500 Line too long": a broken reply, not a refusal
            self._drop()
            raise DeliveryUnavailableError(
                f"smtp {stage}: connection lost: {self._redact(str(exc))}"
            ) from exc

    def _abandon(self, code: int) -> None:
        """End a failed transaction: RSET to keep the connection, or drop it after 421."""
        smtp = self._smtp
        if smtp is None:
            return
        if code == 421 or code < 0:
            self._drop()
            return
        try:
            if smtp.rset()[0] == 250:
                return
        except _SMTP_ERRORS:
            pass
        self._drop()

    # -- connection -------------------------------------------------------------------------

    def _session(self) -> tuple[smtplib.SMTP, bool]:
        """The pooled connection (opened if needed) and whether it already carried a transaction."""
        if self._smtp is not None and self._used >= self._settings.max_messages_per_connection:
            self._quit()
        if self._smtp is None:
            self._smtp = self._open()
            self._used = 0
        reused = self._used > 0
        self._used += 1
        return self._smtp, reused

    def _open(self) -> smtplib.SMTP:
        s = self._settings
        try:
            smtp = self._connect()
        except _SMTP_ERRORS as exc:
            raise setup_error("connect", exc, self._redact) from None
        stage = "EHLO"
        try:
            smtp.set_debuglevel(0)  # smtplib's debug output would echo AUTH and message bodies
            smtp.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                stage = "STARTTLS"
                self._starttls(smtp)
            if s.username is not None and s.password is not None:
                stage = "AUTH"
                smtp.login(s.username, s.password)
        except BaseException as exc:
            smtp.close()
            if isinstance(exc, DeliveryError) or not isinstance(exc, _SMTP_ERRORS):
                raise
            # `from None`: smtplib's AUTH exception holds the raw server reply; ours is redacted.
            raise setup_error(stage, exc, self._redact) from None
        log.debug("smtp: connected to %s:%s (%s)", s.host, s.port, s.security)
        return smtp

    def _connect(self) -> smtplib.SMTP:
        # Host given to the constructor, not to connect(): only the constructor records the
        # name that STARTTLS checks the certificate against (smtplib's `_host`).
        s = self._settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(
                s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout, context=self._tls
            )
        return smtplib.SMTP(s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout)

    def _starttls(self, smtp: smtplib.SMTP) -> None:
        s = self._settings
        if not smtp.has_extn("starttls"):
            raise DeliveryTlsError(
                f"smtp STARTTLS: {s.host}:{s.port} does not offer STARTTLS and smtp.security is "
                "'starttls'; refusing to continue (credentials and mail would travel in clear)"
            )
        smtp.starttls(context=self._tls)
        smtp.ehlo()  # RFC 3207 §4.2: forget what was learnt before TLS

    def _drop(self) -> None:
        smtp, self._smtp, self._used, self._chained = self._smtp, None, 0, None
        if smtp is not None:
            smtp.close()

    def _quit(self) -> None:
        if self._chained is not None:  # the relay waits for a message's data: QUIT would be text
            self._drop()
            return
        smtp, self._smtp, self._used = self._smtp, None, 0
        if smtp is None:
            return
        try:
            smtp.quit()
        except _SMTP_ERRORS:
            pass
        finally:
            smtp.close()

    def _now(self) -> datetime:
        return self._clock.now() if self._clock is not None else datetime.now(UTC)


def _send_counted(smtp: smtplib.SMTP, data: bytes) -> tuple[int, OSError | None]:
    """Send ``data`` (as smtplib's ``send``, which cannot say how far it got); returns how many
    bytes were handed to the connection, and the error that stopped it, if any."""
    sock = smtp.sock
    if sock is None:
        return 0, smtplib.SMTPServerDisconnected("not connected")
    view, sent = memoryview(data), 0
    try:
        while sent < len(data):
            sent += sock.send(view[sent:])
    except OSError as exc:
        return sent, exc
    return sent, None


def _reply_after(smtp: smtplib.SMTP, meanwhile: Callable[[], None]) -> tuple[int, bytes]:
    meanwhile()  # the relay may still be handling the commands: their replies wait in the socket
    return smtp.getreply()


def _send_then_reply(
    smtp: smtplib.SMTP, data: bytes, meanwhile: Callable[[], None] | None = None
) -> tuple[int, bytes]:
    smtp.send(data)
    if meanwhile is not None:  # the relay is handling ``data``: its reply waits in the socket
        meanwhile()
    return smtp.getreply()


def _default_build(message: OutgoingMessage) -> EmailMessage:
    # Imported lazily and by name: prepbot.messages is only needed when no builder is injected.
    build: Build = importlib.import_module("prepbot.messages").build_message
    return build(message)


def _no_failpoint(name: str) -> None:
    return None
