"""reliability.md S1-S10 through `prepbot tick`: what the ledger, the client and the exit code see
when the SMTP relay misbehaves (the transport's own reply mapping is tested in tests/transports)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.e2e.conftest import event
from tests.reliability.fault_env import (
    DUE,
    Bot,
    clients,
    meetings_for,
    sjoerd,
    start_bot,
)
from tests.smtp_server import Fault, SmtpTestServer, server_tls

Start = Callable[..., SmtpTestServer]


@pytest.fixture
def relay() -> Iterator[Start]:
    """``relay(faults=[...], **SmtpTestServer kwargs)``: a started scripted server, stopped after the test."""
    servers: list[SmtpTestServer] = []

    def start(*faults: Fault, **kwargs: Any) -> SmtpTestServer:
        server = SmtpTestServer(faults=faults, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def one(sandbox_factory: Callable[..., Any], tmp_path: Path) -> Bot:
    """One meeting (Sjoerd, Wednesday 14:00 Amsterdam); max 3 attempts, retried every 10 minutes."""
    return start_bot(
        sandbox_factory,
        tmp_path,
        [sjoerd()],
        [event("ams", "2026-12-02T13:00:00Z", WhatId=None)],
        schedule={"max_attempts": 3, "retry_minutes": 10},
    )


@pytest.fixture
def five(sandbox_factory: Callable[..., Any], tmp_path: Path) -> Bot:
    """Five meetings with five clients, all due at the same moment."""
    return start_bot(
        sandbox_factory,
        tmp_path,
        clients(5),
        meetings_for(5),
        schedule={"max_attempts": 3, "retry_minutes": 10},
    )


def message_ids(server: SmtpTestServer) -> list[str]:
    return [str(message_from_bytes(r.data)["Message-ID"]) for r in server.accepted]


def assert_each_once(server: SmtpTestServer, bot: Bot) -> None:
    """O1 + O2: every confirmation row logged, and each of their Message-IDs accepted exactly once."""
    rows = bot.rows()
    assert {r["status"] for r in rows} == {"logged"}, rows
    counts = Counter(mid.strip("<>") for mid in message_ids(server))
    assert sorted(counts) == sorted(str(r["message_id"]).strip("<>") for r in rows)
    assert set(counts.values()) == {1}


# -- S1: 421 at greeting / mid-session --------------------------------------------------------------


def test_s1_421_at_the_greeting_is_retried_on_a_new_connection_later(one: Bot, relay: Start) -> None:
    server = relay(Fault("greeting", reply="421 4.3.2 service not available", connection=1))
    one.relay(server.port)
    first = one.tick(DUE)
    [row] = one.rows()
    assert (row["status"], row["attempt"]) == ("planned", 1) and "421" in row["reason"]
    assert server.accepted == [] and first.exit_code == 1 and "mail relay unreachable" in first.stderr
    one.tick("2026-12-01T09:10:00Z")
    assert server.connections == 2
    assert_each_once(server, one)


def test_s1_421_mid_session_reconnects_at_once_and_sends_every_message_once(five: Bot, relay: Start) -> None:
    server = relay(Fault("MAIL", reply="421 4.3.2 closing this session", message=3))
    five.relay(server.port)
    five.tick(DUE)
    assert server.connections == 2  # the 421 closed the pooled session; one fresh one carried the rest
    assert_each_once(server, five)


def test_s1_421_at_every_greeting_is_capped_by_max_attempts(one: Bot, relay: Start) -> None:
    server = relay(Fault("greeting", reply="421 4.3.2 busy", times=None))
    one.relay(server.port)
    results = [one.tick(f"2026-12-01T09:{m:02d}:00Z") for m in (0, 10, 20, 30, 40)]
    [row] = one.rows()
    assert row["status"] == "failed" and "gave up after 3 attempts" in row["reason"]
    assert server.connections == 3  # one connection per attempt: no hot reconnect loop
    assert results[2].exit_code == 1 and "gave up" in results[2].stderr


# -- S2: 450/451/452 at RCPT or DATA ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "reply"),
    [
        ("RCPT", "450 4.2.1 mailbox busy"),
        ("RCPT", "451 4.3.0 local error"),
        ("RCPT", "452 4.5.3 too many recipients"),
        ("DATA", "451 4.3.0 try later"),
        ("DATA_END", "452 4.3.1 insufficient storage"),
    ],
)
def test_s2_a_temporary_refusal_is_retried_after_the_backoff_and_sent_once(
    one: Bot, relay: Start, at: str, reply: str
) -> None:
    server = relay(Fault(at, reply=reply, times=1))
    one.relay(server.port)
    one.tick(DUE)
    [row] = one.rows()
    assert row["status"] == "planned" and reply[:3] in row["reason"]
    assert row["due_at"].startswith("2026-12-01T09:10")
    one.tick("2026-12-01T09:05:00Z")  # inside the backoff: not tried
    assert server.verbs.count("MAIL") == 1
    one.tick("2026-12-01T09:10:00Z")
    assert_each_once(server, one)


# -- S3: permanent refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "reply"),
    [
        ("RCPT", "550 5.1.1 no such user"),
        ("MAIL", "553 5.1.8 sender address rejected"),
        ("DATA_END", "554 5.7.1 message refused as spam"),
    ],
)
def test_s3_a_permanent_refusal_fails_with_the_reply_and_shows_in_status_with_advice(
    one: Bot, relay: Start, at: str, reply: str
) -> None:
    server = relay(Fault(at, reply=reply, times=None))
    one.relay(server.port)
    result = one.tick(DUE)
    one.tick("2026-12-01T09:30:00Z")
    one.tick("2026-12-01T10:30:00Z")
    [row] = one.rows()
    assert row["status"] == "failed" and reply in row["reason"] and row["attempt"] == 1
    assert server.verbs.count("MAIL") == 1 and server.accepted == []  # never retried
    assert result.exit_code == 1
    status = one.status()
    [attention] = status["attention"]
    assert attention["status"] == "failed" and attention["advice"]
    assert status["counts"]["failed"] == 1


# -- S4: partial RCPT refusal -----------------------------------------------------------------------


def test_s4_each_message_has_exactly_one_recipient_so_a_refused_one_fails_alone(
    five: Bot, relay: Start
) -> None:
    """prepbot never sends one message to several recipients: each (meeting, recipient, kind) is its
    own ledger row and its own transaction (``SmtpTransport.send`` passes ``[to_address]``), so
    "one of two RCPTs refused" cannot happen inside a message. Its analogue across messages: one
    refused recipient fails alone, and the accepted ones are neither failed nor resent."""
    server = relay(Fault("RCPT", reply="550 5.1.1 no such user", rcpt="c2@client2.test", times=None))
    five.relay(server.port)
    five.tick(DUE)
    five.tick("2026-12-01T09:30:00Z")
    assert all(len(r.rcpt_tos) == 1 for r in server.received)
    assert all(verb_count == 1 for verb_count in Counter(r.rcpt_tos[0] for r in server.accepted).values())
    by_recipient = {r["recipient"]: r["status"] for r in five.rows()}
    assert by_recipient.pop("c2@client2.test") == "failed"
    assert set(by_recipient.values()) == {"logged"} and len(server.accepted) == 4


# -- S5: reset before the banner / tarpit ------------------------------------------------------------


@pytest.mark.parametrize(
    "fault", [Fault("greeting", disconnect=True), Fault("greeting", delay=3)], ids=["reset", "tarpit"]
)
def test_s5_no_banner_times_out_the_row_is_claimable_again_and_the_cycle_moves_on(
    five: Bot, relay: Start, fault: Fault
) -> None:
    server = relay(fault)  # every connection: reset before the banner, or a banner after 3 s
    five.relay(server.port, timeout_seconds=1)
    result = five.tick(DUE)
    rows = five.rows()
    assert {r["status"] for r in rows} == {"planned"}  # not left claimed/sending: claimable again
    assert server.connections == 1  # the unreachable relay stopped the cycle: not one wait per row
    assert result.exit_code == 1 and "mail relay unreachable" in result.stderr
    assert sorted(r["attempt"] for r in rows) == [1, 1, 1, 1, 1]
    server.state.faults.clear()
    five.tick("2026-12-01T09:01:00Z")  # the 4 rows not tried go at the next cycle
    five.tick("2026-12-01T09:10:00Z")  # the one that was tried, after its backoff
    assert_each_once(server, five)


# -- S6: 4xx for ever ----------------------------------------------------------------------------


def test_s6_451_for_ever_gives_up_after_max_attempts_with_an_alert(one: Bot, relay: Start) -> None:
    server = relay(Fault("RCPT", reply="451 4.3.0 try again later", times=None))
    one.relay(server.port)
    results = [one.tick(f"2026-12-01T09:{m:02d}:00Z") for m in (0, 10, 20, 30)]
    [row] = one.rows()
    assert row["status"] == "failed" and "gave up after 3 attempts" in row["reason"]
    assert server.verbs.count("MAIL") == 3 and server.accepted == []
    assert [r.exit_code for r in results] == [0, 0, 1, 0]
    assert "gave up" in results[2].stderr


def test_s6_451_until_the_meeting_is_close_gives_up_before_the_start(one: Bot, relay: Start) -> None:
    one.configure(schedule={"max_attempts": 50})
    server = relay(Fault("RCPT", reply="451 4.3.0 try again later", times=None))
    one.relay(server.port)
    one.tick(DUE)
    late = one.tick("2026-12-02T09:55:00Z")  # the next retry (10:05Z) would be inside min_notice
    [row] = one.rows()
    assert row["status"] == "failed" and "gave up" in row["reason"]
    assert late.exit_code == 1 and "gave up" in late.stderr
    one.tick("2026-12-02T12:00:00Z")
    assert server.verbs.count("MAIL") == 2 and server.accepted == []


# -- S7: a slow 250 ------------------------------------------------------------------------------


def test_s7_a_250_slower_than_usual_but_within_the_data_end_timeout_is_accepted(
    one: Bot, relay: Start
) -> None:
    """Rule: the wait for the reply to the end of DATA is ``smtp.timeout_seconds`` (default 60 s,
    above the 20 s of S7). Scaled down: a 2 s delay with a 5 s timeout ends ``logged``."""
    server = relay(Fault("DATA_END", delay=2, times=1))
    one.relay(server.port, timeout_seconds=5)
    result = one.tick(DUE)
    assert result.exit_code == 0
    assert_each_once(server, one)


# -- S8: TLS -------------------------------------------------------------------------------------


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.mark.parametrize("problem", ["untrusted", "wrong_host", "no_starttls"])
def test_s8_a_tls_problem_is_refused_before_auth_with_an_alert_and_the_row_waits(
    one: Bot, relay: Start, ca: trustme.CA, tmp_path: Path, problem: str
) -> None:
    if problem == "no_starttls":
        server = relay(credentials=("prepbot", "s3cret-canary"), auth_require_tls=False)
    else:
        issuer = trustme.CA() if problem == "untrusted" else ca
        names = ("mx.elsewhere.test",) if problem == "wrong_host" else ()
        server = relay(
            tls="starttls", tls_context=server_tls(issuer, *names), credentials=("prepbot", "s3cret-canary")
        )
    ca_file = tmp_path / "relay-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-canary", encoding="utf-8")
    secret.chmod(0o600)
    one.relay(
        server.port,
        security="starttls",
        ca_bundle=str(ca_file),
        username="prepbot",
        password_file=str(secret),
    )
    result = one.tick(DUE)
    assert "AUTH" not in server.verbs and server.received == []
    [row] = one.rows()
    assert row["status"] == "planned"  # held for later, not failed: the message is not at fault
    assert result.exit_code == 1 and "relay unusable" in result.stderr
    assert "s3cret-canary" not in result.output


# -- S9: AUTH 535 --------------------------------------------------------------------------------


def test_s9_auth_535_alerts_stops_the_cycle_and_burns_no_attempts(
    five: Bot, relay: Start, tmp_path: Path
) -> None:
    server = relay(credentials=("prepbot", "right-password"), auth_require_tls=False)
    secret = tmp_path / "smtp-password"
    secret.write_text("wrong-canary-pw", encoding="utf-8")
    secret.chmod(0o600)
    five.relay(server.port, username="prepbot", password_file=str(secret))
    results = [five.tick(f"2026-12-01T09:{m:02d}:00Z") for m in (0, 10, 20, 30, 40)]
    assert all(r.exit_code == 1 and "relay unusable" in r.stderr for r in results)
    assert server.connections == 5  # one login per cycle, not one per message
    assert "MAIL" not in server.verbs and server.received == []
    assert {r["status"] for r in five.rows()} == {"planned"}  # 5 cycles > max_attempts, yet none failed
    assert not any("wrong-canary-pw" in r.output for r in results)
    secret.write_text("right-password", encoding="utf-8")
    server.add_fault(Fault("RCPT", reply="451 4.3.0 try again later", message=1))
    five.tick("2026-12-01T09:50:00Z")  # the budget is intact: a first 4xx is retried, not fatal
    first = [r for r in five.rows() if r["status"] != "logged"]
    assert [r["status"] for r in first] == ["planned"] and "451" in first[0]["reason"]
    five.tick("2026-12-01T10:00:00Z")
    assert_each_once(server, five)


# -- S10: too many mails per session --------------------------------------------------------------


def test_s10_451_after_n_mails_per_session_reconnects_and_sends_all_once(five: Bot, relay: Start) -> None:
    server = relay(Fault("MAIL", reply="451 4.7.1 too many messages in this session", from_session_message=3))
    five.relay(server.port)
    result = five.tick(DUE)
    assert result.exit_code == 0
    assert server.connections == 3  # 2 + 2 + 1 messages
    assert_each_once(server, five)
