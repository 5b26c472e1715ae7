"""What `prepbot demo` prints and writes: a table of every meeting, and the demo-output/ folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from prepbot.domain import ActionRow, MessageKind, Status
from prepbot.timing import recipient_zone, to_local

if TYPE_CHECKING:
    from prepbot.app import App

EVENT_FIELDS = "Id, Subject, StartDateTime, IsAllDayEvent, ActivityDate, IsDeleted, Who.Name, Owner.Name"
TASK_FIELDS = "Id, Subject, Status, TaskSubtype, WhoId, WhatId, OwnerId, ActivityDate, Description"


def _events(sf: Any) -> list[dict[str, Any]]:
    soql = f"SELECT {EVENT_FIELDS} FROM Event ORDER BY StartDateTime, Id"
    return [dict(r) for r in sf.query_all_iter(soql, include_deleted=True)]


def _plain(record: Any) -> Any:
    if isinstance(record, dict):
        return {k: _plain(v) for k, v in record.items() if k != "attributes"}
    return record


def write_outputs(output: Path, application: App, sf: Any) -> None:
    """The org's Tasks and Events, and the ledger, as JSON next to the .eml outbox."""
    org = output / "org"
    org.mkdir(exist_ok=True)
    tasks = [
        _plain(dict(r)) for r in sf.query_all_iter(f"SELECT {TASK_FIELDS} FROM Task ORDER BY CreatedDate")
    ]
    (org / "tasks.json").write_text(json.dumps(tasks, indent=2, ensure_ascii=False), encoding="utf-8")
    events = [_plain(r) for r in _events(sf)]
    (org / "events.json").write_text(json.dumps(events, indent=2, ensure_ascii=False), encoding="utf-8")
    rows = [_row_json(row) for row in application.ledger.rows(limit=100_000)]
    (output / "ledger.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False), encoding="utf-8")


def _row_json(row: ActionRow) -> dict[str, Any]:
    return {
        "event_id": row.key.event_id,
        "occurrence": row.key.occurrence,
        "recipient": row.key.recipient,
        "kind": row.key.kind.value,
        "status": row.status.value,
        "reason": row.reason,
        "due_at": row.due_at.isoformat(),
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "language": row.language,
        "time_zone": row.time_zone,
        "message_id": row.message_id,
        "task_id": row.crm_id,
        "template_version": row.template_version,
    }


def _outcome(rows: list[ActionRow]) -> tuple[str, str, str, str]:
    """(language, zone, what happened, style) from an event's confirmation rows."""
    if not rows:
        return "", "", "not read by prepbot (outside the window)", "dim"
    live = [r for r in rows if r.status is not Status.SUPERSEDED] or rows
    row = max(live, key=lambda r: r.updated_at or r.due_at)
    zone = row.time_zone or "UTC"
    moved = " (after a move)" if len(rows) > len(live) or len(rows) > 1 else ""
    local = to_local(row.sent_at or row.due_at, zone)
    when = f"{local:%a %d %b %H:%M} local"
    text, style = {
        Status.LOGGED: (f"sent {when}, Task logged{moved}", "green"),
        Status.SENT: (f"sent {when}{moved}", "green"),
        Status.PLANNED: (f"planned for {when}{moved}", "cyan"),
        Status.CANCELLED: ("never sent: meeting deleted", "yellow"),
        Status.SKIPPED: (f"not sent: {row.reason}", "yellow"),
        Status.FAILED: (f"FAILED: {row.reason}", "red"),
        Status.IN_DOUBT: (f"in doubt: {row.reason}", "red"),
    }.get(row.status, (row.status.value, ""))
    return row.language or "", zone, text, style


def print_report(application: App, sf: Any, notes: dict[str, str], output: Path, ticks: int) -> None:
    """One row per meeting: when (client's zone), who, language, zone, what prepbot did and why."""
    by_event: dict[str, list[ActionRow]] = {}
    for row in application.ledger.rows(limit=100_000):
        if row.key.kind is MessageKind.CONFIRMATION:
            by_event.setdefault(row.key.event_id, []).append(row)
    table = Table(title=f"prepbot demo: {ticks} ticks over the simulated days", show_lines=False)
    for column in (
        "meeting (client's time)",
        "client",
        "owner",
        "lang",
        "zone",
        "confirmation",
        "what the rep did",
    ):
        table.add_column(column, overflow="fold")
    for event in _events(sf):
        rows = by_event.get(event["Id"], [])
        language, zone, text, style = _outcome(rows)
        start = _start_text(event, zone)
        who = (event.get("Who") or {}).get("Name", "—")
        owner = (event.get("Owner") or {}).get("Name", "")
        table.add_row(
            start + "\n" + (event.get("Subject") or "")[:40],
            who,
            owner,
            language,
            zone,
            f"[{style}]{text}[/{style}]",
            notes.get(event["Id"], ""),
        )
    console = Console(width=180)
    console.print(table)
    counts = application.ledger.counts_by_status()
    summary = ", ".join(f"{status.value} {count}" for status, count in counts.items() if count)
    console.print(f"ledger: {summary}")
    console.print(
        f"written to {output}/: outbox/*.eml (what the clients received), org/tasks.json "
        f"(the Tasks logged in the org), ledger.json (every decision), prepbot.toml"
    )


def _start_text(event: dict[str, Any], zone: str) -> str:
    if event.get("IsAllDayEvent"):
        return f"{event.get('ActivityDate')} (all day)"
    from datetime import datetime

    start = datetime.strptime(event["StartDateTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    return f"{to_local(start, recipient_zone(zone, None, 'UTC')):%a %d %b %H:%M}"
