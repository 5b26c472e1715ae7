"""SMTP sink: an aiosmtpd server on 127.0.0.1 that writes every accepted message as an .eml file."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SinkMessage:
    """One accepted message: envelope and the .eml file holding its bytes."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    path: Path


class _OutboxHandler:
    """aiosmtpd handler: every DATA becomes `<outbox>/<time>-<uuid>.eml`, written atomically."""

    def __init__(self, outbox: Path) -> None:
        self.outbox = outbox
        self.messages: list[SinkMessage] = []
        self._lock = threading.Lock()

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920), as real relays do: aiosmtpd reads a pipelined group's
        commands one by one and answers each in order."""
        session.host_name = hostname  # aiosmtpd leaves this to a handler that answers EHLO
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8")
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex}.eml"
        path = self.outbox / name
        tmp = self.outbox / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, path)
        with self._lock:
            self.messages.append(SinkMessage(envelope.mail_from, tuple(envelope.rcpt_tos), path))
        log.debug("smtp sink stored a message for %d recipient(s)", len(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (aiosmtpd's readiness check needs a real port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """Start/stop the sink; `messages` lists what was accepted."""

    def __init__(self, outbox: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        outbox.mkdir(parents=True, exist_ok=True)
        # aiosmtpd logs every SMTP command (addresses included) at INFO: five lines a message.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self.outbox = outbox
        self.host = host
        self.port = port
        self._handler = _OutboxHandler(outbox)
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[SinkMessage]:
        """Messages accepted so far (a copy)."""
        return list(self._handler.messages)

    def start(self) -> None:
        """Listen; with port 0 pick a free port (retrying if another process takes it first)."""
        attempts = 1 if self.port else 5
        for attempt in range(attempts):
            port = self.port or free_port(self.host)
            controller = Controller(self._handler, hostname=self.host, port=port, ready_timeout=10)
            try:
                controller.start()
            except (OSError, RuntimeError):
                if attempt == attempts - 1:
                    raise
                continue
            self._controller, self.port = controller, port
            return

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
