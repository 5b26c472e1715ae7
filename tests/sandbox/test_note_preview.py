"""A ContentNote's TextPreview and its markup check, against the plain definitions they shortcut."""

from __future__ import annotations

import html
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.notes import _CONTROL_RE, _check_markup, decode_note_text, text_preview

_BREAKS = re.compile(r"<\s*(br|/p|/li|/div|/h[1-6])\s*/?>", re.IGNORECASE)


def whole_preview(text: str) -> str | None:
    """Salesforce's preview, read over the whole body: breaks as spaces, tags dropped, references
    unescaped, white space collapsed, the first 255 characters."""
    text = html.unescape(re.sub(r"<[^>]*>", "", _BREAKS.sub(" ", text)))
    return " ".join(text.split())[:255] or None


# Pieces of note markup; the references split between pieces, run into tags or hold no ";"
_PIECES = [
    *(
        "word",
        "Wörd",
        " ",
        "  \t",
        "\u00a0",
        "\u2028",
        "<p>",
        "</p>",
        "<br>",
        "<br/>",
        "< br >",
        "<b>",
        "</b>",
    ),
    *("&", "&amp;", "&amp", "&quot;", "&#39;", "&#0000000039;", "&#x1F600;", "&eacute;", "&notin;", "&am"),
    *("p;", "#39;", "<", ">", "<a href='x&amp;y'>", "</a>", "<x <br>", "&<b>amp;"),
]
_BODIES = st.one_of(
    st.lists(st.sampled_from(_PIECES), max_size=40).map("".join),
    st.lists(st.sampled_from(_PIECES), min_size=150, max_size=600).map("".join),  # past the start read
    st.text(max_size=1500),
)
# a reference across every cut near the start's end; a start that collapses to fewer than 255 characters
_EDGES = [
    *("x" * n + "&quot;" + "y" * 300 for n in range(500, 520)),
    *("x" * n + "&#0000000039;" + "y" * 300 for n in range(500, 520)),
    *("a" * 251 + " " * n + "&quot;" + "b" * 300 for n in range(250, 262)),
    "word " * 30 + " " * 400 + "&amp;" + "z" * 300,
    "<p>" * 300 + "&amp;" * 100 + "end",
]


@settings(max_examples=600, deadline=None)
@given(_BODIES)
def test_the_text_preview_is_the_one_read_over_the_whole_body(text: str) -> None:
    assert text_preview(text) == whole_preview(text)
    assert text_preview(text.encode("utf-8")) == whole_preview(text)


@pytest.mark.parametrize("text", _EDGES)
def test_the_text_preview_is_the_whole_body_s_where_the_start_is_cut(text: str) -> None:
    assert text_preview(text) == whole_preview(text)


def test_a_long_note_s_preview_is_its_first_255_characters_of_text() -> None:
    body = "<p><b>Visit</b> &quot;Acme&quot;</p>" + "<p>Caf&eacute; &amp; tea, it&#39;s fine.</p>" * 200
    preview = text_preview(body)
    assert preview is not None and len(preview) == 255
    assert preview.startswith('Visit "Acme" Café & tea, it\'s fine. Café')


@settings(max_examples=400, deadline=None)
@given(_BODIES)
def test_the_markup_check_refuses_exactly_what_the_plain_checks_refuse(text: str) -> None:
    text = text.replace("\r", "").replace("\n", "")
    try:
        _check_markup(text)
        plain_ok = _CONTROL_RE.search(text) is None
    except SfApiError:
        plain_ok = False
    try:
        assert decode_note_text(_b64(text)) == text
        assert plain_ok
    except SfApiError:
        assert not plain_ok


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")
