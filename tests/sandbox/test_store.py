"""The store's write path: CRUD, validation errors, derived fields, seeds, persistence."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.store import Store
from tests.sandbox.conftest import FakeClock

V = "59.0"


def err(fn: Any, *args: Any, **kwargs: Any) -> SfApiError:
    with pytest.raises(SfApiError) as caught:
        fn(*args, **kwargs)
    return caught.value


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode()


def test_create_retrieve_update_delete_round_trip(store: Store, clock: FakeClock) -> None:
    cid = store.create("contact", {"firstname": "Anna", "LastName": "Berg", "MailingCity": "Utrecht"})
    rec = store.retrieve("Contact", cid, fields=None, api_version=V)
    assert rec["attributes"] == {"type": "Contact", "url": f"/services/data/v{V}/sobjects/Contact/{cid}"}
    assert rec["Name"] == "Anna Berg" and rec["FirstName"] == "Anna"
    assert rec["MailingAddress"]["city"] == "Utrecht" and rec["MailingAddress"]["street"] is None
    assert rec["CreatedDate"] == "2026-11-28T12:00:00.000+0000"
    assert rec["OwnerId"] == store.running_user_id == rec["CreatedById"]
    clock.current += timedelta(minutes=5)
    store.update("Contact", cid[:15], {"LastName": "Bergman", "MailingCity": None})
    rec = store.retrieve("Contact", cid, fields=["Name", "MailingAddress", "SystemModstamp"], api_version=V)
    assert rec["Name"] == "Anna Bergman" and rec["MailingAddress"] is None
    assert rec["SystemModstamp"] == "2026-11-28T12:05:00.000+0000"
    store.delete("Contact", cid)
    assert err(store.retrieve, "Contact", cid, fields=None, api_version=V).error_code == "ENTITY_IS_DELETED"
    e = err(store.delete, "Contact", cid)
    assert (e.status, e.error_code, e.message) == (404, "ENTITY_IS_DELETED", "entity is deleted")
    assert err(store.update, "Contact", cid, {"LastName": "x"}).status == 404
    assert store.retrieve("Contact", cid, fields=["IsDeleted"], api_version=V, include_deleted=True)[
        "IsDeleted"
    ]


def test_validation_errors_use_salesforce_codes(store: Store) -> None:
    e = err(store.create, "Contact", {"LastName": "X", "Foo": 1})
    assert (e.status, e.error_code, e.message) == (
        400,
        "INVALID_FIELD",
        "No such column 'Foo' on sobject of type Contact",
    )
    e = err(store.create, "Lead", {"FirstName": "X"})
    assert e.error_code == "REQUIRED_FIELD_MISSING" and e.fields == ["LastName", "Company"]
    e = err(store.create, "Task", {"Status": "Nope"})
    assert e.error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" and e.fields == ["Status"]
    e = err(store.create, "Contact", {"LastName": "X", "Name": "Y"})
    assert e.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE" and e.fields == ["Name"]
    e = err(store.create, "Contact", {"LastName": "X", "Id": "003000000000001"})
    assert e.error_code == "INVALID_FIELD"
    e = err(store.create, "Contact", {"LastName": "X", "Email": "not-an-email"})
    assert e.error_code == "INVALID_EMAIL_ADDRESS"
    e = err(store.create, "Widget__c", {})
    assert (e.status, e.error_code) == (404, "NOT_FOUND")
    assert err(store.retrieve, "Contact", "bad", fields=None, api_version=V).error_code == "MALFORMED_ID"
    unknown = "003" + "5b" + "0" * 9 + "9"
    assert err(store.retrieve, "Contact", unknown, fields=None, api_version=V).error_code == "NOT_FOUND"


def test_activity_links_are_checked(store: Store) -> None:
    acct = store.create("Account", {"Name": "Acme"})
    lead = store.create("Lead", {"LastName": "L", "Company": "C"})
    start = {"StartDateTime": "2026-11-29T10:00:00Z", "DurationInMinutes": 30}
    e = err(store.create, "Event", {**start, "WhoId": acct})
    assert e.error_code == "FIELD_INTEGRITY_EXCEPTION" and e.fields == ["WhoId"]
    e = err(store.create, "Event", {**start, "WhoId": lead, "WhatId": acct})
    assert e.error_code == "FIELD_INTEGRITY_EXCEPTION"
    e = err(store.create, "Task", {"Subject": "x", "WhoId": lead, "WhatId": acct})
    assert e.error_code == "FIELD_INTEGRITY_EXCEPTION"
    missing = "003" + "5b" + "0" * 9 + "9"
    assert err(store.create, "Event", {**start, "WhoId": missing}).error_code == "INVALID_CROSS_REFERENCE_KEY"


def test_event_derived_fields(store: Store) -> None:
    acct = store.create("Account", {"Name": "Acme"})
    contact = store.create("Contact", {"LastName": "C", "AccountId": acct})
    eid = store.create(
        "Event",
        {
            "WhoId": contact,
            "StartDateTime": "2026-11-29T09:00:00-05:00",
            "EndDateTime": "2026-11-29T15:30:00+0000",
        },
    )
    ev = store.retrieve("Event", eid, fields=None, api_version=V)
    assert ev["StartDateTime"] == "2026-11-29T14:00:00.000+0000"
    assert ev["DurationInMinutes"] == 90 and ev["ActivityDateTime"] == ev["StartDateTime"]
    assert ev["ActivityDate"] == "2026-11-29" and ev["AccountId"] == acct
    assert ev["IsChild"] is False and ev["IsGroupEvent"] is False and ev["EventSubtype"] == "Event"
    store.update("Event", eid, {"StartDateTime": "2026-11-30T08:00:00.000Z"})
    ev = store.retrieve("Event", eid, fields=["EndDateTime", "DurationInMinutes"], api_version=V)
    assert ev["EndDateTime"] == "2026-11-30T09:30:00.000+0000" and ev["DurationInMinutes"] == 90
    e = err(store.update, "Event", eid, {"EventSubtype": "Event"})
    assert e.error_code == "INVALID_FIELD_FOR_INSERT_UPDATE"
    e = err(store.create, "Event", {"StartDateTime": "2026-11-29T09:00:00Z"})
    assert e.error_code == "REQUIRED_FIELD_MISSING"
    allday = store.create("Event", {"IsAllDayEvent": True, "ActivityDate": "2026-12-01"})
    ev = store.retrieve("Event", allday, fields=None, api_version=V)
    assert ev["StartDateTime"] == "2026-12-01T00:00:00.000+0000" and ev["ActivityDate"] == "2026-12-01"
    assert ev["DurationInMinutes"] == 1440 and ev["ActivityDateTime"] is None


def test_event_relation_marks_group_event_and_cascades_on_delete(store: Store) -> None:
    contact = store.create("Contact", {"LastName": "C"})
    eid = store.create("Event", {"StartDateTime": "2026-11-29T09:00:00Z", "DurationInMinutes": 30})
    rid = store.create("EventRelation", {"EventId": eid, "RelationId": contact})
    assert store.retrieve("Event", eid, fields=["IsGroupEvent"], api_version=V)["IsGroupEvent"] is True
    assert (
        err(store.create, "EventRelation", {"EventId": eid, "RelationId": contact}).error_code
        == "DUPLICATE_VALUE"
    )
    store.delete("Event", eid)
    assert (
        err(store.retrieve, "EventRelation", rid, fields=None, api_version=V).error_code
        == "ENTITY_IS_DELETED"
    )


def test_task_and_opportunity_derived_flags(store: Store) -> None:
    tid = store.create("Task", {"Subject": "Email: hi", "TaskSubtype": "Email", "Status": "Completed"})
    task = store.retrieve("Task", tid, fields=None, api_version=V)
    assert task["IsClosed"] is True and task["Priority"] == "Normal" and task["CompletedDateTime"]
    assert (
        err(store.update, "Task", tid, {"TaskSubtype": "Call"}).error_code
        == "INVALID_FIELD_FOR_INSERT_UPDATE"
    )
    store.update("Task", tid, {"Status": "In Progress"})
    assert store.retrieve("Task", tid, fields=["IsClosed"], api_version=V)["IsClosed"] is False
    oid = store.create("Opportunity", {"Name": "D", "StageName": "closed won", "CloseDate": "2026-12-31"})
    opp = store.retrieve("Opportunity", oid, fields=["IsClosed", "IsWon", "StageName"], api_version=V)
    assert opp["IsClosed"] and opp["IsWon"] and opp["StageName"] == "Closed Won"


@pytest.mark.parametrize(
    "html",
    [
        "<p>Tom & Jerry</p>",
        "1 < 2",
        "<script>x</script>",
        "caf&eacute;",
        "it&apos;s",
        "bell\x07",
        "<p onclick='x'>a</p>",
    ],
)
def test_content_note_rejects_unescaped_or_unsupported_markup(store: Store, html: str) -> None:
    e = err(store.create, "ContentNote", {"Title": "T", "Content": b64(html)})
    assert e.status == 400 and e.message.startswith("Note can't be saved because it contains HTML tags")


def test_content_note_accepts_escaped_html_and_strips_raw_newlines(store: Store) -> None:
    body = "<p>Caf\u00e9 &amp; &lt;tea&gt; it&#39;s</p>\n<p>line<br>two</p>"
    nid = store.create("ContentNote", {"Title": "Prep", "Content": b64(body)})
    assert nid.startswith("069")
    assert store.blob("ContentNote", nid, "Content") == body.replace("\n", "").encode()
    note = store.retrieve("ContentNote", nid, fields=None, api_version=V)
    assert note["FileType"] == "SNOTE" and note["TextPreview"].startswith("Caf\u00e9 & <tea> it's")
    assert note["Content"] == f"/services/data/v{V}/sobjects/ContentNote/{nid}/Content"
    assert (
        err(store.create, "ContentNote", {"Title": "  ", "Content": b64("x")}).error_code
        == "REQUIRED_FIELD_MISSING"
    )
    assert err(store.create, "ContentNote", {"Title": "T", "Content": "!!notbase64"}).status == 400
    link = store.create(
        "ContentDocumentLink",
        {"ContentDocumentId": nid, "LinkedEntityId": store.running_user_id, "ShareType": "V"},
    )
    assert link.startswith("06A")
    doc = store.retrieve("ContentDocument", nid, fields=["Title", "FileType"], api_version=V)
    assert doc["Title"] == "Prep" and doc["FileType"] == "SNOTE"


def test_transaction_rolls_back_everything_inside(store: Store) -> None:
    before = store.count("Account")
    with pytest.raises(SfApiError), store.transaction():
        store.create("Account", {"Name": "A"})
        with store.transaction():
            store.create("Account", {"Name": "B"})
        store.create("Account", {})
    assert store.count("Account") == before


SEED: dict[str, Any] = {
    "$fields": {
        "Contact": {"Preferred_Language__c": {"type": "string"}},
        "Event": {
            "Meeting_Outcome__c": {"type": "picklist", "values": ["Held", "No Show"]},
            "Travel_Distance_km__c": {"type": "double"},
        },
    },
    "Event": [
        {
            "$key": "demo",
            "Subject": "Demo",
            "WhoId": "@anna",
            "WhatId": "@deal",
            "StartDateTime": "2026-11-30T09:00:00Z",
            "DurationInMinutes": 60,
            "Travel_Distance_km__c": 200,
            "CreatedDate": "2026-11-01T08:00:00Z",
            "IsChild": False,
        }
    ],
    "Opportunity": [
        {
            "$key": "deal",
            "Name": "Deal",
            "StageName": "Prospecting",
            "CloseDate": "2026-12-31",
            "AccountId": "@acme",
        }
    ],
    "Contact": [{"$key": "anna", "LastName": "Berg", "AccountId": "@acme", "Preferred_Language__c": "nl"}],
    "Account": [{"$key": "acme", "Name": "Acme"}],
    "User": [
        {
            "$key": "ann",
            "Username": "ann@example.com",
            "LastName": "Lee",
            "Email": "ann@example.com",
            "TimeZoneSidKey": "Europe/Amsterdam",
        },
        {"Id": "005000000000042", "Username": "bo@example.com", "LastName": "Bo", "Email": "bo@example.com"},
    ],
}


def test_seed_with_keys_custom_fields_and_any_json_order(store: Store) -> None:
    keys = store.load_seed(SEED)
    assert store.running_user_id == keys["ann"]
    assert store.retrieve("User", "005000000000042", fields=["Name"], api_version=V)["Name"] == "Bo"
    ev = store.retrieve("Event", keys["demo"], fields=None, api_version=V)
    assert ev["WhoId"] == keys["anna"] and ev["AccountId"] == keys["acme"]
    assert ev["Travel_Distance_km__c"] == 200.0 and ev["Meeting_Outcome__c"] is None
    assert ev["CreatedDate"] == "2026-11-01T08:00:00.000+0000" and ev["OwnerId"] == keys["ann"]
    assert err(
        store.create,
        "Event",
        {"StartDateTime": "2026-11-29T09:00:00Z", "DurationInMinutes": 5, "Meeting_Outcome__c": "Maybe"},
    ).error_code.startswith("INVALID_OR_NULL")
    assert err(store.create, "Account", {"Name": "x", "Undeclared__c": 1}).error_code == "INVALID_FIELD"


def test_seed_errors_name_the_record(store: Store) -> None:
    e = err(store.load_seed, {"Contact": [{"LastName": "ok"}, {"FirstName": "no last name"}]})
    assert e.error_code == "REQUIRED_FIELD_MISSING" and "Contact[1]" in e.message
    assert store.count("Contact") == 0
    assert err(store.load_seed, {"Event": [{"WhoId": "@nobody"}]}).error_code == "INVALID_CROSS_REFERENCE_KEY"
    assert err(store.load_seed, {"Contact": [{"Id": "001000000000001", "LastName": "x"}]}).status == 400


def test_state_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "org.sqlite"
    first = Store(path, clock=clock)
    keys = first.load_seed(SEED)
    extra = first.create("Contact", {"LastName": "Later", "Preferred_Language__c": "de"})
    first.close()
    second = Store(path, clock=clock)
    try:
        assert second.running_user_id == keys["ann"]
        assert (
            second.retrieve("Contact", extra, fields=["Preferred_Language__c"], api_version=V)[
                "Preferred_Language__c"
            ]
            == "de"
        )
        newer = second.create("Contact", {"LastName": "Newer"})
        assert newer not in (extra, keys["anna"])
        cur = second.query(
            "SELECT Id, Travel_Distance_km__c FROM Event", include_deleted=False, api_version=V
        )
        assert cur.fetch(0, 10)[0]["Travel_Distance_km__c"] == 200.0
    finally:
        second.close()


def test_updated_and_deleted_report_changes_in_the_window(store: Store, clock: FakeClock) -> None:
    start = clock.current
    a = store.create("Account", {"Name": "A"})
    clock.current += timedelta(minutes=3)
    b = store.create("Account", {"Name": "B"})
    store.delete("Account", a)
    clock.current += timedelta(minutes=3)
    upd = store.updated("Account", start, clock.current)
    assert upd["ids"] == [b] and upd["latestDateCovered"] == "2026-11-28T12:06:00.000+0000"
    gone = store.deleted("Account", start, clock.current)
    assert gone["deletedRecords"] == [{"id": a, "deletedDate": "2026-11-28T12:03:00.000+0000"}]
    assert err(store.updated, "Account", clock.current, start).error_code == "INVALID_REPLICATION_DATE"
    assert (
        err(store.updated, "Account", start - timedelta(days=31), start).error_code
        == "INVALID_REPLICATION_DATE"
    )


def test_describe_lists_fields_with_picklists(store: Store) -> None:
    d = store.describe("task", V)
    status = next(f for f in d["fields"] if f["name"] == "Status")
    assert d["name"] == "Task" and d["keyPrefix"] == "00T"
    assert [p["value"] for p in status["picklistValues"]][:2] == ["Not Started", "In Progress"]
    assert store.canonical_type("eventrelation") == "EventRelation"


def test_running_user_defaults_when_no_user_was_seeded(store: Store) -> None:
    assert store.running_user_id is None
    store.create("Account", {"Name": "A"})
    assert store.running_user_id is not None and store.count("User") == 1
    now = datetime.now(UTC)
    store.set_clock(None)
    assert abs(store.now() - now) < timedelta(minutes=1)


def test_concurrent_writers_and_readers_share_one_store(store: Store) -> None:
    import threading

    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                store.create("Contact", {"LastName": f"T{n}-{i}"})
                store.query("SELECT Id FROM Contact", include_deleted=False, api_version=V).fetch(0, 50)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and store.count("Contact") == 80
