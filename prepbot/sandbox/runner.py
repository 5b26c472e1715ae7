"""Launchers for tests and demos: an in-thread sandbox (`start_sandbox`) and a subprocess one."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from prepbot.sandbox.auth import TOKEN_FILE
from prepbot.sandbox.faults import Faults
from prepbot.sandbox.limits import DEFAULT_DAILY_API_LIMIT, ApiCounter
from prepbot.sandbox.routes_control import set_clock
from prepbot.sandbox.server import SandboxServer, open_store, read_seed_files
from prepbot.sandbox.smtp_sink import SinkMessage
from prepbot.sandbox.soql.parser import warm_up
from prepbot.sandbox.store import Store

DEFAULT_API_VERSION = "62.0"


def client_session(ca_bundle: Path | str) -> requests.Session:
    """A requests session that trusts the sandbox CA even when REQUESTS_CA_BUNDLE is set."""
    session = requests.Session()
    session.verify = str(ca_bundle)
    session.trust_env = False  # else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override `verify`
    return session


class SandboxHandle:
    """A running in-thread sandbox. Use as a context manager or call `stop()`."""

    def __init__(self, server: SandboxServer, store: Store, tmp: Path | None) -> None:
        self._server = server
        self.store = store
        self._tmp = tmp

    instance_url = property(lambda self: self._server.instance_url, doc="`https://127.0.0.1:PORT`")
    ca_bundle = property(lambda self: self._server.ca_bundle, doc="PEM of the sandbox CA")
    state_dir = property(lambda self: self._server.state_dir, doc="the state folder")
    smtp_host = property(lambda self: self._server.smtp.host, doc="SMTP sink host")
    smtp_port = property(lambda self: self._server.smtp.port, doc="SMTP sink port")
    outbox = property(lambda self: self._server.smtp.outbox, doc="folder of the sink's .eml files")

    @property
    def token_file(self) -> Path:
        """The state file holding the start token (mode 0600)."""
        return self._server.tokens.token_file

    @property
    def access_token(self) -> str:
        """The current start token (running as the first seeded User)."""
        return self._server.tokens.access_token

    @property
    def faults(self) -> Faults:
        """Fault injection: `handle.faults.add("query*", "unavailable", nth=2)`."""
        return self._server.faults

    @property
    def api_calls(self) -> ApiCounter:
        """The API usage counter (`.used`, `.daily_max`, `.reset()`)."""
        return self._server.counter

    @property
    def emails(self) -> list[dict[str, Any]]:
        """Emails recorded by the emailSimple action."""
        return self._server.app.emails

    @property
    def smtp_messages(self) -> list[SinkMessage]:
        """Messages the SMTP sink accepted (envelope + .eml path)."""
        return self._server.smtp.messages

    @property
    def apps(self) -> list[dict[str, Any]]:
        """Connected apps known to the token endpoint (mutable: tests may append)."""
        return self._server.app.apps

    def expire_tokens(self) -> None:
        """Every API token answers 401 INVALID_SESSION_ID from now on."""
        self._server.tokens.expire_all()

    def renew_token(self) -> str:
        """Issue a fresh start token (after `expire_tokens`)."""
        return self._server.tokens.renew(self.store.running_user_id)

    def set_now(self, now: datetime | None) -> None:
        """Fix the org's clock at `now` (aware datetime); None restores the real clock."""
        with self._server.app.lock:
            set_clock(self._server.app, now)

    def session(self) -> requests.Session:
        """A requests session trusting the sandbox CA."""
        return client_session(self.ca_bundle)

    def client(self, *, version: str = DEFAULT_API_VERSION, session_id: str | None = None) -> Any:
        """An unmodified `simple_salesforce.Salesforce` on this sandbox (session-id auth)."""
        from simple_salesforce.api import Salesforce

        return Salesforce(
            session_id=session_id or self.access_token,
            instance_url=self.instance_url,
            session=self.session(),
            version=version,
        )

    def stop(self) -> None:
        """Stop the servers, close the store, remove a temporary state folder (idempotent)."""
        self._server.stop()
        self.store.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_sandbox(
    *,
    seeds: Iterable[Path | str] = (),
    seed_data: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
    state_dir: Path | str | None = None,
    outbox: Path | str | None = None,
    clock: Any = None,
    daily_api_limit: int = DEFAULT_DAILY_API_LIMIT,
    user_tz: str = "UTC",
    port: int = 0,
    smtp_port: int = 0,
) -> SandboxHandle:
    """Start a sandbox in this process (HTTPS + SMTP threads) and return its handle.

    Args:
        seeds: seed JSON files, loaded in order (only into an empty org).
        seed_data: seed dict(s), loaded after the files.
        state_dir: folder for the SQLite file, CA and token; None = a temp dir removed on stop.
        outbox: folder for the sink's .eml files (default `<state>/outbox`).
        clock: the store's clock (a zero-argument callable returning an aware UTC datetime), or None.
        daily_api_limit: DailyApiRequests max.
        user_tz: the running user's time zone for SOQL date literals.
        port: HTTPS port (0 = any free port).
        smtp_port: SMTP port (0 = any free port).
    """
    warm_up()  # the SOQL parser, while the org is opened and seeded (not on its first query)
    tmp = Path(tempfile.mkdtemp(prefix="prepbot-sandbox-")) if state_dir is None else None
    state = Path(state_dir) if state_dir is not None else tmp
    assert state is not None
    state.mkdir(parents=True, exist_ok=True)
    data = list(read_seed_files(seeds))
    if isinstance(seed_data, Mapping):
        data.append(dict(seed_data))
    elif seed_data is not None:
        data += [dict(d) for d in seed_data]
    store, apps = open_store(state, data, clock=clock, user_tz=user_tz)
    server = SandboxServer(
        store,
        state_dir=state,
        outbox=Path(outbox) if outbox else state / "outbox",
        apps=apps,
        port=port,
        smtp_port=smtp_port,
        daily_api_limit=daily_api_limit,
    )
    try:
        server.start()
    except Exception:
        store.close()
        raise
    return SandboxHandle(server, store, tmp)


class SandboxProcess:
    """`python -m prepbot.sandbox serve ...` (or ``smtp ...``) as a subprocess (CLI end-to-end tests,
    the benchmarks).

    `info` is the JSON line the sandbox printed; `stop()` sends SIGTERM and waits.
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = 60.0,
        command: str = "serve",
    ) -> None:
        """``command``: ``serve`` (org + sink) or ``smtp`` (a sink alone: ``smtp_host``,
        ``smtp_port`` and ``outbox`` only)."""
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "prepbot.sandbox", command, *args],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=dict(env) if env is not None else None,
        )
        self.info: dict[str, Any] = self._read_ready(ready_timeout)
        self.state_dir = Path(args[args.index("--state") + 1]) if "--state" in args else None

    def _read_ready(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError(f"sandbox did not start:\n{self.stderr_text()}")
        return dict(json.loads(line[0]))

    @property
    def token_file(self) -> Path:
        """The state file holding the access token (``--state`` must have been given)."""
        if self.state_dir is None:
            raise AttributeError("token_file: the sandbox was started without --state")
        return self.state_dir / TOKEN_FILE

    def __getattr__(self, name: str) -> Any:
        """`instance_url`, `access_token`, `ca_bundle`, ... from the JSON line."""
        info = self.__dict__.get("info") or {}
        if name in info:
            return info[name]
        raise AttributeError(name)

    def control(self, method: str, action: str, body: Any = None) -> Any:
        """Call a /__sandbox/ control endpoint; returns the parsed JSON (None for 204)."""
        session = client_session(self.info["ca_bundle"])
        with session:
            resp = session.request(
                method,
                f"{self.info['instance_url']}/__sandbox/{action}",
                json=body,
                headers={"Authorization": f"Bearer {self.info['access_token']}"},
                timeout=30,
            )
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def stderr_text(self) -> str:
        """What the sandbox logged so far."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return int(self.proc.returncode)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._log.close()


__all__ = ["SandboxHandle", "SandboxProcess", "client_session", "start_sandbox"]
