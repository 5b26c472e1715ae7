"""Run the sandbox: open the state folder, seed the store, serve HTTPS and the SMTP sink in threads."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from prepbot.sandbox.app import SandboxApp
from prepbot.sandbox.auth import TokenRegistry
from prepbot.sandbox.faults import Faults
from prepbot.sandbox.http11 import KeepAliveHandler
from prepbot.sandbox.limits import DEFAULT_DAILY_API_LIMIT, ApiCounter
from prepbot.sandbox.smtp_sink import SmtpSink
from prepbot.sandbox.store import Store
from prepbot.sandbox.tls import CA_FILE, load_or_create_ca, server_context

log = logging.getLogger(__name__)
DB_FILE = "org.sqlite"
APPS_FILE = "apps.json"


def read_seed_files(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """Parse seed JSON files."""
    return [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]


def open_store(
    state_dir: Path, seeds: Iterable[Mapping[str, Any]], *, clock: Any = None, user_tz: str = "UTC"
) -> tuple[Store, list[dict[str, Any]]]:
    """Open (or create) the org of a state folder; seed it only when it has no User yet.

    Returns the store and the connected apps (``"$apps"`` of the seeds, with ``run_as`` resolved to
    ``run_as_id``), which are kept in ``apps.json`` so a restarted sandbox knows them too.
    """
    store = Store(state_dir / DB_FILE, clock=clock, user_tz=user_tz)
    apps_path = state_dir / APPS_FILE
    apps: list[dict[str, Any]] = json.loads(apps_path.read_text()) if apps_path.exists() else []
    fresh = store.count("User") == 0
    keys: dict[str, str] = {}
    seeds = list(seeds)
    if not fresh:
        if seeds:
            log.info("state folder already holds an org: seeds (records and $apps) not loaded again")
        return store, apps
    for seed in seeds:
        data = dict(seed)
        new_apps = [dict(a) for a in data.pop("$apps", [])]
        keys.update(store.load_seed(data) or {})
        known = {a.get("consumer_key") for a in new_apps}
        apps = [a for a in apps if a.get("consumer_key") not in known] + new_apps
    for cfg in apps:
        run_as = str(cfg.get("run_as") or "")
        if run_as.startswith("@") and run_as[1:] in keys:
            cfg["run_as_id"] = keys[run_as[1:]]
    apps_path.write_text(json.dumps(apps, indent=2))
    return store, apps


class SandboxServer:
    """The HTTPS server (Werkzeug, threaded) and the SMTP sink of one sandbox org."""

    def __init__(
        self,
        store: Store,
        *,
        state_dir: Path,
        outbox: Path,
        apps: Iterable[Mapping[str, Any]] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        smtp_port: int = 0,
        daily_api_limit: int = DEFAULT_DAILY_API_LIMIT,
    ) -> None:
        self.store = store
        self.state_dir = state_dir
        self.host = host
        self.tokens = TokenRegistry(state_dir, store.running_user_id)
        self.counter = ApiCounter(daily_api_limit)
        self.faults = Faults()
        self.app = SandboxApp(store, tokens=self.tokens, counter=self.counter, faults=self.faults, apps=apps)
        self.smtp = SmtpSink(outbox, host=host, port=smtp_port)
        self._port = port
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_bundle(self) -> Path:
        """PEM file of the CA that signed the server certificate."""
        return self.state_dir / CA_FILE

    @property
    def instance_url(self) -> str:
        """`https://127.0.0.1:PORT`."""
        return self.app.instance_url

    def start(self) -> None:
        """Serve HTTPS and SMTP in background threads; returns once both listen."""
        ctx = server_context(load_or_create_ca(self.state_dir))
        self._httpd = make_server(
            self.host, self._port, self.app, threaded=True, ssl_context=ctx, request_handler=KeepAliveHandler
        )
        port = self._httpd.socket.getsockname()[1]
        self.app.instance_url = f"https://{self.host}:{port}"
        # A short poll interval keeps stop() fast (tests start and stop a sandbox per test).
        httpd = self._httpd
        self._thread = threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.05), name="sandbox-https", daemon=True
        )
        self._thread.start()
        try:
            self.smtp.start()
        except Exception:
            self.stop()
            raise
        log.info("sandbox listening on %s, smtp %s:%d", self.instance_url, self.host, self.smtp.port)

    def stop(self) -> None:
        """Stop both servers (idempotent); the store stays open (the caller owns it)."""
        self.smtp.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
