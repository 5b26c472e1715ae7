"""Shared by the data/time and template/secret reliability tests: a sandbox org driven through the CLI."""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Prepbot

TERMINAL = {"logged", "skipped", "failed", "superseded", "cancelled", "in_doubt"}


def configure(bot: Prepbot, section: str, *lines: str) -> None:
    """Add ``lines`` to ``[section]`` of the bot's config (the table is created when missing)."""
    text = bot.config.read_text(encoding="utf-8")
    header = f"[{section}]\n"
    body = "".join(line + "\n" for line in lines)
    if header in text:
        text = text.replace(header, header + body, 1)
    else:
        text += f"\n{header}{body}"
    bot.config.write_text(text, encoding="utf-8")


def mails_to(bot: Prepbot, address: str) -> list[EmailMessage]:
    return [m for m in bot.messages() if m["To"].addresses[0].addr_spec == address]


def plain(mail: EmailMessage) -> str:
    return str(mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def html(mail: EmailMessage) -> str:
    return str(mail.get_body(("html",)).get_content())  # type: ignore[union-attr]


def rows_of(bot: Prepbot, event_id: str) -> list[dict[str, Any]]:
    return [row for row in bot.log() if row["event_id"] == event_id]


def event_ids(bot: Prepbot, where: str) -> list[str]:
    records = bot.org.client().query(f"SELECT Id FROM Event WHERE {where} ORDER BY StartDateTime")["records"]
    return [str(r["Id"]) for r in records]


def contact_id(bot: Prepbot, email: str) -> str:
    return str(bot.org.client().query(f"SELECT Id FROM Contact WHERE Email = '{email}'")["records"][0]["Id"])


def assert_invariants(bot: Prepbot, *, settled_before: str | None = None) -> None:
    """O1 at the sink (one Message-ID per key, one accepted mail per Message-ID) and O2 in the ledger.

    ``settled_before``: every row whose meeting started before this instant must be terminal.
    """
    ids = Counter(str(m["Message-ID"]) for m in bot.messages())
    assert [mid for mid, n in ids.items() if n > 1] == [], "O1: a key was mailed twice"
    rows = bot.log()
    keys = Counter((r["event_id"], r["occurrence"], r["recipient"], r["kind"]) for r in rows)
    assert [k for k, n in keys.items() if n > 1] == [], "O1: a key has two ledger rows"
    for row in rows:
        assert row["status"] in TERMINAL | {"planned"}, row
        if row["status"] in ("skipped", "failed"):
            assert row["reason"], f"O2: {row['status']} without a reason: {row}"
        if settled_before and row["status"] == "planned" and row["occurrence"] < settled_before:
            raise AssertionError(f"O2: a started meeting's row is still open: {row}")


def eml_bytes(bot: Prepbot) -> list[bytes]:
    return [Path(sink.path).read_bytes() for sink in bot.org.smtp_messages]


def prepbot_fixture(sandbox_factory: Any, tmp_path: Path) -> Any:
    """What the e2e ``prepbot_org`` fixture returns, for test modules outside tests/e2e."""
    return e2e.prepbot_org.__wrapped__(sandbox_factory, tmp_path)  # type: ignore[attr-defined]
