"""APScheduler wiring only: ticks for sync and dispatch; the ledger, not the job store, decides."""

from __future__ import annotations

import logging
import signal
import time
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler

from prepbot.errors import PrepbotError
from prepbot.report import cycle_line

if TYPE_CHECKING:
    from prepbot.config import Settings
    from prepbot.roles import Member

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 60


def _cycle(name: str, member: Member) -> None:
    now, started = datetime.now(UTC), time.perf_counter()
    try:
        report = member.sync(now) if name == "sync" else member.dispatch(now)
    except PrepbotError as exc:
        # Retryable by design: the next tick tries again; nothing is lost because the ledger holds it.
        log.warning("%s failed, retried at the next tick: %s", name, exc)
        return
    if report is None:  # a planner standing by
        return
    took = cycle_line(report.meetings, time.perf_counter() - started)
    log.info("%s %s; %s%s", name, report.line(), took, _usage(member))
    for error in report.errors:
        log.warning("%s: %s", name, error)


def _usage(member: Member) -> str:
    """The org's daily API usage from the last response (Sforce-Limit-Info), for monitoring."""
    usage = member.api_usage()
    if usage is None:
        return ""
    used, limit = usage
    return f"; salesforce daily api usage {used}/{limit} ({used / max(limit, 1):.0%})"


def _heartbeat(member: Member) -> None:
    member.beat(datetime.now(UTC))


def build_scheduler(member: Member, settings: Settings) -> BlockingScheduler:
    """The role's interval jobs on ONE worker thread, so sync and dispatch never overlap.

    coalesce: missed runs collapse into one; max_instances=1: never two of the same job;
    misfire_grace_time: a run late by up to one interval still runs (the default of 1 s
    would silently drop runs after a pause, reliability.md fact 2). A heartbeat runs on a
    thread of its own, so a dispatch of thousands of rows does not make the process look dead.
    """
    from prepbot.roles import jobs_for

    schedule = settings.schedule
    intervals = {"sync": schedule.sync_interval_seconds, "dispatch": schedule.dispatch_interval_seconds}
    scheduler = BlockingScheduler(
        executors={"default": ThreadPoolExecutor(max_workers=1), "beat": ThreadPoolExecutor(max_workers=1)},
        timezone=UTC,
    )
    for name in jobs_for(member.role):
        seconds = intervals[name]
        scheduler.add_job(
            _cycle,
            "interval",
            seconds=seconds,
            args=(name, member),
            id=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=seconds,
            next_run_time=datetime.now(UTC),
        )
    # At most a minute apart: status sees the process, and a planner's lease session never idles out.
    beat = min(HEARTBEAT_SECONDS, *(intervals[name] for name in jobs_for(member.role)))
    scheduler.add_job(
        _heartbeat, "interval", seconds=beat, args=(member,), id="heartbeat", executor="beat", coalesce=True
    )
    return scheduler


def run_forever(member: Member, settings: Settings) -> None:
    """Block until SIGTERM or SIGINT, then let the running cycle finish, leave the cluster and stop."""
    scheduler = build_scheduler(member, settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        if not scheduler.running:  # a second signal while the first waits for the cycle
            return
        log.info("signal %s: stopping after the current batch", signum)
        member.cycles.request_stop()  # a long dispatch ends after its batch, not after all that is due
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "prepbot running as %s (role %s): %s",
        member.info.name,
        member.role,
        ", ".join(
            f"{job.id} every {job.trigger.interval.total_seconds():.0f}s" for job in scheduler.get_jobs()
        ),
    )
    scheduler.start()
    member.leave()
    log.info("%s stopped", member.info.name)
