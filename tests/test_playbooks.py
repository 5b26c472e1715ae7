"""Playbook rules pick the method's fallback scripts (method §2–4) with reasons; bad rules fail at load."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from prepbot.config import load_playbooks_file
from prepbot.context import describe_context
from prepbot.domain import ContactRole, Meeting, Person
from prepbot.errors import ConfigError
from prepbot.playbook_context import RuleContext
from prepbot.playbooks import (
    SCRIPTS,
    Playbook,
    ScriptChoice,
    choose_scripts,
    lint_playbook,
    load_playbook,
    rule_context,
    shipped_playbooks_file,
)
from prepbot.samples import sample_meeting
from prepbot.script_samples import FOUNDER, sample_deal


@pytest.fixture(scope="module")
def playbook() -> Playbook:
    return load_playbook()


def farmer_200_km_away() -> Meeting:
    return sample_meeting(travel_distance_km=200.0)


def hired_operations_manager() -> Meeting:
    base = sample_meeting()
    assert base.who is not None
    manager = replace(base.who, title="Operations Manager")
    own = ContactRole(contact_id=manager.id, role="Influencer", contact_name="Piet Jansen")
    return replace(base, who=manager, what=sample_deal(own, FOUNDER))


def with_title(meeting: Meeting, title: str) -> Meeting:
    assert meeting.who is not None
    return replace(meeting, who=replace(meeting.who, title=title))


def remote(meeting: Meeting, channel: str) -> Meeting:
    if channel == "call":
        return replace(meeting, event_type="Call", location="+31 38 123 4567")
    return replace(meeting, location="https://example.zoom.us/j/42")


def scripts_of(choices: list[ScriptChoice]) -> list[str]:
    return [choice.script for choice in choices]


def write_rules(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "playbooks.toml"
    path.write_text(body, encoding="utf-8")
    return path


def rule(when: str, scripts: str = '["no_show"]', reason: str = '"Because."', name: str = "mine") -> str:
    return f'[[rules]]\nname = "{name}"\nwhen = {when}\nscripts = {scripts}\nreason = {reason}\n'


# --- the method's stories ------------------------------------------------------------------------


def test_the_farmer_200_km_away_gets_the_no_show_and_permission_scripts_naming_the_visit_and_distance(
    playbook: Playbook,
) -> None:
    choices = choose_scripts(farmer_200_km_away(), playbook, language="en")
    assert scripts_of(choices) == ["no_show", "referral_permission"]
    assert {c.rule for c in choices} == {"in_person_no_show"}
    reason = choices[0].reason
    assert "in person" in reason and "200 km away" in reason and "Piet Jansen" in reason
    assert "Dorpsstraat 1" in reason


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("nl", ["ter plaatse", "200 km rijden", "zonder verwijt"]),
        ("ru", ["Личная встреча", "200 км", "без упрёков"]),
    ],
)
def test_the_reason_is_written_in_the_reps_language(
    playbook: Playbook, language: str, words: list[str]
) -> None:
    reason = choose_scripts(farmer_200_km_away(), playbook, language=language)[0].reason
    assert all(word in reason for word in words), reason


def test_a_language_without_reasons_falls_back_to_english(playbook: Playbook) -> None:
    reason = choose_scripts(farmer_200_km_away(), playbook, language="de_DE")[0].reason
    assert reason.startswith("You meet Piet Jansen in person")


def test_without_a_mapped_distance_the_reason_does_not_invent_one(playbook: Playbook) -> None:
    reason = choose_scripts(sample_meeting(), playbook, language="en")[0].reason
    assert "km" not in reason and "in person" in reason


def test_the_hired_manager_whose_founder_decides_gets_the_absent_decision_maker_script(
    playbook: Playbook,
) -> None:
    choices = {c.script: c for c in choose_scripts(hired_operations_manager(), playbook, language="en")}
    choice = choices["absent_decision_maker"]
    assert choice.rule == "absent_decision_maker"
    assert choice.reason == (
        "Anna de Vries (in Spain) holds the Decision Maker role on this opportunity; "
        "you meet Piet Jansen, Operations Manager."
    )


def test_an_economic_buyer_also_counts_as_the_decider(playbook: Playbook) -> None:
    meeting = replace(hired_operations_manager(), what=sample_deal(replace(FOUNDER, role="Economic Buyer")))
    meeting = with_title(meeting, "Buyer")
    reason = {c.script: c.reason for c in choose_scripts(meeting, playbook, language="en")}
    assert "Anna de Vries (in Spain) holds the Economic Buyer role" in reason["absent_decision_maker"]


def test_a_non_deciding_title_alone_is_enough_even_for_a_lead(playbook: Playbook) -> None:
    base = sample_meeting()
    lead = Person(
        id="00Q000000000001AAA", kind="Lead", last_name="Bakker", first_name="Kees", title="Bedrijfsleider"
    )
    choices = {
        c.script: c for c in choose_scripts(replace(base, who=lead, what=None), playbook, language="nl")
    }
    assert choices["absent_decision_maker"].reason == (
        "Je spreekt Kees Bakker, Bedrijfsleider: die functie wijst erop dat iemand anders beslist."
    )


@pytest.mark.parametrize(
    "title", ["Owner", "Managing Director", "Founder & Operations Manager", "Генеральный директор"]
)
def test_a_deciding_title_without_another_decider_gets_no_absent_decision_maker_script(
    playbook: Playbook, title: str
) -> None:
    base = sample_meeting()
    meeting = with_title(base, title)
    assert "absent_decision_maker" not in scripts_of(choose_scripts(meeting, playbook, language="en"))


def test_the_contact_who_holds_the_decision_maker_role_is_not_sent_to_someone_else(
    playbook: Playbook,
) -> None:
    meeting = hired_operations_manager()
    own = ContactRole(contact_id=meeting.who.id, role="Decision Maker")  # type: ignore[union-attr]
    meeting = replace(meeting, what=sample_deal(own, replace(FOUNDER, role="Economic Buyer")))
    assert "absent_decision_maker" not in scripts_of(choose_scripts(meeting, playbook, language="en"))


def test_a_closed_won_client_gets_the_permission_script_for_referrals(playbook: Playbook) -> None:
    meeting = remote(replace(sample_meeting(), what=sample_deal(stage="Closed Won")), "call")
    choices = choose_scripts(meeting, playbook, language="en")
    assert scripts_of(choices) == ["no_show_remote", "referral_permission"]
    assert choices[1].rule == "referral_stage"
    assert "Closed Won" in choices[1].reason and "referrals" in choices[1].reason


def test_a_script_attached_twice_keeps_the_first_rules_place_and_reason(playbook: Playbook) -> None:
    meeting = replace(farmer_200_km_away(), what=sample_deal(stage="Closed Won"))
    choices = choose_scripts(meeting, playbook, language="en")
    assert scripts_of(choices) == ["no_show", "referral_permission"]
    assert choices[1].rule == "in_person_no_show"


@pytest.mark.parametrize("channel", ["call", "video"])
def test_a_remote_meeting_gets_the_remote_no_show_script_not_the_in_person_one(
    playbook: Playbook, channel: str
) -> None:
    choices = choose_scripts(remote(sample_meeting(), channel), playbook, language="en")
    assert scripts_of(choices) == ["no_show_remote"]
    expected = "A phone call with Piet Jansen" if channel == "call" else "A video meeting with Piet Jansen"
    assert choices[0].reason.startswith(expected)


def test_a_meeting_no_rule_matches_gets_no_scripts(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        rule('"in_person and not deciders"', '["no_show", "referral_permission"]')
        + rule("\"stage == 'Negotiation'\"", '["referral_permission"]', name="negotiation"),
    )
    playbook = load_playbook(path)
    with_decider = remote(hired_operations_manager(), "call")
    assert choose_scripts(with_decider, playbook, language="en") == []


def test_a_meeting_without_a_client_gets_no_scripts(playbook: Playbook) -> None:
    assert choose_scripts(replace(sample_meeting(), who=None), playbook, language="en") == []


def test_a_disabled_rule_is_checked_but_never_applied(tmp_path: Path) -> None:
    path = write_rules(tmp_path, rule('"true"') + "enabled = false\n")
    assert choose_scripts(sample_meeting(), load_playbook(path), language="en") == []


def test_the_rule_context_offers_the_documented_facts(playbook: Playbook) -> None:
    meeting = replace(hired_operations_manager(), travel_distance_km=12.6)
    ctx = rule_context(meeting, playbook, language="nl", owner_language="en")
    assert ctx.contact.title == "Operations Manager" and ctx.role.role == "Influencer"
    assert ctx.decider.name == "Anna de Vries" and ctx.decider.country == "Spain"
    assert ctx.title_is_non_deciding and not ctx.title_is_deciding and not ctx.contact_is_decider
    assert ctx.in_person and ctx.channel == "in_person" and ctx.travel_distance_text == "13 km"
    assert ctx.has_opportunity and ctx.stage == "Proposal/Price Quote" and not ctx.is_referral_stage
    assert (ctx.language, ctx.owner_language) == ("nl", "en")
    rows = describe_context(RuleContext)
    assert rows and all(doc for _path, _type, doc in rows)


def test_custom_settings_change_who_decides_and_which_titles_count(tmp_path: Path) -> None:
    path = write_rules(
        tmp_path,
        'decider_roles = ["Sponsor"]\nnon_deciding_titles = []\n'
        'non_deciding_title_patterns = ["^head of (?!sales)"]\n'
        + rule('"title_is_non_deciding or deciders"', '["absent_decision_maker"]', '"{{ decider.name }}"'),
    )
    playbook = load_playbook(path)
    base = sample_meeting()
    head = with_title(base, "Head of Logistics")
    assert scripts_of(choose_scripts(head, playbook, language="en")) == ["absent_decision_maker"]
    sales = with_title(base, "Head of Sales")
    assert choose_scripts(sales, playbook, language="en") == []
    sponsor = replace(sales, what=sample_deal(replace(FOUNDER, role="sponsor")))
    assert choose_scripts(sponsor, playbook, language="en")[0].reason == "Anna de Vries"


def test_the_product_area_comes_per_language_with_english_as_fallback(playbook: Playbook) -> None:
    assert playbook.product_area_for("nl_NL") == "verkoopautomatisering"
    assert playbook.product_area_for("ru") == "автоматизации продаж"
    assert playbook.product_area_for("de") == "sales automation"


# --- refusing bad rules at load ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "words"),
    [
        (rule('"in_person and"'), "playbooks.rules[mine].when", "not a valid expression"),
        (rule('"in_person }}{{ 1"'), "playbooks.rules[mine].when", "not a valid expression"),
        (rule('"in_person"', '["no_show", "cold_call"]'), "playbooks.rules[mine].scripts", "'cold_call'"),
        (rule('"in_persn"'), "playbooks.rules[mine].when", "unknown variable 'in_persn'"),
        (rule('"contact.titel == \'x\'"'), "playbooks.rules[mine].when", "unknown variable or field"),
        (rule('"travel_distance_km > 100"'), "playbooks.rules[mine].when", "sample call meeting"),
        (rule('"true"', reason='"{{ contact.nam }}"'), "playbooks.rules[mine].reason", "unknown variable"),
        (rule('"true"', reason='"{% if %}"'), "playbooks.rules[mine].reason.en", "not a valid reason"),
        (rule('"true"', reason='"{{ who }}"'), "playbooks.rules[mine].reason.en", "unknown variable 'who'"),
    ],
    ids=["dangling-and", "injection", "unknown-script", "unknown-variable", "unknown-field", "none-compare",
         "reason-field", "reason-syntax", "reason-variable"],
)  # fmt: skip
def test_a_broken_rule_is_a_config_error_naming_the_rule(
    tmp_path: Path, body: str, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_playbook(write_rules(tmp_path, body))
    assert caught.value.key is not None and caught.value.key.startswith(key)
    assert words in str(caught.value) and caught.value.hint


@pytest.mark.parametrize(
    "when",
    [
        "''.__class__",
        "''.__class__.__mro__[1].__subclasses__()",
        "cycler.__init__.__globals__",
        "contact['__class__']",
        "contact.name.__class__.__base__",
        "range(10) | list",
        "namespace()",
        "contact.name.format.__globals__",
    ],
)
def test_sandbox_escapes_in_a_rule_are_refused_at_load(tmp_path: Path, when: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_playbook(write_rules(tmp_path, rule(f"'''{when}'''")))
    assert caught.value.key == "playbooks.rules[mine].when"


def test_a_reason_may_not_escape_the_sandbox_either(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sandbox violation"):
        load_playbook(write_rules(tmp_path, rule('"true"', reason='"{{ contact.__class__ }}"')))


def test_a_rule_needs_an_english_reason_and_a_unique_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rule mine: reason"):
        load_playbook(write_rules(tmp_path, rule('"true"', reason='{ nl = "Omdat." }')))
    with pytest.raises(ConfigError, match="repeated: mine"):
        load_playbook(write_rules(tmp_path, rule('"true"') + rule('"false"')))


def test_a_missing_rules_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_playbook(tmp_path / "nope.toml")
    assert caught.value.key == "playbooks.file"


def test_lint_lists_every_problem_with_file_and_rule(tmp_path: Path) -> None:
    path = write_rules(tmp_path, rule('"in_persn"', name="a") + rule('"true"', '["cold_call"]', name="b"))
    problems = lint_playbook(path)
    assert len(problems) == 2
    assert problems[0].startswith(f"{path}: rule a: unknown variable 'in_persn'") and "(fix:" in problems[0]
    assert problems[1].startswith(f"{path}: rule b: unknown script 'cold_call'")
    bad_toml = write_rules(tmp_path, "rules = [\n")
    assert lint_playbook(bad_toml)[0].startswith(str(bad_toml))


def test_the_shipped_playbook_is_clean_and_covers_every_script() -> None:
    assert lint_playbook() == []
    shipped = load_playbooks_file(shipped_playbooks_file())
    attached = {script for rule in shipped.rules for script in rule.scripts}
    assert attached == set(SCRIPTS)
    assert all(set(rule.reason) >= {"en", "nl", "ru"} for rule in shipped.rules)
    assert shipped.referral_stages == ("Closed Won",)
