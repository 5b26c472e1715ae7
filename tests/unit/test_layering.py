"""The dependency rule of architecture.md §2, enforced by walking every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "prepbot"
CORE = {
    "domain",
    "errors",
    "ports",
    "timing",
    "zones",
    "clock",
    "planner",
    "playbooks",
    "rendering",
    "messages",
    "context",
    "composer",
    "formatting",
    "locale",
    "service",
    "report",
    "scripts",
    "prepnote",
    "template_sandbox",
    "languages",
    "samples",
    "delivery",
    "playbook_context",
    "playbook_probes",
    "script_samples",
    "template_kinds",
}
ADAPTERS = ("prepbot.crm", "prepbot.transports", "prepbot.ledger", "prepbot.sandbox")
FOREIGN_IO = ("simple_salesforce", "smtplib", "sqlalchemy", "alembic", "apscheduler", "requests", "werkzeug")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)


def all_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def starts(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize(
    "path", [p for p in all_modules() if p.parent == PACKAGE and p.stem in CORE], ids=str
)
def test_the_core_imports_no_adapter_and_no_io_library(path: Path) -> None:
    bad = sorted(name for name in imports_of(path) if starts(name, ADAPTERS + FOREIGN_IO))
    assert not bad, f"{module_name(path)} must stay pure but imports {bad}"


@pytest.mark.parametrize("path", [p for p in all_modules() if starts(module_name(p), ADAPTERS[:3])], ids=str)
def test_adapters_import_only_ports_domain_and_errors_of_prepbot(path: Path) -> None:
    allowed = ("prepbot.ports", "prepbot.domain", "prepbot.errors", *ADAPTERS[:3])
    bad = sorted(
        name for name in imports_of(path) if starts(name, ("prepbot",)) and not starts(name, allowed)
    )
    assert not bad, f"{module_name(path)} reaches into {bad}"


@pytest.mark.parametrize(
    "path", [p for p in all_modules() if starts(module_name(p), ("prepbot.sandbox",))], ids=str
)
def test_the_sandbox_is_a_separate_application(path: Path) -> None:
    bad = sorted(
        name
        for name in imports_of(path)
        if starts(name, ("prepbot",)) and not starts(name, ("prepbot.sandbox",))
    )
    assert not bad, (
        f"{module_name(path)} imports prepbot's core {bad}; it must speak to prepbot only over HTTPS"
    )


def test_only_the_salesforce_adapter_imports_simple_salesforce() -> None:
    # The sandbox is a separate application; its test launcher may hand out a simple-salesforce client.
    users = [
        module_name(p)
        for p in all_modules()
        if starts_any(imports_of(p), "simple_salesforce") and not module_name(p).startswith("prepbot.sandbox")
    ]
    assert all(name.startswith("prepbot.crm.") for name in users), users
    assert len(users) <= 1, f"simple_salesforce imported by several modules: {users}"


def starts_any(names: set[str], prefix: str) -> bool:
    return any(starts(name, (prefix,)) for name in names)


@pytest.mark.parametrize(
    "path", [p for p in all_modules() if starts(module_name(p), ("prepbot.flows",))], ids=str
)
def test_flows_orchestrate_through_ports_only(path: Path) -> None:
    bad = sorted(name for name in imports_of(path) if starts(name, ADAPTERS + FOREIGN_IO))
    assert not bad, f"{module_name(path)} must reach the org, relay and ledger through ports, not {bad}"
