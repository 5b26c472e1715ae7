"""SmtpTransport against a real aiosmtpd server on 127.0.0.1 (reliability.md S1-S10, X2)."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import trustme

from prepbot.domain import DeliveryReceipt, OutgoingMessage
from prepbot.errors import (
    ConfigError,
    DeliveryAuthError,
    DeliveryError,
    DeliveryInDoubtError,
    DeliveryRejectedError,
    DeliveryTlsError,
    DeliveryUnavailableError,
)
from prepbot.transports.smtp import SmtpTransport
from prepbot.transports.smtp_wire import pipelined_commands
from tests.smtp_server import Fault, SmtpTestServer, server_tls

PASSWORD = "canary-Pa55w0rd-7f3e"
USER = "prepbot@relay.test"


def simple_build(msg: OutgoingMessage) -> EmailMessage:
    """A stand-in for prepbot.messages.build_message, enough for transport tests."""
    out = EmailMessage()
    out["From"] = Address(msg.from_name, addr_spec=msg.from_address)
    out["To"] = Address(msg.to_name, addr_spec=msg.to_address)
    out["Subject"] = msg.subject
    out["Message-ID"] = f"<{msg.message_id}>"
    out.set_content(msg.text)
    if msg.html:
        out.add_alternative(msg.html, subtype="html")
    return out


def envelope_only_build(msg: OutgoingMessage) -> EmailMessage:
    """For envelope tests: the headers name a plain address; only the envelope carries the odd one."""
    return simple_build(replace(msg, to_address="header@buyer.test"))


def outgoing(n: int = 1, **changes: Any) -> OutgoingMessage:
    fields: dict[str, Any] = {
        "message_id": f"m{n}.key@prepbot.test",
        "from_name": "Anna de Vries",
        "from_address": "anna@seller.test",
        "to_name": "Пётр Иванов",
        "to_address": f"client{n}@buyer.test",
        "subject": f"Tomorrow at 10:00 — which entrance? ({n})",
        "text": "Hello,\n.a line starting with a dot\nSee you tomorrow.\n",
    }
    fields.update(changes)
    return OutgoingMessage(**fields)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(params=[False, True], ids=["one-by-one", "pipelining"])
def start_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., SmtpTestServer]]:
    """Every test runs against a relay without and with PIPELINING (RFC 2920): same outcomes."""
    servers: list[SmtpTestServer] = []

    def start(**kwargs: Any) -> SmtpTestServer:
        kwargs.setdefault("pipelining", request.param)
        servers.append(SmtpTestServer(**kwargs).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_transport() -> Iterator[Callable[..., SmtpTransport]]:
    transports: list[SmtpTransport] = []

    def make(server: SmtpTestServer, **kwargs: Any) -> SmtpTransport:
        options: dict[str, Any] = {
            "host": server.host,
            "port": server.port,
            "security": "none",
            "timeout": 3.0,
            "local_hostname": "client.test",
            "build": simple_build,
        }
        options.update(kwargs)
        transports.append(SmtpTransport(**options))
        return transports[-1]

    yield make
    for transport in transports:
        transport.close()


# -- delivery and connection reuse ---------------------------------------------------------------


def test_plain_loopback_delivery_arrives_with_headers_and_body_intact(start_server, make_transport):
    server = start_server()
    receipt = make_transport(server).send(outgoing())

    assert isinstance(receipt, DeliveryReceipt)
    assert receipt.message_id == "m1.key@prepbot.test"
    assert receipt.reply.startswith("250")
    assert receipt.accepted_at.tzinfo is not None
    [got] = server.accepted
    assert (got.mail_from, got.rcpt_tos) == ("anna@seller.test", ["client1@buyer.test"])
    parsed = email.message_from_bytes(got.data, policy=email.policy.default)
    assert parsed["Subject"] == "Tomorrow at 10:00 — which entrance? (1)"
    assert parsed["Message-ID"] == "<m1.key@prepbot.test>"
    assert parsed["To"].addresses[0].display_name == "Пётр Иванов"
    assert parsed.get_content().splitlines()[1] == ".a line starting with a dot"


def test_the_default_builder_is_prepbot_messages(start_server, make_transport):
    messages = pytest.importorskip("prepbot.messages")
    if not hasattr(messages, "build_message"):
        pytest.skip("prepbot.messages.build_message is not written yet")
    server = start_server()
    make_transport(server, build=None).send(outgoing())
    [got] = server.accepted
    assert got.rcpt_tos == ["client1@buyer.test"]
    parsed = email.message_from_bytes(got.data, policy=email.policy.default)
    assert parsed["Subject"] == "Tomorrow at 10:00 — which entrance? (1)"


def test_configured_envelope_sender_is_used_for_mail_from(start_server, make_transport):
    server = start_server()
    make_transport(server, envelope_sender="bounces@seller.test").send(outgoing())
    assert server.accepted[0].mail_from == "bounces@seller.test"


def test_consecutive_sends_reuse_one_connection_until_the_per_connection_cap(start_server, make_transport):
    server = start_server()
    transport = make_transport(server, max_messages_per_connection=2)
    for n in range(1, 6):
        transport.send(outgoing(n))
    assert len(server.accepted) == 5
    assert server.connections == 3  # 2 + 2 + 1
    transport.close()
    assert server.verbs.count("QUIT") == 3


def test_a_pooled_connection_closed_by_the_server_is_replaced_transparently(start_server, make_transport):
    server = start_server(faults=[Fault("MAIL", disconnect=True, message=2)])
    transport = make_transport(server)
    transport.send(outgoing(1))
    transport.send(outgoing(2))  # MAIL on the stale connection fails; retried once on a new one
    assert [r.rcpt_tos for r in server.accepted] == [["client1@buyer.test"], ["client2@buyer.test"]]
    assert server.connections == 2


def test_451_after_n_messages_per_session_reconnects_and_continues(start_server, make_transport):
    # S10: the relay allows 2 messages per session, then answers 451 to MAIL.
    server = start_server(faults=[Fault("MAIL", reply="451 4.7.1 too many messages", from_session_message=3)])
    transport = make_transport(server)
    for n in range(1, 6):
        transport.send(outgoing(n))
    assert len(server.accepted) == 5
    assert server.connections == 3


def test_send_many_refused_recipient_does_not_fail_the_others(start_server, make_transport):
    # S4: one of two recipients refused at RCPT.
    server = start_server(faults=[Fault("RCPT", reply="550 5.1.1 no such user", rcpt="gone@buyer.test")])
    outcomes = make_transport(server).send_many(outgoing(), ["ok@buyer.test", "gone@buyer.test"])

    assert isinstance(outcomes["ok@buyer.test"], DeliveryReceipt)
    refused = outcomes["gone@buyer.test"]
    assert isinstance(refused, DeliveryRejectedError) and refused.code == 550
    [got] = server.accepted
    assert got.rcpt_tos == ["ok@buyer.test"]


def test_non_ascii_address_goes_out_with_smtputf8_when_offered(start_server, make_transport):
    server = start_server(smtputf8=True)
    make_transport(server, build=envelope_only_build).send(outgoing(to_address="пётр@покупатель.test"))
    assert server.accepted[0].rcpt_tos == ["пётр@покупатель.test"]


def test_non_ascii_address_is_rejected_when_the_relay_lacks_smtputf8(start_server, make_transport):
    server = start_server(smtputf8=False)
    with pytest.raises(DeliveryRejectedError, match="SMTPUTF8"):
        make_transport(server, build=envelope_only_build).send(outgoing(to_address="пётр@покупатель.test"))
    assert server.received == []


def test_an_envelope_address_with_crlf_is_rejected_before_any_command(start_server, make_transport):
    server = start_server()
    with pytest.raises(DeliveryRejectedError):
        make_transport(server, build=envelope_only_build).send(
            outgoing(to_address="a@b.test\r\nRCPT TO:<evil@x.test>")
        )
    assert "MAIL" not in server.verbs


# -- TLS and AUTH (S8, S9) -----------------------------------------------------------------------


def test_starttls_with_the_trusted_ca_delivers_over_tls_after_auth(start_server, make_transport, ca, ca_file):
    server = start_server(tls="starttls", tls_context=server_tls(ca), credentials=(USER, PASSWORD))
    transport = make_transport(
        server, security="starttls", ca_bundle=ca_file, username=USER, password=PASSWORD
    )
    transport.send(outgoing())

    [got] = server.accepted
    assert got.tls and got.authenticated
    verbs = server.verbs
    assert verbs.index("STARTTLS") < verbs.index("AUTH") < verbs.index("MAIL")


@pytest.mark.parametrize(
    ("trusted_ca", "names"),
    [(False, ()), (True, ("mail.elsewhere.test",))],
    ids=["untrusted_ca", "wrong_hostname"],
)
def test_starttls_certificate_problems_are_refused_before_auth(
    start_server, make_transport, ca, ca_file, trusted_ca, names
):
    context = server_tls(ca if trusted_ca else trustme.CA(), *names)
    server = start_server(tls="starttls", tls_context=context, credentials=(USER, PASSWORD))
    transport = make_transport(
        server, security="starttls", ca_bundle=ca_file, username=USER, password=PASSWORD
    )
    with pytest.raises(DeliveryTlsError) as caught:
        transport.send(outgoing())
    assert not caught.value.retryable
    assert "STARTTLS" in server.verbs
    assert "AUTH" not in server.verbs
    assert server.received == []


def test_starttls_required_but_not_offered_is_refused_without_auth(start_server, make_transport, ca_file):
    server = start_server(credentials=(USER, PASSWORD), auth_require_tls=False)
    transport = make_transport(
        server, security="starttls", ca_bundle=ca_file, username=USER, password=PASSWORD
    )
    with pytest.raises(DeliveryTlsError, match="does not offer STARTTLS"):
        transport.send(outgoing())
    assert "AUTH" not in server.verbs
    assert server.received == []


def test_implicit_tls_with_the_trusted_ca_delivers(start_server, make_transport, ca, ca_file):
    server = start_server(tls="implicit", tls_context=server_tls(ca), credentials=(USER, PASSWORD))
    transport = make_transport(server, security="tls", ca_bundle=ca_file, username=USER, password=PASSWORD)
    transport.send(outgoing())
    [got] = server.accepted
    assert got.tls and got.authenticated


def test_implicit_tls_with_an_untrusted_certificate_is_refused(start_server, make_transport, ca_file):
    server = start_server(tls="implicit", tls_context=server_tls(trustme.CA()))
    with pytest.raises(DeliveryTlsError):
        make_transport(server, security="tls", ca_bundle=ca_file).send(outgoing())
    assert server.commands == []


def test_wrong_password_535_is_a_non_retryable_auth_error(start_server, make_transport, ca, ca_file):
    server = start_server(tls="starttls", tls_context=server_tls(ca), credentials=(USER, "other"))
    transport = make_transport(
        server, security="starttls", ca_bundle=ca_file, username=USER, password=PASSWORD
    )
    with pytest.raises(DeliveryAuthError) as caught:
        transport.send(outgoing())
    assert caught.value.code == 535
    assert not caught.value.retryable
    assert "MAIL" not in server.verbs


# -- transient and permanent refusals (S1, S2, S3, S5) -------------------------------------------


def test_421_at_greeting_is_unavailable_and_the_next_send_connects_afresh(start_server, make_transport):
    server = start_server(faults=[Fault("greeting", reply="421 4.3.2 busy", connection=1)])
    transport = make_transport(server)
    with pytest.raises(DeliveryUnavailableError) as caught:
        transport.send(outgoing(1))
    assert caught.value.code == 421 and caught.value.retryable
    transport.send(outgoing(2))
    assert [r.rcpt_tos for r in server.accepted] == [["client2@buyer.test"]]


def test_421_mid_session_is_unavailable_and_the_next_send_uses_a_new_connection(start_server, make_transport):
    server = start_server(faults=[Fault("RCPT", reply="421 4.3.0 shutting down", message=1)])
    transport = make_transport(server)
    with pytest.raises(DeliveryUnavailableError) as caught:
        transport.send(outgoing(1))
    assert caught.value.code == 421
    transport.send(outgoing(2))
    assert len(server.accepted) == 1
    assert server.connections == 2


@pytest.mark.parametrize("at", ["RCPT", "DATA", "DATA_END"])
@pytest.mark.parametrize("code", [450, 451, 452])
def test_4xx_at_rcpt_or_data_is_unavailable_and_the_connection_stays_usable(
    start_server, make_transport, at, code
):
    server = start_server(faults=[Fault(at, reply=f"{code} 4.2.0 try again later", message=1)])
    transport = make_transport(server)
    with pytest.raises(DeliveryUnavailableError) as caught:
        transport.send(outgoing(1))
    assert caught.value.code == code and caught.value.retryable
    transport.send(outgoing(2))
    assert [r.rcpt_tos for r in server.accepted] == [["client2@buyer.test"]]
    assert server.connections == 1


@pytest.mark.parametrize(
    ("at", "reply"),
    [
        ("RCPT", "550 5.1.1 user unknown"),
        ("RCPT", "553 5.1.3 bad address syntax"),
        ("MAIL", "553 5.7.1 sender not allowed"),
        ("DATA_END", "554 5.7.1 message refused as spam"),
        ("DATA", "554 5.5.1 no valid recipients"),
    ],
)
def test_5xx_is_a_permanent_rejection_with_code_and_reply(start_server, make_transport, at, reply):
    server = start_server(faults=[Fault(at, reply=reply)])
    with pytest.raises(DeliveryRejectedError) as caught:
        make_transport(server).send(outgoing())
    assert caught.value.code == int(reply[:3])
    assert not caught.value.retryable
    assert reply[4:] in str(caught.value)
    assert server.accepted == []


def test_connection_reset_before_the_banner_is_unavailable(start_server, make_transport):
    server = start_server(faults=[Fault("greeting", disconnect=True)])
    with pytest.raises(DeliveryUnavailableError):
        make_transport(server).send(outgoing())


def test_a_server_that_never_sends_its_banner_times_out(start_server, make_transport):
    # S5 tarpit: without a timeout the banner would arrive after 30 s and the send would succeed.
    server = start_server(faults=[Fault("greeting", delay=30)])
    with pytest.raises(DeliveryUnavailableError):
        make_transport(server, timeout=0.3).send(outgoing())
    assert server.received == []


def test_a_refused_connection_is_unavailable(start_server, make_transport):
    server = start_server()
    server.stop()
    with pytest.raises(DeliveryUnavailableError):
        make_transport(server, timeout=1.0).send(outgoing())


# -- the RFC 1047 window (S7, C2-C4) -------------------------------------------------------------


def test_250_later_than_the_data_end_timeout_is_in_doubt(start_server, make_transport):
    server = start_server(faults=[Fault("DATA_END", delay=30, message=1)])
    transport = make_transport(server, timeout=3.0, data_end_timeout=0.3)
    with pytest.raises(DeliveryInDoubtError) as caught:
        transport.send(outgoing(1))
    assert not caught.value.retryable
    assert len(server.received) == 1  # the relay had the whole message
    transport.send(outgoing(2))  # and the transport recovers on a new connection
    assert server.connections == 2


def test_250_within_the_data_end_timeout_is_accepted(start_server, make_transport):
    server = start_server(faults=[Fault("DATA_END", delay=0.3)])
    receipt = make_transport(server, data_end_timeout=5.0).send(outgoing())
    assert receipt.reply.startswith("250")


def test_disconnect_after_the_data_terminator_is_in_doubt(start_server, make_transport):
    server = start_server(faults=[Fault("DATA_END", disconnect=True)])
    with pytest.raises(DeliveryInDoubtError):
        make_transport(server).send(outgoing())
    assert len(server.received) == 1


class Crash(Exception):
    pass


def crash_at(point: str) -> Callable[[str], None]:
    def failpoint(name: str) -> None:
        if name == point:
            raise Crash(name)

    return failpoint


def test_failpoint_before_data_end_leaves_nothing_at_the_relay(start_server, make_transport):
    server = start_server()
    transport = make_transport(server, failpoint=crash_at("before_data_end"))
    with pytest.raises(Crash):
        transport.send(outgoing(1))
    assert server.received == []
    assert "RCPT" in server.verbs


def test_failpoint_after_250_fires_once_the_relay_accepted(start_server, make_transport):
    server = start_server()
    seen: list[str] = []
    transport = make_transport(server, failpoint=seen.append)
    transport.send(outgoing(1))
    assert seen == ["before_data_end", "after_smtp_250"]
    transport = make_transport(server, failpoint=crash_at("after_smtp_250"))
    with pytest.raises(Crash):
        transport.send(outgoing(2))
    assert len(server.accepted) == 2


# -- configuration and secrets (X2) --------------------------------------------------------------


@pytest.mark.parametrize("host", ["mail.example.org", "10.0.0.5", "128.0.0.1", "::2"])
def test_security_none_to_a_non_loopback_host_is_refused_at_construction(host):
    with pytest.raises(ConfigError) as caught:
        SmtpTransport(host=host, port=25, security="none")
    assert caught.value.key == "smtp.security"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST."])
def test_security_none_is_allowed_on_loopback_hosts(host):
    SmtpTransport(host=host, port=25, security="none").close()


def test_security_none_on_loopback_can_be_forbidden_too():
    with pytest.raises(ConfigError, match=r"smtp\.security"):
        SmtpTransport(host="127.0.0.1", port=25, security="none", allow_insecure_loopback=False)


@pytest.mark.parametrize(
    ("option", "value"),
    [("envelope_sender", "bounces at seller"), ("local_hostname", "client test"), ("port", 0)],
)
def test_bad_settings_are_config_errors_naming_the_key(option, value):
    with pytest.raises(ConfigError) as caught:
        SmtpTransport(**{"host": "127.0.0.1", "port": 25, "security": "none", option: value})
    assert caught.value.key == f"smtp.{option}"


def test_a_missing_ca_bundle_is_a_config_error_naming_the_key(tmp_path):
    with pytest.raises(ConfigError) as caught:
        SmtpTransport(host="mail.example.org", port=587, ca_bundle=str(tmp_path / "nope.pem"))
    assert caught.value.key == "smtp.ca_bundle"


def test_the_password_never_appears_in_errors_reprs_or_logs(
    start_server, make_transport, ca, ca_file, caplog
):
    caplog.set_level(logging.DEBUG)
    errors: list[DeliveryError] = []
    scenarios = [
        start_server(tls="starttls", tls_context=server_tls(ca), credentials=(USER, "other")),
        start_server(tls="starttls", tls_context=server_tls(trustme.CA()), credentials=(USER, PASSWORD)),
        start_server(
            tls="starttls",
            tls_context=server_tls(ca),
            credentials=(USER, PASSWORD),
            faults=[Fault("RCPT", reply=f"550 5.1.1 echo {PASSWORD}"), Fault("DATA_END", delay=30)],
        ),
        start_server(
            tls="starttls",
            tls_context=server_tls(ca),
            credentials=(USER, PASSWORD),
            faults=[Fault("DATA_END", delay=30)],
        ),
    ]
    for server in scenarios:
        transport = make_transport(
            server,
            security="starttls",
            ca_bundle=ca_file,
            username=USER,
            password=PASSWORD,
            data_end_timeout=0.3,
        )
        assert PASSWORD not in repr(transport)
        with pytest.raises(DeliveryError) as caught:
            transport.send(outgoing())
        errors.append(caught.value)

    assert {type(e) for e in errors} == {
        DeliveryAuthError,
        DeliveryTlsError,
        DeliveryRejectedError,
        DeliveryInDoubtError,
    }
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            assert PASSWORD not in str(chain) and PASSWORD not in repr(chain)
            chain = chain.__cause__ or chain.__context__
    # aiosmtpd ("mail.log") logs what the test server says, including the scripted echo above.
    ours = [r for r in caplog.records if r.name != "mail.log"]
    assert any(r.name.startswith("prepbot") for r in ours)
    for record in ours:
        assert PASSWORD not in record.getMessage()


# -- work while the relay handles the message (issue 7) ------------------------------------------


def _wait_for_received(server: SmtpTestServer, count: int) -> None:
    for _ in range(500):  # the message is on its way: it reaches the server within milliseconds
        if len(server.received) >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the server never got the message")


def test_while_waiting_runs_once_the_relay_has_the_message_and_before_its_reply(start_server, make_transport):
    server = start_server(faults=[Fault("DATA_END", delay=2.0)])  # the relay holds its reply
    seen: list[tuple[str, int, str | None]] = []
    calls: list[str] = []

    def while_waiting() -> None:
        _wait_for_received(server, 1)
        seen.append(("waiting", len(server.received), server.received[0].reply))

    receipt = make_transport(server, data_end_timeout=10.0).send(
        outgoing(), on_data_end=lambda: calls.append("data_end"), while_waiting=while_waiting
    )
    assert calls == ["data_end"]
    assert seen == [("waiting", 1, None)]  # the whole message was there, no answer sent yet
    assert receipt.reply.startswith("250")


def test_an_error_in_while_waiting_is_logged_and_the_send_still_succeeds(
    start_server, make_transport, caplog
):
    server = start_server()

    def broken() -> None:
        raise RuntimeError("render ahead broke")

    with caplog.at_level(logging.ERROR, logger="prepbot.transports.smtp"):
        receipt = make_transport(server).send(outgoing(), while_waiting=broken)
    assert receipt.reply.startswith("250") and len(server.accepted) == 1
    assert any("while waiting" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("at", ["MAIL", "RCPT", "DATA"])
def test_while_waiting_is_not_called_when_the_message_never_went_out(start_server, make_transport, at):
    server = start_server(faults=[Fault(at, reply="550 5.7.1 no")])
    calls: list[str] = []
    with pytest.raises(DeliveryRejectedError):
        make_transport(server).send(outgoing(), while_waiting=lambda: calls.append("waiting"))
    assert calls == [] and server.received == []


def _wait_for_verb(server: SmtpTestServer, verb: str) -> None:
    for _ in range(500):  # the group is on its way: it reaches the server within milliseconds
        if verb in server.verbs:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"the server never got {verb}")


def test_while_commands_runs_once_the_pipelined_commands_went_out_before_their_replies(
    start_server, make_transport
):
    server = start_server(pipelining=True, faults=[Fault("MAIL", delay=1.0)])  # the relay holds its reply
    calls: list[str] = []

    def while_commands() -> None:
        _wait_for_verb(server, "MAIL")
        calls.append(f"commands ({len(server.received)} received)")

    receipt = make_transport(server).send(
        outgoing(),
        on_data_end=lambda: calls.append("data_end"),
        while_waiting=lambda: calls.append("waiting"),
        while_commands=while_commands,
    )
    assert calls == ["commands (0 received)", "data_end", "waiting"]
    assert receipt.reply.startswith("250")


def test_while_commands_runs_for_a_message_the_relay_then_refuses(start_server, make_transport):
    server = start_server(pipelining=True, faults=[Fault("RCPT", reply="550 5.1.1 no such user")])
    calls: list[str] = []
    with pytest.raises(DeliveryRejectedError):
        make_transport(server).send(outgoing(), while_commands=lambda: calls.append("commands"))
    assert calls == ["commands"] and server.received == []


def test_while_commands_is_not_called_one_command_at_a_time(start_server, make_transport):
    server = start_server(pipelining=False)
    calls: list[str] = []
    make_transport(server).send(
        outgoing(),
        while_waiting=lambda: calls.append("waiting"),
        while_commands=lambda: calls.append("commands"),
    )
    assert calls == ["waiting"]


def test_while_commands_runs_once_when_a_stale_connection_is_replaced(start_server, make_transport):
    server = start_server(pipelining=True, faults=[Fault("MAIL", disconnect=True, message=2)])
    transport = make_transport(server)
    transport.send(outgoing(1))
    calls: list[str] = []
    transport.send(outgoing(2), while_commands=lambda: calls.append("commands"))  # retried on a new one
    assert calls == ["commands"] and len(server.accepted) == 2


# -- PIPELINING (RFC 2920) ------------------------------------------------------------------------


@pytest.mark.parametrize(("offered", "allowed"), [(False, True), (True, True), (True, False)])
def test_with_pipelining_mail_rcpt_and_data_go_out_as_one_group(
    start_server, make_transport, offered, allowed
):
    """Seen from a refused MAIL: the relay already had the group's RCPT and DATA (and refused them
    as out of sequence); one command at a time, the client stops at MAIL. Same outcome either way.
    Only a relay that offers PIPELINING gets a group, and only when ``[smtp] pipelining`` allows it."""
    server = start_server(pipelining=offered, faults=[Fault("MAIL", reply="550 5.7.1 sender refused")])
    with pytest.raises(DeliveryRejectedError, match="MAIL"):
        make_transport(server, pipelining=allowed).send(outgoing())
    group = ["MAIL", "RCPT", "DATA"] if offered and allowed else ["MAIL"]
    assert server.verbs == ["EHLO", *group, "RSET"]
    assert server.received == []


def test_a_pipelined_data_accepted_with_no_recipient_left_delivers_nothing(start_server, make_transport):
    server = start_server(
        pipelining=True,
        faults=[
            Fault("RCPT", reply="550 5.1.1 no such user", message=1),
            Fault("DATA", reply="354 go ahead", message=1),
        ],
    )
    transport = make_transport(server)
    with pytest.raises(DeliveryRejectedError, match="RCPT"):
        transport.send(outgoing())
    assert server.received == []
    assert transport.send(outgoing(2)).reply.startswith("250")  # the session is still in step


def test_the_pipelined_group_is_one_write_of_checked_commands() -> None:
    group = pipelined_commands("anna@seller.test", ["a@buyer.test", "b@buyer.test"], ["SIZE=1200"])
    assert group == (
        b"MAIL FROM:<anna@seller.test> SIZE=1200\r\nRCPT TO:<a@buyer.test>\r\n"
        b"RCPT TO:<b@buyer.test>\r\nDATA\r\n"
    )
    utf8 = pipelined_commands("anna@seller.test", ["пётр@buyer.test"], ["SMTPUTF8", "BODY=8BITMIME"])
    assert "пётр".encode() in utf8


# -- prepare: a message built while the relay handles the one before it ---------------------------


def test_a_prepared_message_is_built_once_and_sent_as_it_was_built(start_server, make_transport):
    builds: list[str] = []

    def counting_build(msg: OutgoingMessage) -> EmailMessage:
        builds.append(msg.message_id)
        return simple_build(msg)

    server = start_server()
    transport = make_transport(server, build=counting_build)
    message = outgoing(1)
    transport.prepare(message)
    transport.send(message)
    assert builds == ["m1.key@prepbot.test"]
    [got] = server.accepted
    assert got.rcpt_tos == ["client1@buyer.test"] and b"m1.key@prepbot.test" in got.data


def test_a_prepared_message_is_never_sent_for_another(start_server, make_transport):
    server = start_server()
    transport = make_transport(server)
    transport.prepare(outgoing(1))
    transport.send(outgoing(2))  # another message: built afresh, the prepared one dropped
    transport.send(outgoing(1))  # an equal but new message object: built afresh too
    assert [r.rcpt_tos for r in server.accepted] == [["client2@buyer.test"], ["client1@buyer.test"]]
    assert b"m2.key@prepbot.test" in server.accepted[0].data


def test_preparing_an_unusable_message_raises_nothing_and_its_send_refuses_it(start_server, make_transport):
    server = start_server()
    transport = make_transport(server, build=envelope_only_build)
    bad = outgoing(1, to_address="two words@buyer.test")
    transport.prepare(bad)
    with pytest.raises(DeliveryRejectedError):
        transport.send(bad)
    assert server.received == []


# -- the next message's commands with this one's data (RFC 2920 groups across transactions) -------


def _wait_for_verbs(server: SmtpTestServer, verb: str, count: int) -> None:
    for _ in range(500):
        if server.verbs.count(verb) >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"the server never got {count} {verb}")


def test_the_next_messages_commands_go_out_with_this_ones_data(start_server, make_transport):
    server = start_server(pipelining=True)
    transport = make_transport(server)
    second = outgoing(2)
    transport.send(outgoing(1), then=lambda: second)
    _wait_for_verbs(server, "MAIL", 2)  # before the second send was even asked for
    assert len(server.received) == 1
    transport.send(second)
    assert [r.rcpt_tos for r in server.accepted] == [["client1@buyer.test"], ["client2@buyer.test"]]
    assert server.verbs == ["EHLO", "MAIL", "RCPT", "DATA", "MAIL", "RCPT", "DATA"]
    assert server.connections == 1


def test_another_message_than_the_one_announced_ends_its_transaction_unsent(start_server, make_transport):
    server = start_server(pipelining=True)
    transport = make_transport(server)
    transport.send(outgoing(1), then=lambda: outgoing(2))  # a new object: never the one sent next
    transport.send(outgoing(3))
    assert [r.rcpt_tos for r in server.accepted] == [["client1@buyer.test"], ["client3@buyer.test"]]
    assert server.connections == 2


def test_close_with_a_transaction_started_sends_nothing_of_it(start_server, make_transport):
    server = start_server(pipelining=True)
    transport = make_transport(server)
    transport.send(outgoing(1), then=lambda: outgoing(2))
    transport.close()  # no QUIT: it would be read as the waiting message's text
    make_transport(server).send(outgoing(3))  # the relay went on meanwhile
    assert [r.rcpt_tos for r in server.accepted] == [["client1@buyer.test"], ["client3@buyer.test"]]
    assert "QUIT" not in server.verbs


@pytest.mark.parametrize(
    ("reply", "error", "connections"),
    [
        ("554 5.6.0 refused", DeliveryRejectedError, 1),  # the session goes on with the next one
        ("421 4.3.0 closing", DeliveryUnavailableError, 2),  # the next one goes on a fresh session
    ],
)
def test_a_message_the_relay_does_not_take_leaves_the_next_one_sent_once(
    start_server, make_transport, reply, error, connections
):
    server = start_server(pipelining=True, faults=[Fault("DATA_END", reply=reply, message=1)])
    transport = make_transport(server)
    second = outgoing(2)
    with pytest.raises(error):
        transport.send(outgoing(1), then=lambda: second)
    transport.send(second)
    assert [r.rcpt_tos for r in server.accepted] == [["client2@buyer.test"]]
    assert server.connections == connections


def test_a_next_message_refused_at_mail_is_retried_once_on_a_fresh_connection(start_server, make_transport):
    server = start_server(
        pipelining=True, faults=[Fault("MAIL", reply="451 4.7.1 too many messages", message=2)]
    )
    transport = make_transport(server)
    second = outgoing(2)
    transport.send(outgoing(1), then=lambda: second)
    transport.send(second)
    assert len(server.accepted) == 2 and server.connections == 2


@pytest.mark.parametrize(("offered", "limit"), [(False, 10), (True, 1)])
def test_no_next_transaction_one_command_at_a_time_or_at_the_sessions_limit(
    start_server, make_transport, offered, limit
):
    server = start_server(pipelining=offered)
    transport = make_transport(server, max_messages_per_connection=limit)
    asked: list[int] = []
    second = outgoing(2)

    def then() -> OutgoingMessage:
        asked.append(1)
        return second

    transport.send(outgoing(1), then=then)
    assert asked == [] and server.verbs.count("MAIL") == 1
    transport.send(second)
    assert len(server.accepted) == 2


class _Cut:
    """A connection that takes ``room`` bytes, then breaks (as a peer that went away)."""

    def __init__(self, room: int) -> None:
        self.room, self.got = room, b""

    def send(self, data: memoryview) -> int:
        if not self.room:
            raise ConnectionResetError("peer went away")
        taken = bytes(data[: min(self.room, 5)])  # a few bytes a call, as a full socket buffer
        self.room -= len(taken)
        self.got += taken
        return len(taken)


@pytest.mark.parametrize("room", [0, 7, 12, 30, 31, 40])
def test_a_send_says_how_far_it_got_before_the_connection_broke(room):
    """What decides whether a message whose data and the next one's commands were cut off is in
    doubt (its terminator left) or simply not sent (it did not)."""
    from prepbot.transports.smtp import _send_counted

    cut = _Cut(room)
    holder = type("Session", (), {"sock": cut})()
    data = b"data\r\n.\r\nMAIL FROM:<a@b.test>\r\n"  # 31 bytes
    sent, error = _send_counted(holder, data)
    assert sent == len(cut.got) == min(room, len(data)) and cut.got == data[:sent]
    assert (error is None) == (room >= len(data))
