"""What a no-show follow-up says: the client's email and the owner's call Task with its scripts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from prepbot.composer import TASK_DESCRIPTION_LIMIT, Composed, Composer
from prepbot.context import build_confirmation_context, meeting_channel
from prepbot.domain import ActionKey, Meeting, TaskRecord
from prepbot.errors import TemplateError
from prepbot.languages import babel_locale, choose_language
from prepbot.playbooks import Playbook, ScriptChoice
from prepbot.rendering import Renderer
from prepbot.scripts import RenderedScript, render_scripts
from prepbot.timing import recipient_zone, to_local

NO_SHOW_EMAIL = "no_show_email"
NO_SHOW_TASK = "no_show_task"
REFERRAL_PERMISSION = "referral_permission"
NO_SHOW_RULE = "no_show_follow_up"
NO_SHOW_REASON = "The client did not come to the meeting (marked as a no-show)."


class ScriptText(Protocol):
    """A rendered fallback script as the Task shows it (``prepbot.scripts.RenderedScript`` fits)."""

    @property
    def script(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def text(self) -> str: ...


class ScriptWriter(Protocol):
    """Renders the named scripts for a meeting, in ``language``, with times in ``zone``."""

    def __call__(
        self, meeting: Meeting, names: Sequence[str], *, language: str, zone: str, now: datetime
    ) -> Sequence[ScriptText]: ...


def playbook_scripts(renderer: Renderer, playbook: Playbook) -> ScriptWriter:
    """A ScriptWriter over the shipped (or the admin's) script templates and the playbook's wording."""

    def write(
        meeting: Meeting, names: Sequence[str], *, language: str, zone: str, now: datetime
    ) -> list[RenderedScript]:
        choices = [ScriptChoice(name, NO_SHOW_RULE, NO_SHOW_REASON) for name in names]
        return render_scripts(
            renderer, choices, meeting, language=language, zone=zone, now=now, playbook=playbook
        )

    return write


def call_scripts(meeting: Meeting) -> tuple[str, str]:
    """The owner's scripts after a no-show: the call script (remote variant for call/video) + permission."""
    call = "no_show" if meeting_channel(meeting) == "in_person" else "no_show_remote"
    return call, REFERRAL_PERMISSION


@dataclass(frozen=True, slots=True)
class NoShowWriter:
    """Renders the no-show email (client's language and zone) and the owner's Task (owner's)."""

    composer: Composer
    scripts: ScriptWriter
    org_time_zone: str = "UTC"

    def client_zone(self, meeting: Meeting) -> str:
        who, owner = meeting.who, meeting.owner
        return recipient_zone(
            who.time_zone if who else None, owner.time_zone if owner else None, self.org_time_zone
        )

    def owner_zone(self, meeting: Meeting) -> str:
        return recipient_zone(None, meeting.owner.time_zone if meeting.owner else None, self.org_time_zone)

    def client_language(self, meeting: Meeting) -> str:
        """As for confirmations: contact field -> mailing country -> owner's language -> default."""
        who, owner, policy = meeting.who, meeting.owner, self.composer.languages
        return choose_language(
            who.language if who else None,
            who.mailing_country_code if who else None,
            policy.country_map,
            owner.language if owner else None,
            policy.default,
            self.composer.renderer.available_languages(NO_SHOW_EMAIL),
        )

    def owner_language(self, meeting: Meeting) -> str:
        """The owner's LanguageLocaleKey when prepbot can write it, else the default."""
        policy = self.composer.languages
        owner = meeting.owner
        available = self.composer.renderer.available_languages(NO_SHOW_TASK)
        return choose_language(owner.language if owner else None, None, {}, None, policy.default, available)

    def email(self, meeting: Meeting, key: ActionKey, now: datetime) -> Composed:
        """The follow-up to the client: no blame, a new time, who else nearby (method §2).

        Raises:
            TemplateError: no client address or owner, or the template failed.
        """
        who, owner = meeting.who, meeting.owner
        if who is None or owner is None or not who.email:
            raise TemplateError(f"meeting {meeting.event_id} has no client address or no owner")
        language = self.client_language(meeting)
        context = self._context(meeting, self.client_zone(meeting), language, now)
        rendered = self.composer.renderer.render(NO_SHOW_EMAIL, language, context)
        return self.composer.compose(NO_SHOW_EMAIL, meeting, key, rendered)

    def _context(
        self, meeting: Meeting, zone: str, language: str, now: datetime, locale: str | None = None
    ) -> dict[str, Any]:
        try:
            context = build_confirmation_context(
                meeting, zone=zone, language=language, send_at=now, locale=locale
            )
        except ValueError as exc:
            raise TemplateError(str(exc)) from None
        return context.as_mapping()

    def email_task(self, meeting: Meeting, composed: Composed, now: datetime, *, ref: str) -> TaskRecord:
        """The completed email Task that logs a sent follow-up (like a confirmation's)."""
        return self.composer.email_task(meeting, composed, now, ref=ref)

    def call_task(self, meeting: Meeting, now: datetime, *, ref: str) -> tuple[TaskRecord, str]:
        """The owner's open Task, due today in the owner's zone: call the client, with the scripts.

        Returns:
            The Task and the template version it was rendered from.

        Raises:
            TemplateError: a template or a script failed.
        """
        zone, language = self.owner_zone(meeting), self.owner_language(meeting)
        scripts = self.scripts(meeting, call_scripts(meeting), language=language, zone=zone, now=now)
        context = self._context(meeting, zone, language, now, locale=babel_locale(language))
        rendered = self.composer.renderer.render(
            NO_SHOW_TASK, language, {**context, "scripts": list(scripts)}
        )
        who = meeting.who
        what_id = meeting.what.id if meeting.what and (who is None or who.kind != "Lead") else None
        task = TaskRecord(
            subject=rendered.subject[:255],
            description=rendered.text[:TASK_DESCRIPTION_LIMIT],
            owner_id=meeting.owner_id,
            who_id=who.id if who else None,
            what_id=what_id,
            activity_date=to_local(now, zone).date(),
            ref=ref,
        )
        return replace(task, status="Not Started", subtype="Task", priority="High"), rendered.template_version
