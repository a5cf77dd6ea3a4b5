"""Rule sets as versioned data: loaded only when consistent, pinned, and side by side."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.her2 import RuleSetError, default_ruleset, evaluate, evaluate_series, load_ruleset
from service.her2.ruleset import IHC_KEYS, reachable
from service.her2.ruleset_load import fingerprint, packaged_rulesets, ruleset_from_data
from tests.builders import FIXTURES, dual, spec

PACKAGED = Path(__file__).resolve().parents[3] / "service" / "her2" / "rulesets"
TEST_RULESET = FIXTURES / "rulesets"

# The fingerprint of every shipped rule-set version.  A changed cell, threshold,
# priority or comment changes the fingerprint: ship it as a new version (a new
# file), never by editing a released one.
PINNED = {
    "1.0.0": "14f6bb07494917e3ce8b26c5444be03752c9476334e6767cc1a0f0382234dede",
}


def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (PACKAGED / "her2-status-rules-1.0.0.json").read_text(encoding="utf-8")
    )
    return data


def test_every_shipped_version_is_pinned() -> None:
    shipped = packaged_rulesets()
    assert {v: r.fingerprint for v, r in shipped.items()} == PINNED
    assert default_ruleset().version in shipped


@pytest.mark.parametrize("table", ["breast", "gastroesophageal", "other"])
def test_every_reachable_combination_has_exactly_one_row(table: str) -> None:
    loaded = getattr(default_ruleset(), table)
    combos = list(reachable(table))
    assert len(combos) == len(set(combos))
    assert set(loaded.index) == set(combos)
    for ihc, ish in combos:
        rows = [r for r in loaded.rows if ihc in r.ihc and ish in r.ish]
        assert len(rows) == 1, (ihc, ish)


def test_rule_ids_are_unique_across_tables() -> None:
    ruleset = default_ruleset()
    ids = [
        r.rule_id for t in (ruleset.breast, ruleset.gastroesophageal, ruleset.other) for r in t.rows
    ]
    assert len(ids) == len(set(ids))


def test_a_combination_in_two_rows_is_refused() -> None:
    data = _data()
    rows = data["breast"]["rows"]
    b3 = next(r for r in rows if r["id"] == "B3")
    b3["ihc"] = ["1+", "0"]  # IHC 0 without ISH is B4's
    with pytest.raises(RuleSetError, match=r"\(0, none\) is in rows"):
        ruleset_from_data(data)


def test_a_missing_combination_is_refused() -> None:
    data = _data()
    data["gastroesophageal"]["rows"] = [
        r for r in data["gastroesophageal"]["rows"] if r["id"] != "G9"
    ]
    with pytest.raises(RuleSetError, match="no row for"):
        ruleset_from_data(data)


def test_a_row_for_an_unreachable_combination_is_refused() -> None:
    data = _data()
    b1 = next(r for r in data["breast"]["rows"] if r["id"] == "B1")
    b1["ish"] = ["none", "G2:recount-same"]  # a recount state never meets IHC 3+
    with pytest.raises(RuleSetError, match="never produces"):
        ruleset_from_data(data)


def test_a_rule_id_used_twice_is_refused() -> None:
    data = _data()
    next(r for r in data["gastroesophageal"]["rows"] if r["id"] == "G9")["id"] = "B1"
    with pytest.raises(RuleSetError, match="used twice"):
        ruleset_from_data(data)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("thresholds", "her2_cep17_ratio"), 2.0, "decimal written as text"),
        (("thresholds", "avg_her2_copies_low"), "7.0", "below"),
        (("next_step_tiers",), [["correct_input"]], "every next step exactly once"),
        (("required_comments",), {"2": "x", "3": "y"}, "groups 2, 3, 4"),
        (("ihc_keys",), list(IHC_KEYS[:-1]), "ihc_keys"),
    ],
)
def test_inconsistent_parts_are_refused(path: tuple[str, ...], value: object, message: str) -> None:
    data = _data()
    holder = data
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    with pytest.raises(RuleSetError, match=message):
        ruleset_from_data(data)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ({"by_ihc": {"4+": True}, "otherwise": False}, "unknown IHC keys"),
        ("yes", "true, false or null"),
        ({"by_ihc": {}}, "literal or"),
    ],
)
def test_bad_subclass_cells_are_refused(cell: object, message: str) -> None:
    data = _data()
    data["breast"]["rows"][0]["her2_low"] = cell
    with pytest.raises(RuleSetError, match=message):
        ruleset_from_data(data)


def test_fingerprint_ignores_layout_but_not_content() -> None:
    data = _data()
    reordered = dict(reversed(list(data.items())))
    assert fingerprint(reordered) == fingerprint(data)
    assert fingerprint({**data, "$comment": "reworded"}) == fingerprint(data)
    changed = copy.deepcopy(data)
    changed["thresholds"]["avg_her2_copies_low"] = "4.1"
    assert fingerprint(changed) != fingerprint(data)


def test_unreadable_file_is_a_rule_set_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(RuleSetError, match="cannot be read"):
        load_ruleset(broken)


def test_two_versions_run_side_by_side_with_different_labelled_results() -> None:
    moved = load_ruleset(TEST_RULESET / "her2-status-rules-0.9.0-test.json")
    current = default_ruleset()
    assert moved.thresholds.her2_cep17_ratio == Decimal("2.2")
    assert moved != current
    # Ratio 2.1 with 4.2 HER2 signals: group 1 under a 2.0 threshold, group 4 under 2.2.
    specimen = spec("breast", "1+", ish=dual("2.1", "4.2", "2.0"))
    with_current = evaluate(specimen)
    with_moved = evaluate(specimen, moved)
    assert (with_current.status, with_current.ish_group) == ("positive", 1)
    assert (with_moved.status, with_moved.ish_group) == ("negative", 4)
    assert with_current.ruleset.version == "1.0.0"
    assert with_moved.ruleset.version == "0.9.0-test"
    assert any("≥ 2.0" in e.text for e in with_current.rationale)
    assert any("< 2.2" in e.text for e in with_moved.rationale)
    # The default is untouched by having used another version in the same process.
    assert evaluate(specimen).status == "positive"
    series = evaluate_series([specimen], moved)
    assert series[0].ruleset is moved


def test_result_carries_the_rule_set_object() -> None:
    result = evaluate(spec("breast", "3+"))
    assert result.ruleset is default_ruleset()
    assert result.ruleset.label == "her2-status-rules 1.0.0"
