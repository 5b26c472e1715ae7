"""Reliability fixtures: ``crash_org``, one sandbox org (HTTPS + SMTP sink) per test module.

Crash scenarios share it and keep apart by time: each scene (tests/reliability/crash_env.py) puts
its meetings in a week of its own and has its own ledger, so a scene never sees another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import FIELDS, OWNERS


@pytest.fixture(scope="module")
def crash_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A running sandbox org with the e2e owners and the contact language/zone fields."""
    from prepbot.sandbox.runner import start_sandbox

    handle = start_sandbox(
        seed_data={"$fields": FIELDS, "User": OWNERS}, state_dir=tmp_path_factory.mktemp("crash-org")
    )
    yield handle
    handle.stop()
