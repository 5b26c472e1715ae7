"""APScheduler wiring only: ticks for sync and dispatch; the ledger, not the job store, decides."""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from prepbot.errors import PrepbotError

if TYPE_CHECKING:
    from prepbot.app import App
    from prepbot.config import Settings

log = logging.getLogger(__name__)


def _cycle(name: str, application: App) -> None:
    now = datetime.now(UTC)
    service = application.service
    try:
        report = service.sync(now) if name == "sync" else service.dispatch(now)
    except PrepbotError as exc:
        # Retryable by design: the next tick tries again; nothing is lost because the ledger holds it.
        log.warning("%s failed, retried at the next tick: %s", name, exc)
        return
    log.info("%s %s", name, report.line())
    for error in report.errors:
        log.warning("%s: %s", name, error)


def build_scheduler(application: App, settings: Settings) -> BlockingScheduler:
    """Two interval jobs on ONE worker thread, so sync and dispatch never overlap.

    coalesce: missed runs collapse into one; max_instances=1: never two of the same job;
    misfire_grace_time: a run late by up to one interval still runs (the default of 1 s
    would silently drop runs after a pause, reliability.md fact 2).
    """
    schedule = settings.schedule
    scheduler = BlockingScheduler(executors={"default": ThreadPoolExecutor(max_workers=1)}, timezone=UTC)
    for name, seconds in (
        ("sync", schedule.sync_interval_seconds),
        ("dispatch", schedule.dispatch_interval_seconds),
    ):
        scheduler.add_job(
            _cycle,
            "interval",
            seconds=seconds,
            args=(name, application),
            id=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=seconds,
            next_run_time=datetime.now(UTC),
        )
    return scheduler


def run_forever(application: App, settings: Settings) -> None:
    """Block until SIGTERM or SIGINT, then let the running cycle finish and stop."""
    scheduler = build_scheduler(application, settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the current cycle", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("prepbot running: sync every %ss, dispatch every %ss", *_intervals(settings))
    scheduler.start()


def _intervals(settings: Settings) -> tuple[int, int]:
    return settings.schedule.sync_interval_seconds, settings.schedule.dispatch_interval_seconds
