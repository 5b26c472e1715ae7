"""`prepbot templates check` and the start-up check: every template, every language, every rule."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prepbot.errors import TemplateError
from prepbot.rendering import Problem, Renderer
from prepbot.template_kinds import TemplateKind, find_kinds, is_partial, kind_samples, render_kind

RULES_HINT = "see 'How to write a rule' in docs/admin-guide.md; the variables are listed there"


@dataclass(frozen=True, slots=True)
class CheckInput:
    """What the check looks at: the renderer (both layers), the admin folder, the playbooks file."""

    renderer: Renderer
    admin_dir: Path | None = None
    playbooks_file: Path | None = None


def check_all(what: CheckInput, *, quick: bool = False) -> list[Problem]:
    """Every problem of the templates and the rules, errors first.

    ``quick`` (the start-up check) compiles everything and renders one sample per kind and
    language; the full check renders every sample case (missing fields, long non-ASCII names,
    all-day, call and video meetings...) and reports language fallbacks as warnings.
    """
    renderer = what.renderer
    problems = list(renderer.check({}))  # compiles every template of both layers
    kinds = find_kinds(renderer.template_names())
    languages = sorted({lang for kind in kinds for lang in kind.files})
    for kind in kinds:
        if not quick:
            problems.extend(fallback_problems(kind, languages, renderer.default_language, what.admin_dir))
        for lang in kind.languages:
            problems.extend(_render_problems(renderer, kind, lang, quick=quick))
    problems.extend(lint_rules(what.playbooks_file))
    return sorted(_unique(problems), key=lambda p: (p.severity != "error", p.path, p.line or 0))


def errors_only(problems: Sequence[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: dict[tuple[str, int | None, str], Problem] = {}
    for p in problems:
        seen.setdefault((p.path, p.line, p.message), p)
    return list(seen.values())


def fallback_problems(
    kind: TemplateKind, languages: Sequence[str], default: str, admin_dir: Path | None
) -> list[Problem]:
    """A language without this kind falls back to the default (warning; an error if the default lacks
    it); an admin folder overriding the kind in some languages only leaves the others shipped."""
    found: list[Problem] = []
    main = kind.renderable(default)[0] if kind.renderable(default) else f"{default}/{kind.name}"
    if default not in kind.files:
        hint = f"add {default}/{kind.name}.* (copy it from another language)"
        return [
            Problem(
                f"{default}/{kind.name}", None, f"{kind.name}: no default-language ({default}) template", hint
            )
        ]
    for lang in sorted(set(languages) - set(kind.files)):
        found.append(
            Problem(
                f"{lang}/{kind.name}",
                None,
                f"{kind.name} has no {lang} template; {lang} falls back to {default}",
                f"copy {main} to {lang}/ and translate it",
                "warning",
            )
        )
    if admin_dir is not None:
        found.extend(_partial_override(kind, admin_dir))
    return found


def _partial_override(kind: TemplateKind, admin_dir: Path) -> list[Problem]:
    overridden = {
        lang for lang, names in kind.files.items() if any((admin_dir / name).is_file() for name in names)
    }
    shipped_only = sorted(set(kind.files) - overridden)
    if not overridden or not shipped_only:
        return []
    langs, others = ", ".join(sorted(overridden)), ", ".join(shipped_only)
    return [
        Problem(
            str(admin_dir),
            None,
            f"{kind.name}: your folder overrides {langs} only; {others} use the shipped text",
            f"copy {kind.name} for {others} into {admin_dir} too if those clients should get your wording",
            "warning",
        )
    ]


def _render_problems(renderer: Renderer, kind: TemplateKind, lang: str, *, quick: bool) -> list[Problem]:
    if kind.shape == "document" and not kind.renderable(lang):
        return []
    try:
        samples = kind_samples(kind.name, lang, quick=quick)
    except (ImportError, AttributeError, ValueError) as exc:
        samples, why = None, f"its sample variables could not be built ({exc})"
    else:
        why = "prepbot has no sample variables for it"
    if samples is None:
        if quick:
            return []
        first = kind.files[lang][0]
        return [
            Problem(
                first,
                None,
                f"{kind.name} compiled but not rendered: {why}",
                "render it with 'prepbot preview' before relying on it",
                "warning",
            )
        ]
    found: dict[tuple[str, int | None, str], Problem] = {}
    for label, context in samples:
        try:
            render_kind(renderer, kind, lang, context)
        except TemplateError as exc:
            where = exc.template or f"{lang}/{kind.name}"
            problem = Problem(where, exc.line, f"{exc} [sample: {label}]", exc.hint or "see the admin guide")
            found.setdefault((where, exc.line, str(exc)), problem)  # once, with the first sample that failed
    return list(found.values())


# -- rules ----------------------------------------------------------------------------------------

_RULE = re.compile(r"rule (\S+?):")


def lint_rules(path: Path | None) -> list[Problem]:
    """Lint the playbooks file with prepbot.playbooks (when it is installed), as file:line problems."""
    lint: Callable[[Path | None], list[str]] | None = _optional("prepbot.playbooks", "lint_playbook")
    if lint is None:
        return []
    shipped: Callable[[], Path] | None = _optional("prepbot.playbooks", "shipped_playbooks_file")
    source = path or (shipped() if shipped else None)
    problems = []
    for line in lint(path):
        message = line.removeprefix(f"{source}: ") if source else line
        rule = _RULE.search(message)
        where = _line_of(source, rule.group(1)) if source and rule else None
        message, _, fix = message.partition(" (fix: ")
        hint = fix.removesuffix(")") or RULES_HINT
        problems.append(Problem(str(source or "playbooks"), where, message, hint))
    return problems


def _optional(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def _line_of(path: Path, rule: str) -> int | None:
    """The line of ``name = "<rule>"`` in the playbooks file (1-based), if it can be found."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    pattern = re.compile(rf"""^\s*name\s*=\s*["']{re.escape(rule)}["']""")
    return next((i for i, text in enumerate(lines, 1) if pattern.match(text)), None)


def describe(problem: Problem) -> str:
    """The one-line form: ``file:line: severity: message (hint: ...)``."""
    return str(problem)


__all__ = ["CheckInput", "check_all", "describe", "errors_only", "is_partial", "lint_rules"]
