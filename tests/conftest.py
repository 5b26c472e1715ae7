"""Shared fixtures: an in-thread sandbox org (HTTPS + SMTP sink) for any test that needs Salesforce.

Fixtures:
    sandbox_seed: the seed dict the `sandbox` fixture loads. Default: one active running User
        (``@runner``, Europe/Amsterdam). Override it in a test module or conftest to seed your own
        org (format: see `prepbot.sandbox.store`), e.g.::

            @pytest.fixture
            def sandbox_seed():
                return {"User": [{"$key": "me", "Username": "me@x.test", "LastName": "Me", ...}],
                        "Contact": [...]}

    sandbox: a started `prepbot.sandbox.runner.SandboxHandle` (temp state folder), stopped after the
        test. Useful members: ``instance_url``, ``access_token``, ``ca_bundle``, ``client()`` (an
        unmodified simple_salesforce.Salesforce), ``session()``, ``store``, ``faults``, ``api_calls``,
        ``emails``, ``smtp_host``/``smtp_port``/``outbox``/``smtp_messages``, ``expire_tokens()``,
        ``set_now(dt)``.
    sandbox_factory: ``sandbox_factory(**start_sandbox_kwargs)`` starts further sandboxes (other
        seeds, a fixed clock, a state folder to restart from); all are stopped after the test.
    pg_url: a PostgreSQL URL for the whole session: PREPBOT_TEST_PG_URL when set, else a throwaway
        server (tests/pgserver.py) started on first use and stopped at the end. Guard tests with
        ``PG_AVAILABLE`` (skip when neither exists). Tests share the database: reset what you use.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pgserver

PG_ENV_URL = os.environ.get("PREPBOT_TEST_PG_URL", "")
PG_AVAILABLE = bool(PG_ENV_URL) or pgserver.bindir() is not None
PG_SKIP_REASON = "no PostgreSQL: PREPBOT_TEST_PG_URL is not set and no server binaries are installed"

RUNNING_USER: dict[str, Any] = {
    "$key": "runner",
    "Username": "integration@sandbox.prepbot.test",
    "FirstName": "Integration",
    "LastName": "User",
    "Email": "integration@sandbox.prepbot.test",
    "Alias": "integ",
    "IsActive": True,
    "TimeZoneSidKey": "Europe/Amsterdam",
    "LocaleSidKey": "nl_NL",
    "LanguageLocaleKey": "nl_NL",
    "EmailEncodingKey": "UTF-8",
}


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    """The org the `sandbox` fixture starts with (override per module)."""
    return {"User": [dict(RUNNING_USER)]}


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Any]]:
    """Start sandboxes with `start_sandbox` keyword arguments; stop them all at teardown."""
    from prepbot.sandbox.runner import start_sandbox

    handles: list[Any] = []

    def start(**kwargs: Any) -> Any:
        handle = start_sandbox(**kwargs)
        handles.append(handle)
        return handle

    yield start
    for handle in reversed(handles):
        handle.stop()


@pytest.fixture
def sandbox(sandbox_factory: Callable[..., Any], sandbox_seed: dict[str, Any]) -> Any:
    """A running sandbox org seeded with `sandbox_seed`."""
    return sandbox_factory(seed_data=sandbox_seed)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """PREPBOT_TEST_PG_URL, or a PostgreSQL server of this test session (stopped at its end)."""
    if PG_ENV_URL:
        yield PG_ENV_URL
        return
    if not PG_AVAILABLE:
        pytest.skip(PG_SKIP_REASON)
    # Not under pytest's tmp_path: its parents are private to root, and the server may run as postgres.
    folder = Path(tempfile.mkdtemp(prefix="prepbot-test-pg."))
    folder.chmod(0o755)
    server = pgserver.PgServer(folder / "cluster")
    try:
        yield server.start()
    finally:
        server.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)
