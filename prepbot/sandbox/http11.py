"""A Werkzeug request handler with HTTP/1.1 keep-alive: one TLS connection serves many API calls.

Werkzeug's development handler answers every request with ``Connection: close``, so each API call
paid a TCP connect, a TLS handshake (done in the single accepting thread) and a new thread, and its
header and body went out as two writes (Nagle + delayed ACK). A real org keeps connections alive, and
`requests` reuses them, so the sandbox does too: the body is read whole, the answer is sent with its
``Content-Length`` in one write, and the connection stays open unless the client asks otherwise.
"""

from __future__ import annotations

import io
import logging
import socket
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any

from werkzeug.serving import WSGIRequestHandler

log = logging.getLogger(__name__)
_NO_BODY = (204, 304)
_OWN_HEADERS = ("content-length", "connection", "date")  # written by _send itself


class KeepAliveHandler(WSGIRequestHandler):
    """Serve one connection: requests in a loop until the client closes or says ``Connection: close``."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Small answers must not wait for the client's delayed ACK of the previous segment.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        # Read the whole body first, so a handler that ignores it cannot desync the connection.
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        body = (
            stream.read(int(length))
            if length
            else (stream.read() if environ.get("wsgi.input_terminated") else b"")
        )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("wsgi.input_terminated", None)
        try:
            status, headers, data = _call_app(self.server.app, environ)
        except Exception:
            log.exception(
                "sandbox: unhandled error answering %s %s", self.command, self.path.split("?", 1)[0]
            )
            self.close_connection = True
            status, headers, data = "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"error"
        self._send(status, headers, data)

    def _send(self, status: str, headers: list[tuple[str, str]], data: bytes) -> None:
        code = int(status.split(" ", 1)[0])
        if code in _NO_BODY or self.command == "HEAD":
            data = b""
        # The app's Date (the org's clock, which tests may fix) wins over the host's.
        date = next((v for k, v in headers if k.lower() == "date"), None) or formatdate(usegmt=True)
        lines = [f"HTTP/1.1 {status}", f"Server: {self.version_string()}", f"Date: {date}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _OWN_HEADERS]
        if code not in _NO_BODY:
            lines.append(f"Content-Length: {len(data)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + data)
        self.log_request(code, len(data))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Request lines go to this module's logger at DEBUG instead of werkzeug's INFO on stderr."""
        log.debug("%s %s -> %s", self.command, self.path.split("?", 1)[0], code)


def _call_app(
    app: Callable[..., Iterable[bytes]], environ: dict[str, Any]
) -> tuple[str, list[tuple[str, str]], bytes]:
    """Run the WSGI app to completion: (status, headers, body)."""
    answer: list[Any] = ["500 INTERNAL SERVER ERROR", []]

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        answer[:] = [status, headers]
        return chunks.append

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return answer[0], answer[1], b"".join(chunks)
