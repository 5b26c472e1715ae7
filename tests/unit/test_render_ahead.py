"""RenderAhead: one confirmation rendered early goes to its own row's send, once (issue 7)."""

from __future__ import annotations

import pytest

from bench.render_rate import confirmation_key, default_composer
from prepbot.ahead import RenderAhead
from prepbot.composer import Composed
from prepbot.errors import TemplateError
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting


def composed() -> Composed:
    meeting = sample_meeting()
    return default_composer().confirmation(meeting, confirmation_key(meeting), SAMPLE_ZONE, SAMPLE_SEND_AT)


def test_the_row_it_was_rendered_for_takes_it_once() -> None:
    ahead, message = RenderAhead(), composed()
    ahead.prepare(7, lambda: message)
    assert ahead.take(7) is message
    assert ahead.take(7) is None  # taken: the next send of row 7 renders afresh


def test_another_row_gets_nothing_and_at_most_two_are_held() -> None:
    ahead, seventh = RenderAhead(), composed()
    ahead.prepare(7, lambda: seventh)
    assert ahead.take(8) is None
    ahead.prepare(8, composed)
    ahead.prepare(9, composed)  # a third: the oldest (7) goes
    assert ahead.take(7) is None
    assert ahead.take(8) is not None and ahead.take(9) is not None


def test_a_failed_early_render_is_raised_to_its_row_only() -> None:
    ahead = RenderAhead()

    def broken() -> Composed:
        raise TemplateError("en/confirmation.txt: 'dict object' has no attribute 'nope'")

    ahead.prepare(7, broken)
    assert ahead.take(8) is None
    ahead.prepare(7, broken)
    with pytest.raises(TemplateError, match="nope"):
        ahead.take(7)


def test_clear_drops_what_is_held() -> None:
    ahead = RenderAhead()
    ahead.prepare(7, composed)
    ahead.clear()
    assert ahead.take(7) is None


def test_a_row_rendered_at_an_earlier_wait_is_not_rendered_again() -> None:
    ahead, renders = RenderAhead(), []
    message = composed()

    def render() -> Composed:
        renders.append(1)
        return message

    ahead.prepare(7, render)  # the wait of the message two before
    ahead.prepare(7, render)  # the wait of the message before: held already
    built: list[object] = []
    ahead.build(7, built.append)
    ahead.build(8, built.append)  # nothing held for 8
    assert renders == [1] and built == [message.message]
    assert ahead.message(7) is message.message and ahead.message(8) is None
    assert ahead.take(7) is message and ahead.message(7) is None


def test_build_skips_a_failed_render() -> None:
    ahead = RenderAhead()

    def broken() -> Composed:
        raise TemplateError("en/confirmation.txt: broken")

    ahead.prepare(7, broken)
    built: list[object] = []
    ahead.build(7, built.append)
    assert built == [] and ahead.message(7) is None
    with pytest.raises(TemplateError):
        ahead.take(7)
