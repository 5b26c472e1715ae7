"""Batched creates (one insert per table per request) answer and store what per-record creates do."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import new_id
from prepbot.sandbox.notes import _SURELY_OK_RE, _check_markup, decode_note_content
from prepbot.sandbox.store import Store
from tests.sandbox.conftest import FakeClock

Outcome = str | tuple[str, str, list[str]]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode()


def _org(clock: FakeClock) -> tuple[Store, dict[str, str]]:
    store = Store(":memory:", clock=clock)
    keys = store.load_seed(
        {
            "User": [{"$key": "u", "Username": "rep@x.test", "LastName": "Rep", "Email": "rep@x.test"}],
            "Account": [{"$key": "a", "Name": "Acme"}],
            "Contact": [{"$key": "c", "LastName": "Berg", "AccountId": "@a"}],
        }
    )
    # Seeded Tasks holding Ids the 2nd and 5th generated Task Ids will be: their inserts must fail.
    store.bulk_insert("Task", [{"Subject": "taken"}] * 2, ids=[new_id("Task", 2), new_id("Task", 5)])
    return store, keys


def _requests(keys: dict[str, str]) -> list[list[tuple[str, dict[str, Any]]]]:
    task = {"Subject": "Call", "WhoId": keys["c"], "Status": "Completed"}
    note = {"Title": "Prep", "Content": _b64("<p>Hi &amp; <b>bye</b></p>")}
    user = {"LastName": "L", "Email": "l@x.test", "TimeZoneSidKey": "UTC"}
    return [
        [
            ("Task", task),
            ("Task", task),  # gets the seeded Id: DUPLICATE_VALUE from SQLite, only this record
            ("Task", {**task, "WhoId": keys["a"]}),  # wrong type for WhoId
            ("Task", {**task, "Bogus": 1}),
            ("ContentNote", note),
            ("ContentNote", {**note, "Content": _b64("<script>x</script>")}),
            ("Account", {"Name": "Beta"}),
            ("Task", {**task, "WhatId": keys["a"]}),
            ("ContentNote", {"Title": " "}),  # fails last: its counters wait for the next success
        ],
        [
            ("User", {**user, "Username": "new@x.test"}),
            ("User", {**user, "Username": "NEW@x.TEST"}),  # duplicates the record before it
            ("User", {**user, "Username": "rep@x.test"}),
        ],
        # The failed insert's Task counter is saved with the Account's, as a per-record flush would.
        [("Task", task), ("Account", {"Name": "Gamma"})],
    ]


def _links(note_ids: list[str], keys: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    link = {"ContentDocumentId": note_ids[0], "LinkedEntityId": keys["a"], "ShareType": "I"}
    return [
        ("ContentDocumentLink", link),
        ("ContentDocumentLink", link),  # duplicates the record before it
        ("ContentDocumentLink", {**link, "LinkedEntityId": keys["c"]}),
    ]


def _per_record(store: Store, items: list[tuple[str, dict[str, Any]]]) -> list[Outcome]:
    out: list[Outcome] = []
    with store.transaction(), store.cached_lookups():
        for name, fields in items:
            try:
                with store.transaction():
                    out.append(store.create(name, fields))
            except SfApiError as exc:
                out.append((exc.error_code, exc.message, exc.fields))
    return out


def _batched(store: Store, items: list[tuple[str, dict[str, Any]]]) -> list[Outcome]:
    with store.transaction(), store.create_batch() as batch:
        for name, fields in items:
            batch.add(name, fields)
    return [o if isinstance(o, str) else (o.error_code, o.message, o.fields) for o in batch.outcomes]


def _rows(store: Store) -> list[tuple[str, list[Any]]]:
    tables = [r[0] for r in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = []
    for table in sorted(tables):
        order = '"key"' if table == "_meta" else "rowid"
        for row in store._db.execute(f'SELECT * FROM "{table}" ORDER BY {order}'):
            if not (table == "_meta" and row[0] == "org_id"):
                out.append((table, list(row)))
    return out


def test_batched_creates_answer_and_store_what_per_record_creates_do(clock: FakeClock) -> None:
    results = []
    for create in (_per_record, _batched):
        store, keys = _org(clock)
        outcomes = [create(store, items) for items in _requests(keys)]
        notes = [o for o in outcomes[0] if isinstance(o, str) and o.startswith("069")]
        outcomes.append(create(store, _links(notes, keys)))
        results.append((outcomes, _rows(store), sorted(store._writer._dirty_counters)))
        store.close()
    assert results[0] == results[1]
    outcomes = results[1][0]
    codes = [o[0] if isinstance(o, tuple) else "ok" for o in outcomes[0]]
    assert codes == [
        "ok",
        "DUPLICATE_VALUE",
        "FIELD_INTEGRITY_EXCEPTION",
        "INVALID_FIELD",
        "ok",
        "FIELD_INTEGRITY_EXCEPTION",
        "ok",
        "ok",
        "REQUIRED_FIELD_MISSING",
    ]
    assert [o[0] if isinstance(o, tuple) else "ok" for o in outcomes[1]] == [
        "ok",
        "DUPLICATE_USERNAME",
        "DUPLICATE_USERNAME",
    ]
    assert [o[0] if isinstance(o, tuple) else "ok" for o in outcomes[2]] == ["DUPLICATE_VALUE", "ok"]
    assert [o[0] if isinstance(o, tuple) else "ok" for o in outcomes[3]] == ["ok", "DUPLICATE_VALUE", "ok"]


def test_a_failed_batched_request_rolls_back_every_row(clock: FakeClock) -> None:
    store, keys = _org(clock)
    before = store.count("Task")
    with pytest.raises(RuntimeError), store.transaction(), store.create_batch() as batch:
        batch.add("Task", {"Subject": "One", "WhoId": keys["c"]})
        batch.add("Task", {"Bogus": 1})
        batch.flush()
        raise RuntimeError("the request is all-or-none and a record failed")
    assert store.count("Task") == before
    store.close()


_PIECES = [
    *("x", " ", ">", "<", "&", "&amp;", "&eacute;", "&#39;", "&#x1F;", "\u00a0", "\u017f", "<\u017f>"),
    *("<p>", "</P>", "<br/>", "<b >", "<p/ >", "<img>", "<h7>", "<spanx>", "</a>", "<A HREF='x'>"),
    *("<a", " href", "='u'", '="v"', " onclick", "<a\thref='x' rel=\"n\">"),
]
_MARKUP = st.lists(
    st.sampled_from(_PIECES),
    max_size=12,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(_MARKUP)
def test_the_fast_markup_check_accepts_only_what_the_exact_check_accepts(text: str) -> None:
    if _SURELY_OK_RE.fullmatch(text) is not None:
        _check_markup(text)  # must not raise


@pytest.mark.parametrize(
    "html",
    ["<p onclick='x'>a</p>", "<a href='x' style='y'>a</a>", "<\u017f>", "a &eacute; b", "<a hreff='x'>a</a>"],
)
def test_notes_the_fast_check_does_not_accept_still_get_the_exact_verdict(html: str) -> None:
    with pytest.raises(SfApiError):
        decode_note_content(_b64(html))
