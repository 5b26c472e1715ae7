"""Named crash points for reliability tests: inert unless armed by PREPBOT_FAILPOINTS or by a test.

A failpoint marks a moment in the send path where a crash is interesting (reliability.md C1–C6):

=====================  =======================================================================
name                   where
=====================  =======================================================================
``after_claim``        the dispatcher claimed rows (committed), nothing sent yet
``before_data_end``    SMTP: MAIL/RCPT/DATA done, the terminating ``.`` not sent yet
``after_smtp_250``     SMTP: the relay answered 250 to the data, prepbot has not returned yet
``after_send``         the transport returned (the relay has it), the ledger does not know yet
``after_task_create``  Salesforce created the Tasks, their Ids are not stored yet
``after_note_create``  Salesforce created the prep notes, their Ids are not stored yet
=====================  =======================================================================

Arming: ``PREPBOT_FAILPOINTS="after_send=kill"`` (``name=action[@nth]``, comma-separated). Actions:
``kill`` sends SIGKILL to this process (a real crash: no cleanup, no ``finally``), ``raise`` raises
:class:`FailpointCrash` (a ``BaseException``, so no ``except Exception`` swallows it) for in-process
tests, ``sleep:N`` pauses N seconds (a stalled worker). ``@nth`` fires on the nth hit only (default:
every hit). In production the variable is unset and :func:`hit` is a dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

ENV = "PREPBOT_FAILPOINTS"
NAMES = (
    "after_claim",
    "before_data_end",
    "after_smtp_250",
    "after_send",
    "after_task_create",
    "after_note_create",
)


class FailpointCrash(BaseException):
    """Raised by a failpoint armed with ``raise``: the process is meant to be considered dead."""


@dataclass
class _Armed:
    action: str
    nth: int | None
    hits: int = 0


_lock = threading.Lock()
_armed: dict[str, _Armed] = {}


def parse(spec: str) -> dict[str, _Armed]:
    """``"after_send=kill@2,after_claim=raise"`` -> armed points; unknown names are an error."""
    armed: dict[str, _Armed] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, rest = part.partition("=")
        action, _, nth = (rest or "kill").partition("@")
        if name not in NAMES:
            raise ValueError(f"{ENV}: unknown failpoint {name!r}; known: {', '.join(NAMES)}")
        armed[name] = _Armed(action, int(nth) if nth else None)
    return armed


def arm(name: str, action: str = "raise", nth: int | None = None) -> None:
    """Arm a failpoint in this process (tests)."""
    with _lock:
        _armed.update(parse(f"{name}={action}" + (f"@{nth}" if nth else "")))


def disarm() -> None:
    """Disarm every failpoint armed in this process."""
    with _lock:
        _armed.clear()


def load_from_environment() -> None:
    """Arm what ``PREPBOT_FAILPOINTS`` names (called once by the composition root)."""
    spec = os.environ.get(ENV, "")
    if spec:
        with _lock:
            _armed.update(parse(spec))


def hit(name: str) -> None:
    """Pass a failpoint: nothing happens unless it is armed."""
    if not _armed:
        return
    with _lock:
        point = _armed.get(name)
        if point is None:
            return
        point.hits += 1
        if point.nth is not None and point.hits != point.nth:
            return
    _fire(name, point.action)


def _fire(name: str, action: str) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
    else:
        raise FailpointCrash(name)
