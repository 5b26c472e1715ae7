"""Renders messages from layered, sandboxed Jinja2 templates with a language fallback."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from jinja2 import ChoiceLoader, FileSystemLoader, TemplateNotFound, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError

from prepbot.errors import TemplateError
from prepbot.template_sandbox import CappedSandbox, check_deadline, reset_deadline, set_deadline

log = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z0-9]{2,8})?$")
_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_TRACE_FRAME = "__jinja_exception__"  # set in the globals of frames Jinja rewrites to template lines
# How long a listing of the template folders, and the compiled templates, are trusted: an admin's
# new or edited file is seen within this time by a running daemon, without a directory walk or a
# stat() of every source per message (issue 7: the walk was 20% of a cycle, the stats 37 per meeting).
LISTING_TTL_SECONDS = 5.0
_CHUNKS_PER_CHECK = 32  # output chunks taken between two checks of the size cap and the deadline


def shipped_templates_dir() -> Path:
    """The ``templates/`` folder shipped with prepbot: next to the package in a source checkout."""
    return Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    """A rendered message: one-line subject, text body, optional HTML, and how it was made."""

    subject: str
    text: str
    html: str | None
    language: str  # the language actually rendered
    fell_back: bool  # True when the requested language had no template and the default was used
    template_version: str  # first 12 hex chars of sha256 over every template source used


@dataclass(frozen=True, slots=True)
class RenderedTemplate:
    """One rendered template (a note, a script) and the version of its sources."""

    name: str
    text: str
    template_version: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A template problem found by :meth:`Renderer.check`, located at ``path:line``."""

    path: str
    line: int | None
    message: str
    hint: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message} (hint: {self.hint})"


class Renderer:
    """Renders ``<lang>/<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``.

    Templates are looked up file by file in ``admin_dir`` first, then in ``shipped_dir``. A
    language without a ``<kind>.txt`` in either folder falls back to ``default_language``; the
    result says so. Every render is sandboxed and bounded: ``max_output_chars`` per template and
    ``max_render_seconds`` per message (see ``prepbot.template_sandbox``).
    """

    def __init__(
        self,
        *,
        shipped_dir: Path,
        admin_dir: Path | None = None,
        default_language: str = "en",
        max_output_chars: int = 100_000,
        max_render_seconds: float = 2.0,
    ) -> None:
        folders = [admin_dir, shipped_dir] if admin_dir is not None else [shipped_dir]
        self._loader = ChoiceLoader([FileSystemLoader(str(folder)) for folder in folders])
        self._env = CappedSandbox(loader=self._loader, max_output_chars=max_output_chars)
        self.default_language = default_language
        self.max_output_chars = max_output_chars
        self.max_render_seconds = max_render_seconds
        self._listing: tuple[float, frozenset[str]] = (float("-inf"), frozenset())
        self._validated_at = time.monotonic()
        # names -> (digest, the loader's up-to-date checks of every source hashed into it)
        self._versions: dict[tuple[str, ...], tuple[str, list[Callable[[], bool]]]] = {}

    # -- public API --------------------------------------------------------------------------------

    def available_languages(self, kind: str) -> list[str]:
        """Languages with a ``<kind>.txt`` template in any layer, sorted."""
        return list(_languages_with(self._names(), f"/{kind}.txt"))

    def template_names(self) -> list[str]:
        """Every template name in either layer (``"nl/confirmation.txt"``), sorted."""
        return sorted(self._env.list_templates())

    def render(self, kind: str, language: str, context: Mapping[str, Any]) -> RenderedMessage:
        """Render a message of ``kind`` in ``language`` (or the default language, visibly).

        Raises:
            TemplateError: no template, a syntax error, an undefined variable, a sandbox violation,
                or a size/time cap hit. The message names the template file and line.
        """
        lang, fell_back = self._resolve_language(kind, language)
        names = [f"{lang}/{kind}.subject.txt", f"{lang}/{kind}.txt"]
        html_name = f"{lang}/{kind}.html"
        has_html = html_name in self._names()
        token = set_deadline(self.max_render_seconds)
        try:
            subject = " ".join(self._render_name(names[0], context).split())
            text = _tidy_text(self._render_name(names[1], context))
            html = self._render_name(html_name, context).strip() + "\n" if has_html else None
        finally:
            reset_deadline(token)
        if not subject or not text.strip():
            raise TemplateError(f"{lang}/{kind}: the subject or the text rendered empty", template=names[0])
        version = self.template_version(*names, *([html_name] if has_html else []))
        if fell_back:
            log.info("no %s template for %r; rendered in %r", kind, language, lang)
        return RenderedMessage(subject, text, html, lang, fell_back, version)

    def render_one(self, template_name: str, context: Mapping[str, Any]) -> RenderedTemplate:
        """Render one named template (``"nl/prep_note.html"``) under the same sandbox and caps.

        Raises:
            TemplateError: as for :meth:`render`.
        """
        token = set_deadline(self.max_render_seconds)
        try:
            text = self._render_name(template_name, context)
        finally:
            reset_deadline(token)
        return RenderedTemplate(template_name, text, self.template_version(template_name))

    def template_version(self, *names: str) -> str:
        """sha256 over the sources of ``names`` and every template they import/include/extend.

        Computed once per set of names and kept while every source file is unchanged (checked with
        the compiled templates, at most once per ``LISTING_TTL_SECONDS``).
        """
        self._revalidate()
        cached = self._versions.get(names)
        if cached is not None:
            return cached[0]
        digest = hashlib.sha256()
        checks: list[Callable[[], bool]] = []
        for name in self._closure(names):
            source, _filename, uptodate = self._loader.get_source(self._env, name)
            digest.update(f"{name}\0{source}\0".encode())
            checks.append(uptodate or (lambda: True))
        version = digest.hexdigest()[:12]
        self._versions[names] = (version, checks)
        return version

    def check(self, samples: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Problem]:
        """Compile every template and render every kind in every language against sample contexts.

        Args:
            samples: message kind -> sample contexts (missing optional fields, long names...).

        Returns:
            Every problem found, errors and fallback warnings; empty when all is well.
        """
        problems = [p for name in self._env.list_templates() if (p := self._compile_problem(name))]
        languages = {name.split("/")[0] for name in self._env.list_templates() if "/" in name}
        for kind, contexts in samples.items():
            have = self.available_languages(kind)
            problems.extend(self._fallback_problems(kind, have, languages))
            for lang in have:
                problems.extend(self._render_problems(kind, lang, contexts))
        return problems

    # -- internals ---------------------------------------------------------------------------------

    def _names(self) -> frozenset[str]:
        """Every template name, listed at most once per ``LISTING_TTL_SECONDS``."""
        listed_at, names = self._listing
        now = time.monotonic()
        if now - listed_at > LISTING_TTL_SECONDS:
            names = frozenset(self._env.list_templates())
            self._listing = (now, names)
        return names

    def _revalidate(self) -> None:
        """Forget compiled templates and versions once a source changed, at most once per TTL.

        A source changed when its file's modification time moved, it went away, or another
        layer now provides it (an admin file added over a shipped one). Jinja's own check
        (``auto_reload``) would stat every source of every render instead.
        """
        now = time.monotonic()
        if now - self._validated_at <= LISTING_TTL_SECONDS:
            return
        self._validated_at = now
        cache = self._env.cache
        compiled = list(cache.values()) if cache is not None else []
        stale = any(not self._still_current(template) for template in compiled) or any(
            not _fresh(check) for _version, checks in self._versions.values() for check in checks
        )
        if stale:
            log.info("a template source changed; recompiling")
            if cache is not None:
                cache.clear()
            self._versions.clear()

    def _still_current(self, template: Any) -> bool:
        try:
            _source, filename, _uptodate = self._loader.get_source(self._env, template.name)
        except TemplateNotFound:
            return False
        return bool(filename == template.filename and template.is_up_to_date)

    def _resolve_language(self, kind: str, language: str) -> tuple[str, bool]:
        if not _KIND.match(kind):
            raise TemplateError(f"not a message kind: {kind!r}")
        available = self.available_languages(kind)
        if _LANGUAGE.match(language) and language in available:
            return language, False
        if self.default_language in available:
            return self.default_language, True
        raise TemplateError(f"no {kind} template for {language!r} nor the default {self.default_language!r}")

    def _render_name(self, name: str, context: Mapping[str, Any]) -> str:
        self._revalidate()
        try:
            template = self._env.get_template(name)
            return self._bounded(name, template.generate(dict(context)))
        except TemplateError:
            raise
        except TemplateNotFound as exc:
            raise TemplateError(f"{name}: template not found: {exc.name}", template=name) from None
        except Exception as exc:  # anything a template can raise fails this message, not the worker
            raise _as_template_error(name, exc) from None

    def _bounded(self, name: str, chunks: Iterable[str]) -> str:
        """The output, taken 32 chunks at a time (a note has ~90): the size cap and the deadline are
        checked after each 32 (the sandbox checks the deadline at each call and loop turn anyway,
        and between those a template only emits its text); taking them runs at C speed."""
        parts: list[str] = []
        size, cap = 0, self.max_output_chars
        chunks = iter(chunks)
        while batch := list(islice(chunks, _CHUNKS_PER_CHECK)):
            size += sum(map(len, batch))
            if size > cap:
                raise TemplateError(f"{name}: output exceeds {cap} characters", template=name)
            parts += batch
            check_deadline()
        return "".join(parts)

    def _closure(self, names: Iterable[str]) -> list[str]:
        seen: list[str] = []
        pending = list(names)
        while pending:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.append(name)
            source, _filename, _uptodate = self._loader.get_source(self._env, name)
            pending.extend(_referenced(self._env, source))
        return seen

    def _compile_problem(self, name: str) -> Problem | None:
        try:
            self._env.get_template(name)
        except TemplateSyntaxError as exc:
            return Problem(exc.filename or name, exc.lineno, exc.message or "syntax error", _hint(exc))
        return None

    def _fallback_problems(self, kind: str, have: list[str], languages: set[str]) -> list[Problem]:
        if self.default_language not in have:
            hint = f"add {self.default_language}/{kind}.txt and {self.default_language}/{kind}.subject.txt"
            return [
                Problem(f"{self.default_language}/{kind}.txt", None, "no default-language template", hint)
            ]
        return [
            Problem(f"{lang}/{kind}.txt", None, f"missing; {lang} falls back to {self.default_language}",
                    f"copy {self.default_language}/{kind}.* to {lang}/ and translate", "warning")
            for lang in sorted(languages - set(have))
        ]  # fmt: skip

    def _render_problems(self, kind: str, lang: str, contexts: Sequence[Mapping[str, Any]]) -> list[Problem]:
        found: dict[tuple[str, int | None, str], Problem] = {}
        for context in contexts:
            try:
                self.render(kind, lang, context)
            except TemplateError as exc:
                problem = Problem(exc.template or f"{lang}/{kind}", exc.line, str(exc), exc.hint or "")
                found.setdefault((problem.path, problem.line, problem.message), problem)
        return list(found.values())


@lru_cache(maxsize=256)
def _languages_with(names: frozenset[str], suffix: str) -> tuple[str, ...]:
    """The sorted ``<lang>`` of every ``<lang><suffix>`` in a listing (asked several times per message)."""
    return tuple(
        sorted({name.split("/")[0] for name in names if name.endswith(suffix) and name.count("/") == 1})
    )


@lru_cache(maxsize=256)
def _referenced(env: CappedSandbox, source: str) -> tuple[str, ...]:
    """Templates a source imports, includes or extends by a constant name (for the version hash)."""
    try:
        return tuple(n for n in meta.find_referenced_templates(env.parse(source)) if n)
    except TemplateSyntaxError:
        return ()


def _fresh(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except OSError:  # the file went away: hash again (and fail there, naming it)
        return False


def _tidy_text(text: str) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _template_line(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template file and line in a traceback Jinja has rewritten, if any."""
    where: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        if _TRACE_FRAME in tb.tb_frame.f_globals:
            where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return where


def _hint(exc: BaseException) -> str:
    if isinstance(exc, TemplateSyntaxError):
        return "check the {{ }} / {% %} pairs and tag names on this line"
    if isinstance(exc, UndefinedError) and not isinstance(exc, SecurityError):
        return "use only the variables listed in the admin guide; test optional ones with {% if %}"
    if isinstance(exc, SecurityError):
        return "templates may only use the documented variables, small loops and plain text"
    return "simplify the expression on this line"


def _as_template_error(name: str, exc: BaseException) -> TemplateError:
    """A TemplateError naming file and line, with a short reason and no object internals."""
    filename, line = _template_line(exc)
    if isinstance(exc, TemplateSyntaxError):
        filename, line = exc.filename or filename, exc.lineno
    kind = "sandbox violation" if isinstance(exc, SecurityError) else type(exc).__name__
    reason = str(exc).splitlines()[0][:200] if str(exc) else kind
    where = f"{name}:{line}" if line else name
    return TemplateError(f"{where}: {kind}: {reason}", template=filename or name, line=line, hint=_hint(exc))
