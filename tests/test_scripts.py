"""The fallback scripts say what method §2–4 say, personalised, in every language and every case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from prepbot.context import describe_context
from prepbot.domain import Meeting
from prepbot.errors import TemplateError
from prepbot.playbooks import SCRIPTS, Playbook, ScriptChoice, choose_scripts, load_playbook
from prepbot.rendering import Renderer, shipped_templates_dir
from prepbot.samples import SAMPLE_SEND_AT, SAMPLE_ZONE, sample_meeting
from prepbot.script_samples import FOUNDER, every_script, sample_deal, script_sample_variants
from prepbot.scripts import RenderedScript, ScriptContext, render_scripts

LANGS = ("en", "nl", "ru")
VARIANTS = dict(script_sample_variants())
# Words that blame the client for not being there, per language (method §2: "no blame").
BLAME = [
    "forgot", "forget", "your fault", "no-show", "no show", "stood me up", "wasted", "for nothing",
    "why didn't you", "why weren't you", "vergeten", "uw schuld", "jouw schuld", "voor niets",
    "waarom was u", "waarom bent u", "забыли", "забыл", "ваша вина", "по вашей вине", "зря",
    "почему вы не", "почему Вы не",
]  # fmt: skip


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook()


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(shipped_dir=shipped_templates_dir())


def render(
    renderer: Renderer,
    playbook: Playbook,
    meeting: Meeting,
    language: str,
    choices: list[ScriptChoice] | None = None,
) -> dict[str, RenderedScript]:
    out = render_scripts(
        renderer, choices or every_script(), meeting, language=language, zone=SAMPLE_ZONE, now=SAMPLE_SEND_AT,
        playbook=playbook,
    )  # fmt: skip
    return {script.script: script for script in out}


CASES = [(lang, label) for lang in LANGS for label in VARIANTS]


@pytest.mark.parametrize(("language", "label"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_script_renders_in_every_language_and_case(
    renderer: Renderer, playbook: Playbook, language: str, label: str
) -> None:
    scripts = render(renderer, playbook, VARIANTS[label], language)
    assert list(scripts) == list(SCRIPTS)
    for script in scripts.values():
        assert script.language == language and len(script.template_version) == 12
        assert script.title and "\n" not in script.title
        for text in (script.title, script.text):
            assert "{{" not in text and "{%" not in text and "None" not in text and "  " not in text
        assert (
            script.text.count('"') % 2 == 0
            if language != "ru"
            else script.text.count("«") == script.text.count("»")
        )


@pytest.mark.parametrize("language", LANGS)
@pytest.mark.parametrize("script", ["no_show", "no_show_remote"])
def test_the_no_show_scripts_never_blame_the_client(
    renderer: Renderer, playbook: Playbook, language: str, script: str
) -> None:
    for meeting in VARIANTS.values():
        rendered = render(renderer, playbook, meeting, language)[script]
        text = f"{rendered.title}\n{rendered.text}".casefold()
        assert not [word for word in BLAME if word.casefold() in text], text


@pytest.mark.parametrize(
    ("language", "hope", "new_time", "nearby", "distance"),
    [
        ("en", "really like to meet you", "new time", "Who else nearby", "drove 200 km to the Zwolle area"),
        ("nl", "graag ontmoeten", "nieuw moment", "hier in de buurt nog meer",
         "200 km gereden heb naar de omgeving van Zwolle"),
        ("ru", "хочется с Вами встретиться", "новое время", "с кем ещё поблизости", "дорога сюда — 200 км"),
    ],
)  # fmt: skip
def test_the_in_person_no_show_script_hopes_proposes_and_asks_who_else_nearby_naming_the_distance(
    renderer: Renderer,
    playbook: Playbook,
    language: str,
    hope: str,
    new_time: str,
    nearby: str,
    distance: str,
) -> None:
    text = render(renderer, playbook, VARIANTS["in_person_distance_decider"], language)["no_show"].text
    for words in (hope, new_time, nearby, distance, "Jan de Vries", "Dorpsstraat 1"):
        assert words in text, (words, text)
    assert "km" not in render(renderer, playbook, VARIANTS["in_person"], language)["no_show"].text.replace(
        "км", ""
    )


@pytest.mark.parametrize(("language", "word"), [("en", "network"), ("nl", "netwerk"), ("ru", "знакомых")])
def test_the_remote_no_show_script_asks_about_the_clients_network_not_about_the_trip(
    renderer: Renderer, playbook: Playbook, language: str, word: str
) -> None:
    text = render(renderer, playbook, VARIANTS["call"], language)["no_show_remote"].text
    assert word in text and "Dorpsstraat" not in text


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Like you, I value my reputation", "May I ask you to call them first and ask permission?",
                "a very capable salesperson, Jan de Vries, who offers solutions in sales automation",
                "without your permission. Is it all right if Jan calls you?", "honest"]),
        ("nl", ["net als u hecht ik veel waarde aan mijn reputatie", "eerst zelf te bellen",
                "oplossingen biedt op het gebied van verkoopautomatisering", "Is het goed als Jan je belt?",
                "eerlijk"]),
        ("ru", ["как и Вы, очень дорожу своей репутацией", "сначала позвонить ему и спросить разрешения",
                "решения в области автоматизации продаж", "Ничего, если Jan тебе позвонит?", "честный"]),
    ],
)  # fmt: skip
def test_the_permission_script_gives_the_clients_exact_words_with_the_product_area_and_the_reps_name(
    renderer: Renderer, playbook: Playbook, language: str, words: list[str]
) -> None:
    text = render(renderer, playbook, VARIANTS["in_person"], language)["referral_permission"].text
    for phrase in words:
        assert phrase in text, (phrase, text)


def test_the_english_permission_words_do_not_assume_the_reps_gender(
    renderer: Renderer, playbook: Playbook
) -> None:
    for meeting in VARIANTS.values():
        text = render(renderer, playbook, meeting, "en")["referral_permission"].text
        assert not {" him ", " he ", " his ", " her ", " she "} & {
            f" {w} " for w in text.replace(",", " ").split()
        }


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ["Anna de Vries (Decision Maker, in Spain) decides", "Piet Jansen, Operations Manager",
                "likes the solution", "How does Anna de Vries usually decide",
                "presentation that you can show Anna de Vries on your own behalf",
                "conference call: you, Anna de Vries and me", "progress"]),
        ("nl", ["Anna de Vries (Decision Maker, in Spain) beslist", "Hoe neemt Anna de Vries zo'n beslissing",
                "namens uzelf", "telefonische conferentie", "vooruitgang"]),
        ("ru", ["решение принимает Anna de Vries (Decision Maker, Spain)", "Какие материалы",
                "от своего имени", "конференц-звонок: Вы, Anna de Vries и я", "продвижением"]),
    ],
)  # fmt: skip
def test_the_absent_decision_maker_script_names_the_decider_and_ends_with_progress(
    renderer: Renderer, playbook: Playbook, language: str, words: list[str]
) -> None:
    text = render(renderer, playbook, VARIANTS["in_person_distance_decider"], language)[
        "absent_decision_maker"
    ].text
    for phrase in words:
        assert phrase in text, (phrase, text)


@pytest.mark.parametrize(
    ("language", "founders"), [("en", "the founders"), ("nl", "de oprichters"), ("ru", "учредител")]
)
def test_without_a_known_decider_the_script_speaks_of_the_founders(
    renderer: Renderer, playbook: Playbook, language: str, founders: str
) -> None:
    assert (
        founders in render(renderer, playbook, VARIANTS["in_person"], language)["absent_decision_maker"].text
    )


def test_the_farmer_story_end_to_end_carries_reasons_into_the_rendered_scripts(
    renderer: Renderer, playbook: Playbook
) -> None:
    meeting = sample_meeting(travel_distance_km=200.0)
    choices = choose_scripts(meeting, playbook, language="nl")
    rendered = render_scripts(
        renderer, choices, meeting, language="nl", zone=SAMPLE_ZONE, now=SAMPLE_SEND_AT, playbook=playbook
    )
    assert [s.script for s in rendered] == ["no_show", "referral_permission"]
    assert rendered[0].reason == choices[0].reason and "200 km" in rendered[0].reason
    assert "200 km gereden" in rendered[0].text
    assert render_scripts(renderer, [], meeting, language="nl", zone=SAMPLE_ZONE, now=SAMPLE_SEND_AT,
                          playbook=playbook) == []  # fmt: skip


def test_a_language_without_scripts_falls_back_to_the_default_visibly(
    renderer: Renderer, playbook: Playbook
) -> None:
    scripts = render(renderer, playbook, VARIANTS["in_person"], "de")
    assert {s.language for s in scripts.values()} == {"en"}
    assert "sales automation" in scripts["referral_permission"].text


def test_an_admin_script_with_an_undefined_variable_fails_naming_the_file(
    tmp_path: Path, playbook: Playbook
) -> None:
    folder = tmp_path / "en" / "scripts"
    folder.mkdir(parents=True)
    (folder / "no_show.txt").write_text("Call {{ client.nickname }}.\n", encoding="utf-8")
    admin = Renderer(shipped_dir=shipped_templates_dir(), admin_dir=tmp_path)
    with pytest.raises(TemplateError) as caught:
        render(admin, playbook, VARIANTS["in_person"], "en", [ScriptChoice("no_show", "r", "why")])
    assert "en/scripts/no_show.txt" in str(caught.value)


def test_an_admin_override_applies_file_by_file_and_changes_the_version(
    tmp_path: Path, playbook: Playbook
) -> None:
    folder = tmp_path / "nl" / "scripts"
    folder.mkdir(parents=True)
    (folder / "no_show.txt").write_text("Bel {{ client.first_name }} zonder verwijt.\n", encoding="utf-8")
    admin = Renderer(shipped_dir=shipped_templates_dir(), admin_dir=tmp_path)
    ours = render(admin, playbook, VARIANTS["in_person"], "nl")
    shipped = render(Renderer(shipped_dir=shipped_templates_dir()), playbook, VARIANTS["in_person"], "nl")
    assert ours["no_show"].text == "Bel Piet zonder verwijt.\n"
    assert ours["no_show"].template_version != shipped["no_show"].template_version
    assert ours["referral_permission"] == shipped["referral_permission"]


def test_the_product_area_follows_the_playbook(tmp_path: Path, renderer: Renderer) -> None:
    path = tmp_path / "playbooks.toml"
    path.write_text('[product_area]\nen = "milking robots"\n', encoding="utf-8")
    custom = load_playbook(path)
    text = render(renderer, custom, VARIANTS["in_person"], "nl")["referral_permission"].text
    assert "op het gebied van milking robots" in text  # no Dutch entry: the English one, never an empty blank


def test_a_decider_without_name_details_still_reads_well(renderer: Renderer, playbook: Playbook) -> None:
    bare = replace(FOUNDER, contact_country=None, role="Decision Maker", contact_title=None)
    meeting = replace(sample_meeting(), what=sample_deal(bare))
    text = render(renderer, playbook, meeting, "en")["absent_decision_maker"].text
    assert "Anna de Vries (Decision Maker) decides" in text


def test_every_script_variable_is_documented() -> None:
    rows = describe_context(ScriptContext)
    wanted = {
        "client.name",
        "rep.first_name",
        "meeting.travel_distance_text",
        "decider.country",
        "product_area",
    }
    assert {path for path, _type, _doc in rows} >= wanted
    assert all(doc for _path, _type, doc in rows)
