"""The sandbox's shortcuts for macros and attributes give Jinja's own verdicts (issue 7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from jinja2 import DictLoader
from jinja2.exceptions import SecurityError, UndefinedError

from prepbot.template_sandbox import CappedSandbox


@dataclass
class Card:
    """A view whose attributes change kind from one instance to the next."""

    name: Any
    _secret: str = "hidden"


def sandbox(**templates: str) -> CappedSandbox:
    return CappedSandbox(loader=DictLoader(templates), max_output_chars=10_000)


def render(env: CappedSandbox, name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)


def test_an_attribute_read_as_plain_is_still_checked_when_it_holds_a_format_method() -> None:
    """A str.format method reached through an attribute is wrapped by the sandbox (its fields may
    not reach internals), even after the same attribute held plain text many times."""
    env = sandbox(t="{{ card.name }}", f="{{ card.name('x') }}")
    for i in range(20):
        assert render(env, "t", card=Card(f"Ann {i}")) == f"Ann {i}"
    with pytest.raises(SecurityError):
        render(env, "f", card=Card("{0.__class__.__mro__}".format))
    assert render(env, "f", card=Card("<{0}>".format)) == "<x>"


def test_a_private_attribute_is_refused_however_often_public_ones_are_read() -> None:
    env = sandbox(t="{{ card.name }}", p="{{ card._secret }}")
    for _ in range(20):
        render(env, "t", card=Card("Ann"))
    with pytest.raises(SecurityError):
        render(env, "p", card=Card("Ann"))


def test_an_attribute_one_instance_lacks_is_undefined_for_it() -> None:
    """Namespaces of one type hold different attributes: the shortcut learnt on one never answers
    for another that lacks it."""
    env = sandbox(
        t="{% set ns = namespace(x=1) %}{{ ns.x }}",
        u="{% set ns = namespace(y=1) %}{{ ns.x }}",
        d="{{ d.x }}",
    )
    for _ in range(5):
        assert render(env, "t") == "1"
    with pytest.raises(UndefinedError):
        render(env, "u")
    assert render(env, "d", d={"x": "item"}) == "item"  # no attribute: Jinja's item look-up


def test_a_macro_keeps_the_deadline_and_the_escaping_of_text_macros_in_html() -> None:
    env = sandbox(
        **{
            "m.txt": "{% macro name(c) %}{{ c.name }}{% endmacro %}",
            "page.html": '{% import "m.txt" as m %}<p>{{ m.name(card) }}</p>',
            "loop.txt": "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
        }
    )
    assert render(env, "page.html", card=Card("<b>Ann</b>")) == "<p>&lt;b&gt;Ann&lt;/b&gt;</p>"
    with pytest.raises((SecurityError, RecursionError)):
        render(env, "loop.txt")
