"""Generates the variable tables of docs/admin-guide.md from the context models, so they cannot drift.

``python -m prepbot.docs`` rewrites the generated blocks of the guide in place; ``--check`` exits 1
when the committed guide is out of date (a test runs it). ``prepbot templates vars`` prints them.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "admin-guide.md"
_BLOCK = re.compile(
    r"(<!-- generated:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /generated:(?P=name) -->)", re.S
)


@dataclass(frozen=True, slots=True)
class Section:
    """One generated table: which templates (or rules) see which model."""

    name: str
    title: str
    used_by: str
    model: Callable[[], Any]  # a documented dataclass, or a sample mapping for dict-based contexts


def _attr(module: str, name: str) -> Callable[[], Any]:
    return lambda: getattr(importlib.import_module(module), name)


def _prep_note_sample() -> Any:
    from prepbot.samples import SAMPLE_SEND_AT, sample_meeting
    from prepbot.template_kinds import _prep_note

    return _prep_note(sample_meeting(), "en", SAMPLE_SEND_AT)


SECTIONS = (
    Section(
        "confirmation",
        "Confirmation and no-show email",
        "`confirmation.*`, `no_show_email.*`, `no_show_task.*` (which also sees `scripts`, below)",
        _attr("prepbot.context", "ConfirmationContext"),
    ),
    Section(
        "scripts",
        "Fallback scripts",
        "`scripts/<script>.title.txt` and `scripts/<script>.txt`",
        _attr("prepbot.scripts", "ScriptContext"),
    ),
    Section(
        "script_list",
        "A rendered script (items of `scripts` in `no_show_task.*`)",
        "`no_show_task.*` (`{% for script in scripts %}`)",
        _attr("prepbot.scripts", "RenderedScript"),
    ),
    Section("prep_note", "Prep note", "`prep_note.title.txt`, `prep_note.html`", _prep_note_sample),
    Section(
        "rules",
        "Playbook rules",
        "`when` expressions and `reason` templates in the playbooks file",
        _attr("prepbot.playbook_context", "RuleContext"),
    ),
)


def describe(model: Any, prefix: str = "") -> list[tuple[str, str, str]]:
    """(variable, type, description) rows for a documented dataclass or a sample mapping, depth first."""
    if isinstance(model, dict):
        return _describe_mapping(model, prefix)
    rows: list[tuple[str, str, str]] = []
    hints = typing.get_type_hints(model)
    for f in dataclasses.fields(model):
        path, kind = f"{prefix}{f.name}", hints[f.name]
        item = _item_type(kind)
        if dataclasses.is_dataclass(kind):
            rows.extend(describe(kind, f"{path}."))
        elif item is not None:
            rows.append((path, "list", f.metadata.get("doc", "")))
            rows.extend(describe(item, f"{path}[]."))
        else:
            rows.append((path, _type_name(kind), f.metadata.get("doc", "")))
    return rows


def _item_type(kind: Any) -> Any:
    args = typing.get_args(kind)
    if typing.get_origin(kind) in (tuple, list) and args and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _type_name(kind: Any) -> str:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return " or ".join("none" if a is type(None) else _type_name(a) for a in typing.get_args(kind))
    return {"str": "text", "bool": "yes/no", "int": "number", "float": "number"}.get(
        getattr(kind, "__name__", str(kind)), getattr(kind, "__name__", str(kind))
    )


def _describe_mapping(sample: dict[str, Any], prefix: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for key, value in sample.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_describe_mapping(value, f"{path}."))
        elif isinstance(value, list | tuple):
            rows.append((path, "list", ""))
            if value and dataclasses.is_dataclass(value[0]):
                rows.extend(describe(type(value[0]), f"{path}[]."))
        else:
            rows.append((path, _type_name(type(value)), ""))
    return rows


def table(section: Section) -> str:
    """The section's markdown: who sees it, then one row per variable."""
    try:
        model = section.model()
    except (ImportError, AttributeError):
        return f"_Not installed in this version of prepbot ({section.name})._\n"
    lines = [f"Seen by {section.used_by}.", "", "| variable | type | meaning |", "| --- | --- | --- |"]
    for path, kind, doc in describe(model):
        cell = doc.replace("|", "\\|")
        lines.append(f"| `{path}` | {kind} | {cell} |")
    return "\n".join(lines) + "\n"


def variables_markdown(kind: str | None = None) -> str:
    """Every section (or the one whose name contains ``kind``) with its title, for `templates vars`."""
    wanted = (kind or "").replace("-", "_")
    parts = [f"## {s.title}\n\n{table(s)}" for s in SECTIONS if wanted in s.name]
    return "\n".join(parts) or f"no variables documented for {kind!r}"


def render_guide(text: str) -> str:
    """``text`` with every generated block refreshed."""
    sections = {s.name: s for s in SECTIONS}

    def fill(match: re.Match[str]) -> str:
        section = sections.get(match.group("name"))
        body = table(section) if section else match.group("body")
        return f"{match.group(1)}{body}{match.group(4)}"

    return _BLOCK.sub(fill, text)


def main(argv: list[str]) -> int:
    """``python -m prepbot.docs [--check] [PATH]``."""
    check = "--check" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")]
    path = paths[0] if paths else GUIDE
    current = path.read_text(encoding="utf-8")
    fresh = render_guide(current)
    if check:
        if fresh != current:
            sys.stderr.write(f"{path} is out of date: run python -m prepbot.docs\n")
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
