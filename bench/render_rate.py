"""Renders per second of the confirmation and the prep note, with templates compiled once.

Run: ``.venv/bin/python -m bench.render_rate [SECONDS]`` (default 3 per template kind). The composer is
built the way `prepbot.app.build_composer` builds it with default settings (shipped templates, the
default sender and language policy); the meeting is `prepbot.samples.sample_meeting()` (every optional
field filled). One warm-up render compiles the templates; the timed loop then only renders.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.domain import ActionKey, Meeting, MessageKind
from prepbot.flows.notes import playbook_note_scripts
from prepbot.messages import build_email
from prepbot.playbooks import load_playbook
from prepbot.prepnote import ConfirmationStatus, build_prep_note
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting


def default_composer() -> Composer:
    """What `prepbot.app.build_composer` makes of default settings."""
    renderer = Renderer(shipped_dir=shipped_templates_dir(), default_language="en")
    return Composer(renderer, Sender(), LanguagePolicy(default="en"))


def confirmation_key(meeting: Meeting) -> ActionKey:
    """The ledger key of the meeting's confirmation (as the planner makes it)."""
    recipient = (meeting.who.email or "-").lower() if meeting.who else "-"
    return ActionKey(meeting.event_id, meeting.occurrence, recipient, MessageKind.CONFIRMATION)


def sample_confirmation_bytes() -> bytes:
    """One confirmation as it goes on the wire (RFC 5322 bytes), for the SMTP loop."""
    meeting = sample_meeting()
    composed = default_composer().confirmation(
        meeting, confirmation_key(meeting), SAMPLE_ZONE, SAMPLE_SEND_AT
    )
    return bytes(build_email(composed.message, sent_at=SAMPLE_SEND_AT).as_bytes())


def _rate(render: Callable[[int], Any], seconds: float, min_count: int) -> dict[str, float]:
    """Call ``render(i)`` until ``seconds`` have passed (at least ``min_count`` times)."""
    render(0)  # compiles and caches the templates
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while count < min_count or time.perf_counter() < deadline:
        render(count)
        count += 1
    elapsed = time.perf_counter() - started
    return {"renders": count, "seconds": round(elapsed, 3), "per_second": round(count / elapsed, 1)}


def measure(seconds: float = 3.0, min_count: int = 20) -> dict[str, dict[str, float]]:
    """Renders/s of the confirmation (subject, text, HTML), of the prep note (title, HTML) and of the
    prep note with the fallback scripts the shipped playbook chooses for the meeting, chosen and
    rendered as the note flow does for every note (what the render process does per meeting)."""
    composer = default_composer()
    base = sample_meeting()
    # A different start per render, so no cache above the template level can help.
    meetings = [
        sample_meeting(start_at=base.start_at + timedelta(minutes=i % 480)) if base.start_at else base
        for i in range(min(max(min_count, 1), 500))
    ]

    def confirmation(i: int) -> Any:
        meeting = meetings[i % len(meetings)]
        now: datetime = SAMPLE_SEND_AT
        return composer.confirmation(meeting, confirmation_key(meeting), SAMPLE_ZONE, now)

    status = ConfirmationStatus("sent", SAMPLE_SEND_AT)

    def note(i: int) -> Any:
        return build_prep_note(
            composer.renderer, meetings[i % len(meetings)], status, [], org_time_zone=SAMPLE_ZONE
        )

    scripts = playbook_note_scripts(composer.renderer, load_playbook(), composer, SAMPLE_ZONE)

    def note_with_scripts(i: int) -> Any:
        meeting = meetings[i % len(meetings)]
        chosen = scripts(meeting)
        return build_prep_note(composer.renderer, meeting, status, chosen, org_time_zone=SAMPLE_ZONE)

    return {
        "confirmation": _rate(confirmation, seconds, min_count),
        "prep_note": _rate(note, seconds, min_count),
        "prep_note_with_scripts": _rate(note_with_scripts, seconds, min_count),
    }


def main(argv: list[str]) -> int:
    print(json.dumps(measure(float(argv[0]) if argv else 3.0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
