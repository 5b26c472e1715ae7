"""The SOQL engine: typed comparisons, date literals, relationships, shapes and rejected queries."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.store import Store
from tests.sandbox.conftest import FakeClock

V = "59.0"


def rows(store: Store, soql: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
    cur = store.query(soql, include_deleted=include_deleted, api_version=V)
    return cur.fetch(0, 10_000)


def ids(store: Store, soql: str, **kw: Any) -> set[str]:
    return {r["Id"] for r in rows(store, soql, **kw)}


def rejected(store: Store, soql: str) -> SfApiError:
    with pytest.raises(SfApiError) as caught:
        store.query(soql, include_deleted=False, api_version=V)
    assert caught.value.status == 400
    return caught.value


@pytest.fixture
def org(store: Store) -> dict[str, str]:
    """A small org: a user, accounts, contacts (one non-ASCII), a lead, an opportunity, events."""
    return store.load_seed(
        {
            "User": [
                {
                    "$key": "owner",
                    "Username": "ann@example.com",
                    "FirstName": "Ann",
                    "LastName": "Lee",
                    "Email": "ann@example.com",
                }
            ],
            "Account": [{"$key": "acme", "Name": "Acme"}],
            "Contact": [
                {
                    "$key": "emile",
                    "FirstName": "Émile",
                    "LastName": "Zola",
                    "Email": "emile@example.com",
                    "AccountId": "@acme",
                },
                {"$key": "anna", "FirstName": "Anna", "LastName": "Berg", "Email": "anna@example.com"},
            ],
            "Lead": [
                {
                    "$key": "lead",
                    "FirstName": "Lou",
                    "LastName": "Lead",
                    "Company": "L Ltd",
                    "Email": "l@x.io",
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
            "Event": [
                {
                    "$key": "e1",
                    "Subject": "Demo 100%",
                    "WhoId": "@emile",
                    "WhatId": "@deal",
                    "StartDateTime": "2026-11-29T14:00:00Z",
                    "DurationInMinutes": 60,
                },
                {
                    "$key": "e2",
                    "Subject": "Lunch",
                    "WhoId": "@lead",
                    "StartDateTime": "2026-11-29T18:00:00Z",
                    "DurationInMinutes": 60,
                    "Location": "Café",
                },
                {
                    "$key": "e3",
                    "Subject": "Follow-up",
                    "WhoId": "@anna",
                    "WhatId": "@acme",
                    "StartDateTime": "2026-12-03T10:00:00Z",
                    "DurationInMinutes": 30,
                },
                {"$key": "e4", "Subject": "Offsite", "IsAllDayEvent": True, "ActivityDate": "2026-11-29"},
            ],
            "EventRelation": [
                {"EventId": "@e1", "RelationId": "@anna"},
                {"EventId": "@e1", "RelationId": "@owner", "Status": "Accepted"},
            ],
        }
    )


# --- typed comparisons a string-comparing engine gets wrong ------------------------------------------


@pytest.mark.parametrize(
    "literal",
    [
        "2026-11-29T09:00:00-05:00",
        "2026-11-29T14:00:00Z",
        "2026-11-29T14:00:00+00:00",
        "2026-11-29T15:00:00+0100",
    ],
)
def test_datetime_literals_compare_as_instants_whatever_the_offset_form(
    store: Store, org: dict[str, str], literal: str
) -> None:
    assert ids(store, f"SELECT Id FROM Event WHERE StartDateTime = {literal}") == {org["e1"]}
    assert org["e1"] not in ids(store, f"SELECT Id FROM Event WHERE StartDateTime > {literal}")


def test_datetime_range_with_offset_crossing_midnight(store: Store, org: dict[str, str]) -> None:
    got = ids(
        store,
        "SELECT Id FROM Event WHERE StartDateTime >= 2026-11-29T10:00:00-05:00 "
        "AND StartDateTime < 2026-11-30T00:00:00+05:00",
    )
    assert got == {org["e2"]}


@pytest.mark.parametrize(
    "where",
    [
        "StartDateTime = 2026-11-29",
        "ActivityDate = 2026-11-29T00:00:00Z",
        "StartDateTime = '2026-11-29T14:00:00Z'",
        "IsChild = 'false'",
        "DurationInMinutes = '60'",
        "Subject = 5",
    ],
)
def test_a_value_of_the_wrong_type_is_an_invalid_field_error(
    store: Store, org: dict[str, str], where: str
) -> None:
    e = rejected(store, f"SELECT Id FROM Event WHERE {where}")
    assert e.error_code == "INVALID_FIELD" and "value of filter criterion" in e.message


def test_date_literal_filters_a_date_field(store: Store, org: dict[str, str]) -> None:
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate = 2026-11-29") == {
        org["e1"],
        org["e2"],
        org["e4"],
    }
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate > 2026-11-29") == {org["e3"]}


def test_text_equality_and_like_are_case_insensitive_beyond_ascii(store: Store, org: dict[str, str]) -> None:
    assert ids(store, "SELECT Id FROM Contact WHERE FirstName = 'émile'") == {org["emile"]}
    assert ids(store, "SELECT Id FROM Contact WHERE FirstName = 'ÉMILE'") == {org["emile"]}
    assert ids(store, "SELECT Id FROM Contact WHERE FirstName LIKE 'ém%'") == {org["emile"]}
    assert ids(store, "SELECT Id FROM Contact WHERE FirstName LIKE 'em%'") == set()
    assert ids(store, "SELECT Id FROM Contact WHERE FirstName IN ('ANNA', 'x')") == {org["anna"]}
    assert ids(store, "SELECT Id FROM Event WHERE Location = 'CAFÉ'") == {org["e2"]}


def test_not_not_in_and_like_really_filter(store: Store, org: dict[str, str]) -> None:
    everything = {org["e1"], org["e2"], org["e3"], org["e4"]}
    assert ids(store, "SELECT Id FROM Event WHERE Subject LIKE 'Demo%'") == {org["e1"]}
    assert ids(store, "SELECT Id FROM Event WHERE NOT Subject LIKE 'Demo%'") == everything - {org["e1"]}
    assert ids(store, "SELECT Id FROM Event WHERE Subject NOT IN ('Lunch', 'Offsite')") == {
        org["e1"],
        org["e3"],
    }
    assert ids(store, "SELECT Id FROM Event WHERE NOT (Subject = 'Lunch' OR Subject = 'Offsite')") == {
        org["e1"],
        org["e3"],
    }
    assert ids(store, "SELECT Id FROM Event WHERE Subject LIKE '%100\\%'") == {org["e1"]}
    assert ids(store, "SELECT Id FROM Event WHERE Subject LIKE 'L_nch'") == {org["e2"]}
    # != and NOT include rows whose field is null, as SOQL does.
    assert ids(store, "SELECT Id FROM Event WHERE Location != 'Café'") == everything - {org["e2"]}
    assert ids(store, "SELECT Id FROM Event WHERE Location = null") == everything - {org["e2"]}
    assert ids(store, "SELECT Id FROM Event WHERE NOT Location = null") == {org["e2"]}


def test_booleans_numbers_and_string_escapes(store: Store, org: dict[str, str]) -> None:
    store.create("Account", {"Name": 'O\'Brien \\ "Sons"\n'})
    assert len(ids(store, "SELECT Id FROM Account WHERE Name = 'O\\'Brien \\\\ \\\"Sons\\\"\\n'")) == 1
    assert ids(store, "SELECT Id FROM Event WHERE IsAllDayEvent = TRUE") == {org["e4"]}
    assert ids(store, "SELECT Id FROM Event WHERE DurationInMinutes < 60 AND IsAllDayEvent = false") == {
        org["e3"]
    }
    assert ids(store, "SELECT Id FROM Event WHERE DurationInMinutes >= 60.5") == {org["e4"]}


def test_ids_in_where_may_have_15_or_18_characters(store: Store, org: dict[str, str]) -> None:
    e1 = org["e1"]
    assert ids(store, f"SELECT Id FROM Event WHERE Id = '{e1[:15]}'") == {e1}
    assert ids(store, f"SELECT Id FROM Event WHERE Id IN ('{e1.lower()}', '{org['e2']}')") == {e1, org["e2"]}
    assert ids(store, f"SELECT Id FROM Event WHERE WhoId = '{org['emile'][:15]}'") == {e1}
    assert (
        rejected(store, "SELECT Id FROM Event WHERE Id = 'nope'").error_code
        == "INVALID_QUERY_FILTER_OPERATOR"
    )


# --- date literals -----------------------------------------------------------------------------------


def test_next_n_days_1_is_tomorrow_and_today_is_excluded(store: Store, org: dict[str, str]) -> None:
    tomorrow = ids(store, "SELECT Id FROM Event WHERE StartDateTime = TOMORROW")
    assert tomorrow == {org["e1"], org["e2"], org["e4"]}
    assert ids(store, "SELECT Id FROM Event WHERE StartDateTime = NEXT_N_DAYS:1") == tomorrow
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate = NEXT_N_DAYS:1") == tomorrow
    assert ids(store, "SELECT Id FROM Event WHERE StartDateTime = TODAY") == set()
    assert ids(store, "SELECT Id FROM Event WHERE StartDateTime = NEXT_N_DAYS:5") == set(
        org[k] for k in ("e1", "e2", "e3", "e4")
    )
    assert ids(store, "SELECT Id FROM Event WHERE StartDateTime > TOMORROW") == {org["e3"]}
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate <= TOMORROW") == tomorrow
    assert ids(store, "SELECT Id FROM Event WHERE StartDateTime = LAST_N_DAYS:3") == set()
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate = THIS_MONTH") == tomorrow
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate = NEXT_MONTH") == {org["e3"]}
    assert ids(store, "SELECT Id FROM Event WHERE ActivityDate IN (TOMORROW, NEXT_WEEK)") == tomorrow | {
        org["e3"]
    }


def test_today_follows_the_running_users_zone_near_midnight(clock: FakeClock) -> None:
    # 07:30 UTC on Nov 29 is 23:30 on Nov 28 in Los Angeles.
    clock.current = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
    st = Store(":memory:", clock=clock, user_tz="America/Los_Angeles")
    try:
        late = st.create("Event", {"StartDateTime": "2026-11-29T06:00:00Z", "DurationInMinutes": 30})
        early = st.create("Event", {"StartDateTime": "2026-11-29T09:00:00Z", "DurationInMinutes": 30})
        assert ids(st, "SELECT Id FROM Event WHERE StartDateTime = TODAY") == {late}
        assert ids(st, "SELECT Id FROM Event WHERE StartDateTime = TOMORROW") == {early}
        assert ids(st, "SELECT Id FROM Event WHERE ActivityDate = TODAY") == {late}
        assert (
            rows(st, f"SELECT ActivityDate FROM Event WHERE Id = '{late}'")[0]["ActivityDate"] == "2026-11-28"
        )
    finally:
        st.close()


# --- relationships and shapes ------------------------------------------------------------------------


def test_parent_traversal_and_the_name_object(store: Store, org: dict[str, str]) -> None:
    recs = rows(
        store,
        "SELECT Subject, Who.Name, Who.Type, Who.Email, What.Name, Owner.Email FROM Event "
        "WHERE Id = '" + org["e1"] + "'",
    )
    rec = recs[0]
    assert rec["Who"] == {
        "attributes": {"type": "Name", "url": f"/services/data/v{V}/sobjects/Contact/{org['emile']}"},
        "Name": "Émile Zola",
        "Type": "Contact",
        "Email": None,
    }
    assert rec["What"]["Name"] == "Deal" and rec["What"]["attributes"]["type"] == "Name"
    assert rec["Owner"]["Email"] == "ann@example.com"
    contact = rows(
        store, "SELECT Name, Account.Name, Account.Owner.Name FROM Contact WHERE LastName = 'Zola'"
    )[0]
    assert contact["Account"]["Name"] == "Acme" and contact["Account"]["Owner"]["Name"] == "Ann Lee"
    assert rows(store, "SELECT Account.Name FROM Contact WHERE LastName = 'Berg'")[0]["Account"] is None
    assert list(rows(store, "SELECT Subject, Id FROM Event LIMIT 1")[0]) == ["attributes", "Subject", "Id"]


def test_who_email_switch_shows_contact_email(clock: FakeClock) -> None:
    st = Store(":memory:", clock=clock, name_email_for_contacts=True)
    try:
        c = st.create("Contact", {"LastName": "C", "Email": "c@example.com"})
        st.create("Event", {"WhoId": c, "StartDateTime": "2026-11-29T09:00:00Z", "DurationInMinutes": 5})
        assert rows(st, "SELECT Who.Email FROM Event")[0]["Who"]["Email"] == "c@example.com"
        assert len(rows(st, "SELECT Id FROM Event WHERE Who.Email = 'C@example.com'")) == 1
    finally:
        st.close()


def test_where_on_parent_fields_and_polymorphic_type(store: Store, org: dict[str, str]) -> None:
    assert ids(store, "SELECT Id FROM Event WHERE Who.Type IN ('Lead')") == {org["e2"]}
    assert ids(store, "SELECT Id FROM Event WHERE What.Type = 'opportunity'") == {org["e1"]}
    assert ids(store, "SELECT Id FROM Event WHERE Who.Type != 'Contact'") == {org["e2"], org["e4"]}
    assert ids(store, "SELECT Id FROM Event WHERE Who.Name LIKE 'émile%'") == {org["e1"]}
    # Name.Email is null for contacts and leads (documented): filtering on it finds nothing.
    assert ids(store, "SELECT Id FROM Event WHERE Who.Email = 'emile@example.com'") == set()
    assert ids(store, "SELECT Id FROM Event WHERE Owner.Email = 'ann@example.com'") == {
        org["e1"],
        org["e2"],
        org["e3"],
        org["e4"],
    }
    assert ids(store, "SELECT Id FROM Contact WHERE Account.Name = 'ACME'") == {org["emile"]}
    assert ids(store, "SELECT Id FROM Contact WHERE Account.Name != 'Acme'") == {org["anna"]}


def test_typeof_shapes_per_concrete_type(store: Store, org: dict[str, str]) -> None:
    soql = (
        "SELECT Id, TYPEOF Who WHEN Contact THEN FirstName, Email, Account.Name "
        "WHEN Lead THEN Company, Email ELSE Name END FROM Event "
        "WHERE Id IN ('{e1}', '{e2}', '{e4}') ORDER BY StartDateTime"
    ).format(**org)
    got = {r["Id"]: r["Who"] for r in rows(store, soql)}
    contact = got[org["e1"]]
    assert contact["attributes"]["type"] == "Contact"
    assert contact["Email"] == "emile@example.com" and contact["Account"]["Name"] == "Acme"
    assert got[org["e2"]] == {
        "attributes": {"type": "Lead", "url": f"/services/data/v{V}/sobjects/Lead/{org['lead']}"},
        "Company": "L Ltd",
        "Email": "l@x.io",
    }
    assert got[org["e4"]] is None


def test_child_subquery_is_null_without_children(store: Store, org: dict[str, str]) -> None:
    soql = (
        "SELECT Id, (SELECT RelationId, Relation.Name, Status FROM EventRelations WHERE IsInvitee = true "
        "ORDER BY Status DESC) FROM Event WHERE Id IN ('{e1}', '{e2}')"
    ).format(**org)
    got = {r["Id"]: r["EventRelations"] for r in rows(store, soql)}
    assert got[org["e2"]] is None
    child = got[org["e1"]]
    assert child["totalSize"] == 2 and child["done"] is True
    assert [r["Status"] for r in child["records"]] == ["New", "Accepted"]
    assert child["records"][1]["Relation"]["Name"] == "Ann Lee"
    opp = rows(store, "SELECT Name, (SELECT ContactId FROM OpportunityContactRoles) FROM Opportunity")[0]
    assert opp["OpportunityContactRoles"] is None
    limited = rows(
        store, f"SELECT (SELECT Id FROM EventRelations LIMIT 1) FROM Event WHERE Id = '{org['e1']}'"
    )
    assert limited[0]["EventRelations"]["totalSize"] == 1


def test_count_order_limit_offset(store: Store, org: dict[str, str]) -> None:
    cur = store.query(
        "SELECT COUNT() FROM Event WHERE IsAllDayEvent = false", include_deleted=False, api_version=V
    )
    assert cur.total_size == 3 and cur.fetch(0, 10) == []
    subjects = [
        r["Subject"]
        for r in rows(store, "SELECT Subject FROM Event ORDER BY Location DESC NULLS LAST, Subject ASC")
    ]
    assert subjects == ["Lunch", "Demo 100%", "Follow-up", "Offsite"]
    subjects = [
        r["Subject"]
        for r in rows(
            store, "SELECT Subject FROM Event ORDER BY Location NULLS LAST, Subject DESC LIMIT 2 OFFSET 1"
        )
    ]
    assert subjects == ["Offsite", "Follow-up"]
    assert [r["Name"] for r in rows(store, "SELECT Name FROM Contact ORDER BY Account.Name NULLS FIRST")] == [
        "Anna Berg",
        "Émile Zola",
    ]


def test_soft_deleted_rows_only_in_query_all(store: Store, org: dict[str, str]) -> None:
    store.delete("Event", org["e2"])
    assert org["e2"] not in ids(store, "SELECT Id FROM Event")
    deleted = [
        r for r in rows(store, "SELECT Id, IsDeleted FROM Event", include_deleted=True) if r["IsDeleted"]
    ]
    assert [r["Id"] for r in deleted] == [org["e2"]]
    assert store.query("SELECT COUNT() FROM Event", include_deleted=True, api_version=V).total_size == 4


def test_pagination_is_stable_across_fetches(store: Store) -> None:
    bodies = [
        {"Subject": f"S{i % 3}", "StartDateTime": "2026-11-29T09:00:00Z", "DurationInMinutes": 30}
        for i in range(25)
    ]
    store.bulk_insert("Event", bodies)
    cur = store.query(
        "SELECT Id, Subject FROM Event ORDER BY StartDateTime, Subject", include_deleted=False, api_version=V
    )
    whole = [r["Id"] for r in cur.fetch(0, 25)]
    paged = [r["Id"] for off in range(0, 25, 7) for r in cur.fetch(off, 7)]
    assert paged == whole and len(set(whole)) == 25 and cur.total_size == 25


def test_content_document_link_needs_a_filter(store: Store) -> None:
    e = rejected(store, "SELECT Id FROM ContentDocumentLink")
    assert e.error_code == "MALFORMED_QUERY"
    uid = store.create("Account", {"Name": "x"})
    assert rows(store, f"SELECT Id FROM ContentDocumentLink WHERE LinkedEntityId = '{uid}'") == []


# --- rejected queries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT Id FROM Event GROUP BY Id",
        "SELECT COUNT(Id) FROM Event",
        "SELECT MAX(DurationInMinutes) FROM Event",
        "SELECT Id FROM Event FOR UPDATE",
        "SELECT Id FROM Event WITH SECURITY_ENFORCED",
        "SELECT Id FROM Event WHERE WhoId IN (SELECT Id FROM Contact)",
        "SELECT Id FROM Event LIMIT 5 garbage",
        "SELECT Id FROM Event WHERE Subject = 'a' AND Location = 'b' OR Id = null",
        "SELECT Id FROM Event WHERE CALENDAR_YEAR(StartDateTime) = 2026",
        "SELECT Id FROM Event WHERE StartDateTime = THIS_FISCAL_QUARTER",
        "SELECT Id, COUNT() FROM Event",
        "SELECT Id, Id FROM Event",
        "SELECT Id FROM Event OFFSET 2001",
        "SELECT TYPEOF Who WHEN Contact THEN Email END, Who.Name FROM Event",
        "SELECT Id FROM Event WHERE Subject = 'unterminated",
        "SELECT Id FROM Event WHERE Subject = 'bad \\q escape'",
        "SELECT FROM Event",
    ],
)
def test_unsupported_or_malformed_queries_are_rejected(store: Store, soql: str) -> None:
    assert rejected(store, soql).error_code in ("MALFORMED_QUERY", "NUMBER_OUTSIDE_VALID_RANGE")


def test_unknown_names_give_salesforce_messages(store: Store) -> None:
    e = rejected(store, "SELECT Id, Foo FROM Opportunity")
    assert e.error_code == "INVALID_FIELD"
    assert e.message.startswith(
        "\nSELECT Id, Foo FROM Opportunity\n           ^\nERROR at Row:1:Column:12\n"
        "No such column 'Foo' on entity 'Opportunity'."
    )
    e = rejected(store, "SELECT Id FROM Event WHERE Who.HasOptedOutOfEmail = false")
    assert e.error_code == "INVALID_FIELD" and "on entity 'Name'" in e.message
    e = rejected(store, "SELECT Foo.Name FROM Event")
    assert e.error_code == "INVALID_FIELD" and "Didn't understand relationship 'Foo'" in e.message
    e = rejected(store, "SELECT Id FROM Widget__c")
    assert e.error_code == "INVALID_TYPE" and "sObject type 'Widget__c' is not supported." in e.message
    e = rejected(store, "SELECT Id, (SELECT Id FROM Widgets) FROM Event")
    assert e.error_code == "INVALID_TYPE"
    assert (
        rejected(store, "SELECT Description FROM Event WHERE Description = 'x'").error_code == "INVALID_FIELD"
    )


def test_names_are_case_insensitive_with_canonical_output(store: Store, org: dict[str, str]) -> None:
    rec = rows(store, "select subject, who.name, WHAT.TYPE from EVENT where ID = '" + org["e1"] + "'")[0]
    assert (
        rec["Subject"] == "Demo 100%"
        and rec["Who"]["Name"] == "Émile Zola"
        and rec["What"]["Type"] == "Opportunity"
    )
    assert rec["attributes"]["type"] == "Event"


# --- scale -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_fifty_thousand_events_query_by_window_with_traversals(store: Store, clock: FakeClock) -> None:
    keys = store.load_seed(
        {
            "User": [{"$key": "u", "Username": "u@x.io", "LastName": "U", "Email": "u@x.io"}],
            "Account": [{"$key": "a", "Name": "A"}],
        }
    )
    contacts = store.bulk_insert(
        "Contact", [{"LastName": f"C{i}", "AccountId": keys["a"]} for i in range(500)]
    )
    base = datetime(2026, 11, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    store.bulk_insert(
        "Event",
        [
            {
                "Subject": f"M{i}",
                "WhoId": contacts[i % 500],
                "StartDateTime": (base + timedelta(minutes=15 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "DurationInMinutes": 30,
            }
            for i in range(50_000)
        ],
    )
    t1 = time.perf_counter()
    soql = (
        "SELECT Id, Subject, StartDateTime, Owner.Name, TYPEOF Who WHEN Contact THEN Email, Account.Name "
        "END, (SELECT RelationId FROM EventRelations) FROM Event "
        "WHERE StartDateTime >= 2026-11-10T00:00:00Z AND StartDateTime < 2026-11-30T20:00:00-05:00 "
        "AND IsChild = false ORDER BY StartDateTime"
    )
    cur = store.query(soql, include_deleted=False, api_version=V)
    page = cur.fetch(0, 2000)
    t2 = time.perf_counter()
    assert cur.total_size == 21 * 96 + 4 and len(page) == 2000
    assert page[0]["StartDateTime"] == "2026-11-10T00:00:00.000+0000"
    assert all(p["Who"]["Account"]["Name"] == "A" and p["EventRelations"] is None for p in page)
    plan = " ".join(
        str(r[3])
        for r in store._db.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM Event t0 WHERE StartDateTime >= ? AND StartDateTime < ?",
            ("a", "b"),
        )
    )
    assert "ix_Event_StartDateTime" in plan
    print(f"\n50k events: insert {t1 - t0:.2f}s, query+first page of 2000 {t2 - t1:.3f}s")
