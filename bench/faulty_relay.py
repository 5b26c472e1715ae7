"""An SMTP relay on 127.0.0.1 for the reliability runs: AUTH, .eml files, and queued faults.

Faults are queued with :meth:`FaultyRelay.inject` and fire on the next message that reaches their
stage, once each:

==============  =======================================================================
kind            what the client sees
==============  =======================================================================
``421``         ``421`` to MAIL FROM, then the relay hangs up (S1)
``451``         ``451`` to RCPT TO: try again later (S2)
``550``         ``550 5.1.1`` to RCPT TO: no such user (S3)
``disconnect``  the data arrives and is stored, then the relay hangs up without a reply (C3)
``slow250``     the data arrives, the ``250`` comes after a pause shorter than the timeout (S7)
==============  =======================================================================

Every message whose data arrived is recorded (answered or not: an unanswered one may still be
delivered, RFC 1047) with the simulated instant of its arrival, read from the run's clock.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# AUTH without TLS is deliberate: loopback only, and the password is the canary the run greps for
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
KINDS = ("421", "451", "550", "disconnect", "slow250")
_STAGE = {"421": "MAIL", "451": "RCPT", "550": "RCPT", "disconnect": "DATA", "slow250": "DATA"}
_REPLY = {
    "421": "421 4.3.2 service shutting down",
    "451": "451 4.3.0 try again later",
    "550": "550 5.1.1 no such user here",
}


@dataclass(frozen=True)
class Stored:
    """A message whose data reached the relay: ``answered`` is False when no reply was sent."""

    message_id: str
    rcpt_tos: tuple[str, ...]
    at: datetime
    answered: bool
    path: Path


class _Relay:
    """Shared state of the relay's sessions (thread-safe)."""

    def __init__(self, outbox: Path, credentials: tuple[str, str], now: Callable[[], datetime]) -> None:
        self.outbox = outbox
        self.credentials = credentials
        self.now = now
        self.lock = threading.Lock()
        self.pending: dict[str, collections.deque[str]] = collections.defaultdict(collections.deque)
        self.stored: list[Stored] = []
        self.attempts = 0  # MAIL FROM commands: one per attempted message
        self.fired: collections.Counter[str] = collections.Counter()
        self.slow_delay = 0.2

    def take(self, stage: str) -> str | None:
        with self.lock:
            queue = self.pending[stage]
            if not queue:
                return None
            kind = queue.popleft()
            self.fired[kind] += 1
            return kind

    def store(self, envelope: Envelope, answered: bool) -> None:
        data = bytes(envelope.original_content or b"")
        message_id = str(message_from_bytes(data).get("Message-ID", "")).strip().strip("<>")
        with self.lock:
            path = self.outbox / f"{len(self.stored) + 1:06d}.eml"
            path.write_bytes(data)
            record = Stored(message_id, tuple(envelope.rcpt_tos), self.now(), answered, path)
            self.stored.append(record)


class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP with the queued faults applied at MAIL and RCPT."""

    def __init__(self, relay: _Relay, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.relay = relay

    async def smtp_MAIL(self, arg: str) -> None:
        with self.relay.lock:
            self.relay.attempts += 1
        if self.relay.take("MAIL") is not None:
            await self.push(_REPLY["421"])
            if self.transport is not None:
                self.transport.close()
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str) -> None:
        fault = self.relay.take("RCPT")
        if fault is not None:
            await self.push(_REPLY[fault])
            return
        await super().smtp_RCPT(arg)


class _Handler:
    def __init__(self, relay: _Relay) -> None:
        self.relay = relay

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        fault = self.relay.take("DATA")
        if fault == "disconnect":  # stored, never answered: the client cannot know (RFC 1047)
            self.relay.store(envelope, answered=False)
            if server.transport is not None:
                server.transport.close()
            raise asyncio.CancelledError
        if fault == "slow250":
            await asyncio.sleep(self.relay.slow_delay)
        self.relay.store(envelope, answered=True)
        return "250 2.0.0 queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (
            (auth_data.login.decode(), auth_data.password.decode()) == self.relay.credentials
        )
        return AuthResult(success=ok, handled=False)


class _Controller(Controller):
    def __init__(self, relay: _Relay, handler: _Handler) -> None:
        super().__init__(
            handler,
            hostname="127.0.0.1",
            port=0,
            ready_timeout=10,
            authenticator=handler.authenticate,
            auth_require_tls=False,  # loopback only; the password is the canary the run greps for
            auth_required=True,
        )
        self.relay = relay

    def factory(self) -> SMTP:
        return _FaultySMTP(self.relay, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # aiosmtpd's readiness probe connects to port 0 otherwise; the bound port is known by now
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class FaultyRelay:
    """Start/stop the relay; ``stored`` lists what reached it, ``inject`` queues a fault."""

    def __init__(
        self,
        outbox: Path,
        *,
        username: str,
        password: str,
        now: Callable[[], datetime],
        slow_delay: float = 0.2,
    ) -> None:
        outbox.mkdir(parents=True, exist_ok=True)
        self._relay = _Relay(outbox, (username, password), now)
        self._relay.slow_delay = slow_delay
        self._controller = _Controller(self._relay, _Handler(self._relay))
        self.host = "127.0.0.1"

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def stored(self) -> list[Stored]:
        with self._relay.lock:
            return list(self._relay.stored)

    @property
    def fired(self) -> dict[str, int]:
        """Faults that fired, by kind."""
        with self._relay.lock:
            return dict(self._relay.fired)

    @property
    def attempts(self) -> int:
        """MAIL FROM commands received: one per attempted transaction."""
        return self._relay.attempts

    def inject(self, kind: str) -> None:
        """Queue one fault of ``kind`` (see the module docstring) for the next message."""
        if kind not in KINDS:
            raise ValueError(f"unknown SMTP fault {kind!r}; expected one of {KINDS}")
        with self._relay.lock:
            self._relay.pending[_STAGE[kind]].append(kind)

    def clear(self) -> None:
        """Drop the faults that have not fired yet."""
        with self._relay.lock:
            self._relay.pending.clear()

    def start(self) -> FaultyRelay:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
