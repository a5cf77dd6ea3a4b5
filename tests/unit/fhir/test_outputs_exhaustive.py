"""Every rule-set row through every output builder, each output checked with its R4B model.

The service does not validate its outputs with the R4B models at request time (it cost
a third of a request, bench/RESULTS.md); this test is the deterministic half of what
replaces it. It walks every reachable (IHC key, ISH column) cell of every table of the
default rule set, builds a specimen that lands in exactly that cell (the row id must
fire), and passes the result through the builders of ``service/fhir/outbound.py`` with
synthetic groups of every shape the builders branch on. The hypothesis half, through
``derive`` from FHIR input, is ``test_outputs_properties.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from service.app.derivation import build_outputs
from service.fhir.envelope import Node
from service.fhir.inbound import SpecimenGroup
from service.fhir.outbound import Derived, collection, device, full_url, provenance
from service.her2 import (
    Her2Result,
    IshInput,
    NextStep,
    SpecimenInput,
    default_ruleset,
    evaluate,
    load_catalog,
    therapies_for,
)
from service.her2.inputs import ish_from, prior_from, specimen_from
from service.her2.ruleset import RuleSet, reachable
from service.her2.ruleset_load import packaged_rulesets
from tests.builders import dual, single
from tests.unit.fhir.outputs import validate, validate_bundle

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)

# The specimen fields that put a result in each IHC column of the tables.
IHC: dict[str, dict[str, Any]] = {
    "3+": {"ihc_score": "3+"},
    "2+": {"ihc_score": "2+"},
    "1+": {"ihc_score": "1+"},
    "0": {"ihc_score": "0"},
    "0-unassessed": {"ihc_score": "0", "ihc0_ultralow_assessed": False},
    "0-ultralow": {"ihc_score": "0-ultralow"},
    "positive-call": {"ihc_call": "positive"},
    "equivocal-call": {"ihc_call": "equivocal"},
    "negative-call": {"ihc_call": "negative"},
    "none": {},
}

G1 = dual("2.5", "5.0", "2.0")
G2 = dual("2.4", "3.6", "1.5")
G3 = dual("1.5", "6.6", "4.4")
G4 = dual("1.6", "4.8", "3.0")
G5 = dual("1.2", "2.4", "2.0")
# A recount that keeps each group, and one that moves group 2 to group 1.
SAME = {2: dual("2.3", "3.7", "1.6"), 3: dual("1.6", "6.4", "4.0"), 4: dual("1.7", "5.0", "3.0")}
CHANGED = dual("2.1", "4.2", "2.0")


def _call(call: str) -> IshInput:
    return ish_from(lab_call=call)


def _ish(*inputs: IshInput) -> list[dict[str, Any]]:
    return [{"ish": ish} for ish in inputs]


# Every ISH column, with every way of reaching it (quantitative and qualitative).
ISH: dict[str, dict[str, list[dict[str, Any]]]] = {
    "breast": {
        "none": [{}],
        "G1": _ish(G1, _call("amplified")),
        "G2-4": _ish(G2, G3, G4),
        "G5": _ish(G5, _call("not-amplified")),
        "S>=6": _ish(single("6.0")),
        "S4-6": _ish(single("4.5")),
        "S<4": _ish(single("3.0")),
        "eq": _ish(_call("equivocal")),
        "G2-4:no-recount": _ish(G2, G3, G4),
        "G2:recount-same": [{"ish": G2, "ish_recount": SAME[2]}],
        "G3:recount-same": [{"ish": G3, "ish_recount": SAME[3]}],
        "G4:recount-same": [{"ish": G4, "ish_recount": SAME[4]}],
        "G2-4:recount-changed": [{"ish": G2, "ish_recount": CHANGED}],
    },
    "gastroesophageal": {
        "none": [{}],
        "single": _ish(single("6.0")),
        "pos": _ish(G1, _call("amplified")),
        "neg-high": _ish(G3),
        "neg": _ish(G5, _call("not-amplified")),
        "eq": _ish(_call("equivocal")),
    },
    # Outside breast and GEA the ISH is not interpreted; one is needed without an IHC.
    "other": {"any": [{}, {"ish": G1}]},
}

# Variants of each cell: final, preliminary (the IHC not final), and with earlier
# specimens of both statuses (heterogeneity, her2-rules.md section 10).
PRIORS = (prior_from(status="positive", ihc_score="3+"), prior_from(status="negative"))
VARIANTS: tuple[dict[str, Any], ...] = ({}, {"ihc_final": False}, {"prior_results": PRIORS})


def _observation(obs_id: str, version: str | None = "2") -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Observation", "id": obs_id}
    if version:
        resource["meta"] = {"versionId": version}
    return resource


def _groups(spec: SpecimenInput, result: Her2Result) -> Iterator[SpecimenGroup]:
    """Synthetic groups covering every branch of the builders on the group's side."""
    report = Node({"resourceType": "DiagnosticReport", "id": "rep-1"}, "Bundle.entry[9]")
    yield SpecimenGroup(
        subject="Patient/p-1",
        key="specimen:Specimen/s-1",
        site=result.site,
        site_basis="tumorSite parameter",
        specimen="Specimen/s-1",
        spec=spec,
        used=[
            Node(_observation("ihc-1"), "Bundle.entry[0].resource"),
            Node(_observation("ish-1", None), "Bundle.entry[1].resource"),
            # A contained input: Provenance cites its container.
            Node(_observation("ish-2"), "Bundle.entry[9].contained[0]", container=report),
        ],
        withdrawn=[Node(_observation("ihc-0", "3"), "Bundle.entry[2].resource")],
        notes=["An earlier IHC result was superseded."],
        field_paths={},
        effective_text="2026-06-01T10:00:00+02:00",
    )
    # No subject reference (an identifier only), no specimen, an input known by its
    # urn:uuid only, nothing withdrawn, no effective time.
    yield SpecimenGroup(
        subject="identifier:urn:mrn|123",
        key="report:urn:uuid:0b5a4a4e-2f43-4b0e-9f7a-8f6c3c1a0d11",
        site=result.site,
        site_basis="unknown",
        specimen=None,
        spec=spec,
        used=[
            Node(
                {"resourceType": "Observation"},
                "Bundle.entry[0].resource",
                "urn:uuid:1c1f0a0e-0d5e-4c43-9d43-7e2f1b6a9c22",
            )
        ],
        withdrawn=[],
        notes=[],
        field_paths={},
        effective_text=None,
    )
    # No subject at all.
    yield SpecimenGroup(
        subject=None,
        key="Bundle.entry[0].resource",
        site=result.site,
        site_basis="Condition",
        specimen="identifier:urn:lab|S-1",
        spec=spec,
        used=[Node(_observation("ihc-9"), "Bundle.entry[0].resource")],
        withdrawn=[],
        notes=[],
        field_paths={},
        effective_text="2026-06-01",
    )


class Seen:
    """What the walk produced, to prove it covered every kind of output."""

    def __init__(self) -> None:
        self.rows: set[str] = set()
        self.categories: set[str] = set()
        self.steps: set[NextStep] = set()
        self.groups: set[int] = set()
        self.interpretations: set[str] = set()
        self.components: set[str] = set()

    def add(self, result: Her2Result, outputs: list[dict[str, Any]]) -> None:
        self.rows.update(result.rule_ids)
        self.categories.add(therapies_for(result).category)
        self.steps.update(filter(None, (result.next_step, *result.additional_steps)))
        self.groups.update(filter(None, (result.ish_group,)))
        self.interpretations.add(result.interpretation.value)
        for resource in outputs:
            for component in resource.get("component", []):
                self.components.add(component["code"]["coding"][0]["code"])


def _check_outputs(spec: SpecimenInput, result: Her2Result, seen: Seen) -> None:
    """Every builder, with every group shape, for one result; all outputs validated."""
    assert result.error is None, result.rule_ids  # an error writes no Observation
    for index, group in enumerate(_groups(spec, result)):
        derived = Derived(group, result, therapies_for(result))
        output = build_outputs(derived, NOW)
        resources = [output.observation, output.provenance]
        for resource in resources:
            validate(resource)
        if index == 0:
            validate(provenance(derived, [full_url("Observation", output.key)], NOW, "UPDATE"))
        category = derived.therapies.category
        if output.listing is not None:
            listing = output.listing
            assert listing["contained"], "a List always carries its Medications"
            # The contained Medications depend on the category only (and are most of
            # the List's validation time): checked with the first List of a category.
            validate(listing if category not in seen.categories else {**listing, "contained": []})
            resources.append(listing)
        if category not in seen.categories:
            # The Bundle around them (its model checks the entries again).
            entries = [(full_url(r["resourceType"], output.key), r) for r in resources]
            validate_bundle(collection(entries, NOW))
        seen.add(result, resources)


def _cells() -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for table in ("breast", "gastroesophageal", "other"):
        for ihc, ish in reachable(table):
            for inputs in ISH[table][ish]:
                if table == "other" and ihc != "none" and inputs:
                    continue  # the ISH only matters when there is no IHC
                if table == "other" and ihc == "none" and not inputs:
                    continue  # no IHC and no ISH is missing_data, not a row
                yield table, ihc, ish, inputs


def test_every_cell_of_every_table_builds_valid_outputs() -> None:
    ruleset = default_ruleset()
    seen = Seen()
    cells = 0
    for table, ihc, ish, inputs in _cells():
        row = getattr(ruleset, table).row(ihc, ish)
        for variant in VARIANTS:
            spec = specimen_from(site=table, **IHC[ihc], **inputs, **variant)
            result = evaluate(spec)
            assert row.rule_id in result.rule_ids, (table, ihc, ish, result.rule_ids)
            _check_outputs(spec, result, seen)
            cells += 1
    every_row = {
        r.rule_id for t in ("breast", "gastroesophageal", "other") for r in getattr(ruleset, t).rows
    }
    assert every_row <= seen.rows
    table_steps = {
        r.next_step
        for t in (ruleset.breast, ruleset.gastroesophageal, ruleset.other)
        for r in t.rows
        if r.next_step is not None
    }
    assert table_steps | {NextStep.CLINICIAN_REVIEW_HETEROGENEITY} <= seen.steps
    assert seen.groups == {1, 2, 3, 4, 5}
    assert seen.interpretations == {"final", "preliminary"}
    assert seen.components == {"her2-low", "her2-ultralow", "ish-group", "next-step"}
    # Every catalog category but the unknown site's (next test) was listed.
    assert set(load_catalog().categories) - {"site-unknown"} <= seen.categories
    assert cells > 300


def _unknown_site_inputs() -> Iterator[dict[str, Any]]:
    for ihc in IHC.values():
        for ish in ({}, *(i for column in ISH["breast"].values() for i in column)):
            if ihc or ish:
                yield {**ihc, **ish}


def test_unknown_site_builds_valid_outputs() -> None:
    seen = Seen()
    for inputs in _unknown_site_inputs():
        spec = specimen_from(site=None, **inputs)
        result = evaluate(spec)
        if result.error is not None:
            continue  # e.g. a single-probe ISH that only one site's rules can read
        _check_outputs(spec, result, seen)
    assert {"U1", "U2"} <= seen.rows
    assert "site-unknown" in seen.categories


LISTED = sorted(key for key, (listings, _note) in load_catalog().categories.items() if listings)


@pytest.mark.parametrize("category", LISTED)
def test_every_catalog_category_with_agents_builds_a_valid_list(category: str) -> None:
    """Each category's listings (contained Medications and entries), on their own."""
    spec = specimen_from(site="breast", ihc_score="3+")
    result = evaluate(spec)
    packaged = therapies_for(result)
    listings, note = load_catalog().categories[category]
    selection = packaged.__class__(
        category=category,
        listings=listings,
        note=note,
        disclaimer=packaged.disclaimer,
        catalog_id=packaged.catalog_id,
        catalog_version=packaged.catalog_version,
        verified_on=packaged.verified_on,
    )
    for group in _groups(spec, result):
        output = build_outputs(Derived(group, result, selection), NOW)
        assert output.listing is not None
        validate(output.listing)
        assert len(output.listing["contained"]) == len(listings)


@pytest.mark.parametrize("ruleset", packaged_rulesets().values(), ids=str)
def test_the_device_of_every_packaged_rule_set_is_valid(ruleset: RuleSet) -> None:
    validate(device(ruleset))
