"""One day's cycle at N meetings: API calls, wall time and peak RSS of a real `prepbot tick`.

Run: ``.venv/bin/python -m bench.day_cycle [N ...]`` (default 1000). For each N it seeds a sandbox org
(a subprocess, so its memory is not counted) with N meetings tomorrow, starts an SMTP sink in a process
of its own (`prepbot sandbox smtp`: a relay is not on Salesforce's servers, and in one process with the
org the sink's replies would wait on the org's work, which the smtplib loop it is compared with never
meets), runs `prepbot tick` as its own process at the day-before send moment (sync, N confirmations, N
Tasks, N prep notes), then a second tick with nothing changed, and prints the sandbox's API counter
against the minimum the API allows (query pages of 2,000 + writes in collections of 200) and the peak
RSS of the tick process.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prepbot.sandbox.cli import write_sandbox_config  # noqa: E402
from prepbot.sandbox.runner import SandboxProcess, client_session  # noqa: E402

SEND_MOMENT = "2026-12-01T09:00:00Z"  # 10:00 in Amsterdam, the day before 2 December
ZONE = "Europe/Amsterdam"


def seed(n: int) -> dict[str, Any]:
    """N meetings on Wednesday 2 December, one contact each, an opportunity per ten meetings."""
    owner = {
        "$key": "owner",
        "Username": "rep@bench.test",
        "FirstName": "Rita",
        "LastName": "Rep",
        "Email": "rep@bench.test",
        "TimeZoneSidKey": ZONE,
        "LanguageLocaleKey": "en_US",
        "IsActive": True,
    }
    accounts = [{"$key": f"a{i}", "Name": f"Account {i}"} for i in range(max(1, n // 10))]
    deals = [
        {
            "$key": f"o{i}",
            "Name": f"Deal {i}",
            "AccountId": f"@a{i}",
            "StageName": "Qualification",
            "CloseDate": "2027-03-31",
        }
        for i in range(len(accounts))
    ]
    contacts = [
        {
            "$key": f"c{i}",
            "FirstName": "Client",
            "LastName": f"Number {i}",
            "AccountId": f"@a{i // 10}",
            "Email": f"client{i}@bench.test",
            "MailingCountryCode": "GB",
        }
        for i in range(n)
    ]
    events = []
    for i in range(n):
        hour, minute = 8 + (i % 8), (i * 7) % 60  # 09:00-16:59 Amsterdam (UTC+1)
        events.append(
            {
                "Subject": f"Visit {i}",
                "Type": "Meeting",
                "OwnerId": "@owner",
                "WhoId": f"@c{i}",
                "WhatId": f"@o{i // 10}",
                "StartDateTime": f"2026-12-02T{hour:02d}:{minute:02d}:00Z",
                "DurationInMinutes": 60,
                "Location": "Main office",
            }
        )
    return {"User": [owner], "Account": accounts, "Opportunity": deals, "Contact": contacts, "Event": events}


def minimum_calls(n: int) -> int:
    """Query pages of 2,000 plus Task and note writes in collections of 200 (note + link: one call)."""
    return math.ceil(n / 2000) + 2 * math.ceil(n / 200)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a running process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_tick(config: Path, now: str) -> tuple[float, int, str, int, float]:
    """(seconds, peak RSS in MiB, output, exit code, CPU seconds) of one `prepbot tick` process."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "prepbot", "tick", "--config", str(config), "--now", now],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, usage.ru_maxrss // 1024, out, proc.returncode, cpu


def cycle_seconds(output: str) -> float | None:
    """The cycle's own seconds from `prepbot tick`'s output (its ``cycle 4.87 s`` line), if printed."""
    found = re.search(r"^  cycle (\d+\.\d+) s", output, re.MULTILINE)
    return float(found[1]) if found else None


def sink_process(folder: Path) -> SandboxProcess:
    """An SMTP sink alone, in its own process (`prepbot sandbox smtp`), storing into ``folder``."""
    return SandboxProcess("--outbox", str(folder), command="smtp")


def org_counts(org: SandboxProcess, outbox: Path) -> dict[str, int]:
    """Tasks and ContentNotes in the org and messages in the sink's ``outbox`` (read after the
    measured ticks)."""
    session = client_session(org.ca_bundle)
    session.headers["Authorization"] = f"Bearer {org.access_token}"
    counts = {"messages_sent": len(list(outbox.glob("*.eml")))}
    with session:
        for sobject in ("Task", "ContentNote"):
            resp = session.get(
                f"{org.instance_url}/services/data/v62.0/query",
                params={"q": f"SELECT COUNT() FROM {sobject}"},
                timeout=300,
            )
            resp.raise_for_status()
            counts[f"{sobject.lower()}s_written"] = int(resp.json()["totalSize"])
    return counts


def measure(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="prepbot-bench-") as tmp:
        folder = Path(tmp)
        seed_file = folder / "seed.json"
        seed_file.write_text(json.dumps(seed(n)), encoding="utf-8")
        started = time.perf_counter()
        with (
            SandboxProcess(
                "--seed",
                str(seed_file),
                "--state",
                str(folder / "org"),
                "--daily-api-limit",
                "10000000",
                ready_timeout=900,
            ) as org,
            sink_process(folder / "outbox") as sink,
        ):
            seeded = time.perf_counter() - started
            config = folder / "prepbot.toml"
            extra = f'\n[messages]\norg_time_zone = "{ZONE}"\n[schedule]\nbatch_size = 200\n'
            write_sandbox_config(config, org, folder, smtp=(sink.smtp_host, sink.smtp_port), extra=extra)
            # The meetings were booked a while before the send moment, not seconds before (the
            # org's clock moves on an hour): an incremental sync re-reads the last minutes of
            # changes (its overlap) in a new process, which a real steady state does not have.
            org_later = datetime.now(UTC) + timedelta(hours=1)
            org.control("POST", "clock", {"now": org_later.isoformat()})
            before = org.control("GET", "api-usage")["used"]
            org_cpu, sink_cpu = process_cpu_seconds(org.proc.pid), process_cpu_seconds(sink.proc.pid)
            day_seconds, day_rss, day_out, day_exit, day_cpu = run_tick(config, SEND_MOMENT)
            org_cpu = process_cpu_seconds(org.proc.pid) - org_cpu
            sink_cpu = process_cpu_seconds(sink.proc.pid) - sink_cpu
            after_day = org.control("GET", "api-usage")["used"]
            steady_seconds, _, _, steady_exit, _ = run_tick(config, "2026-12-01T09:05:00Z")
            after_steady = org.control("GET", "api-usage")["used"]
            counts = org_counts(org, Path(sink.outbox))
    cycle = cycle_seconds(day_out)
    return {
        "meetings": n,
        "seed_seconds": round(seeded, 1),
        "day_calls": after_day - before,
        "minimum_calls": minimum_calls(n),
        "steady_calls": after_steady - after_day,
        "day_seconds": round(day_seconds, 1),
        "meetings_per_second": round(n / day_seconds, 1),
        # the cycle alone (sync, sends, Tasks, notes), as `prepbot run` runs it in a started process:
        # the tick process's wall time above also holds the interpreter, its imports and the build
        "cycle_seconds": cycle,
        "cycle_meetings_per_second": round(n / cycle, 1) if cycle else None,
        "peak_rss_mib": day_rss,
        # CPU per meeting of the tick process, and meanwhile of the sandbox org and of the SMTP sink
        "tick_cpu_ms_per_meeting": round(1000 * day_cpu / n, 2),
        "sandbox_cpu_ms_per_meeting": round(1000 * org_cpu / n, 2),
        "sink_cpu_ms_per_meeting": round(1000 * sink_cpu / n, 2),
        "steady_seconds": round(steady_seconds, 1),
        "tick": (day_out.strip().splitlines() or [""])[-1],
        "tick_exit_codes": [day_exit, steady_exit],
        **counts,
    }


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [1000]
    header = (
        "meetings",
        "day_calls",
        "minimum_calls",
        "steady_calls",
        "day_seconds",
        "meetings_per_second",
        "cycle_meetings_per_second",
        "peak_rss_mib",
        "tick_cpu_ms_per_meeting",
        "sandbox_cpu_ms_per_meeting",
        "sink_cpu_ms_per_meeting",
    )
    print(" | ".join(header))
    for n in sizes:
        row = measure(n)
        print(" | ".join(str(row[k]) for k in header), flush=True)
        print(f"  ({row['tick']}; seeding took {row['seed_seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
