"""Several `prepbot run` processes on one PostgreSQL ledger against a sandbox org: the scale-out stack.

Shared by bench/scale_workers.py (throughput) and tests/scale/ (the C7-C9 chaos run). Every meeting
is seeded so that its confirmation is due at the real current time: confirmations go at 00:00 on the
day before (every day a working day, no quiet hours), so a meeting six hours ahead is a late booking
that is confirmed at once — `prepbot run` reads the wall clock, so no `--now` is needed or possible.
Prep notes, owner briefs and no-show follow-ups are off: only confirmations (and their Tasks) go.
"""

from __future__ import annotations

import contextlib
import email.parser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.day_cycle import sink_process  # noqa: E402
from prepbot.sandbox.cli import write_sandbox_config  # noqa: E402
from prepbot.sandbox.runner import SandboxProcess  # noqa: E402
from tests.pgserver import PgServer, bindir  # noqa: E402

LEAD_TIME = timedelta(hours=6)  # meetings start this far ahead: well past min_notice (3 h) for the run
ZONE = "UTC"
PREPBOT_RUN = (sys.executable, "-m", "prepbot", "run")


def pg_available() -> bool:
    """PostgreSQL can be had: a CI URL (PREPBOT_TEST_PG_URL), or server binaries for a throwaway cluster."""
    return bool(os.environ.get("PREPBOT_TEST_PG_URL")) or bindir() is not None


def seed(n: int, now: datetime) -> dict[str, Any]:
    """N meetings starting LEAD_TIME after ``now`` (spread over ten minutes), one contact each."""
    owner = {
        "$key": "owner",
        "Username": "rep@scale.test",
        "FirstName": "Rita",
        "LastName": "Rep",
        "Email": "rep@scale.test",
        "TimeZoneSidKey": ZONE,
        "LanguageLocaleKey": "en_US",
        "IsActive": True,
    }
    accounts = [{"$key": f"a{i}", "Name": f"Account {i}"} for i in range(max(1, n // 10))]
    contacts = [
        {
            "$key": f"c{i}",
            "FirstName": "Client",
            "LastName": f"Number {i}",
            "AccountId": f"@a{i // 10}",
            "Email": f"client{i}@scale.test",
            "MailingCountryCode": "GB",
        }
        for i in range(n)
    ]
    start = (now + LEAD_TIME).replace(second=0, microsecond=0)
    events = [
        {
            "Subject": f"Visit {i}",
            "Type": "Meeting",
            "OwnerId": "@owner",
            "WhoId": f"@c{i}",
            "StartDateTime": (start + timedelta(minutes=i % 10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "DurationInMinutes": 60,
            "Location": "Main office",
        }
        for i in range(n)
    ]
    return {"User": [owner], "Account": accounts, "Contact": contacts, "Event": events}


SCALE_CONFIG = """
[schedule]
send_at = "00:00"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
quiet_start = "00:00"
quiet_end = "00:00"
sync_interval_seconds = {sync}
dispatch_interval_seconds = {dispatch}
lease_seconds = {lease}
batch_size = {batch}

[messages]
org_time_zone = "{zone}"
sending_address = "meet@scale.test"
message_id_domain = "scale.test"

[notes]
enabled = false

[no_show]
enabled = false
"""


@dataclass
class Timing:
    """The run's intervals (config minimums: sync 10 s, dispatch 5 s, lease 30 s)."""

    sync: int = 10
    dispatch: int = 5
    lease: int = 30
    batch: int = 50


@dataclass
class Process:
    """One `prepbot run` subprocess and its log file."""

    name: str
    role: str
    proc: subprocess.Popen[bytes]
    log: Path
    stopped: bool = False  # SIGSTOPped right now
    log_from: int = 0  # where this process's lines start in the (appended) log

    def alive(self) -> bool:
        return self.proc.poll() is None

    def running(self) -> bool:
        """Its scheduler has started (so SIGTERM is a clean stop, not the default action)."""
        with self.log.open("rb") as fh:
            fh.seek(self.log_from)
            return b"prepbot running as" in fh.read()


@dataclass
class Stack:
    """A PostgreSQL ledger, a sandbox org seeded with N due meetings, an SMTP sink in its own process
    (`prepbot sandbox smtp`, as for the day cycle), a config, and prepbot processes."""

    folder: Path
    n: int
    timing: Timing = field(default_factory=Timing)
    processes: list[Process] = field(default_factory=list)
    url: str = ""
    config: Path = Path()
    org: Any = None
    sink: Any = None
    _pg: PgServer | None = None
    _pg_folder: Path | None = None
    _dropdb: str | None = None

    # -- setup ------------------------------------------------------------------------------------

    def start(self) -> Stack:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.url = self._start_pg()
        seed_file = self.folder / "seed.json"
        seed_file.write_text(json.dumps(seed(self.n, datetime.now(UTC))), encoding="utf-8")
        self.org = SandboxProcess(
            "--seed",
            str(seed_file),
            "--state",
            str(self.folder / "org"),
            "--daily-api-limit",
            "100000000",
            ready_timeout=900,
        )
        self.sink = sink_process(self.folder / "sink")
        self.config = self.folder / "prepbot.toml"
        write_sandbox_config(
            self.config, self.org, self.folder, smtp=(self.sink.smtp_host, self.sink.smtp_port)
        )
        text = re.sub(r'(?m)^url = "sqlite:.*"$', f'url = "{self.url}"', self.config.read_text("utf-8"))
        t = self.timing
        text += SCALE_CONFIG.format(sync=t.sync, dispatch=t.dispatch, lease=t.lease, batch=t.batch, zone=ZONE)
        self.config.write_text(text, encoding="utf-8")
        return self

    def _start_pg(self) -> str:
        """A fresh database on the CI server (PREPBOT_TEST_PG_URL), else a throwaway cluster."""
        base = os.environ.get("PREPBOT_TEST_PG_URL")
        if base:
            name = f"prepbot_scale_{os.getpid()}_{int(time.time())}"
            _admin_sql(base, f'CREATE DATABASE "{name}"')
            self._dropdb = name
            return base.rsplit("/", 1)[0] + f"/{name}"
        # Not under the caller's folder: its parents may be private to root, and the server may run
        # as postgres (tests/pgserver.py).
        self._pg_folder = Path(tempfile.mkdtemp(prefix="prepbot-scale-pg."))
        self._pg_folder.chmod(0o755)
        self._pg = PgServer(self._pg_folder / "cluster")
        return self._pg.start()

    # -- processes --------------------------------------------------------------------------------

    def spawn(self, role: str, name: str) -> Process:
        """Start `prepbot run --role ROLE --name NAME` (its log appended to <folder>/logs/NAME.log)."""
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        log = logs / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [*PREPBOT_RUN, "--config", str(self.config), "--role", role, "--name", name],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        process = Process(name, role, proc, log, log_from=offset)
        self.processes.append(process)
        return process

    def kill(self, process: Process) -> None:
        """SIGKILL (a stopped process too: the kernel delivers SIGKILL to it) and reap."""
        if process.alive():
            process.proc.send_signal(signal.SIGKILL)
        process.proc.wait(30)
        process.stopped = False

    def restart(self, process: Process) -> Process:
        """Like systemd's Restart=always: the same name and role, a new process."""
        self.kill(process)
        self.processes.remove(process)
        return self.spawn(process.role, process.name)

    def pause(self, process: Process) -> None:
        if process.alive() and not process.stopped:
            process.proc.send_signal(signal.SIGSTOP)
            process.stopped = True

    def resume(self, process: Process) -> None:
        if process.stopped:
            with contextlib.suppress(ProcessLookupError):
                process.proc.send_signal(signal.SIGCONT)
            process.stopped = False

    def wait_running(self, timeout: float = 120) -> None:
        """Until every live process has started its scheduler (a restart may still be booting)."""
        deadline = time.monotonic() + timeout
        while not all(p.running() for p in self.processes if p.alive()) and time.monotonic() < deadline:
            time.sleep(0.2)

    def terminate_all(self, timeout: float = 60) -> dict[str, int | None]:
        """SIGCONT, then SIGTERM every process (a clean stop) and wait; SIGKILL what does not stop."""
        for process in self.processes:
            self.resume(process)
            if process.alive():
                process.proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + timeout
        for process in self.processes:
            try:
                process.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.proc.kill()
                process.proc.wait(30)
            codes[process.name] = process.proc.returncode
        return codes

    def stop(self) -> None:
        """Stop everything this stack started (idempotent; safe after a failure)."""
        self.terminate_all(timeout=30)
        for server in (self.org, self.sink):
            if server is not None:
                server.__exit__(None, None, None)
        self.org = self.sink = None
        if self._pg is not None:
            self._pg.stop(mode="immediate")
            self._pg = None
        if self._pg_folder is not None:
            shutil.rmtree(self._pg_folder, ignore_errors=True)
            self._pg_folder = None
        if self._dropdb is not None:
            with contextlib.suppress(Exception):
                _admin_sql(os.environ["PREPBOT_TEST_PG_URL"], f'DROP DATABASE "{self._dropdb}" WITH (FORCE)')
            self._dropdb = None

    def __enter__(self) -> Stack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what happened ----------------------------------------------------------------------------

    def outbox(self) -> Path:
        """The folder of the messages the SMTP sink accepted."""
        return Path(self.sink.outbox)

    def sink_message_ids(self) -> Counter[str]:
        """Message-ID -> how many times the SMTP sink received it (prepbot derives it from the row key)."""
        found: Counter[str] = Counter()
        for path in self.outbox().glob("*.eml"):
            with path.open("rb") as fh:
                headers = email.parser.BytesHeaderParser().parse(fh)
            found[str(headers.get("Message-ID", "")).strip().strip("<>")] += 1
        return found

    def ledger_rows(self) -> list[Any]:
        from prepbot.ledger.sql import SqlLedger

        ledger = SqlLedger(self.url, migrate=False)
        try:
            return ledger.rows(limit=None)
        finally:
            ledger.close()

    def sent_count(self) -> int:
        return sum(1 for _ in self.outbox().glob("*.eml"))


def _admin_sql(url: str, statement: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on the server of ``url``."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(statement.encode())


@contextlib.contextmanager
def stack(folder: Path, n: int, timing: Timing | None = None) -> Iterator[Stack]:
    """A started :class:`Stack`, stopped on the way out whatever happens."""
    with Stack(folder, n, timing or Timing()) as running:
        yield running


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
