"""Templates made ready while the first page of meetings is read (issue 7): the first confirmation
of a cycle then does not compile its templates while the relay waits for it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from prepbot.batches import first_while
from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.errors import CrmUnavailableError
from prepbot.rendering import RenderedMessage, Renderer, shipped_templates_dir

WAIT = 10.0  # seconds a test waits for the other thread before it fails (it takes milliseconds)


def _warm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "prepbot-warm-up"]


def test_the_work_runs_while_the_first_item_is_awaited_and_ends_before_it_is_handed_out() -> None:
    started, seen_stop = threading.Event(), threading.Event()

    def work(stop: threading.Event) -> None:
        started.set()
        stop.wait(WAIT)
        if stop.is_set():
            seen_stop.set()

    def pages() -> Iterator[int]:
        # the first item is there only once the work has started: it runs alongside the read
        assert started.wait(WAIT), "the work did not run while the first item was awaited"
        yield 1
        yield 2

    items = first_while(pages(), work)
    assert next(items) == 1
    assert seen_stop.is_set() and _warm_threads() == []  # told to stop, and ended, before the caller goes on
    assert list(items) == [2]


def test_a_failed_read_stops_the_work_too_and_its_error_reaches_the_caller() -> None:
    stopped = threading.Event()

    def work(stop: threading.Event) -> None:
        if stop.wait(WAIT):
            stopped.set()

    def pages() -> Iterator[int]:
        raise CrmUnavailableError("Salesforce query: 503", status=503)
        yield 1  # pragma: no cover

    with pytest.raises(CrmUnavailableError, match="503"):
        list(first_while(pages(), work))
    assert stopped.is_set() and _warm_threads() == []


def test_without_work_or_items_the_items_are_handed_out_as_they_are() -> None:
    assert list(first_while(iter([1, 2, 3]), None)) == [1, 2, 3]
    ran: list[bool] = []
    assert list(first_while(iter([]), lambda stop: ran.append(stop.is_set()))) == []
    assert ran == [False]  # it ran while the (empty) read was awaited


def _compiled(renderer: Renderer) -> set[str]:
    cache = renderer._env.cache  # Jinja's own template cache: what a render would not compile again
    return {str(template.name) for template in cache.values()} if cache is not None else set()


def _composer(default: str = "en", admin_dir: Path | None = None) -> Composer:
    renderer = Renderer(shipped_dir=shipped_templates_dir(), admin_dir=admin_dir, default_language=default)
    return Composer(renderer, Sender(), LanguagePolicy(default=default))


def test_warm_up_compiles_the_confirmation_templates_of_every_language() -> None:
    composer = _composer()
    languages = composer.renderer.available_languages("confirmation")
    assert len(languages) > 1 and _compiled(composer.renderer) == set()
    composer.warm_up(threading.Event())
    compiled = _compiled(composer.renderer)
    for language in languages:
        assert {f"{language}/confirmation.{part}" for part in ("subject.txt", "txt", "html")} <= compiled


def test_warm_up_stops_between_languages_and_begins_with_the_default_one() -> None:
    composer = _composer(default="nl")
    stop = threading.Event()
    render = composer.renderer.render

    def render_then_stop(kind: str, language: str, context: Mapping[str, Any]) -> RenderedMessage:
        stop.set()  # asked to stop during the first language
        return render(kind, language, context)

    composer.renderer.render = render_then_stop  # type: ignore[method-assign]
    composer.warm_up(stop)
    languages = {name.split("/")[0] for name in _compiled(composer.renderer)}
    assert languages == {"nl"}


def test_the_default_language_is_made_ready_even_when_the_read_was_quicker() -> None:
    composer = _composer(default="ru")
    stop = threading.Event()
    stop.set()  # the read was over before the warm-up began
    composer.warm_up(stop)
    assert {name.split("/")[0] for name in _compiled(composer.renderer)} == {"ru"}


def test_warm_up_is_done_once_and_a_broken_template_is_left_for_the_real_render(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "confirmation.txt").write_text("{% if %}broken\n", encoding="utf-8")
    composer = _composer(default="en", admin_dir=tmp_path)
    composer.warm_up(threading.Event())  # does not raise
    compiled = _compiled(composer.renderer)
    assert "nl/confirmation.txt" in compiled  # the other languages were still made ready
    composer.renderer._env.cache.clear()  # type: ignore[union-attr]
    composer.warm_up(threading.Event())
    assert _compiled(composer.renderer) == set()  # once per composer
