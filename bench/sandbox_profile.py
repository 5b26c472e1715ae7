"""The sandbox's own speed, so it is never what limits a measurement: seeding, query pages, writes, SMTP.

Run: ``.venv/bin/python -m bench.sandbox_profile [N]`` (default 10000). Starts a `prepbot sandbox serve`
process seeded with `bench.day_cycle.seed(N)` and drives it over HTTPS the way prepbot does (one
keep-alive connection): every page of prepbot's Event window query, N Tasks in collections of 200, N
prep notes (ContentNote + ContentDocumentLink, one composite per 200), then N messages into the SMTP
sink. Prints seconds and rates per phase (JSON). Run it under ``py-spy record --subprocesses`` to see
where the sandbox spends them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bench.day_cycle import seed
from bench.render_rate import default_composer, sample_confirmation_bytes
from bench.smtp_loop import send_loop
from prepbot.crm.sf_writes import notes_composite, task_body
from prepbot.crm.soql import FieldMapping, window_query
from prepbot.domain import NoteRecord, TaskRecord
from prepbot.prepnote import ConfirmationStatus, build_prep_note
from prepbot.samples import sample_meeting
from prepbot.sandbox.runner import SandboxProcess, client_session

API = "62.0"
DAY = (datetime(2026, 12, 1, 23, tzinfo=UTC), datetime(2026, 12, 2, 23, tzinfo=UTC))


def _literal(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(value)


def event_query() -> str:
    """prepbot's window query for the seeded day, as text."""
    soql = window_query(FieldMapping(), *DAY)
    return soql.template.format(*(_literal(a) for a in soql.args))


class Org:
    """A requests session on a sandbox process: ``get``/``post`` relative to the data root."""

    def __init__(self, org: SandboxProcess) -> None:
        self.base = f"{org.instance_url}/services/data/v{API}"
        self.root = org.instance_url
        self.session = client_session(org.ca_bundle)
        self.session.headers["Authorization"] = f"Bearer {org.access_token}"

    def get(self, path: str, **params: str) -> Any:
        url = self.root + path if path.startswith("/services") else f"{self.base}/{path}"
        resp = self.session.get(url, params=params or None, timeout=300)
        resp.raise_for_status()
        return resp.json()

    def post(self, path: str, body: Any) -> Any:
        resp = self.session.post(f"{self.base}/{path}", json=body, timeout=300)
        resp.raise_for_status()
        return resp.json()


def read_events(org: Org) -> tuple[list[dict[str, Any]], list[float]]:
    """Every Event of the day through query + nextRecordsUrl; the records and seconds per page."""
    records: list[dict[str, Any]] = []
    pages: list[float] = []
    started = time.perf_counter()
    page = org.get("query", q=event_query())
    while True:
        pages.append(time.perf_counter() - started)
        records += page["records"]
        if page.get("done", True):
            return records, pages
        started = time.perf_counter()
        page = org.get(page["nextRecordsUrl"])


def write_tasks(org: Org, events: list[dict[str, Any]], text: str) -> list[float]:
    """One completed email Task per event, 200 a call; seconds per call."""
    times = []
    for i in range(0, len(events), 200):
        chunk = events[i : i + 200]
        records = [
            task_body(
                TaskRecord("Email: bench", text, e["OwnerId"], e["WhoId"], e["WhatId"], date(2026, 12, 1))
            )
            for e in chunk
        ]
        started = time.perf_counter()
        results = org.post("composite/sobjects", {"allOrNone": False, "records": records})
        times.append(time.perf_counter() - started)
        assert all(r["success"] for r in results), results[:1]
    return times


def write_notes(org: Org, events: list[dict[str, Any]], html: str) -> list[float]:
    """One prep note + link per event, one composite call per 200; seconds per call."""
    times = []
    for i in range(0, len(events), 200):
        notes = [NoteRecord(f"Prep: {e['Subject']}", html, e["WhatId"]) for e in events[i : i + 200]]
        body, _ = notes_composite(notes, [], API)
        started = time.perf_counter()
        answer = org.post("composite", body)
        times.append(time.perf_counter() - started)
        assert all(s["httpStatusCode"] == 200 for s in answer["compositeResponse"]), answer
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc), 0.0 elsewhere.

    On a shared machine wall time varies with the load; the sandbox's own CPU time does not.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _summary(times: list[float], records: int, cpu: float) -> dict[str, float]:
    total = sum(times)
    return {
        "calls": len(times),
        "seconds": round(total, 2),
        "sandbox_cpu_seconds": round(cpu, 2),
        "max_call_seconds": round(max(times, default=0.0), 3),
        "records_per_second": round(records / total, 1) if total else 0.0,
    }


def measure(n: int) -> dict[str, Any]:
    """Seconds and rates of each sandbox phase at N meetings."""
    composer = default_composer()
    meeting = sample_meeting()
    html = build_prep_note(composer.renderer, meeting, ConfirmationStatus("sent"), []).html
    message = sample_confirmation_bytes()
    with tempfile.TemporaryDirectory(prefix="prepbot-sbprof-") as tmp:
        seed_file = Path(tmp) / "seed.json"
        seed_file.write_text(json.dumps(seed(n)), encoding="utf-8")
        started = time.perf_counter()
        with SandboxProcess(
            "--seed", str(seed_file), "--state", str(Path(tmp) / "org"), ready_timeout=900
        ) as sp:
            seeded, cpu = time.perf_counter() - started, [cpu_seconds(sp.proc.pid)]
            org = Org(sp)
            events, pages = read_events(org)
            cpu.append(cpu_seconds(sp.proc.pid))
            tasks = write_tasks(org, events, message.decode("utf-8", "replace"))
            cpu.append(cpu_seconds(sp.proc.pid))
            notes = write_notes(org, events, html)
            cpu.append(cpu_seconds(sp.proc.pid))
            mail = [(f"c{i}@bench.test", message) for i in range(n)]
            smtp = send_loop(sp.smtp_host, sp.smtp_port, mail, "bench@bench.test")
            cpu.append(cpu_seconds(sp.proc.pid))
            org.session.close()
    return {
        "meetings": n,
        "seed_seconds": round(seeded, 1),
        "seed_sandbox_cpu_seconds": round(cpu[0], 2),
        "query": _summary(pages, len(events), cpu[1] - cpu[0]),
        "tasks": _summary(tasks, len(events), cpu[2] - cpu[1]),
        "notes": _summary(notes, len(events), cpu[3] - cpu[2]),
        "smtp_messages_per_second": round(n / smtp, 1) if smtp else 0.0,
        "smtp_sandbox_cpu_ms_per_message": round((cpu[4] - cpu[3]) * 1000 / n, 3) if n else 0.0,
    }


def main(argv: list[str]) -> int:
    print(json.dumps(measure(int(argv[0]) if argv else 10000), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
