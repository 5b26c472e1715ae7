"""The SMTP reference: a plain smtplib loop sending N pre-rendered messages on one connection.

Run: ``.venv/bin/python -m bench.smtp_loop [N ...]`` (default 1000). The sink is the one
`bench.day_cycle` sends prepbot's mail to: `prepbot sandbox smtp`, a sink alone in its own process. The
message is one real confirmation rendered by prepbot beforehand
(`bench.render_rate.sample_confirmation_bytes`); each copy goes to its own recipient. Nothing is
rendered inside the timed loop: this is the rate of the relay itself, the ceiling for prepbot's
end-to-end throughput.
"""

from __future__ import annotations

import json
import smtplib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.day_cycle import process_cpu_seconds, sink_process
from bench.render_rate import sample_confirmation_bytes


def send_loop(host: str, port: int, messages: list[tuple[str, bytes]], sender: str) -> float:
    """Send every ``(recipient, bytes)`` on one SMTP connection; the seconds it took."""
    started = time.perf_counter()
    with smtplib.SMTP(host, port, timeout=60) as smtp:
        for recipient, data in messages:
            smtp.sendmail(sender, [recipient], data)
    return time.perf_counter() - started


def measure(n: int) -> dict[str, Any]:
    """Messages per second of the smtplib loop into a fresh SMTP sink (`prepbot sandbox smtp`)."""
    data = sample_confirmation_bytes()
    messages = [(f"client{i}@bench.test", data) for i in range(n)]
    with tempfile.TemporaryDirectory(prefix="prepbot-smtp-") as tmp, sink_process(Path(tmp) / "sink") as sink:
        sink_cpu, loop_cpu = process_cpu_seconds(sink.proc.pid), time.process_time()
        seconds = send_loop(sink.smtp_host, sink.smtp_port, messages, "meetings@bench.test")
        sink_cpu = process_cpu_seconds(sink.proc.pid) - sink_cpu
        loop_cpu = time.process_time() - loop_cpu
        stored = len(list(Path(sink.outbox).glob("*.eml")))
    return {
        "messages": n,
        "smtp_seconds": round(seconds, 2),
        "smtp_messages_per_second": round(n / seconds, 1) if seconds else 0.0,
        "stored": stored,
        "loop_cpu_ms_per_message": round(1000 * loop_cpu / n, 3) if n else 0.0,
        "sink_cpu_ms_per_message": round(1000 * sink_cpu / n, 3) if n else 0.0,
        "message_bytes": len(data),
    }


def main(argv: list[str]) -> int:
    for n in [int(a) for a in argv] or [1000]:
        print(json.dumps(measure(n)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
