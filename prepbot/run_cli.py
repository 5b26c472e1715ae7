"""`prepbot run`: the daemon, as one of several processes (planner, workers) sharing one ledger."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from prepbot.cli_options import ConfigOption

RUN_HELP = (
    "Run the daemon until SIGTERM: sync (read the org, plan) every sync_interval_seconds and dispatch "
    "(send what is due, log it on the records) every dispatch_interval_seconds.\n\n"
    "Roles, for several processes on one or more hosts sharing ONE PostgreSQL ledger "
    '(\\[ledger] url = "postgresql+psycopg://..."; see docs/deployment.md):\n\n'
    "all: sync and dispatch (the default; the only role you need with SQLite).\n\n"
    "planner: sync only, and only while it holds the planner lease (a PostgreSQL advisory lock). "
    "Run two on two hosts: one plans, the other logs 'standby' and takes over at its next sync "
    "after the first stops.\n\n"
    "worker: dispatch only. Run as many as the relay and the org allow; each claims due rows with "
    "SELECT ... FOR UPDATE SKIP LOCKED under a lease, fenced by an attempt counter, so a message "
    "is never sent twice.\n\n"
    "Every process writes a heartbeat to the ledger; 'prepbot status' lists them. A clean stop "
    "(SIGTERM, SIGINT) finishes the running cycle, releases the lease and leaves that list; a "
    "crashed process shows as stale, and its claims are recovered when their lease expires."
)


def run(
    config: ConfigOption = None,
    role: Annotated[
        str,
        typer.Option(
            envvar="PREPBOT_ROLE", help="all (sync + dispatch), planner (sync) or worker (dispatch)."
        ),
    ] = "all",
    name: Annotated[
        str | None,
        typer.Option(
            envvar="PREPBOT_NAME",
            help="This process's name in 'prepbot status' and on its claims (default HOST:PID); "
            "unique per process, stable across restarts (e.g. HOST-worker-1).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    from prepbot import cli
    from prepbot.roles import ROLES
    from prepbot.scheduler import run_forever

    if role not in ROLES:
        raise cli._fail(f"--role {role!r}: use one of {', '.join(ROLES)}", cli.EXIT_CONFIG)
    cli._setup_logging(verbose)
    settings = cli._settings(config)
    cli._preflight(settings)
    application = cli._build(settings)
    try:
        member = _member(application, role, name or default_name())
        with cli.long_lived_heap():
            run_forever(member, settings)
    finally:
        application.close()


def default_name() -> str:
    """``HOST:PID``: unique among live processes, but a restarted process gets a new one."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _member(application: Any, role: Any, name: str) -> Any:
    from prepbot.domain import WorkerInfo
    from prepbot.roles import Member

    # The service's claims carry this name, so 'prepbot status' can count each worker's claims.
    application.service.worker = name
    info = WorkerInfo(
        name=name, role=role, host=socket.gethostname(), pid=os.getpid(), started_at=datetime.now(UTC)
    )
    crm = application.crm
    return Member(
        ledger=application.ledger,
        cycles=application.service,
        info=info,
        role=role,
        api_usage=lambda: crm.api_usage,
    )
