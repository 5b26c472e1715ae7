"""The prepbot command line (Typer): parse -> build the app -> call -> print. Heavy imports stay lazy."""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prepbot.cli_options import ConfigOption

if TYPE_CHECKING:
    from prepbot.app import App
    from prepbot.config import Settings

EXIT_OK, EXIT_PROBLEMS, EXIT_CONFIG, EXIT_UNAVAILABLE = 0, 1, 2, 3

app = typer.Typer(
    name="prepbot",
    help=(
        "prepbot prepares sales meetings held in Salesforce: the day before each meeting it sends the "
        "client an indirect confirmation from the meeting's owner, in the client's language and time "
        "zone; it puts a prep note with the fallback scripts that fit the meeting on the opportunity; "
        "after a no-show it gives the owner a call script and writes to the client without blame; and "
        "it logs all of it on the records.\n\n"
        "Start with 'prepbot demo' (a sandbox org, nothing leaves this machine), then "
        "'prepbot config check' and 'prepbot templates check' against your own config.\n\n"
        "Exit codes: 0 done; 1 done, but some meetings failed (see 'prepbot log'); 2 bad configuration; "
        "3 the org, the relay or the ledger could not be reached."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Rich's help renderer (and markdown-it under it) cost ~150 ms of every `--help`.
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Check the configuration.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(config_app, name="config")


def _register_sandbox() -> None:
    from prepbot.sandbox.cli import sandbox_app

    app.add_typer(
        sandbox_app,
        name="sandbox",
        help="A local Salesforce-compatible org with an SMTP sink, for trying prepbot and for tests.",
    )


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"prepbot: {message}", err=True)
    return typer.Exit(code)


def _settings(path: Path | None) -> Settings:
    from prepbot.config import load_config
    from prepbot.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(f"configuration problem:\n{exc}", EXIT_CONFIG) from None


def _build(settings: Settings) -> App:
    from prepbot.app import build_app
    from prepbot.errors import ConfigError, LedgerError

    try:
        return build_app(settings)
    except ConfigError as exc:
        raise _fail(f"configuration problem:\n{exc}", EXIT_CONFIG) from None
    except LedgerError as exc:
        raise _fail(f"ledger unavailable: {exc}", EXIT_UNAVAILABLE) from None


def _parse_now(now: str | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--now {now!r} is not an ISO 8601 instant (e.g. 2026-12-01T09:00:00+01:00)", 2) from None
    if parsed.tzinfo is None:
        raise _fail("--now needs a UTC offset (e.g. 2026-12-01T09:00:00Z)", 2)
    return parsed.astimezone(UTC)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Migrations and the HTTP stack narrate every step at INFO; keep the progress lines readable.
    for noisy in ("alembic", "urllib3", "aiosmtpd", "mail.log", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def tick(
    config: ConfigOption = None,
    now: Annotated[
        str | None, typer.Option(help="Act as if the clock read this ISO 8601 instant (default: now).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Run one cycle: read the meetings ahead, plan, send what is due, log it. Safe to repeat."""
    from prepbot.errors import LedgerError
    from prepbot.report import cycle_line

    _setup_logging(verbose)
    at = _parse_now(now)
    settings = _settings(config)
    _preflight(settings)
    application = _build(settings)
    try:
        started = time.perf_counter()
        with long_lived_heap():
            report = application.service.tick(at)
        seconds = time.perf_counter() - started  # the cycle itself, as `prepbot run` runs each one
    except LedgerError as exc:
        raise _fail(f"ledger unavailable: {exc}", EXIT_UNAVAILABLE) from None
    finally:
        application.close()
    typer.echo(f"{at.isoformat()} {report.line()}")
    typer.echo(f"  {cycle_line(report.meetings, seconds)}")
    typer.echo(f"  {_api_line(application, report.counts.get('note_deferred', 0))}")
    for error in report.errors:
        typer.echo(f"  ! {error}", err=True)
    if report.errors or report.counts.get("failed"):
        raise typer.Exit(EXIT_PROBLEMS)


def _api_line(application: App, deferred: int) -> str:
    """The cycle's Salesforce API calls and the org's daily usage (reliability F5, F8)."""
    crm = application.crm
    line = f"salesforce api: {crm.calls_made} calls this cycle"
    if crm.api_usage is not None:
        used, limit = crm.api_usage
        line += f"; daily usage {used}/{limit} ({used / max(limit, 1):.0%})"
    if deferred:
        share = application.settings.salesforce.optional_work_below_usage
        line += f"; {deferred} prep notes deferred (usage at or above {share:.0%})"
    return line


@app.command("log")
def log_command(
    config: ConfigOption = None,
    event: Annotated[str | None, typer.Option(help="Only this Event Id.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only this status (planned, sent, skipped, ...).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 500,
    day: Annotated[
        str | None, typer.Option("--day", help="Only meetings on this day (YYYY-MM-DD, org time zone).")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only rows changed since this date or ISO 8601 instant.")
    ] = None,
) -> None:
    """Show every meeting's decision with its reason (newest first)."""
    from prepbot.admin_cli import log_filter
    from prepbot.domain import Status
    from prepbot.ledger.sql import SqlLedger

    settings = _settings(config)
    try:
        wanted = Status(status) if status else None
    except ValueError:
        raise _fail(
            f"unknown status {status!r}; use one of: {', '.join(s.value for s in Status)}", 2
        ) from None
    ledger = SqlLedger(settings.ledger.url)
    try:
        keep, since_at = log_filter(settings, day, since)
        rows = ledger.rows(event_id=event, status=wanted, since=since_at, limit=None if day else limit)
        rows = [row for row in rows if keep(row)][:limit]
    finally:
        ledger.close()
    if as_json:
        for row in rows:
            typer.echo(json.dumps(_row_json(row), ensure_ascii=False))
        return
    _print_rows(rows)


def _row_json(row: Any) -> dict[str, Any]:
    from prepbot.admin_views import row_json

    return row_json(row)


def _print_rows(rows: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"prepbot ledger ({len(rows)} rows, newest first; times UTC)")
    table.add_column("event", no_wrap=True)
    table.add_column("meeting", no_wrap=True)
    table.add_column("recipient", overflow="fold")
    table.add_column("kind")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    for row in rows:
        table.add_row(
            row.key.event_id,
            row.key.occurrence.replace("T", " ").removesuffix(":00Z"),
            row.key.recipient,
            row.key.kind.value,
            row.status.value,
            _detail(row),
        )
    Console().print(table)


def _detail(row: Any) -> str:
    if row.sent_at is not None:
        sent = f"sent {row.sent_at:%Y-%m-%d %H:%M}"
        return f"{sent}; {row.reason}" if row.reason else sent
    if row.status.value == "planned":
        due = f"due {row.due_at:%Y-%m-%d %H:%M}"
        return f"{due}; {row.reason}" if row.reason else due
    return str(row.reason)


@app.command("no-show")
def no_show(
    event_id: Annotated[
        str, typer.Argument(help="The Salesforce Id of the Event the client did not come to.")
    ],
    config: ConfigOption = None,
    now: Annotated[
        str | None, typer.Option(help="Act as if the clock read this ISO 8601 instant (default: now).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Follow up a missed meeting now: a call Task for its owner and, by config, a kind email to the
    client. Works whether or not the meeting is marked as a no-show in Salesforce. Safe to repeat:
    each is done once. (Anything else due at this moment is sent too, as a tick would.)"""
    from prepbot.errors import LedgerError

    _setup_logging(verbose)
    at = _parse_now(now)
    application = _build(_settings(config))
    try:
        code = _follow_up(application, event_id, at)
    except LedgerError as exc:
        raise _fail(f"ledger unavailable: {exc}", EXIT_UNAVAILABLE) from None
    finally:
        application.close()
    raise typer.Exit(code)


def _follow_up(application: App, event_id: str, at: datetime) -> int:
    from prepbot.app import build_no_show_flow
    from prepbot.errors import ConfigError
    from prepbot.flows.noshow import NoShowFlow, has_started

    service = application.service
    flow = next((f for f in service.flows if isinstance(f, NoShowFlow)), None)
    if flow is None:  # switched off for ticks; the command still works when asked by name
        try:
            flow = build_no_show_flow(
                application.settings, application.crm, application.ledger, application.transport
            )
        except ConfigError as exc:
            raise _fail(f"configuration problem:\n{exc}", EXIT_CONFIG) from None
        service.flows.append(flow)
    meeting = _read_meeting(application, event_id)
    if not has_started(meeting, at):
        start = meeting.start_at.isoformat() if meeting.start_at else str(meeting.activity_date)
        raise _fail(f"the meeting {event_id} has not started yet (it starts {start}); nothing was done", 2)
    added = flow.plan(meeting, at)
    report = service.dispatch(at)
    rows = flow.outcomes(meeting, at)
    if not added:
        typer.echo(f"{meeting.event_id}: already followed up earlier; nothing new was done.")
    for row in rows:
        typer.echo(f"  {_describe_follow_up(row)}")
    for error in report.errors:
        typer.echo(f"  ! {error}", err=True)
    return EXIT_PROBLEMS if any(row.status.value == "failed" for row in rows) else EXIT_OK


def _read_meeting(application: App, event_id: str) -> Any:
    from prepbot.errors import CrmError, CrmQueryError

    try:
        found = application.crm.meetings_by_id([event_id])
    except CrmQueryError as exc:
        raise _fail(f"{event_id!r} is not an Event Id the org knows ({exc.error_code or exc})", 2) from None
    except CrmError as exc:
        raise _fail(f"org unavailable: {exc}", EXIT_UNAVAILABLE) from None
    meeting = found.get(event_id) or next(
        (m for m in found.values() if m.event_id[:15] == event_id[:15]), None
    )
    if meeting is None:
        raise _fail(f"no Event with Id {event_id} (deleted, or not visible to prepbot's user)", 2)
    return meeting


_FOLLOW_UP_WORDS = {
    ("no_show_task", "logged"): "Task created for the owner ({crm_id}): call the client.",
    ("no_show_email", "logged"): "Email sent to {recipient} and logged ({crm_id}).",
    ("no_show_email", "sent"): "Email sent to {recipient} (not logged on the records yet).",
    ("no_show_email", "skipped"): "Email not sent to {recipient}: {reason}.",
    ("no_show_email", "planned"): "Email to {recipient} waiting: {reason}; tried again later.",
    ("no_show_task", "planned"): "Task waiting: {reason}; tried again later.",
}


def _describe_follow_up(row: Any) -> str:
    kind, status = row.key.kind.value, row.status.value
    words = _FOLLOW_UP_WORDS.get(
        (kind, status), f"{kind.replace('_', ' ')}: {status}" + " ({reason})" * bool(row.reason)
    )
    return words.format(recipient=row.key.recipient, crm_id=row.crm_id or "", reason=row.reason or status)


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the configuration; name each bad or missing key and how to fix it (exit 2 if any)."""
    settings = _settings(config)
    from prepbot.app import build_composer
    from prepbot.errors import ConfigError

    try:
        build_composer(settings)
        if settings.salesforce.auth == "jwt":
            settings.private_key_pem()
        settings.session_id()
        settings.consumer_secret()
        settings.smtp_password()
    except ConfigError as exc:
        raise _fail(f"configuration problem:\n{exc}", EXIT_CONFIG) from None
    typer.echo(
        f"{settings.source}: OK (auth {settings.salesforce.auth}, org {settings.salesforce.instance_url})"
    )


@app.command()
def demo(
    output: Annotated[
        Path, typer.Option(help="Folder for the outbox and what was written to the org.")
    ] = Path("demo-output"),
    days: Annotated[int, typer.Option(help="How many days to simulate.", min=1, max=7)] = 2,
) -> None:
    """Start the sandbox org with the demo data, simulate two days of ticks, and show what happened."""
    from prepbot.demo import run_demo

    raise typer.Exit(run_demo(output, days=days))


# Allocations between two young-generation collections while a cycle runs (Python's default: 700).
# A cycle keeps thousands of young objects alive at a time (a chunk's meetings and rows), which every
# young collection walks: 477 collections and 160 ms in a 3,000-meeting tick at 700, 30 and 78 ms at
# 7,000 (issue 7). The garbage a cycle makes is freed by reference counting; few cycles wait longer.
CYCLE_GC_THRESHOLD = 10_000


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """Start-up's objects (modules, compiled templates, the app) live as long as the process: kept
    out of the garbage collector's scans while the block runs (``gc.freeze``), so a full collection
    looks only at what the cycle allocates (issue 7: two thirds of the collector's time in a tick);
    and the young generation is collected every ``CYCLE_GC_THRESHOLD`` allocations, not every 700."""
    gc.freeze()
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], CYCLE_GC_THRESHOLD), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _preflight(settings: Settings) -> None:
    from prepbot.admin_cli import preflight

    preflight(settings)


def main() -> None:
    """Console-script entry point."""
    _register_sandbox()
    try:
        app()
    finally:
        # The process ends here, and every resource was closed by the command. Without this, the
        # interpreter's last collections walk the whole heap (modules, templates, what the cycle
        # left) object by object: 0.3 s after a 1,000-meeting tick (issue 7). The OS frees it all.
        gc.freeze()


def _register_admin() -> None:
    from prepbot.admin_cli import register
    from prepbot.run_cli import RUN_HELP, run

    app.command("run", help=RUN_HELP)(run)
    register(app)


_register_admin()  # run (prepbot/run_cli.py); templates, preview, plan, send-test, status (admin_cli.py)
