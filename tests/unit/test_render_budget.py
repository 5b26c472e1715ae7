"""The render time budget counts the rendering thread's CPU time, not the wall clock."""

from __future__ import annotations

import time

import pytest
from jinja2.exceptions import SecurityError

from prepbot.template_sandbox import check_deadline, reset_deadline, set_deadline


def burn_cpu(seconds: float) -> None:
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass


def test_a_render_paused_longer_than_its_budget_is_not_failed() -> None:
    token = set_deadline(0.05)
    try:
        time.sleep(0.2)  # SIGSTOP, a stalled host, other processes on the core: no CPU used
        check_deadline()
        check_deadline()  # and again after the wall-clock screen was moved on
    finally:
        reset_deadline(token)


def test_a_render_that_uses_its_budget_of_cpu_is_stopped() -> None:
    token = set_deadline(0.05)
    try:
        time.sleep(0.1)
        check_deadline()  # paused, so far within budget
        burn_cpu(0.06)
        with pytest.raises(SecurityError, match="render time limit"):
            check_deadline()
    finally:
        reset_deadline(token)


def test_outside_a_render_there_is_no_budget() -> None:
    burn_cpu(0.01)
    check_deadline()
