"""The admin commands' reads (org, ledger) and their Rich tables; nothing here writes anything."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from rich.console import Console
from rich.table import Table

from prepbot.admin_views import (
    PlanLine,
    Planning,
    StatusView,
    WorkerLine,
    ago_text,
    day_window,
    plan_day,
    stale_after,
    worker_lines,
)
from prepbot.app import build_audience, build_composer, build_crm, build_policy
from prepbot.config import Settings
from prepbot.domain import WorkerRow


def run_plan(settings: Settings, day: date, now: datetime) -> list[PlanLine]:
    """Read the day's meetings (in the org's default zone) and the ledger; plan in memory only."""
    from prepbot.admin_cli import open_ledger

    start_at, end_at = day_window(day, settings.messages.org_time_zone)
    crm = build_crm(settings)
    try:
        meetings = list(crm.meetings_between(start_at, end_at))
    finally:
        crm.close()
    ledger = open_ledger(settings)
    try:
        rows = ledger.rows_for_events([m.event_id for m in meetings]) if ledger and meetings else []
    finally:
        if ledger is not None:
            ledger.close()
    planning = Planning(
        build_composer(settings), build_policy(settings), build_audience(settings), settings.playbooks.file
    )
    return plan_day(meetings, rows, planning, now)


def print_plan(lines: list[PlanLine]) -> None:
    table = Table(title=f"prepbot plan ({len(lines)} meetings; meeting times in the client's zone)")
    for column in ("meeting", "client", "language", "confirmation", "scripts"):
        table.add_column(column, overflow="fold")
    for line in lines:
        lang = f"{line.language} ({line.language_note})" if line.language_note else line.language
        if line.outcome == "will send":
            what = (
                f"will send {line.send_at_local} ({line.send_at:%H:%M} UTC)" if line.send_at else "will send"
            )
        else:
            what = f"{line.outcome}: {line.reason}" if line.reason else line.outcome
        scripts = "\n".join(f"{name}: {reason}" for name, reason in line.scripts) or "-"
        if line.other:
            scripts += "\n" + "\n".join(line.other)
        table.add_row(
            f"{line.meeting}\n{line.subject}", f"{line.recipient}\n{line.zone}", lang, what, scripts
        )
    Console().print(table)


def print_status(view: StatusView) -> None:
    console = Console()
    counts = ", ".join(f"{name} {count}" for name, count in view.counts.items())
    console.print(f"ledger: {counts}")
    last = f"{view.last_change_at:%Y-%m-%d %H:%M} UTC" if view.last_change_at else "never"
    console.print(f"last sync/dispatch activity (latest ledger change): {last}")
    if view.attention:
        table = Table(title="Needs attention (in doubt first, then failed)")
        for column in ("event", "recipient", "kind", "status", "reason", "what to do"):
            table.add_column(column, overflow="fold")
        for row, tip in view.attention:
            table.add_row(
                row.key.event_id, row.key.recipient, row.key.kind.value, row.status.value, row.reason, tip
            )
        console.print(table)
    else:
        console.print("nothing needs attention")
    print_workers(console, view.workers)
    if view.upcoming:
        table = Table(title="Next planned sends (UTC)")
        for column in ("due", "event", "recipient", "kind", "zone"):
            table.add_column(column, overflow="fold")
        for row in view.upcoming:
            table.add_row(
                f"{row.due_at:%Y-%m-%d %H:%M}",
                row.key.event_id,
                row.key.recipient,
                row.key.kind.value,
                row.time_zone or "",
            )
        console.print(table)


def status_workers(settings: Settings, rows: Iterable[WorkerRow]) -> list[WorkerLine]:
    """The ledger's processes as `prepbot status` shows them, stale after 3x the longer interval."""
    s = settings.schedule
    stale = stale_after(
        timedelta(seconds=s.sync_interval_seconds), timedelta(seconds=s.dispatch_interval_seconds)
    )
    return worker_lines(rows, datetime.now(UTC), stale)


def print_workers(console: Console, workers: list[WorkerLine]) -> None:
    """The processes sharing the ledger; 'planner' marks the one holding the planner lease."""
    if not workers:
        console.print("no prepbot process has reported yet ('prepbot run' writes a heartbeat)")
        return
    live = sum(1 for line in workers if line.live)
    table = Table(title=f"prepbot processes ({live} live, {len(workers) - live} stale)")
    for column in ("name", "role", "host", "pid", "last seen", "state", "claims", "plans"):
        table.add_column(column, overflow="fold")
    for line in workers:
        plans = "planner" if line.planner else "standby" if line.standby else ""
        table.add_row(
            line.name,
            line.role,
            line.host,
            str(line.pid),
            ago_text(line.seen_ago),
            "live" if line.live else "stale",
            str(line.claims),
            plans,
        )
    console.print(table)
    if not any(line.planner for line in workers):
        console.print("no live planner: meetings are not being read from the org (start 'prepbot run')")
