"""Reliability rows H1-H7 and X1-X3 at the system level: admin templates, CRM text and secrets via the CLI.

Unit-level coverage that is not repeated here: tests/test_rendering.py (SSTI corpus, caps, HTML
escaping of text macros), tests/test_messages.py (header injection per field, the header
allow-list, huge descriptions), tests/e2e/test_admin_templates.py (one SSTI payload and one
undefined variable through `templates check` and `tick`).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import traceback
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from prepbot.cli import app
from prepbot.rendering import shipped_templates_dir
from tests.e2e.conftest import Prepbot, contact, event
from tests.reliability._cli_org import configure, eml_bytes, html, mails_to, plain, prepbot_fixture

INTERNALS = ("<class", "<module", "<function", "built-in", "__builtins__", "object at 0x", "__globals__")
CANARY = "CANARY-7f3c9e1d-secret"


@pytest.fixture
def prepbot_org(sandbox_factory: Any, tmp_path: Path) -> Any:
    """The e2e ``prepbot_org`` fixture (tests/e2e/conftest.py), for this folder."""
    return prepbot_fixture(sandbox_factory, tmp_path)


def shipped(name: str) -> str:
    return (shipped_templates_dir() / name).read_text(encoding="utf-8")


def admin_folder(root: Path, files: dict[str, str]) -> Path:
    folder = root / "admin-templates"
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def private_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def offline_config(tmp: Path, *, salesforce: str = "", messages: str = "", smtp: str = "") -> Path:
    """A config whose org and relay are never reached (the commands under test stop before)."""
    if not salesforce:
        token = private_file(tmp / "token", "00Dtoken!AQ")
        salesforce = f'auth = "session"\nsession_id_file = "{token}"'
    config = tmp / "prepbot.toml"
    config.write_text(
        f'[salesforce]\ninstance_url = "https://127.0.0.1:9"\n{salesforce}\n\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n{smtp}\n\n'
        f'[ledger]\nurl = "sqlite:///{tmp / "ledger.sqlite"}"\n\n[messages]\n{messages}\n',
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, [*args, "--config", str(config)], catch_exceptions=False)


# -- H2, H3, H5: refused before anything is sent -----------------------------------------------

REFUSED_AT_CHECK = [
    pytest.param("{{ ''.__class__.__mro__[1].__subclasses__() }}", id="H2-mro"),
    pytest.param("{{ cycler.__init__.__globals__.os.popen('id').read() }}", id="H2-globals"),
    pytest.param("{{ '{0.__class__.__init__.__globals__}'.format(client) }}", id="H2-format"),
    pytest.param("{{ client|attr('__class__') }}", id="H2-attr"),
    pytest.param("{% for i in range(10**9) %}{% endfor %}", id="H2-range-bomb"),
    pytest.param("{{ 'a' * 10**8 }}", id="H3-repeat"),
    pytest.param(
        "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}", id="H3-loops"
    ),
    pytest.param("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", id="H3-recursion"),
    pytest.param("{{ clinet.first_name }}", id="H5-typo"),
    pytest.param("{{ meeting.no_such_field }}", id="H5-missing-field"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("payload", REFUSED_AT_CHECK)
def test_h2_h3_h5_a_bad_admin_template_is_refused_by_check_and_by_tick(tmp_path: Path, payload: str) -> None:
    folder = admin_folder(tmp_path, {"en/confirmation.txt": f"Hello\n{payload}\n"})
    config = offline_config(tmp_path, messages=f'templates_dir = "{folder}"')
    check = cli(config, "templates", "check")
    assert check.exit_code == 1, check.output
    assert "en/confirmation.txt" in check.output
    tick = cli(config, "tick", "--now", "2026-12-01T09:00:00Z")
    assert tick.exit_code == 2 and "refusing to start" in tick.output
    for text in (check.output, tick.output):
        assert not [internal for internal in INTERNALS if internal in text], text
        assert "uid=" not in text


# -- H1, H6: CRM text and template text never become a header ---------------------------------

PAYLOADS = {
    "crlf": "Evil\r\nBcc: victim@evil.test",
    "lf": "Evil\nX-Injected: lf",
    "encoded": "Evil =?UTF-8?Q?=0A?=X-Injected: encoded",
    "u2028": "Evil\u2028X-Injected: u2028",
    "nul": "Evil\x00X-Injected: nul",
}
EXPECTED_HEADERS = {"from", "reply-to", "to", "subject", "date", "message-id", "mime-version"}
EXPECTED_HEADERS |= {"x-prepbot-template", "content-type"}
# H6: a template can only produce the subject, text and HTML; header-looking lines in the subject
# template end up inside the one Subject value (prepbot.messages.ALLOWED_EXTRA_HEADERS is code-only).
SUBJECT_TEMPLATE = "{{ meeting.subject }} / {{ client.name }} / {{ owner.name }}\n"
SUBJECT_TEMPLATE += "Bcc: h6@evil.test\nReply-To: h6@evil.test\n"


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line and not line[0].isspace()]


def test_h1_h6_line_breaks_in_subject_from_name_and_to_name_add_no_header(
    prepbot_org: Any, tmp_path: Path
) -> None:
    owners = [
        {"$key": f"o{k}", "Username": f"o{k}@team.test", "LastName": text, "Email": f"o{k}@team.test",
         "TimeZoneSidKey": "Europe/Amsterdam", "LanguageLocaleKey": "en_US", "IsActive": True}
        for k, text in PAYLOADS.items()
    ]  # fmt: skip
    contacts = [
        contact(k, "Eve", text, f"{k}@client.test", "Europe/Amsterdam", "en") for k, text in PAYLOADS.items()
    ]
    events = [
        {**event(k, "2026-12-02T13:00:00Z", owner=f"@o{k}"), "Subject": text} for k, text in PAYLOADS.items()
    ]
    bot = prepbot_org(contacts, events, User=[*__import__("tests.e2e.conftest").e2e.conftest.OWNERS, *owners])
    folder = admin_folder(tmp_path, {"en/confirmation.subject.txt": SUBJECT_TEMPLATE})
    configure(bot, "messages", f'templates_dir = "{folder}"')
    bot.tick("2026-12-01T09:00:00Z")
    sinks = bot.org.smtp_messages
    assert sorted(s.rcpt_tos[0] for s in sinks) == sorted(f"{k}@client.test" for k in PAYLOADS)
    for sink in sinks:
        assert list(sink.rcpt_tos) == [sink.rcpt_tos[0]]
        raw = Path(sink.path).read_bytes()
        names = header_names(raw)
        assert set(names) <= EXPECTED_HEADERS, names
        assert len(names) == len(set(names))
        mail = BytesParser(policy=policy.default).parsebytes(raw)
        subject = str(mail["Subject"])
        assert "Bcc: h6@evil.test" in subject and "\n" not in subject and "\x00" not in subject
        assert mail["Reply-To"].addresses[0].addr_spec.endswith("@team.test")
        for name in (subject, str(mail["From"]), str(mail["To"])):
            assert "\u2028" not in name and "\r" not in name


# -- H3, H5 at send time; H4; H7 -----------------------------------------------------------------

DATA_BOMBS = (
    "{% if client.last_name == 'Bomb' %}{{ 'a' * 10**8 }}{% endif %}"
    "{% if client.last_name == 'Typo' %}{{ clinet.first_name }}{% endif %}"
    "{% if client.last_name == 'Deep' %}{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}{% endif %}\n"
)


def test_h3_h5_a_template_failing_only_at_send_time_fails_that_row_alerts_and_the_rest_goes_out(
    prepbot_org: Any, tmp_path: Path
) -> None:
    names = ["Bomb", "Typo", "Deep", "Fine"]
    bot = prepbot_org(
        [contact(n.lower(), "Max", n, f"{n.lower()}@client.test", "Europe/Amsterdam", "en") for n in names],
        [event(n.lower(), "2026-12-02T13:00:00Z") for n in names],
    )
    folder = admin_folder(tmp_path, {"en/confirmation.txt": shipped("en/confirmation.txt") + DATA_BOMBS})
    configure(bot, "messages", f'templates_dir = "{folder}"')
    assert bot.cli("templates", "check").exit_code == 0  # the samples do not trip it
    result = bot.tick("2026-12-01T09:00:00Z")
    assert bot.recipients() == ["fine@client.test"]
    rows = {r["recipient"]: r for r in bot.log()}
    for name in ("bomb", "typo", "deep"):
        row = rows[f"{name}@client.test"]
        assert row["status"] == "failed" and row["reason"].startswith("template"), row
    assert result.exit_code == 1 and result.stderr.count("failed") >= 3
    for text in (result.output, *(r["reason"] for r in rows.values())):
        assert not [internal for internal in INTERNALS if internal in text]
    bot.tick("2026-12-01T09:30:00Z")
    assert bot.recipients() == ["fine@client.test"]


def test_h4_h7_scripts_in_names_are_escaped_in_mail_and_note_and_a_huge_description_is_cut(
    prepbot_org: Any, tmp_path: Path
) -> None:
    script, img = "<script>alert(1)</script>", '<img src=x onerror="alert(2)">'
    bot = prepbot_org(
        [contact("x", script, "Smith", "x@client.test", "Europe/Amsterdam", "en", AccountId="@acc")],
        [event("x", "2026-12-02T13:00:00Z", WhatId="@deal", Description="D" * 31_990 + "\n-- END --")],
        Account=[{"$key": "acc", "Name": "Acme"}],
        Opportunity=[
            {
                "$key": "deal",
                "Name": f"Deal {img}",
                "AccountId": "@acc",
                "StageName": "Prospecting",
                "CloseDate": "2027-01-31",
            }
        ],
    )
    folder = admin_folder(
        tmp_path,
        {
            "en/confirmation.subject.txt": "{{ client.name }} – see you",
            "en/confirmation.txt": shipped("en/confirmation.txt") + "\n{{ meeting.description }}\n",
        },
    )
    configure(bot, "messages", f'templates_dir = "{folder}"')
    bot.tick("2026-12-01T09:00:00Z")
    [mail] = mails_to(bot, "x@client.test")
    assert str(mail["Subject"]).startswith(script)  # literal in the subject (a header is not HTML)
    body = html(mail)
    assert "<script>" not in body and "&lt;script&gt;" in body
    text = plain(mail)
    assert "[…]" in text and "-- END --" not in text
    [raw] = eml_bytes(bot)
    assert len(raw) < 100_000
    assert [r["status"] for r in bot.log() if r["kind"] == "confirmation"] == ["logged"]
    sf = bot.org.client()
    [note] = sf.query("SELECT Id FROM ContentNote")["records"]
    with bot.org.session() as session:
        content = session.get(
            f"{bot.org.instance_url}/services/data/v62.0/sobjects/ContentNote/{note['Id']}/Content",
            headers={"Authorization": f"Bearer {bot.org.access_token}"},
            timeout=30,
        ).content.decode("utf-8")
    assert "<script>" not in content and "<img" not in content
    assert "&lt;img" in content or "&lt;script&gt;" in content


# -- X1: secret files --------------------------------------------------------------------------

PEM = f"-----BEGIN PRIVATE KEY-----\n{CANARY}\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize("command", [("tick", "--now", "2026-12-01T09:00:00Z"), ("config", "check")])
@pytest.mark.parametrize(
    ("case", "setting"),
    [
        ("key-0644", "jwt"),
        ("key-missing", "jwt"),
        ("key-not-pem", "jwt"),
        ("token-0644", "session"),
        ("smtp-password-0644", "session"),
    ],
)
def test_x1_a_bad_secret_file_stops_prepbot_naming_the_path_never_the_content(
    tmp_path: Path, case: str, setting: str, command: tuple[str, ...]
) -> None:
    secret = tmp_path / "secret.pem"
    smtp = ""
    if case == "key-missing":
        pass
    elif case == "key-not-pem":
        private_file(secret, f"{CANARY}\n")
    else:
        private_file(secret, PEM if setting == "jwt" else CANARY, 0o644)
    if setting == "jwt":
        salesforce = (
            f'auth = "jwt"\nusername = "u@x.test"\nconsumer_key = "ck"\nprivate_key_file = "{secret}"'
        )
        config = offline_config(tmp_path, salesforce=salesforce)
    elif case == "token-0644":
        config = offline_config(tmp_path, salesforce=f'auth = "session"\nsession_id_file = "{secret}"')
    else:
        smtp = f'username = "relay"\npassword_file = "{secret}"'
        config = offline_config(tmp_path, smtp=smtp)
    result = cli(config, *command)
    assert result.exit_code == 2, result.output
    assert str(secret) in result.output
    assert CANARY not in result.output


# -- X2, X3: a canary secret through every error path; CRM text with a fake log line -------------

FAKE_LOG = "\n2026-12-01 ERROR something"


def use_relay(bot: Prepbot, host: str, port: int, *extra: str) -> None:
    text = bot.config.read_text(encoding="utf-8")
    start = text.index("[smtp]\n")
    end = text.index("\n[", start + 1)
    block = f'[smtp]\nhost = "{host}"\nport = {port}\n' + "".join(line + "\n" for line in extra)
    bot.config.write_text(text[:start] + block + text[end:], encoding="utf-8")


def leaks(*texts: str | bytes) -> list[str]:
    found = []
    for text in texts:
        raw = text.encode("utf-8", "replace") if isinstance(text, str) else text
        if CANARY.encode() in raw:
            found.append(raw[max(0, raw.find(CANARY.encode()) - 80) :][:200].decode("utf-8", "replace"))
    return found


def test_x2_x3_a_canary_secret_never_shows_and_crm_text_never_forges_a_log_line(
    prepbot_org: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import trustme

    from tests.smtp_server import SmtpTestServer, server_tls

    token = f"00D000000000001!AQ{CANARY}"
    (tmp_path / "org").mkdir()
    private_file(tmp_path / "org" / "access_token", token + "\n")
    bot = prepbot_org(
        [
            contact("ok", "Olga", "Fine", "ok@client.test", "Europe/Amsterdam", "en"),
            contact("typo", "Tom", "Typo", "typo@client.test", "Europe/Amsterdam", "en"),
            contact("fake", "Fay", "Fake" + FAKE_LOG, "fake@client.test", "Europe/Amsterdam", "en"),
        ],
        [
            event("ok", "2026-12-02T13:00:00Z"),
            event("typo", "2026-12-02T13:00:00Z"),
            {**event("fake", "2026-12-02T13:00:00Z"), "Subject": "Visit" + FAKE_LOG, "Description": FAKE_LOG},
        ],
    )
    assert bot.org.access_token == token  # the org runs on the canary: every API call carries it
    folder = admin_folder(tmp_path, {"en/confirmation.txt": shipped("en/confirmation.txt") + DATA_BOMBS})
    configure(bot, "messages", f'templates_dir = "{folder}"')
    password = private_file(tmp_path / "smtp-password", CANARY)
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []

    def tick(now: str) -> None:
        result = bot.cli("tick", "--now", now, "-v")
        outputs.append(result.output + result.stderr)

    with SmtpTestServer(credentials=("relay", "right"), auth_require_tls=False) as relay:
        use_relay(
            bot,
            relay.host,
            relay.port,
            'security = "none"',
            'username = "relay"',
            f'password_file = "{password}"',
        )
        tick("2026-12-01T09:00:00Z")  # template error (typo) + AUTH 535 with the canary password
        assert relay.accepted == []
    with SmtpTestServer(tls="starttls", tls_context=server_tls(trustme.CA(), "127.0.0.1")) as tls_relay:
        use_relay(bot, tls_relay.host, tls_relay.port, 'username = "relay"', f'password_file = "{password}"')
        tick("2026-12-01T09:05:00Z")  # an untrusted certificate: refused before AUTH
    use_relay(bot, bot.org.smtp_host, bot.org.smtp_port, 'security = "none"')
    bot.org.faults.add("*", "server_error", times=3)
    tick("2026-12-01T09:10:00Z")  # 5xx from the org
    tick("2026-12-01T09:15:00Z")  # recovered: the mails go out
    assert sorted(bot.recipients()) == ["fake@client.test", "ok@client.test"]
    bot.org.expire_tokens()
    tick("2026-12-01T09:20:00Z")  # 401 with a session the client cannot refresh
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREPBOT_")}
    command = [sys.executable, "-m", "prepbot", "tick", "-v", "--now", "2026-12-01T09:25:00Z"]
    child = subprocess.run(
        [*command, "-c", str(bot.config)], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert child.returncode in (1, 3), child.stderr
    outputs.append(child.stdout + child.stderr)
    errors = crm_and_relay_errors(bot, password)
    ledger = (tmp_path / "ledger.sqlite").read_bytes()
    views = [bot.cli("log", "--json").output, bot.cli("status", "--json").output, bot.cli("log").output]
    assert leaks(caplog.text, *outputs, ledger, *eml_bytes(bot), *views, *errors) == []
    # X3: prepbot never logs CRM text raw; no line anywhere starts with the forged record.
    lines = "\n".join([caplog.text, *outputs]).splitlines()
    assert not [line for line in lines if line.startswith("2026-12-01 ERROR")]
    assert not [r for r in caplog.records if "something" in r.getMessage() and "\n" in r.getMessage()]


def crm_and_relay_errors(bot: Prepbot, password: Path) -> list[str]:
    """The exceptions the adapters raise with the canary in play: repr, str and the whole chain."""
    from prepbot.app import build_crm, build_transport
    from prepbot.clock import FixedClock
    from prepbot.config import load_config
    from prepbot.domain import OutgoingMessage
    from prepbot.errors import PrepbotError
    from tests.smtp_server import SmtpTestServer

    texts: list[str] = []
    settings = load_config(bot.config, {})
    crm = build_crm(settings)
    try:
        with pytest.raises(PrepbotError) as caught:
            crm.meetings_by_id(["00U000000000001AAA"])
    finally:
        crm.close()
    texts += [repr(caught.value), str(caught.value), "".join(traceback.format_exception(caught.value))]
    with SmtpTestServer(credentials=("relay", "right"), auth_require_tls=False) as relay:
        use_relay(
            bot,
            relay.host,
            relay.port,
            'security = "none"',
            'username = "relay"',
            f'password_file = "{password}"',
        )
        transport = build_transport(
            load_config(bot.config, {}), FixedClock(datetime(2026, 12, 1, tzinfo=UTC))
        )
        message = OutgoingMessage(
            "prepbot.x@team.test", "A", "meet@team.test", "B", "b@client.test", "s", "t"
        )
        try:
            with pytest.raises(PrepbotError) as refused:
                transport.send(message)
        finally:
            transport.close()
        texts += [repr(refused.value), str(refused.value), "".join(traceback.format_exception(refused.value))]
        texts.append(repr(transport))
    assert re.search(r"535|auth", texts[-2], re.IGNORECASE)
    return texts
