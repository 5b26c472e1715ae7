"""The next query page, read in a thread while the caller works (issue 7): its value or its error."""

from __future__ import annotations

import threading

import pytest

from prepbot.crm.prefetch import Prefetch
from prepbot.errors import CrmUnavailableError


def test_the_call_runs_in_another_thread_and_its_value_comes_back() -> None:
    ran_in: list[str] = []

    def page() -> list[int]:
        ran_in.append(threading.current_thread().name)
        return [1, 2]

    ahead = Prefetch(page)
    assert ahead.result() == [1, 2]
    assert ran_in == ["prepbot-prefetch"]


def test_what_the_call_raised_is_raised_to_the_caller_when_it_asks() -> None:
    def page() -> list[int]:
        raise CrmUnavailableError("Salesforce query: 503", status=503)

    ahead = Prefetch(page)
    with pytest.raises(CrmUnavailableError, match="503"):
        ahead.result()
