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
    _write_notes(org / "notes", sf, events)


def _write_notes(folder: Path, sf: Any, events: list[dict[str, Any]]) -> None:
    """Each prep note as an .html file (what the rep sees on the opportunity), named by Event Id."""
    folder.mkdir(exist_ok=True)
    notes = sf.query_all("SELECT Id, Title FROM ContentNote ORDER BY CreatedDate")["records"]
    index = []
    for note in notes:
        body = sf.ContentNote.get_base64(note["Id"], base64_field="Content")
        html = body.decode("utf-8") if isinstance(body, bytes) else str(body)
        (folder / f"{note['Id']}.html").write_text(f"<h1>{note['Title']}</h1>\n{html}\n", encoding="utf-8")
        index.append({"note_id": note["Id"], "title": note["Title"], "file": f"{note['Id']}.html"})
    (folder / "index.json").write_text(json.dumps(index, indent=2, ensure_ascii=False), encoding="utf-8")


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


def _scripts_by_event(application: App, event_ids: list[str]) -> dict[str, str]:
    """Which fallback scripts each meeting's prep note carries (the playbook's choice, as the note has it)."""
    from prepbot.playbooks import choose_scripts, load_playbook

    playbook = load_playbook(application.settings.playbooks.file)
    found: dict[str, str] = {}
    for start in range(0, len(event_ids), 200):
        for event_id, meeting in application.crm.meetings_by_id(event_ids[start : start + 200]).items():
            language = (meeting.owner.language if meeting.owner else None) or "en"
            chosen = choose_scripts(meeting, playbook, language=language[:2])
            found[event_id] = (
                ", ".join(choice.script.replace("_", " ") for choice in chosen) or "no script fits"
            )
    return found


def _follow_up(rows: list[ActionRow]) -> str:
    """The no-show follow-up of one meeting, in a few words."""
    parts = []
    for row in sorted(rows, key=lambda r: r.key.kind.value):
        what = "owner Task" if row.key.kind is MessageKind.NO_SHOW_TASK else "email to client"
        done = row.status in (Status.LOGGED, Status.SENT)
        parts.append(
            f"{what}: {'done' if done else row.status.value + (' ' + row.reason if row.reason else '')}"
        )
    return "no-show → " + "; ".join(parts) if parts else ""


def print_report(application: App, sf: Any, notes: dict[str, str], output: Path, ticks: int) -> None:
    """One row per meeting: when (client's zone), who, language, zone, what prepbot did and why."""
    by_event: dict[str, list[ActionRow]] = {}
    follow_ups: dict[str, list[ActionRow]] = {}
    for row in application.ledger.rows(limit=100_000):
        target = by_event if row.key.kind is MessageKind.CONFIRMATION else follow_ups
        target.setdefault(row.key.event_id, []).append(row)
    events = _events(sf)
    live = [e["Id"] for e in events if not e.get("IsDeleted")]
    scripts = _scripts_by_event(application, live)
    table = Table(title=f"prepbot demo: {ticks} ticks over the simulated days", show_lines=True)
    for column in (
        "meeting (client's time)",
        "client · language · zone",
        "owner",
        "day-before message",
        "prep note: fallback scripts",
        "what the rep did · follow-up",
    ):
        table.add_column(column, overflow="fold")
    for event in events:
        language, zone, text, style = _outcome(by_event.get(event["Id"], []))
        who = (event.get("Who") or {}).get("Name", "—")
        owner = (event.get("Owner") or {}).get("Name", "")
        extra = "\n".join(
            x for x in (notes.get(event["Id"], ""), _follow_up(follow_ups.get(event["Id"], []))) if x
        )
        table.add_row(
            _start_text(event, zone) + "\n" + (event.get("Subject") or "")[:40],
            f"{who}\n{language} · {zone}",
            owner,
            f"[{style}]{text}[/{style}]",
            scripts.get(event["Id"], "—"),
            extra,
        )
    console = Console(width=170)
    console.print(table)
    counts = application.ledger.counts_by_status()
    summary = ", ".join(f"{status.value} {count}" for status, count in counts.items() if count)
    console.print(f"ledger: {summary}")
    console.print(
        f"written to {output}/: outbox/*.eml (what the clients received), org/tasks.json (Tasks in the org: "
        "logged emails and the owners' call Tasks), org/notes/*.html (the prep notes on the opportunities), "
        "ledger.json (every decision), prepbot.toml"
    )


def _start_text(event: dict[str, Any], zone: str) -> str:
    if event.get("IsAllDayEvent"):
        return f"{event.get('ActivityDate')} (all day)"
    from datetime import datetime

    start = datetime.strptime(event["StartDateTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    return f"{to_local(start, recipient_zone(zone, None, 'UTC')):%a %d %b %H:%M}"
