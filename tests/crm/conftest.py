"""Fixtures of the adapter's contract tests: a SalesforceCrm on a sandbox, with recorded sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from prepbot.crm.salesforce import SalesforceCrm, SessionAuth
from tests.crm.orgdata import MAPPING


class FakeClock:
    """A monotonic clock the tests move by hand (for the REQUEST_LIMIT_EXCEEDED back-off)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sleeps() -> list[float]:
    """Every back-off the adapters made, in seconds (nothing really sleeps)."""
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def crm_for(sleeps: list[float], clock: FakeClock) -> Iterator[Callable[..., SalesforceCrm]]:
    """``crm_for(sandbox, **kwargs)``: a SalesforceCrm on that sandbox (session auth by default)."""
    made: list[SalesforceCrm] = []

    def make(sandbox: Any, **kwargs: Any) -> SalesforceCrm:
        kwargs.setdefault("auth", SessionAuth(sandbox.access_token))
        kwargs.setdefault("fields", MAPPING)
        crm = SalesforceCrm(
            instance_url=sandbox.instance_url,
            ca_bundle=str(sandbox.ca_bundle),
            sleep=sleeps.append,
            clock=clock,
            **kwargs,
        )
        made.append(crm)
        return crm

    yield make
    for crm in made:
        crm.close()
