"""The template kinds found in the template folders, their sample contexts, and one render of each."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from prepbot.domain import Meeting
from prepbot.rendering import Renderer
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_contexts, sample_variants

_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:_[A-Za-z0-9]{2,8})?$")
Shape = Literal["message", "document"]
Context = dict[str, Any]


@dataclass(frozen=True, slots=True)
class TemplateKind:
    """One kind of template: a ``message`` (``<kind>.subject.txt`` + ``<kind>.txt`` [+ ``.html``],
    rendered together) or a ``document`` (each file rendered on its own: a prep note, a script).

    ``files`` maps a language to the kind's template names in it (partials included);
    ``partials`` are macro files (``*.parts.*``, ``_*``) that are compiled but never rendered alone.
    """

    name: str
    shape: Shape
    files: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def languages(self) -> list[str]:
        return sorted(self.files)

    def renderable(self, language: str) -> list[str]:
        """The files of ``language`` rendered on their own (documents) — partials left out."""
        return [name for name in self.files.get(language, ()) if not is_partial(name)]


@dataclass(frozen=True, slots=True)
class Preview:
    """What a rendered kind looks like: subject (or title), text and HTML, and how it was made."""

    kind: str
    language: str
    subject: str
    text: str
    html: str | None
    template_version: str
    fell_back: bool = False


def is_partial(name: str) -> bool:
    """Macro files imported by other templates: ``en/confirmation.parts.txt``, ``en/_macros.txt``."""
    base = name.rsplit("/", 1)[-1]
    return ".parts." in base or base.startswith("_")


def find_kinds(names: Iterable[str]) -> list[TemplateKind]:
    """Group template names (``<lang>/<path>``) into kinds, sorted by name.

    ``<lang>/<kind>.subject.txt`` makes ``<kind>`` a message kind; every other file belongs to
    the kind named by its path up to the first dot (``nl/prep_note.title.txt`` -> ``prep_note``,
    ``ru/scripts/no_show.txt`` -> ``scripts/no_show``). Names outside a language folder are ignored.
    """
    by_kind: dict[str, dict[str, list[str]]] = {}
    messages: set[str] = set()
    for name in sorted(names):
        lang, _, rest = name.partition("/")
        if not rest or not _LANGUAGE.match(lang):
            continue
        folder, _, base = rest.rpartition("/")
        stem = base.split(".", 1)[0].lstrip("_") or base
        kind = f"{folder}/{stem}" if folder else stem
        if base.endswith(".subject.txt") and not folder:
            messages.add(kind)
        by_kind.setdefault(kind, {}).setdefault(lang, []).append(name)
    return [
        TemplateKind(
            kind,
            "message" if kind in messages else "document",
            {lang: tuple(files) for lang, files in langs.items()},
        )
        for kind, langs in sorted(by_kind.items())
    ]


def render_kind(renderer: Renderer, kind: TemplateKind, language: str, context: Mapping[str, Any]) -> Preview:
    """Render ``kind`` in ``language`` (a message with the renderer's fallback; a document file by file).

    Raises:
        TemplateError: as for :meth:`Renderer.render`.
    """
    if kind.shape == "message":
        msg = renderer.render(kind.name, language, context)
        return Preview(
            kind.name, msg.language, msg.subject, msg.text, msg.html, msg.template_version, msg.fell_back
        )
    lang, fell_back = (language, False) if language in kind.files else (renderer.default_language, True)
    parts = [renderer.render_one(name, context) for name in kind.renderable(lang)]
    html = next((p.text for p in parts if p.name.endswith((".html", ".htm"))), None)
    texts = [p for p in parts if not p.name.endswith((".html", ".htm"))]
    title = next((" ".join(p.text.split()) for p in texts if ".title." in p.name), "")
    text = "\n\n".join(p.text.strip() for p in texts if ".title." not in p.name)
    version = renderer.template_version(*(p.name for p in parts))
    return Preview(kind.name, lang, title, text, html, version, fell_back)


# -- sample contexts ------------------------------------------------------------------------------
# Each known kind gets contexts built the way its flow builds them, from the sample meetings of
# prepbot.samples. Builders of the issue-4 kinds are looked up by name, so a kind whose module is
# not installed is compiled only (and reported so) instead of breaking the check.

SampleBuilder = Callable[[Meeting, str, datetime], Context]


@dataclass(frozen=True, slots=True)
class _SampleScript:
    """A stand-in fallback script for templates that list scripts (used when prepbot.scripts is absent)."""

    script: str
    title: str
    text: str
    reason: str
    language: str


@lru_cache(maxsize=1)
def _playbook() -> Any:
    """The shipped playbook (compiling it dry-runs every rule: once per process is enough)."""
    return importlib.import_module("prepbot.playbooks").load_playbook(None)


@lru_cache(maxsize=1)
def _shipped_renderer() -> Renderer:
    from prepbot.rendering import shipped_templates_dir

    return Renderer(shipped_dir=shipped_templates_dir())


@lru_cache(maxsize=256)
def _sample_scripts(meeting: Meeting, language: str, now: datetime) -> list[Any]:
    """The scripts the shipped playbook attaches to ``meeting``, rendered (else stand-ins)."""
    try:
        scripts = importlib.import_module("prepbot.scripts")
        playbook = _playbook()
        choices = importlib.import_module("prepbot.playbooks").choose_scripts(
            meeting, playbook, language=language
        )
        renderer = _shipped_renderer()
        return list(
            scripts.render_scripts(
                renderer, choices, meeting, language=language, zone=SAMPLE_ZONE, now=now, playbook=playbook
            )
        )
    except (ImportError, AttributeError):
        pass
    name = meeting.who.name if meeting.who else ""
    text = f"Hello {name},\n\nA sample script paragraph with a name: {name}."
    return [
        _SampleScript("no_show", "No-show call", text, "An in-person meeting (sample reason).", language),
        _SampleScript("referral_permission", "Referral permission", text, "Sample reason.", language),
    ]


def _confirmation(meeting: Meeting, language: str, now: datetime) -> Context:
    from prepbot.context import build_confirmation_context

    return build_confirmation_context(meeting, zone=SAMPLE_ZONE, language=language, send_at=now).as_mapping()


def _no_show_task(meeting: Meeting, language: str, now: datetime) -> Context:
    return {**_confirmation(meeting, language, now), "scripts": _sample_scripts(meeting, language, now)}


def _prep_note(meeting: Meeting, language: str, now: datetime) -> Context:
    prepnote = importlib.import_module("prepbot.prepnote")
    status = prepnote.ConfirmationStatus("sent", now)
    scripts = _sample_scripts(meeting, language, now)
    context: Context = prepnote.note_context(
        meeting, status, scripts, language=language, org_time_zone=SAMPLE_ZONE
    )
    return context


def _owner_brief(meeting: Meeting, language: str, now: datetime) -> Context:
    brief = importlib.import_module("prepbot.flows.brief_compose")
    status = importlib.import_module("prepbot.prepnote").ConfirmationStatus("sent", now)
    scripts = _sample_scripts(meeting, language, now)
    context: Context = brief.brief_context(
        _shipped_renderer(), meeting, status, scripts, language=language, org_time_zone=SAMPLE_ZONE
    )
    return context


def _script(meeting: Meeting, language: str, now: datetime) -> Context:
    scripts = importlib.import_module("prepbot.scripts")
    found = scripts.script_context(
        meeting, language=language, zone=SAMPLE_ZONE, now=now, playbook=_playbook()
    )
    context: Context = found.as_mapping()
    return context


SAMPLE_BUILDERS: dict[str, SampleBuilder] = {
    "confirmation": _confirmation,
    "no_show_email": _confirmation,
    "no_show_task": _no_show_task,
    "prep_note": _prep_note,
    "owner_brief": _owner_brief,
    "scripts/": _script,  # every kind under scripts/
}


def builder_for(kind: str) -> SampleBuilder | None:
    """The sample-context builder of ``kind`` (an exact name, or a ``folder/`` prefix)."""
    if kind in SAMPLE_BUILDERS:
        return SAMPLE_BUILDERS[kind]
    folder = kind.rpartition("/")[0]
    return SAMPLE_BUILDERS.get(f"{folder}/") if folder else None


def kind_samples(kind: str, language: str, *, quick: bool = False) -> list[tuple[str, Context]] | None:
    """(label, context) for every sample meeting in ``language``; None when no builder is known.

    Raises:
        ImportError, AttributeError: the kind's module is not there (yet); callers report it.
    """
    build = builder_for(kind)
    if build is None:
        return None
    if kind == "confirmation" and not quick:
        return list(zip((label for label, _ in sample_variants()), sample_contexts(language), strict=True))
    variants: Sequence[tuple[str, Meeting]] = list(sample_variants())
    if quick:
        variants = variants[:1]
    return [(label, build(meeting, language, SAMPLE_SEND_AT)) for label, meeting in variants]


def context_for(kind: str, meeting: Meeting, language: str, now: datetime, zone: str) -> Context:
    """The context ``kind`` sees for a real meeting (preview, send-test), times in ``zone``.

    Raises:
        ValueError: no builder for ``kind``, or the meeting lacks what the kind needs.
    """
    if kind in ("confirmation", "no_show_email", "no_show_task"):
        from prepbot.context import build_confirmation_context

        base = build_confirmation_context(meeting, zone=zone, language=language, send_at=now).as_mapping()
        return (
            {**base, "scripts": _sample_scripts(meeting, language, now)} if kind == "no_show_task" else base
        )
    build = builder_for(kind)
    if build is None:
        raise ValueError(f"prepbot does not know how to build the variables of {kind!r}")
    return build(meeting, language, now)
