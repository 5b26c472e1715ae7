"""A scripted aiosmtpd SMTP server on 127.0.0.1 for tests: STARTTLS/implicit TLS, AUTH, fault schedule.

Usage::

    with SmtpTestServer(faults=[Fault("RCPT", reply="451 4.3.0 try later", message=1)]) as server:
        ...  # connect to server.host, server.port
        assert server.accepted[0].rcpt_tos == ["to@example.org"]

A :class:`Fault` fires at one point of the dialogue: ``greeting``, a command verb (``EHLO``,
``HELO``, ``STARTTLS``, ``AUTH``, ``MAIL``, ``RCPT``, ``DATA``, ``RSET``, ``NOOP``, ``QUIT``) or
``DATA_END`` (after the terminator arrived and the message was recorded). It may wait ``delay``
seconds, then answer ``reply`` instead of the normal answer (a bare delay keeps the normal answer),
and/or hang up (``disconnect``; a ``421`` reply always hangs up, as RFC 5321 §3.8 servers do).

Messages are numbered server-wide at each MAIL command, from 1 (a retry is a new number), and per
connection (``session_message``); connections are numbered from 1. Filters: ``message``,
``from_session_message`` (fires on the N-th and later messages of a connection), ``connection``,
``rcpt`` and ``times`` (how often it may fire).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
TlsMode = Literal["none", "starttls", "implicit"]
_VERBS = ("EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT")
_ADDRESS = re.compile(r"<([^>]*)>")


@dataclass
class Fault:
    """One scripted deviation from normal server behaviour (see the module docstring)."""

    at: str
    reply: str | None = None
    delay: float = 0.0
    disconnect: bool = False
    message: int | None = None
    from_session_message: int | None = None
    connection: int | None = None
    rcpt: str | None = None
    times: int | None = None
    fired: int = 0

    def matches(self, at: str, connection: int, message: int, session_message: int, rcpt: str | None) -> bool:
        return (
            self.at == at
            and (self.times is None or self.fired < self.times)
            and (self.connection is None or self.connection == connection)
            and (self.message is None or self.message == message)
            and (self.from_session_message is None or session_message >= self.from_session_message)
            and (self.rcpt is None or self.rcpt == rcpt)
        )

    @property
    def hangs_up(self) -> bool:
        return self.disconnect or (self.reply or "").startswith("421")


@dataclass
class Received:
    """A message whose DATA terminator arrived; ``reply`` is None if the client never got an answer."""

    connection: int
    message: int
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool
    authenticated: bool
    reply: str | None = None


@dataclass
class _State:
    faults: list[Fault]
    credentials: tuple[str, str] | None
    pipelining: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    connections: int = 0
    messages: int = 0
    commands: list[tuple[int, str]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    protocols: list[_ScriptedSMTP] = field(default_factory=list)

    def match(self, at: str, proto: _ScriptedSMTP, rcpt: str | None = None) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(at, proto.connection, proto.message, proto.session_messages, rcpt):
                    fault.fired += 1
                    return fault
        return None


class _ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with a fault hook before the greeting, each command and the end of DATA."""

    def __init__(self, state: _State, **kwargs: Any) -> None:
        super().__init__(_Handler(state), **kwargs)
        self.state = state
        self.connection = 0
        self.message = 0
        self.session_messages = 0

    async def _handle_client(self) -> None:
        # `_handle_client` is aiosmtpd 1.4's private entry point (pinned <2); hooking it is the only
        # way to script the greeting (421, silence, reset).
        with self.state.lock:
            self.state.connections += 1
            self.connection = self.state.connections
            self.state.protocols.append(self)
        if await self.apply("greeting"):
            return
        await super()._handle_client()

    async def apply(self, at: str, rcpt: str | None = None) -> bool:
        """Run a matching fault; True when it answered or hung up (skip the normal handling)."""
        fault = self.state.match(at, self, rcpt)
        if fault is None:
            return False
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.reply is not None:
            await self.push(fault.reply)
        if fault.hangs_up and self.transport is not None:
            self.transport.close()
        return fault.reply is not None or fault.hangs_up

    async def before(self, verb: str, arg: str | None) -> bool:
        with self.state.lock:
            self.state.commands.append((self.connection, verb))
            if verb == "MAIL":
                self.state.messages += 1
                self.message = self.state.messages
                self.session_messages += 1
        rcpt = None
        if verb == "RCPT" and arg and (found := _ADDRESS.search(arg)):
            rcpt = found.group(1)
        return await self.apply(verb, rcpt)


def _scripted(verb: str) -> Any:
    base = getattr(SMTP, f"smtp_{verb}")

    async def method(self: _ScriptedSMTP, arg: str | None) -> None:
        if not await self.before(verb, arg):
            await base(self, arg)

    method.__name__ = f"smtp_{verb}"
    return method


for _verb in _VERBS:
    setattr(_ScriptedSMTP, f"smtp_{_verb}", _scripted(_verb))


class _Handler:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def handle_EHLO(
        self, server: _ScriptedSMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handler that answers EHLO
        if self.state.pipelining:  # RFC 2920: aiosmtpd reads pipelined commands one by one anyway
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server: _ScriptedSMTP, session: Session, envelope: Envelope) -> str:
        record = Received(
            connection=server.connection,
            message=server.message,
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=bytes(envelope.original_content or b""),
            tls=session.ssl is not None
            or (server.transport is not None and server.transport.get_extra_info("sslcontext") is not None),
            authenticated=bool(session.authenticated),
        )
        with self.state.lock:
            self.state.received.append(record)
        fault = self.state.match("DATA_END", server)
        reply = "250 2.0.0 OK: queued"
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)  # cancelled if the client hangs up meanwhile
            if fault.hangs_up and fault.reply is None:
                if server.transport is not None:
                    server.transport.close()
                raise asyncio.CancelledError  # stop aiosmtpd from answering on a closed connection
            reply = fault.reply or reply
        record.reply = reply
        return reply

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        expected = self.state.credentials
        ok = (
            expected is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == expected
        )
        return AuthResult(success=ok, handled=False)


class SmtpTestServer:
    """A threaded aiosmtpd server on 127.0.0.1 with an ephemeral port; start()/stop() or ``with``."""

    host = HOST

    def __init__(
        self,
        *,
        faults: Iterable[Fault] = (),
        tls: TlsMode = "none",
        tls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        auth_require_tls: bool = True,
        smtputf8: bool = True,
        pipelining: bool = False,
    ) -> None:
        if tls != "none" and tls_context is None:
            raise ValueError("a TLS server needs tls_context (see server_tls())")
        self.state = _State(list(faults), credentials, pipelining=pipelining)
        self.tls = tls
        self._tls_context = tls_context
        handler = _Handler(self.state)
        self._smtp_kwargs: dict[str, Any] = {
            "hostname": "mx.test",
            "enable_SMTPUTF8": smtputf8,
            "tls_context": tls_context if tls == "starttls" else None,
            # Implicit TLS is invisible to aiosmtpd's STARTTLS-based check, so it would refuse AUTH.
            "auth_require_tls": auth_require_tls and tls != "implicit",
            "authenticator": handler.authenticate,
        }
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._error: BaseException | None = None

    # -- what happened ---------------------------------------------------------------------

    @property
    def connections(self) -> int:
        return self.state.connections

    @property
    def commands(self) -> list[tuple[int, str]]:
        """Every command verb received, with its connection number (arguments are not kept)."""
        with self.state.lock:
            return list(self.state.commands)

    @property
    def verbs(self) -> list[str]:
        return [verb for _, verb in self.commands]

    @property
    def received(self) -> list[Received]:
        """Every message whose DATA terminator arrived, answered or not."""
        with self.state.lock:
            return list(self.state.received)

    @property
    def accepted(self) -> list[Received]:
        """Messages the client was told (2xx) were accepted."""
        return [r for r in self.received if r.reply is not None and r.reply.startswith("2")]

    def add_fault(self, fault: Fault) -> None:
        with self.state.lock:
            self.state.faults.append(fault)

    # -- life cycle ------------------------------------------------------------------------

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> SmtpTestServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="smtp-test-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("SMTP test server did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            ssl_ctx = self._tls_context if self.tls == "implicit" else None
            self._server = loop.run_until_complete(loop.create_server(self._factory, HOST, 0, ssl=ssl_ctx))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            ready.set()
            loop.close()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            self._shutdown(loop)

    def _factory(self) -> _ScriptedSMTP:
        assert self._loop is not None
        return _ScriptedSMTP(self.state, loop=self._loop, **self._smtp_kwargs)

    def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._server is not None
        self._server.close()
        for proto in self.state.protocols:
            if proto.transport is not None:
                proto.transport.close()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(asyncio.sleep(0))  # let connection_lost callbacks run
        loop.close()


def server_tls(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server context with a leaf cert from ``ca`` for ``names`` (default 127.0.0.1 and localhost)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*(names or (HOST, "localhost"))).configure_cert(ctx)
    return ctx
