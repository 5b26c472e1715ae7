"""SalesforceEmailTransport against the sandbox org over HTTPS, through the real SalesforceCrm adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from prepbot.crm.salesforce import SalesforceCrm, SessionAuth
from prepbot.domain import OutgoingMessage
from prepbot.errors import (
    ConfigError,
    DeliveryAuthError,
    DeliveryInDoubtError,
    DeliveryRejectedError,
    DeliveryRelayError,
    DeliveryUnavailableError,
)
from prepbot.transports.salesforce import SalesforceEmailTransport
from tests.conftest import RUNNING_USER

ACTION = "actions/standard/emailSimple"
SENT_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return SENT_AT


@pytest.fixture
def sandbox_seed() -> dict[str, Any]:
    return {
        "User": [dict(RUNNING_USER)],
        "Account": [{"$key": "farm", "Name": "Boerderij De Hoeve"}],
        "Contact": [
            {"$key": "jan", "FirstName": "Jan", "LastName": "Visser", "Email": "jan@hoeve.example"},
            {"$key": "noemail", "FirstName": "Kees", "LastName": "Bakker"},
        ],
        "Opportunity": [
            {
                "$key": "deal",
                "Name": "Melkrobot",
                "StageName": "Prospecting",
                "CloseDate": "2026-12-20",
                "AccountId": "@farm",
            }
        ],
    }


@pytest.fixture
def ids(sandbox: Any) -> dict[str, str]:
    sf = sandbox.client()
    contacts = {r["LastName"]: r["Id"] for r in sf.query("SELECT Id, LastName FROM Contact")["records"]}
    return {
        "jan": contacts["Visser"],
        "noemail": contacts["Bakker"],
        "deal": sf.query("SELECT Id FROM Opportunity")["records"][0]["Id"],
        "farm": sf.query("SELECT Id FROM Account")["records"][0]["Id"],
    }


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_crm(sandbox: Any, sleeps: list[float]) -> Iterator[Callable[..., SalesforceCrm]]:
    made: list[SalesforceCrm] = []

    def make(**kwargs: Any) -> SalesforceCrm:
        crm = SalesforceCrm(
            instance_url=sandbox.instance_url,
            auth=SessionAuth(sandbox.access_token),
            ca_bundle=str(sandbox.ca_bundle),
            sleep=sleeps.append,
            **kwargs,
        )
        made.append(crm)
        return crm

    yield make
    for crm in made:
        crm.close()


def transport(crm: SalesforceCrm, **kwargs: Any) -> SalesforceEmailTransport:
    return SalesforceEmailTransport(crm=crm, clock=FixedClock(), **kwargs)


def message(**changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "message_id": "conf.1@team.test",
        "from_name": "Anouk de Vries",
        "from_address": "anouk@team.test",
        "to_name": "Jan Visser",
        "to_address": "jan@hoeve.example",
        "subject": "Tot morgen om 14:00",
        "text": "Beste Jan,\n\nTot morgen om 14:00.\n",
        **changes,
    }
    return OutgoingMessage(**fields)


def tasks(sandbox: Any) -> list[dict[str, Any]]:
    records = sandbox.client().query("SELECT Subject, TaskSubtype, Status, WhoId, WhatId FROM Task")
    return list(records["records"])


# -- what goes out and what gets logged ---------------------------------------------------------------


def test_a_message_is_sent_to_the_contact_and_logged_on_the_contact_and_the_deal(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    bot = transport(make_crm())
    receipt = bot.send(message(who_id=ids["jan"], what_id=ids["deal"]))
    assert (receipt.message_id, receipt.accepted_at) == ("conf.1@team.test", SENT_AT)
    [email] = sandbox.emails
    assert (email["to"], email["recipientId"], email["relatedRecordId"]) == (
        ["jan@hoeve.example"],
        ids["jan"],
        ids["deal"],
    )
    assert (email["subject"], email["body"], email["html"]) == (
        "Tot morgen om 14:00",
        "Beste Jan,\n\nTot morgen om 14:00.\n",
        False,
    )
    assert [
        (t["Subject"], t["TaskSubtype"], t["Status"], t["WhoId"], t["WhatId"]) for t in tasks(sandbox)
    ] == [("Email: Tot morgen om 14:00", "Email", "Completed", ids["jan"], ids["deal"])]
    logged = sandbox.client().query("SELECT Subject, Status, RelatedToId FROM EmailMessage")["records"]
    assert [(m["Subject"], m["Status"], m["RelatedToId"]) for m in logged] == [
        ("Tot morgen om 14:00", "3", ids["deal"])
    ]
    assert bot.logs_activity is True


def test_the_html_part_is_sent_as_a_rich_body_when_there_is_one(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    transport(make_crm()).send(message(who_id=ids["jan"], html="<p>Beste Jan,</p>\n"))
    assert (sandbox.emails[0]["body"], sandbox.emails[0]["html"]) == ("<p>Beste Jan,</p>\n", True)


def test_without_logging_the_address_is_used_and_nothing_is_logged(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    bot = transport(make_crm(), log_email_on_send=False)
    bot.send(message(who_id=ids["jan"], what_id=ids["deal"]))
    assert bot.logs_activity is False
    assert sandbox.emails[0]["to"] == ["jan@hoeve.example"]
    assert sandbox.emails[0]["recipientId"] is None
    assert tasks(sandbox) == []


def test_an_org_wide_sender_is_named_in_the_request(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    bot = transport(make_crm(), sender_type="OrgWideEmailAddress", sender_address="meet@team.test")
    bot.send(message(who_id=ids["jan"]))
    email = sandbox.emails[0]
    assert (email["senderType"], email["senderAddress"]) == ("OrgWideEmailAddress", "meet@team.test")
    sf = sandbox.client()
    assert sf.query("SELECT FromAddress FROM EmailMessage")["records"][0]["FromAddress"] == "meet@team.test"


def test_api_version_65_names_the_recipients_recipient_addresses(
    make_crm: Callable[..., SalesforceCrm], sandbox: Any
) -> None:
    bot = transport(make_crm(api_version="65.0"), log_email_on_send=False)
    assert "recipientAddresses" in bot.inputs_for(message())
    assert "emailAddresses" in transport(make_crm(), log_email_on_send=False).inputs_for(message())
    bot.send(message())
    assert sandbox.emails[0]["to"] == ["jan@hoeve.example"]


def test_an_org_wide_sender_without_an_address_is_a_config_error(
    make_crm: Callable[..., SalesforceCrm],
) -> None:
    with pytest.raises(ConfigError, match=r"delivery\.salesforce_sender_address"):
        transport(make_crm(), sender_type="OrgWideEmailAddress")


# -- refusals ----------------------------------------------------------------------------------------


def test_a_contact_without_an_email_address_is_refused_for_good_with_the_status_code(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    with pytest.raises(DeliveryRejectedError, match="INVALID_EMAIL_ADDRESS"):
        transport(make_crm()).send(message(who_id=ids["noemail"]))
    assert sandbox.emails == [] and tasks(sandbox) == []


def test_a_recipient_that_is_not_a_person_is_refused_for_good(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    with pytest.raises(DeliveryRejectedError, match="INVALID_ID_FIELD"):
        transport(make_crm()).send(message(who_id=ids["farm"]))
    assert sandbox.emails == []


def test_the_daily_single_email_limit_means_try_again_later(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    sandbox.api_calls.single_email_max = 0
    with pytest.raises(DeliveryUnavailableError, match="SINGLE_EMAIL_LIMIT_EXCEEDED"):
        transport(make_crm()).send(message(who_id=ids["jan"]))
    assert sandbox.emails == []


def test_an_org_that_may_not_send_email_makes_the_relay_unusable() -> None:
    from prepbot.transports.salesforce import _refusal

    refused = _refusal([{"statusCode": "NO_MASS_MAIL_PERMISSION", "message": "Single email is not enabled"}])
    assert isinstance(refused, DeliveryRelayError)
    assert "NO_MASS_MAIL_PERMISSION" in str(refused)
    assert isinstance(_refusal(None), DeliveryRejectedError)


# -- faults ------------------------------------------------------------------------------------------


def test_a_503_is_retried_by_the_adapter_and_the_email_goes_out_once(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str], sleeps: list[float]
) -> None:
    sandbox.faults.add(ACTION, "unavailable")
    transport(make_crm()).send(message(who_id=ids["jan"]))
    assert len(sandbox.emails) == 1 and len(sleeps) == 1
    assert len(tasks(sandbox)) == 1


def test_a_lasting_503_is_retryable_and_a_later_send_goes_out_once(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    fault = sandbox.faults.add(ACTION, "unavailable", times=None)
    bot = transport(make_crm(max_retries=2))
    with pytest.raises(DeliveryUnavailableError) as exc:
        bot.send(message(who_id=ids["jan"]))
    assert exc.value.retryable and sandbox.emails == []
    sandbox.faults.remove(fault.id)
    bot.send(message(who_id=ids["jan"]))
    assert len(sandbox.emails) == 1


def test_request_limit_exceeded_is_retryable_and_not_resent_at_once(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str], sleeps: list[float]
) -> None:
    sandbox.faults.add(ACTION, "limit_exceeded")
    with pytest.raises(DeliveryUnavailableError, match="REQUEST_LIMIT_EXCEEDED"):
        transport(make_crm()).send(message(who_id=ids["jan"]))
    assert sandbox.emails == [] and sleeps == []


def test_an_expired_session_makes_the_relay_unusable(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    sandbox.faults.add(ACTION, "session_expired")
    with pytest.raises(DeliveryAuthError):
        transport(make_crm()).send(message(who_id=ids["jan"]))
    assert sandbox.emails == []


def test_an_answer_that_never_arrives_is_in_doubt_and_not_resent(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str], sleeps: list[float]
) -> None:
    sandbox.faults.add(ACTION, "slow", delay=1.5)
    with pytest.raises(DeliveryInDoubtError):
        transport(make_crm(timeout=0.5)).send(message(who_id=ids["jan"]))
    assert sleeps == []  # the adapter backs off before any resend: none happened


def test_an_unreadable_answer_is_in_doubt_although_salesforce_sent_it(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str]
) -> None:
    sandbox.faults.add(ACTION, "truncated")
    with pytest.raises(DeliveryInDoubtError):
        transport(make_crm()).send(message(who_id=ids["jan"]))
    assert len(sandbox.emails) == 1


def test_a_500_is_in_doubt_and_not_resent(
    sandbox: Any, make_crm: Callable[..., SalesforceCrm], ids: dict[str, str], sleeps: list[float]
) -> None:
    sandbox.faults.add(ACTION, "server_error")
    with pytest.raises(DeliveryInDoubtError):
        transport(make_crm()).send(message(who_id=ids["jan"]))
    assert sleeps == []


def test_a_connection_that_cannot_be_made_is_retryable(ids: dict[str, str], sandbox: Any) -> None:
    crm = SalesforceCrm(
        instance_url="https://127.0.0.1:9", auth=SessionAuth("x"), max_retries=0, sleep=lambda s: None
    )
    try:
        with pytest.raises(DeliveryUnavailableError):
            transport(crm).send(message(who_id=ids["jan"]))
    finally:
        crm.close()
