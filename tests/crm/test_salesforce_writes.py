"""Contract: Tasks in sObject Collections and prep notes (ContentNote + link) against the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from prepbot.crm.note_html import note_html
from prepbot.crm.salesforce import SalesforceCrm
from prepbot.domain import NoteRecord, TaskRecord
from tests.crm.orgdata import base_org

Factory = Callable[..., SalesforceCrm]


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    return base_org()


def ids(sandbox: Any) -> dict[str, str]:
    """Seeded record Ids by role."""
    sf = sandbox.client()

    def one(soql: str) -> str:
        return str(sf.query(soql)["records"][0]["Id"])

    return {
        "runner": one("SELECT Id FROM User WHERE Username = 'integration@sandbox.prepbot.test'"),
        "farmer": one("SELECT Id FROM Contact WHERE LastName = 'de Vries'"),
        "lead": one("SELECT Id FROM Lead WHERE LastName = 'Ivanova'"),
        "deal": one("SELECT Id FROM Opportunity WHERE Name = 'Milking robots'"),
    }


def task(ref: str, owner: str, who: str | None, what: str | None, **kw: Any) -> TaskRecord:
    return TaskRecord(f"Email: {ref}", "Dear Jan, ...", owner, who, what, date(2026, 11, 30), ref=ref, **kw)


def count(sandbox: Any, soql: str) -> int:
    return int(sandbox.client().query(soql)["totalSize"])


def note_content(sandbox: Any, note_id: str) -> str:
    """The stored bytes of a ContentNote (the blob URL; simple-salesforce's restful parses JSON only)."""
    with sandbox.session() as session:
        raw = session.get(
            f"{sandbox.instance_url}/services/data/v62.0/sobjects/ContentNote/{note_id}/Content",
            headers={"Authorization": f"Bearer {sandbox.access_token}"},
            timeout=30,
        )
    return raw.content.decode("utf-8")


def test_a_collection_with_one_refused_record_writes_the_others(sandbox: Any, crm_for: Factory) -> None:
    x = ids(sandbox)
    crm = crm_for(sandbox)
    tasks = [
        task("a", x["runner"], x["farmer"], x["deal"]),
        task("b", x["runner"], x["lead"], x["deal"]),  # a Lead Who must not have a What
        task("c", x["runner"], x["lead"], None),
    ]
    results = crm.create_tasks(tasks)
    assert [r.ref for r in results] == ["a", "b", "c"]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error_code and not results[1].retryable and results[1].id is None
    assert crm.calls_made == 1
    assert count(sandbox, "SELECT Id FROM Task WHERE TaskSubtype = 'Email'") == 2


def test_250_tasks_cost_two_collection_calls(sandbox: Any, crm_for: Factory) -> None:
    x = ids(sandbox)
    crm = crm_for(sandbox)
    results = crm.create_tasks([task(str(i), x["runner"], x["farmer"], x["deal"]) for i in range(250)])
    assert all(r.ok for r in results) and len({r.id for r in results}) == 250
    assert crm.calls_made == 2


def test_notes_and_their_links_are_created_in_one_call_then_updated_in_place(
    sandbox: Any, crm_for: Factory
) -> None:
    x = ids(sandbox)
    crm = crm_for(sandbox)
    text = "Ask Jan & his manager: \"who else nearby?\"\nBring the 'farm' plan — Zoë, Жанна, 新\x07"
    notes = [
        NoteRecord("Prep: Jan <de Vries>", note_html(text), x["deal"], ref="n1"),
        NoteRecord("Prep: contact", note_html(["first", "second"]), x["farmer"], ref="n2"),
    ]
    created = crm.save_notes(notes)
    assert [r.ok for r in created] == [True, True] and crm.calls_made == 1
    note_id = str(created[0].id)
    link = sandbox.client().query(
        "SELECT ContentDocumentId, ShareType, Visibility FROM ContentDocumentLink"
        f" WHERE LinkedEntityId = '{x['deal']}'"
    )["records"]
    assert [(r["ContentDocumentId"], r["ShareType"], r["Visibility"]) for r in link] == [
        (note_id, "I", "AllUsers")
    ]

    updated = crm.save_notes(
        [NoteRecord("Prep v2", note_html("updated"), x["deal"], note_id=note_id, ref="n1")]
    )
    assert updated[0].ok and updated[0].id == note_id and crm.calls_made == 2
    assert count(sandbox, "SELECT Id FROM ContentNote") == 2
    assert note_content(sandbox, note_id) == "<p>updated</p>"


def test_unescaped_note_html_is_refused_per_record(sandbox: Any, crm_for: Factory) -> None:
    x = ids(sandbox)
    results = crm_for(sandbox).save_notes(
        [
            NoteRecord("bad", "<p>Tom & Jerry <b</p>", x["deal"], ref="bad"),
            NoteRecord("good", note_html("Tom & Jerry <b"), x["deal"], ref="good"),
        ]
    )
    assert [(r.ref, r.ok) for r in results] == [("bad", False), ("good", True)]
    assert results[0].error_code is not None
    assert count(sandbox, "SELECT Id FROM ContentNote") == 1


def test_a_note_whose_link_fails_is_reported_with_its_id(sandbox: Any, crm_for: Factory) -> None:
    unknown_opportunity = "006000000000000AAA"
    results = crm_for(sandbox).save_notes(
        [NoteRecord("orphan", note_html("x"), unknown_opportunity, ref="o")]
    )
    assert results[0].id is not None and not results[0].ok and results[0].error_code
    assert count(sandbox, "SELECT Id FROM ContentNote") == 1


def test_a_locked_link_subrequest_is_repaired_without_creating_the_notes_again(
    sandbox: Any, crm_for: Factory
) -> None:
    x = ids(sandbox)
    crm = crm_for(sandbox)
    sandbox.faults.add("composite", "lock_record", record=1)  # subrequest 1: the links
    results = crm.save_notes([NoteRecord(f"n{i}", note_html("x"), x["deal"], ref=str(i)) for i in range(2)])
    assert [r.ok for r in results] == [True, True]
    assert crm.calls_made == 2  # the composite call, then one collection call for the two links
    assert count(sandbox, "SELECT Id FROM ContentNote") == 2
    assert count(sandbox, f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '{x['deal']}'") == 2


def test_locked_notes_are_sent_again_alone(sandbox: Any, crm_for: Factory, sleeps: list[float]) -> None:
    x = ids(sandbox)
    crm = crm_for(sandbox)
    sandbox.faults.add("composite", "lock_record", record=0)  # subrequest 0: the notes themselves
    results = crm.save_notes([NoteRecord(f"n{i}", note_html("x"), x["deal"], ref=str(i)) for i in range(3)])
    assert [r.ok for r in results] == [True, True, True] and len(sleeps) == 1
    assert crm.calls_made == 2
    assert count(sandbox, "SELECT Id FROM ContentNote") == 3
