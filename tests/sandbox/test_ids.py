"""Record Ids: checksum, prefixes, normalisation."""

from __future__ import annotations

import pytest

from prepbot.sandbox.errors import SfApiError
from prepbot.sandbox.ids import KEY_PREFIXES, is_id, new_id, normalize_id, to18, type_of_id


@pytest.mark.parametrize("id18", ["001D000000IqhSLIAZ", "003RO0000035WQgYAM", "00Di0000000bcK3EAI"])
def test_to18_reproduces_the_documented_examples(id18: str) -> None:
    assert to18(id18[:15]) == id18


def test_normalize_accepts_15_and_18_characters_and_any_case_for_18() -> None:
    assert normalize_id("003RO0000035WQg") == "003RO0000035WQgYAM"
    assert normalize_id("003ro0000035wqgyam") == "003RO0000035WQgYAM"


@pytest.mark.parametrize("bad", ["", "abc", "003RO0000035WQgYA", "003RO0000035WQg!AM", "003RO0000035WQgZZZ"])
def test_normalize_rejects_malformed_ids(bad: str) -> None:
    with pytest.raises(SfApiError) as err:
        normalize_id(bad)
    assert (err.value.status, err.value.error_code) == (400, "MALFORMED_ID")
    assert not is_id(bad)


def test_new_ids_carry_the_key_prefix_and_a_valid_checksum() -> None:
    for sobject, prefix in KEY_PREFIXES.items():
        rid = new_id(sobject, 12345)
        assert rid.startswith(prefix) and len(rid) == 18
        assert normalize_id(rid) == rid
    assert new_id("Event", 1) != new_id("Event", 2)


def test_type_of_id_reads_the_prefix() -> None:
    assert type_of_id(new_id("Lead", 3)) == "Lead"
    assert type_of_id(new_id("ContentNote", 3)) == "ContentDocument"
    assert type_of_id("zzz000000000000") is None
