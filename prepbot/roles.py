"""A `prepbot run` process on a shared ledger: its role, its heartbeat, and the planner lease."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from prepbot.domain import WorkerInfo
from prepbot.errors import PrepbotError

if TYPE_CHECKING:
    from prepbot.ports import Ledger, PlannerLease
    from prepbot.report import Report

log = logging.getLogger(__name__)

Role = Literal["all", "planner", "worker"]
ROLES: tuple[Role, ...] = ("all", "planner", "worker")
# The heartbeat's role says whether a planner leads right now ("planner:leader") or waits
# ("planner:standby"), so `prepbot status` can tell which process plans without a column of its own.
LEADER, STANDBY = "leader", "standby"


class Cycles(Protocol):
    """What a role runs: the service's two cycles."""

    def sync(self, now: datetime) -> Report: ...

    def dispatch(self, now: datetime) -> Report: ...

    def request_stop(self) -> None: ...


def jobs_for(role: Role) -> tuple[str, ...]:
    """The scheduler jobs of a role: a planner syncs (reads the org, plans), a worker dispatches."""
    return {"all": ("sync", "dispatch"), "planner": ("sync",), "worker": ("dispatch",)}[role]


def split_role(reported: str) -> tuple[str, str]:
    """``"planner:leader"`` -> ``("planner", "leader")``; ``"worker"`` -> ``("worker", "")``."""
    role, _, state = reported.partition(":")
    return role, state


class Member:
    """One process's part in the cluster: heartbeats, and syncs only while it holds the planner lease.

    Several planners may run (one per host, for failover); the lease lets one of them plan at a
    time. Should two plan at once anyway (a lease lost mid-sync), the ledger's UNIQUE key absorbs
    the double plan (reliability C7).
    """

    def __init__(
        self,
        *,
        ledger: Ledger,
        cycles: Cycles,
        info: WorkerInfo,
        role: Role,
        api_usage: Callable[[], tuple[int, int] | None] = lambda: None,
    ) -> None:
        self.ledger = ledger
        self.cycles = cycles
        self.role = role
        self.api_usage = api_usage  # the org's daily API (used, limit), as last reported, for the logs
        self.info = info if role == "worker" else replace(info, role=f"{role}:{STANDBY}")
        self.lease: PlannerLease | None = None if role == "worker" else ledger.planner_lease(info.name)
        self.leading = False

    def heartbeat(self, now: datetime) -> None:
        """Tell the ledger this process is alive; a failure is logged, the next tick tries again."""
        try:
            self.ledger.heartbeat(self.info, now)
        except PrepbotError as exc:
            log.warning("heartbeat failed, retried at the next tick: %s", exc)

    def beat(self, now: datetime) -> None:
        """The heartbeat between cycles: a leading planner also checks its lease, which keeps the
        lease's session from ending as idle (PostgreSQL idle_session_timeout) during a long wait."""
        if self.leading and self.lease is not None and not self.lease.held():
            self._now_leading(False, now)
        self.heartbeat(now)

    def sync(self, now: datetime) -> Report | None:
        """Plan, if this process leads; None when it stands by (another planner holds the lease).

        Raises:
            PrepbotError: the sync failed (retryable: the next tick tries again).
        """
        self.heartbeat(now)
        if not self._lead(now):
            return None
        return self.cycles.sync(now)

    def dispatch(self, now: datetime) -> Report:
        """Send what is due (claims under a lease, fenced by the claim's attempt).

        Raises:
            PrepbotError: the dispatch failed (retryable: the next tick tries again).
        """
        self.heartbeat(now)
        return self.cycles.dispatch(now)

    def _lead(self, now: datetime) -> bool:
        """Hold the lease: re-checked before every sync, since a lost connection loses the lock."""
        assert self.lease is not None, "a worker has no sync job"
        try:
            leading = self.lease.held() or self.lease.acquire()
        except (PrepbotError, OSError) as exc:  # OSError: SQLite's lock file cannot be created
            log.warning("planner lease unavailable, retried at the next tick: %s", exc)
            leading = False
        if leading != self.leading:
            self._now_leading(leading, now)
        if not leading:
            log.info("standby: another planner leads; %s checks again at the next sync", self.info.name)
        return leading

    def _now_leading(self, leading: bool, now: datetime) -> None:
        self.leading = leading
        self.info = replace(self.info, role=f"{self.role}:{LEADER if leading else STANDBY}")
        self.heartbeat(now)
        log.info("%s %s", self.info.name, "plans (holds the planner lease)" if leading else "lost the lease")

    def leave(self) -> None:
        """On a clean stop: give up the lease and leave the workers list (a crash leaves a stale entry)."""
        for step in (self._release, lambda: self.ledger.forget_worker(self.info.name)):
            _quietly(step, "leaving the cluster")

    def _release(self) -> None:
        if self.lease is not None:
            self.lease.release()


def _quietly(step: Callable[[], None], what: str) -> None:
    try:
        step()
    except PrepbotError as exc:
        log.warning("%s: %s", what, exc)
