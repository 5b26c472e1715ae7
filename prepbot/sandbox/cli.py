"""`prepbot sandbox serve`: run the sandbox org in the foreground (Typer sub-app `sandbox_app`)."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from prepbot.sandbox.limits import DEFAULT_DAILY_API_LIMIT

log = logging.getLogger(__name__)
sandbox_app = typer.Typer(
    help="A local Salesforce-compatible org (HTTPS) with an SMTP sink.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

CONFIG_TEMPLATE = """\
# Written by `prepbot sandbox serve` — points prepbot at the local sandbox org.
[salesforce]
auth = "session"
instance_url = "{instance_url}"
session_id_file = "{token_file}"   # file holding the token (mode 0600)
ca_bundle = "{ca_bundle}"
api_version = "62.0"

[smtp]
host = "{smtp_host}"
port = {smtp_port}
security = "none"

[ledger]
url = "sqlite:///{ledger}"
"""


def write_config_file(
    path: Path,
    *,
    instance_url: str,
    token_file: Path,
    ca_bundle: Path,
    smtp_host: str,
    smtp_port: int,
    state_dir: Path,
) -> None:
    """Write the prepbot TOML config pointing at a running sandbox."""
    text = CONFIG_TEMPLATE.format(
        instance_url=instance_url,
        token_file=token_file,
        ca_bundle=ca_bundle,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        ledger=state_dir / "ledger.sqlite",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_sandbox_config(
    path: Path, org: Any, state_dir: Path, *, smtp: tuple[str, int] | None = None, extra: str = ""
) -> Path:
    """:func:`write_config_file` for a running sandbox, then ``extra`` TOML appended.

    ``org`` is an in-process :class:`~prepbot.sandbox.runner.SandboxHandle` or a
    :class:`~prepbot.sandbox.runner.SandboxProcess` (whose JSON line carries the same names);
    ``smtp`` sends mail to another relay than the sandbox's sink.
    """
    host, port = smtp or (org.smtp_host, org.smtp_port)
    write_config_file(
        path,
        instance_url=org.instance_url,
        token_file=Path(org.token_file),
        ca_bundle=Path(org.ca_bundle),
        smtp_host=host,
        smtp_port=port,
        state_dir=state_dir,
    )
    if extra:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(extra)
    return path


@sandbox_app.callback()
def _main() -> None:
    """A local Salesforce-compatible org for demos and tests."""


@sandbox_app.command()
def serve(
    seed: Annotated[
        list[Path] | None, typer.Option(help="Seed JSON file (repeatable); loaded into an empty org.")
    ] = None,
    state: Annotated[
        Path | None, typer.Option(help="State folder (SQLite, CA, token); default: a temp dir.")
    ] = None,
    port: Annotated[int, typer.Option(help="HTTPS port on 127.0.0.1 (0 = any free port).")] = 0,
    smtp_port: Annotated[int, typer.Option(help="SMTP sink port (0 = any free port).")] = 0,
    outbox: Annotated[
        Path | None, typer.Option(help="Folder for received .eml files (default <state>/outbox).")
    ] = None,
    write_config: Annotated[
        Path | None, typer.Option("--write-config", help="Write a prepbot config here.")
    ] = None,
    daily_api_limit: Annotated[int, typer.Option(help="DailyApiRequests maximum.")] = DEFAULT_DAILY_API_LIMIT,
) -> None:
    """Serve until SIGINT/SIGTERM; print one JSON line with the connection details once ready."""
    from prepbot.sandbox.runner import start_sandbox

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    tmp = None if state else Path(tempfile.mkdtemp(prefix="prepbot-sandbox-"))
    state_dir = (state or tmp or Path(".")).resolve()
    stop = _stop_on_signals()
    handle = start_sandbox(
        seeds=seed or [],
        state_dir=state_dir,
        outbox=outbox.resolve() if outbox else None,
        port=port,
        smtp_port=smtp_port,
        daily_api_limit=daily_api_limit,
    )
    try:
        if write_config:
            write_sandbox_config(write_config.resolve(), handle, state_dir)
        info = {
            "instance_url": handle.instance_url,
            "access_token": handle.access_token,
            "ca_bundle": str(handle.ca_bundle),
            "smtp_host": handle.smtp_host,
            "smtp_port": handle.smtp_port,
            "outbox": str(handle.outbox),
            "config": str(write_config.resolve()) if write_config else None,
        }
        print(json.dumps(info), flush=True)
        _wait(stop)
        log.info("sandbox shutting down")
    finally:
        handle.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@sandbox_app.command()
def smtp(
    port: Annotated[int, typer.Option(help="SMTP port on 127.0.0.1 (0 = any free port).")] = 0,
    outbox: Annotated[
        Path | None, typer.Option(help="Folder for received .eml files (default: a temp dir).")
    ] = None,
) -> None:
    """Serve an SMTP sink alone, in its own process, until SIGINT/SIGTERM.

    A stand-in for a mail relay on a machine of its own: the org's HTTPS work never holds up its
    replies (in `serve`, the sink shares one Python process with the org). Prints one JSON line
    (smtp_host, smtp_port, outbox) once it listens; point `[smtp]` at it. The benchmarks send to it.
    """
    from prepbot.sandbox.smtp_sink import SmtpSink

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    tmp = None if outbox else Path(tempfile.mkdtemp(prefix="prepbot-sink-"))
    folder = (outbox or tmp or Path(".")).resolve()
    stop = _stop_on_signals()
    sink: SmtpSink | None = None
    try:
        try:
            sink = SmtpSink(folder, port=port)
            sink.start()
        except (OSError, RuntimeError) as exc:
            typer.echo(
                f"smtp sink: cannot store into {folder} or listen on 127.0.0.1:{port}: {exc}", err=True
            )
            raise typer.Exit(1) from None
        print(json.dumps({"smtp_host": sink.host, "smtp_port": sink.port, "outbox": str(folder)}), flush=True)
        _wait(stop)
        log.info("smtp sink shutting down")
    finally:
        if sink is not None:
            sink.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (the foreground commands stop cleanly on either)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def _wait(stop: threading.Event) -> None:
    while not stop.wait(0.5):
        pass
