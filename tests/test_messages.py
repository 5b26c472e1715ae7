"""RFC 5322 messages: header injection (CVE-2024-6923 behaviour), names, escaping, Message-ID."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from prepbot.context import build_confirmation_context
from prepbot.domain import ActionKey, MessageKind, OutgoingMessage
from prepbot.errors import MessageError
from prepbot.messages import build_email, checked_bytes, clean_header_text, make_message_id
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting

SENT_AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EXPECTED_HEADERS = ["from", "reply-to", "to", "subject", "date", "message-id", "mime-version", "content-type"]
PAYLOADS = [
    "\r\nBcc: x@evil.example",
    "\nX-Injected: 1",
    "\rX-Injected: 1",
    "=?UTF-8?Q?=0A?=X-Injected: 1",
    "=?UTF-8?Q?=0D=0A?=X-Injected: 1",
    "=?UTF-8?B?DQpYLUluamVjdGVkOiAx?=",
    "\u2028X-Injected: 1",
    "\u2029X-Injected: 1",
    "\u0085X-Injected: 1",
    "a\x00b",
    "\x0bX-Injected: 1",
]


def outgoing(**changes: object) -> OutgoingMessage:
    base = OutgoingMessage(
        message_id="prepbot.0123abcd@mail.example.com",
        from_name="Jan de Vries",
        from_address="meetings@example.com",
        to_name="Piet Jansen",
        to_address="piet@example.org",
        subject="Morgen om 10:00 – hoe kom ik het beste bij u?",
        text="Beste heer Jansen,\n\nTot morgen,\nJan\n",
        html="<p>Beste heer Jansen,</p>",
        reply_to="jan.devries@example.com",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def reparse(msg: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("field", ["subject", "from_name", "to_name"])
def test_a_crm_value_cannot_add_a_header(field: str, payload: str) -> None:
    msg = build_email(outgoing(**{field: f"Piet {payload} Jansen"}), sent_at=SENT_AT)
    parsed = reparse(msg)
    assert [name.lower() for name in parsed] == EXPECTED_HEADERS
    assert parsed["X-Injected"] is None and parsed["Bcc"] is None
    assert "\n" not in str(parsed[{"subject": "Subject", "from_name": "From", "to_name": "To"}[field]])


@pytest.mark.parametrize("payload", ["piet@example.org\r\nBcc: x@evil.example", "piet@exa\nmple.org",
                                     "piet@example.org, x@evil.example", "Piet <piet@example.org>", "piet@",
                                     "pïet@example.org", "piet@example.org\x00"])  # fmt: skip
def test_a_bad_address_is_refused_not_cleaned(payload: str) -> None:
    with pytest.raises(MessageError):
        build_email(outgoing(to_address=payload), sent_at=SENT_AT)


def test_an_internationalised_domain_is_sent_in_its_idna_form() -> None:
    parsed = reparse(build_email(outgoing(to_address="piet@bücher.example"), sent_at=SENT_AT))
    assert parsed["To"].addresses[0].domain == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    "name", ["Иван Иванович Петров", "Zoë Ødegård-Çelik", 'Анна-Мария "Ann" O\'Brien', "宮崎 駿", "x" * 150]
)
def test_non_ascii_names_round_trip_intact(name: str) -> None:
    parsed = reparse(
        build_email(outgoing(from_name=name, to_name=name, subject=f"Завтра — {name}"), sent_at=SENT_AT)
    )
    assert parsed["From"].addresses[0].display_name == name
    assert parsed["To"].addresses[0].display_name == name
    assert parsed["Subject"] == f"Завтра — {name}"


def test_from_is_the_owner_name_at_the_sending_address_and_replies_go_to_the_owner() -> None:
    parsed = reparse(build_email(outgoing(), sent_at=SENT_AT))
    assert parsed["From"].addresses[0].addr_spec == "meetings@example.com"
    assert parsed["From"].addresses[0].display_name == "Jan de Vries"
    assert parsed["Reply-To"].addresses[0].addr_spec == "jan.devries@example.com"
    assert parsed["Message-ID"] == "<prepbot.0123abcd@mail.example.com>"
    assert parsed["Date"].datetime == SENT_AT


def test_the_body_is_text_with_an_html_alternative() -> None:
    parsed = reparse(build_email(outgoing(), sent_at=SENT_AT))
    assert parsed.get_content_type() == "multipart/alternative"
    text, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
    assert text is not None and "Tot morgen" in text.get_content()
    assert html is not None and "<p>Beste heer Jansen,</p>" in html.get_content()


def test_extra_headers_come_from_an_allow_list_only() -> None:
    ok = reparse(build_email(outgoing(headers=(("X-Prepbot-Test", "yes"),)), sent_at=SENT_AT))
    assert ok["X-Prepbot-Test"] == "yes"
    for header in (
        ("Bcc", "x@evil.example"),
        ("Reply-To", "x@evil.example"),
        ("X-Prepbot-Test", "a\r\nBcc: x"),
    ):
        with pytest.raises(MessageError):
            build_email(outgoing(headers=(header,)), sent_at=SENT_AT)


def test_the_message_id_is_derived_from_the_ledger_key() -> None:
    key = ActionKey(
        "00U000000000001AAA", "2026-12-01T09:00:00Z", "piet@example.org", MessageKind.CONFIRMATION
    )
    first = make_message_id(key, "mail.example.com")
    assert first == make_message_id(replace(key, recipient="Piet@Example.org"), "mail.example.com")
    assert first != make_message_id(replace(key, kind=MessageKind.NO_SHOW_EMAIL), "mail.example.com")
    assert first.endswith("@mail.example.com") and first.startswith("prepbot.")
    build_email(outgoing(message_id=first), sent_at=SENT_AT)  # usable as is
    with pytest.raises(MessageError):
        make_message_id(key, "mail.example.com>\r\nBcc: x")


def test_cleaning_keeps_ordinary_text_and_drops_encoded_newlines() -> None:
    assert clean_header_text("Tomorrow <script>alert(1)</script>") == "Tomorrow <script>alert(1)</script>"
    assert clean_header_text("a=?UTF-8?Q?=0A?=b") == "a b"
    assert clean_header_text("=?UTF-8?Q?Caf=C3=A9?=") == "Café"


def test_a_script_in_a_crm_name_is_escaped_in_html_and_literal_in_the_subject(tmp_path: object) -> None:
    """End to end through the renderer: context -> templates -> message (reliability.md H4)."""
    evil = "<script>alert(1)</script>"
    who = replace(sample_meeting().who, first_name=evil, salutation=None)  # type: ignore[type-var]
    meeting = sample_meeting(who=who, location="Dorpsstraat 1 <img src=x onerror=alert(1)>")
    ctx = build_confirmation_context(meeting, zone=SAMPLE_ZONE, language="en", send_at=SAMPLE_SEND_AT)
    admin = tmp_path / "admin"  # type: ignore[operator]
    (admin / "en").mkdir(parents=True)
    (admin / "en/confirmation.subject.txt").write_text("Tomorrow, {{ client.first_name }}?", encoding="utf-8")
    rendered = Renderer(shipped_dir=shipped_templates_dir(), admin_dir=admin).render(
        "confirmation", "en", ctx.as_mapping()
    )
    msg = build_email(
        outgoing(subject=rendered.subject, text=rendered.text, html=rendered.html), sent_at=SENT_AT
    )
    parsed = reparse(msg)
    html = parsed.get_body(("html",))
    assert html is not None
    body = html.get_content()
    assert "<script>" not in body and "&lt;script&gt;" in body and "<img" not in body
    assert parsed["Subject"] == f"Tomorrow, {evil}?"


def test_a_huge_description_is_cut_with_a_marker_and_keeps_the_message_small(tmp_path: object) -> None:
    admin = tmp_path / "admin"  # type: ignore[operator]
    (admin / "nl").mkdir(parents=True)
    (admin / "nl/confirmation.txt").write_text("Hallo\n\n{{ meeting.description }}\n", encoding="utf-8")
    meeting = sample_meeting(description="Notities " * 4_000)  # 36,000 characters
    ctx = build_confirmation_context(meeting, zone=SAMPLE_ZONE, language="nl", send_at=SAMPLE_SEND_AT)
    rendered = Renderer(shipped_dir=shipped_templates_dir(), admin_dir=admin).render(
        "confirmation", "nl", ctx.as_mapping()
    )
    assert rendered.text.rstrip().endswith("[…]")
    raw = build_email(outgoing(text=rendered.text, html=rendered.html), sent_at=SENT_AT).as_bytes()
    assert len(raw) < 20_000


def test_a_long_cyrillic_subject_keeps_every_space_after_the_round_trip() -> None:
    from email.parser import BytesParser

    from prepbot.domain import OutgoingMessage
    from prepbot.messages import build_email

    subject = "Завтра в 11:00 — как к Вам лучше добраться? И кого спросить на ресепшене у входа?"
    message = OutgoingMessage(
        message_id="prepbot.abc@example.com",
        from_name="Ирина Волкова",
        from_address="meetings@example.com",
        to_name="Ольга Смирнова",
        to_address="olga@example.com",
        subject=subject,
        text="Здравствуйте!",
    )
    raw = build_email(message, sent_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC)).as_bytes()
    assert BytesParser(policy=policy.default).parsebytes(raw)["Subject"] == subject


def test_the_checked_bytes_are_the_message_and_are_dropped_once_a_header_changes() -> None:
    msg = build_email(outgoing(), sent_at=SENT_AT)
    wire = checked_bytes(msg)
    assert wire is not None and wire == msg.as_bytes()  # what the header check re-parsed is sent
    msg["Bcc"] = "someone@example.org"  # changed after the check: serialised (and Bcc-stripped) again
    assert checked_bytes(msg) is None
