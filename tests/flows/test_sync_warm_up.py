"""A sync that sends makes the confirmations' templates ready while it reads the first page (issue 7)."""

from __future__ import annotations

from collections.abc import Callable

from prepbot.rendering import Renderer
from tests.flows.conftest import NOW, Rig, meeting, person

Build = Callable[..., Rig]


def _compiled_languages(renderer: Renderer) -> set[str]:
    cache = renderer._env.cache  # Jinja's own template cache: what a render would not compile again
    names = [str(template.name) for template in cache.values()] if cache is not None else []
    return {name.split("/")[0] for name in names if name.endswith("/confirmation.txt")}


def test_a_sending_sync_makes_the_default_languages_confirmation_ready_and_a_plain_sync_does_not(
    rig: Build,
) -> None:
    emily = person("emily", "Emily", "Carter", "emily@harvest.test", "en")
    bot = rig([emily], [meeting("emily", outcome=None)])  # a past meeting: nothing to send
    renderer = bot.service.composer.renderer
    bot.service.sync(NOW)
    assert _compiled_languages(renderer) == set()  # nothing to send: nothing rendered, nothing made ready
    bot.service.sync(NOW, send=True)
    # the incremental read (one small call) is over before the other languages' turn may come
    assert "en" in _compiled_languages(renderer) <= set(renderer.available_languages("confirmation"))
