"""The path drawn on the guideline's figures is the result's rule ids, no more, no less.

For representative results of every breast row family, every ISH group with its
workup, the gastroesophageal flow, other sites, an unknown site and the frame steps
(assay failure, heterogeneity, discordant calls), the steps highlighted on the
figures carry exactly the rule ids of the result's rationale, and the outcome box
highlighted is the table row that fired.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from service.her2 import Her2Result, SpecimenInput, default_ruleset, evaluate, load_ruleset
from service.her2.inputs import ish_from, prior_from
from service.view.diagram import MarkedFlow, diagrams, path_text
from service.view.flows import FRAME, Figures, figures, walk
from service.view.svg import draw
from tests.builders import FIXTURES, dual, single, spec

DRAWN = figures(default_ruleset().thresholds)

G1 = dual("2.5", "5.0", "2.0")
G2 = dual("2.4", "3.6", "1.5")
G3 = dual("1.5", "6.6", "4.4")
G4 = dual("1.6", "4.8", "3.0")
G5 = dual("1.2", "2.4", "2.0")
POS = dual("2.5", "5.0", "2.0")
NEG_HIGH = dual("1.5", "6.6", "4.4")
NEG = dual("1.2", "2.4", "2.0")

CASES: list[tuple[str, str, SpecimenInput]] = [
    ("B1", "breast IHC 3+", spec(ihc="3+")),
    ("B2", "breast IHC 2+", spec(ihc="2+")),
    ("B3", "breast IHC 1+", spec(ihc="1+")),
    ("B4", "breast IHC 0", spec(ihc="0")),
    ("B5", "breast IHC 0 ultralow", spec(ihc="0-ultralow")),
    ("BQ3", "breast IHC call negative", spec(ihc=None, ihc_call="negative")),
    ("B6", "group 1 with IHC 2+", spec(ihc="2+", ish=G1)),
    ("B7", "group 1 with IHC 1+", spec(ihc="1+", ish=G1)),
    ("B8", "group 2 without IHC", spec(ihc=None, ish=G2)),
    ("B8", "group 3 with IHC of another tissue", spec(ihc="3+", ish=G3, ihc_same_specimen=False)),
    ("B9", "group 4 with IHC 3+", spec(ihc="3+", ish=G4)),
    ("B10", "group 3 with IHC 0", spec(ihc="0", ish=G3)),
    ("B11", "group 4 with IHC 2+, no recount", spec(ihc="2+", ish=G4)),
    ("B12", "group 2 recount still 2", spec(ihc="2+", ish=G2, ish_recount=G2)),
    ("B13", "group 3 recount still 3", spec(ihc="2+", ish=G3, ish_recount=G3)),
    ("B14", "group 4 recount still 4", spec(ihc="2+", ish=G4, ish_recount=G4)),
    ("B15", "group 2 recount in group 4", spec(ihc="2+", ish=G2, ish_recount=G4)),
    ("B16", "group 5 with IHC 2+", spec(ihc="2+", ish=G5)),
    ("B17", "group 5 without IHC", spec(ihc=None, ish=G5)),
    ("B18", "group 5 with IHC 3+", spec(ihc="3+", ish=G5)),
    ("B19", "single ≥ 6 with IHC 2+", spec(ihc="2+", ish=single("6.0"))),
    ("B20", "single ≥ 6 without IHC", spec(ihc=None, ish=single("7.0"))),
    ("B21", "single ≥ 6 with IHC 1+", spec(ihc="1+", ish=single("6.5"))),
    ("B22", "single 4-6 with IHC 3+", spec(ihc="3+", ish=single("4.5"))),
    ("B23", "single 4-6 with IHC 2+", spec(ihc="2+", ish=single("4.5"))),
    ("B24", "single 4-6 with IHC 0", spec(ihc="0", ish=single("5.9"))),
    ("B25", "single 4-6 without IHC", spec(ihc=None, ish=single("4.0"))),
    ("B26", "single < 4 with IHC 1+", spec(ihc="1+", ish=single("3.0"))),
    ("B27", "single < 4 without IHC", spec(ihc=None, ish=single("3.9"))),
    ("B28", "single < 4 with IHC 3+", spec(ihc="3+", ish=single("2.0"))),
    ("BQ1", "ISH equivocal call with IHC 3+", spec(ihc="3+", ish=ish_from(lab_call="equivocal"))),
    ("BQ2", "ISH equivocal call with IHC 1+", spec(ihc="1+", ish=ish_from(lab_call="equivocal"))),
    ("B6", "ISH amplified call only", spec(ihc=None, ish=ish_from(lab_call="amplified"))),
    ("G1", "gastro IHC 3+", spec("gastroesophageal", "3+")),
    ("G2", "gastro IHC 3+ ratio < 2", spec("gastroesophageal", "3+", ish=NEG)),
    ("G3", "gastro IHC 1+", spec("gastroesophageal", "1+")),
    ("G4", "gastro IHC 0 ratio ≥ 2", spec("gastroesophageal", "0", ish=POS)),
    ("G5", "gastro IHC 2+", spec("gastroesophageal", "2+")),
    ("G6", "gastro IHC 2+ ratio ≥ 2", spec("gastroesophageal", "2+", ish=POS)),
    ("G6", "gastro no IHC ratio ≥ 2", spec("gastroesophageal", None, ish=POS)),
    ("G7", "gastro IHC 2+ ratio < 2 HER2 ≥ 6", spec("gastroesophageal", "2+", ish=NEG_HIGH)),
    ("G7", "gastro no IHC ratio < 2 HER2 ≥ 6", spec("gastroesophageal", None, ish=NEG_HIGH)),
    ("G8", "gastro IHC 2+ ratio < 2", spec("gastroesophageal", "2+", ish=NEG)),
    ("G9", "gastro no IHC ratio < 2", spec("gastroesophageal", None, ish=NEG)),
    ("G10", "gastro IHC 2+ single", spec("gastroesophageal", "2+", ish=single("6.5"))),
    ("G11", "gastro no IHC single", spec("gastroesophageal", None, ish=single("6.5"))),
    (
        "GQ3",
        "gastro IHC 2+ ISH equivocal call",
        spec("gastroesophageal", "2+", ish=ish_from(lab_call="equivocal")),
    ),
    ("O1", "other site IHC 3+", spec("other", "3+")),
    ("O2", "other site IHC 2+ with ISH", spec("other", "2+", ish=G1)),
    ("B1", "site unknown IHC 3+ (both rule sets agree)", spec(None, "3+")),
    ("B16", "site unknown, rule sets differ", spec(None, "2+", ish=G5)),
    ("V1", "assay failed", spec(ihc=None, assay_failed=True)),
    (
        "B3",
        "heterogeneity against an earlier positive",
        spec(ihc="1+", prior_results=[prior_from(status="positive", date="2025-01-02")]),
    ),
    ("B16", "IHC call contradicting the score", spec(ihc="2+", ihc_call="positive", ish=G5)),
    (
        "G8",
        "legacy bounded ratio",
        spec("gastroesophageal", "2+", ish=dual("less than 1.8", None, None)),
    ),
]


def _taken_outcomes(marked: list[MarkedFlow]) -> list[tuple[str, ...]]:
    return [
        m.step.rule_ids
        for flow in marked
        for m in flow.steps()
        if m.taken and m.step.kind == "outcome"
    ]


@pytest.mark.parametrize(("row", "what", "specimen"), CASES, ids=[c[1] for c in CASES])
def test_highlighted_rule_ids_are_the_results(row: str, what: str, specimen: SpecimenInput) -> None:
    result = evaluate(specimen)
    assert row in result.rule_ids, what  # the case is what it says
    marked = diagrams(result, specimen)
    highlighted = set().union(*(flow.matched_ids() for flow in marked))
    assert highlighted == set(result.rule_ids)
    # Exactly one outcome box per rule set applied (two when the site is unknown).
    rows = default_ruleset()
    every_row = {
        r.rule_id for t in (rows.breast, rows.gastroesophageal, rows.other) for r in t.rows
    }
    table_rows = [r for r in result.rule_ids if r in every_row]
    assert sorted(r for rules in _taken_outcomes(marked) for r in rules) == sorted(table_rows)
    # A step is taken only on the way to a matched step: every taken step has one below.
    for flow in marked:
        for step in flow.steps():
            if step.taken:
                assert step.matched or any(c.taken for c in step.children)


def test_gastro_branch_follows_the_ihc() -> None:
    # G6 is reachable with IHC 2+ and without IHC: only the branch taken is highlighted.
    result = evaluate(spec("gastroesophageal", None, ish=POS))
    taken = [
        m.step.key
        for f in diagrams(result, spec("gastroesophageal", None, ish=POS))
        for m in f.steps()
        if m.taken
    ]
    assert "g6b" in taken
    assert "g6a" not in taken
    assert "gi0" in taken
    assert "gi2" not in taken


def test_numbers_used_are_printed_on_the_path() -> None:
    specimen = spec(ihc="2+", ish=G4, ish_recount=G4)
    result = evaluate(specimen)
    steps = {m.step.key: m for f in diagrams(result, specimen) for m in f.steps()}
    assert steps["dual"].values == "ratio 1.6, HER2 4.8/cell, CEP17 3.0/cell"
    assert steps["g234"].values == "group 4, IHC 2+"
    assert steps["recount"].values == "recount ratio 1.6, recount HER2 4.8/cell"
    assert steps["g1"].values is None  # not taken: no numbers


def test_path_is_numbered_in_order() -> None:
    specimen = spec(ihc="2+", ish=G2, ish_recount=G2)
    result = evaluate(specimen)
    dual_flow = diagrams(result, specimen)[0]
    assert dual_flow.flow.key == "breast-dual"
    assert [(m.step.key, m.order) for m in dual_flow.path()] == [
        ("dual", 1),
        ("g234", 2),
        ("recount", 3),
        ("b12", 4),
    ]


def test_taken_figures_come_first() -> None:
    specimen = spec(ihc="3+", ish=single("7.0"))
    keys = [f.flow.key for f in diagrams(evaluate(specimen), specimen)]
    assert keys == ["breast-single", "breast-ihc", "breast-dual", "breast-ish-call", "frame"]


def test_every_table_row_has_a_box() -> None:
    ruleset = default_ruleset()
    for flows, table in (
        (DRAWN.breast, ruleset.breast),
        (DRAWN.gastroesophageal, ruleset.gastroesophageal),
        (DRAWN.other, ruleset.other),
    ):
        boxes = {
            rule
            for flow in flows
            for step in walk(flow.root)
            if step.kind == "outcome"
            for rule in step.rule_ids
        }
        assert boxes == {row.rule_id for row in table.rows}


def test_every_rationale_id_has_a_step() -> None:
    # The engine's rationale ids outside the tables (her2-rules.md sections 3-11).
    frame = {rule for step in walk(FRAME.root) for rule in step.rule_ids}
    decisions = {
        rule
        for flow in (*DRAWN.breast, *DRAWN.gastroesophageal, *DRAWN.other)
        for step in walk(flow.root)
        if step.kind != "outcome"
        for rule in step.rule_ids
    }
    engine_ids = {f"V{n}" for n in range(8)} | {"U1", "U2", "Q1", "Q2", "D1", "D2", "R0"}
    engine_ids |= {"O3", "RC", "H0", "H1", "S11", "F2", "F3", "R1", "GR"}
    assert frame | decisions == engine_ids


def _edges(drawn: list[MarkedFlow]) -> set[str]:
    return {m.step.edge for f in drawn for m in f.steps() if m.step.edge}


@pytest.mark.parametrize("site", ["breast", "gastroesophageal"])
def test_figures_carry_the_thresholds_of_the_results_rule_set(site: str) -> None:
    # The test-only rule set moves the ratio cut from 2.0 to 2.2: a result of it must
    # be drawn with 2.2, never with the default's 2.0, and the default with 2.0.
    moved = load_ruleset(FIXTURES / "rulesets" / "her2-status-rules-0.9.0-test.json")
    specimen = spec(ihc="2+", ish=dual("2.1", "4.2", "2.0"), site=site)
    old, new = evaluate(specimen), evaluate(specimen, moved)
    old_edges, new_edges = _edges(diagrams(old, specimen)), _edges(diagrams(new, specimen))
    assert any("ratio ≥ 2.0" in edge for edge in old_edges)
    assert not any("2.2" in edge for edge in old_edges)
    assert any("ratio ≥ 2.2" in edge for edge in new_edges)
    assert not any("2.0" in edge for edge in new_edges)
    # The path in words never states the other rule set's cut.
    taken = [line for f in diagrams(new, specimen) if f.taken for line in path_text(f)]
    assert taken
    assert not any("≥ 2.0" in line or "< 2.0" in line for line in taken), taken
    if site == "gastroesophageal":
        assert any("copies only when < 2.2" in line for line in taken), taken


def _recount_label(drawn: Figures) -> str:
    return next(
        step.label for flow in drawn.breast for step in walk(flow.root) if step.key == "recount"
    )


def test_recount_box_names_the_rule_sets_minimum_cells() -> None:
    assert f"≥ {default_ruleset().thresholds.min_cells_counted} cells" in _recount_label(DRAWN)
    # Drawn from the thresholds, not fixed text: another minimum is drawn as such.
    other = replace(default_ruleset().thresholds, min_cells_counted=40)
    assert "≥ 40 cells" in _recount_label(figures(other))


def _svg(result: Her2Result, specimen: SpecimenInput) -> list[ET.Element]:
    return [ET.fromstring(str(draw(m, f"t{i}"))) for i, m in enumerate(diagrams(result, specimen))]


def test_svg_marks_the_path_without_relying_on_colour() -> None:
    specimen = spec(ihc="2+", ish=G4, ish_recount=G4)
    result = evaluate(specimen)
    ns = {"s": "http://www.w3.org/2000/svg"}
    rules: set[str] = set()
    for svg in _svg(result, specimen):
        assert svg.get("role") == "img"
        assert svg.find("s:title", ns) is not None
        for group in svg.iter("{http://www.w3.org/2000/svg}g"):
            classes = (group.get("class") or "").split()
            if "node" not in classes:
                continue
            rect = group.find("s:rect", ns)
            assert rect is not None
            if "taken" in classes:
                assert rect.get("stroke-width") == "3"
                assert rect.get("stroke-dasharray") is None
                if group.get("data-step") != "frame":  # where every path starts
                    assert group.find("s:circle", ns) is not None  # the numbered badge
                rules.update((group.get("data-rules") or "").split())
            else:
                assert rect.get("stroke-width") == "1"
                assert rect.get("stroke-dasharray") is not None
                assert group.get("data-rules") is None
    assert rules == set(result.rule_ids)
    desc = _svg(result, specimen)[0].find("s:desc", ns)
    assert desc is not None
    assert desc.text is not None
    assert desc.text.startswith("Path taken: 1. Dual-probe ISH")
    assert "still group 4" in desc.text


def test_svg_escapes_the_values() -> None:
    # A legacy bounded ratio prints as "< 1.8": well-formed XML only when escaped.
    specimen = spec("gastroesophageal", "2+", ish=dual("less than 1.8", None, None))
    result = evaluate(specimen)
    text = str(draw(diagrams(result, specimen)[0], "x"))
    assert "ratio &lt; 1.8" in text
    assert "ratio < 1.8" not in text
    ET.fromstring(text)
