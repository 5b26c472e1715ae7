"""The no-show follow-up's wording (method §2) and its pure planning, without any I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from prepbot.composer import Composer, LanguagePolicy, Sender
from prepbot.context import meeting_channel
from prepbot.domain import Meeting, MessageKind, Status
from prepbot.flows.noshow import has_started, plan_no_show
from prepbot.flows.noshow_compose import NoShowWriter, call_scripts
from prepbot.planner import Audience
from prepbot.rendering import RenderedMessage, Renderer, shipped_templates_dir
from prepbot.samples import sample_meeting, sample_variants
from tests.flows.conftest import HandScripts

LANGS = ("en", "nl", "ru")
AFTER = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # the sample meeting was at 09:00 UTC that day

# Words that blame the client, or read like a machine (method §2: "it happened; say so lightly").
BLAME = {
    "en": ["missed", "forgot", "no-show", "no show", "didn't show", "did not show", "didn't come",
           "did not come", "failed to", "stood", "absent", "waited", "wasted", "you didn't", "unfortunately",
           "automat", "do not reply", "no-reply", "noreply", "system", "unsubscribe", "dear customer"],
    "nl": ["vergeten", "gemist", "niet komen opdagen", "niet verschenen", "niet gekomen", "u was er niet",
           "gewacht", "verspild", "helaas", "automatisch", "niet beantwoorden", "systeem", "afmeld"],
    "ru": ["забыл", "пропустил", "не пришли", "не явил", "неявк", "ждал", "зря", "к сожалению",
           "автоматическ", "не отвечайте", "систем", "отпис", "впустую"],
}  # fmt: skip
NEW_TIME = {"en": "which day and time", "nl": "welke dag en welk tijdstip", "ru": "какой день и время"}
NEARBY = {"en": "nearby", "nl": "in de buurt", "ru": "поблизости"}
ASK_FIRST = {"en": "ask them first", "nl": "eerst zelf", "ru": "сначала спросить"}


def writer(language: str = "en") -> NoShowWriter:
    renderer = Renderer(shipped_dir=shipped_templates_dir())
    return NoShowWriter(Composer(renderer, Sender(), LanguagePolicy(default=language)), HandScripts())


def render(language: str, meeting: Meeting) -> RenderedMessage:
    assert meeting.who is not None
    meeting = replace(meeting, who=replace(meeting.who, language=language))
    key = plan_no_show(meeting, Audience(), AFTER, email_client=True)[1].key
    return writer().email(meeting, key, AFTER).rendered


CASES = [(lang, label, m) for lang in LANGS for label, m in sample_variants()]


@pytest.mark.parametrize(("language", "label", "meeting"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_no_show_email_renders_without_blame_in_every_language(
    language: str, label: str, meeting: Meeting
) -> None:
    result = render(language, meeting)
    assert result.language == language and not result.fell_back
    assert result.subject and "\n" not in result.subject and result.html
    for part in (result.subject, result.text, result.html):
        lowered = part.casefold()
        for phrase in BLAME[language] + BLAME["en"]:
            assert phrase not in lowered, (phrase, part)
    text = result.text.casefold()
    assert NEW_TIME[language] in text  # asks for a new time
    assert ASK_FIRST[language] in text  # the client may ask the referral first (method §3)
    assert result.text.rstrip().splitlines()[-1] != ""  # signed
    assert meeting.owner is not None and meeting.owner.name in result.text  # signed by the owner


@pytest.mark.parametrize("language", LANGS)
def test_an_in_person_no_show_email_offers_to_meet_others_nearby_on_the_same_trip(language: str) -> None:
    text = render(language, sample_meeting()).text.casefold()
    assert NEARBY[language] in text


@pytest.mark.parametrize("language", LANGS)
def test_the_owners_task_renders_with_both_scripts_in_every_language(language: str) -> None:
    meeting = replace(sample_meeting(), owner=replace(sample_meeting().owner, language=language))  # type: ignore[type-var]
    task, version = writer().call_task(meeting, AFTER, ref="1")
    assert "<<no_show script in " + language + ">>" in task.description
    assert "<<referral_permission script in " + language + ">>" in task.description
    assert task.status == "Not Started" and task.subtype == "Task" and task.priority == "High"
    assert task.activity_date == date(2026, 12, 1) and version


def test_a_call_or_video_meeting_gets_the_remote_call_script() -> None:
    variants = dict(sample_variants())
    assert call_scripts(variants["in_person"]) == ("no_show", "referral_permission")
    assert call_scripts(variants["call"]) == ("no_show_remote", "referral_permission")
    assert call_scripts(variants["video"]) == ("no_show_remote", "referral_permission")
    for label, meeting in variants.items():
        expected = "no_show" if meeting_channel(meeting) == "in_person" else "no_show_remote"
        assert call_scripts(meeting)[0] == expected, label


def test_planning_gives_a_task_for_the_owner_and_an_email_for_the_client_both_due_now() -> None:
    meeting = sample_meeting()
    task, email = plan_no_show(meeting, Audience(), AFTER, email_client=True)
    assert task.key.kind is MessageKind.NO_SHOW_TASK and task.key.recipient == meeting.owner_id
    assert email.key.kind is MessageKind.NO_SHOW_EMAIL and email.key.recipient == "piet@example.org"
    assert task.status is email.status is Status.PLANNED and task.due_at == email.due_at == AFTER
    assert task.key.occurrence == email.key.occurrence == meeting.occurrence


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"opted_out": True}, "opted_out"),
        ({"bounced": True}, "bounced"),
        ({"email": None}, "no_address"),
        ({"email": "colleague@team.test"}, "internal_only"),
    ],
)
def test_a_client_who_may_not_be_written_to_gets_a_skipped_email_row_with_the_reason(
    change: dict[str, object], reason: str
) -> None:
    base = sample_meeting()
    meeting = replace(base, who=replace(base.who, **change))  # type: ignore[type-var]
    audience = Audience(internal_domains=frozenset({"team.test"}))
    task, email = plan_no_show(meeting, audience, AFTER, email_client=True)
    assert task.status is Status.PLANNED
    assert email.status is Status.SKIPPED and email.reason == reason


def test_with_email_client_off_only_the_task_is_planned() -> None:
    actions = plan_no_show(sample_meeting(), Audience(), AFTER, email_client=False)
    assert [a.key.kind for a in actions] == [MessageKind.NO_SHOW_TASK]


def test_a_meeting_has_started_from_its_start_and_an_all_day_one_from_its_date() -> None:
    timed = sample_meeting()
    assert timed.start_at is not None
    assert has_started(timed, timed.start_at) and not has_started(
        timed, timed.start_at - timedelta(seconds=1)
    )
    all_day = replace(timed, all_day=True, start_at=None, end_at=None, activity_date=date(2026, 12, 2))
    assert not has_started(all_day, AFTER) and has_started(all_day, AFTER + timedelta(days=1))
