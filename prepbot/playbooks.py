"""Pure: which fallback scripts (method §2–4) apply to a meeting, and the reason in plain words."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import BaseLoader, Template, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.parser import Parser

from prepbot.config import PlaybookRule, PlaybooksFile, load_playbooks_file
from prepbot.context import clean_line
from prepbot.domain import Meeting
from prepbot.errors import ConfigError
from prepbot.languages import normalize_language
from prepbot.playbook_context import (
    RULE_VARIABLES,
    RuleContext,
    TitleMatcher,
    build_rule_context,
)
from prepbot.playbook_probes import probe_contexts
from prepbot.template_sandbox import CappedSandbox, check_deadline, reset_deadline, set_deadline

log = logging.getLogger(__name__)

SCRIPTS: tuple[str, ...] = ("no_show", "no_show_remote", "referral_permission", "absent_decision_maker")
FALLBACK_LANGUAGE = "en"
MAX_REASON_CHARS = 600
MAX_EVAL_SECONDS = 0.5
_EXPRESSION_HINT = (
    "write a Jinja expression over the documented rule variables, e.g. "
    "`in_person and travel_distance_km is not none and travel_distance_km > 100`"
)


@dataclass(frozen=True, slots=True)
class ScriptChoice:
    """A script attached to a meeting, by which rule, and why (already rendered, plain words)."""

    script: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready to evaluate: its test, its scripts and its reason template per language."""

    name: str
    when: str
    scripts: tuple[str, ...]
    test: Callable[..., Any]
    reasons: Mapping[str, Template]
    enabled: bool = True

    @property
    def key(self) -> str:
        return f"playbooks.rules[{self.name}].when"


@dataclass(frozen=True, slots=True)
class Playbook:
    """Compiled rules in order, and the settings the rule context is built with."""

    rules: tuple[CompiledRule, ...]
    decider_roles: tuple[str, ...]
    non_deciding: TitleMatcher
    deciding: TitleMatcher
    referral_stages: tuple[str, ...]
    product_area: Mapping[str, str]
    source: Path | None = None

    def product_area_for(self, language: str) -> str:
        """The referral wording's product area in ``language`` (falls back to English)."""
        lang = normalize_language(language) or FALLBACK_LANGUAGE
        return self.product_area.get(lang) or self.product_area.get(FALLBACK_LANGUAGE, "")


def shipped_playbooks_file() -> Path:
    """``config/playbooks.toml`` shipped with prepbot (next to the package in a source checkout)."""
    return Path(__file__).resolve().parent.parent / "config" / "playbooks.toml"


def load_playbook(path: Path | None = None) -> Playbook:
    """Read (through ``prepbot.config``) and compile a playbooks file; None = the shipped one.

    Raises:
        ConfigError: a bad file or key; a rule whose expression or reason does not compile, names
            an unknown script or variable, or fails on a sample meeting (key names the rule).
    """
    return compile_playbook(load_playbooks_file(path or shipped_playbooks_file()))


def compile_playbook(data: PlaybooksFile) -> Playbook:
    """Compile validated settings into a :class:`Playbook` (every rule, enabled or not, is checked)."""
    env = _rule_environment()
    return Playbook(
        rules=tuple(_compile_rule(env, rule) for rule in data.rules),
        decider_roles=data.decider_roles,
        non_deciding=TitleMatcher.build(data.non_deciding_titles, data.non_deciding_title_patterns),
        deciding=TitleMatcher.build(data.deciding_titles),
        referral_stages=data.referral_stages,
        product_area=MappingProxyType(dict(data.product_area)),
        source=data.source,
    )


def rule_context(meeting: Meeting, playbook: Playbook, *, language: str, owner_language: str) -> RuleContext:
    """The variables rules see for ``meeting``; ``language`` is the client's, ``owner_language`` the rep's."""
    return build_rule_context(
        meeting,
        decider_roles=playbook.decider_roles,
        non_deciding=playbook.non_deciding,
        deciding=playbook.deciding,
        referral_stages=playbook.referral_stages,
        language=language,
        owner_language=owner_language,
    )


def choose_scripts(
    meeting: Meeting, playbook: Playbook, *, language: str, client_language: str | None = None
) -> list[ScriptChoice]:
    """The scripts for ``meeting``, in rule order, each at most once.

    A script attached by several rules keeps the place and the reason of the *first* rule that
    attached it: rules are ordered from the most specific story to the most general, so the
    first reason is the one that best explains the script. A meeting without a Who gets no
    scripts (there is nobody to call), and a meeting no rule matches gets ``[]``.

    Args:
        meeting: the meeting as read from Salesforce.
        playbook: from :func:`load_playbook`.
        language: the language of the reasons: the rep's (falls back to English).
        client_language: the client's language for the ``language`` variable; default: the
            Who's language field, else empty.

    Raises:
        ConfigError: a rule failed on this meeting (named by ``key``); the playbook check at
            load time makes this rare.
    """
    if meeting.who is None:
        return []
    lang = normalize_language(language) or FALLBACK_LANGUAGE
    client = client_language or normalize_language(meeting.who.language) or ""
    context = rule_context(meeting, playbook, language=client, owner_language=lang).as_mapping()
    chosen: dict[str, ScriptChoice] = {}
    for rule in playbook.rules:
        if not rule.enabled or not _matches(rule, context):
            continue
        fresh = [script for script in rule.scripts if script not in chosen]
        if fresh:
            reason = _render_reason(rule, lang, context)
            chosen.update((script, ScriptChoice(script, rule.name, reason)) for script in fresh)
    return list(chosen.values())


def lint_playbook(path: Path | None = None) -> list[str]:
    """Every problem of a playbooks file as ``"<file>: rule <name>: <message> (fix: <hint>)"``; [] if none."""
    path = path or shipped_playbooks_file()
    try:
        data = load_playbooks_file(path)
    except ConfigError as exc:
        return [line if line.startswith(str(path)) else f"{path}: {line}" for line in str(exc).splitlines()]
    env = _rule_environment()
    problems = []
    for rule in data.rules:
        try:
            _compile_rule(env, rule)
        except ConfigError as exc:
            problems.append(f"{path}: rule {rule.name}: {str(exc).removeprefix(f'{exc.key}: ')}")
    return problems


# --- compiling ----------------------------------------------------------------------------------


def _rule_environment() -> CappedSandbox:
    env = CappedSandbox(loader=BaseLoader(), max_output_chars=MAX_REASON_CHARS * 4)
    env.globals.clear()  # rules see their documented variables only: no cycler, range, namespace
    return env


def _compile_rule(env: CappedSandbox, rule: PlaybookRule) -> CompiledRule:
    key = f"playbooks.rules[{rule.name}].when"
    unknown = [script for script in rule.scripts if script not in SCRIPTS]
    if unknown:
        raise ConfigError(
            f"unknown script {unknown[0]!r}",
            key=f"playbooks.rules[{rule.name}].scripts",
            hint=f"use one of {', '.join(SCRIPTS)}",
        )
    tree = nodes.Output([_parse_expression(env, rule.when, key)])  # find_all skips the root node
    _check_names(tree, {n.name for n in tree.find_all(nodes.Name)}, key, "the expression")
    test = env.compile_expression(rule.when, undefined_to_none=False)
    reasons = {
        lang: _compile_reason(env, rule.name, lang, src) for lang, src in _reason_sources(rule).items()
    }
    compiled = CompiledRule(rule.name, rule.when, rule.scripts, test, MappingProxyType(reasons), rule.enabled)
    _dry_run(compiled)
    return compiled


def _reason_sources(rule: PlaybookRule) -> dict[str, str]:
    if isinstance(rule.reason, str):
        return {FALLBACK_LANGUAGE: rule.reason}
    return dict(rule.reason)


def _parse_expression(env: CappedSandbox, source: str, key: str) -> nodes.Expr:
    try:
        parser = Parser(env, source, state="variable")
        expression = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    except TemplateSyntaxError as exc:
        raise ConfigError(f"not a valid expression: {exc.message}", key=key, hint=_EXPRESSION_HINT) from None
    return expression


def _compile_reason(env: CappedSandbox, rule: str, lang: str, source: str) -> Template:
    key = f"playbooks.rules[{rule}].reason.{lang}"
    try:
        tree = env.parse(source)
        _check_names(tree, meta.find_undeclared_variables(tree), key, "the reason")
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        hint = "a reason is plain words with {{ variables }}, e.g. {{ contact.name }}"
        raise ConfigError(f"not a valid reason template: {exc.message}", key=key, hint=hint) from None


def _check_names(tree: nodes.Node, used: set[str], key: str, what: str) -> None:
    """Unknown variables and private attributes are refused before anything runs."""
    unknown = sorted(used - RULE_VARIABLES)
    if unknown:
        raise ConfigError(
            f"unknown variable {unknown[0]!r} in {what}",
            key=key,
            hint=f"use the documented rule variables: {', '.join(sorted(RULE_VARIABLES))}",
        )
    for attr in _attribute_names(tree):
        if attr.startswith("_"):
            raise ConfigError(
                f"sandbox violation: {what} reaches for the private attribute {attr!r}",
                key=key,
                hint="rules may only read the documented variables and their fields",
            )


def _attribute_names(tree: nodes.Node) -> Iterable[str]:
    for node in tree.find_all(nodes.Getattr):
        yield node.attr
    for item in tree.find_all(nodes.Getitem):
        if isinstance(item.arg, nodes.Const) and isinstance(item.arg.value, str):
            yield item.arg.value


def _dry_run(rule: CompiledRule) -> None:
    """Evaluate the rule and render its reasons on sample meetings, so a rule that would fail on a
    real meeting (an unknown attribute, ``travel_distance_km > 100`` when it is none) fails now."""
    for label, context in probe_contexts():
        mapping = context.as_mapping()
        try:
            _evaluate(rule, mapping)
            for lang in rule.reasons:
                _render_reason(rule, lang, mapping)
        except ConfigError as exc:
            message = str(exc).removeprefix(f"{exc.key}: ").split(" (fix:")[0]
            raise ConfigError(
                f"{message} (on a sample {label} meeting)", key=exc.key, hint=exc.hint
            ) from None


# --- evaluating ---------------------------------------------------------------------------------


def _matches(rule: CompiledRule, context: Mapping[str, Any]) -> bool:
    return _evaluate(rule, context)


def _evaluate(rule: CompiledRule, context: Mapping[str, Any]) -> bool:
    token = set_deadline(MAX_EVAL_SECONDS)
    try:
        return bool(rule.test(**context))
    except Exception as exc:  # an admin's expression failing must name the rule, not crash the batch
        raise _runtime_error(rule.key, exc, "the expression") from None
    finally:
        reset_deadline(token)


def _render_reason(rule: CompiledRule, language: str, context: Mapping[str, Any]) -> str:
    template = rule.reasons.get(language) or rule.reasons[FALLBACK_LANGUAGE]
    key = f"playbooks.rules[{rule.name}].reason"
    token = set_deadline(MAX_EVAL_SECONDS)
    try:
        parts, size = [], 0
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_REASON_CHARS * 4:
                raise SecurityError("the reason is far too long")
            check_deadline()
            parts.append(chunk)
    except Exception as exc:
        raise _runtime_error(key, exc, "the reason") from None
    finally:
        reset_deadline(token)
    return clean_line("".join(parts), MAX_REASON_CHARS)


def _runtime_error(key: str, exc: BaseException, what: str) -> ConfigError:
    if isinstance(exc, SecurityError):
        kind, hint = "sandbox violation", "rules may only read the documented variables and their fields"
    elif isinstance(exc, UndefinedError):
        kind, hint = "unknown variable or field", "use only the documented rule variables and fields"
    else:
        kind, hint = (
            type(exc).__name__,
            "test optional values first, e.g. `travel_distance_km is not none and ...`",
        )
    reason = str(exc).splitlines()[0][:200] if str(exc) else kind
    return ConfigError(f"{what} failed: {kind}: {reason}", key=key, hint=hint)
