"""Hypothesis: any FHIR request along any rule path gives outputs the R4B models accept.

The service does not validate its outputs with the R4B models at request time (it cost
a third of a request, bench/RESULTS.md); this is the randomised half of what replaces
it, through the whole of ``derive`` (reading, grouping, rules, builders). It draws every
site (and none: the unknown-site rules), IHC scores and qualitative calls, dual-probe,
single-probe and qualitative ISH, blinded recounts, IHC from another block, preliminary
inputs, earlier specimens (heterogeneity) and withdrawn inputs (Provenance ``removal``
entities), then checks every resource of the response with its R4B model and the codes
of FHIR's required bindings. The deterministic half, every rule-set row through every
builder, is ``test_outputs_exhaustive.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import event, example, given, settings
from hypothesis import strategies as st

from service.app.derivation import derive
from tests.builders import CASE_PATIENT as PATIENT
from tests.builders import LOINC, NOW, case_ihc, case_ish, recount_panel
from tests.unit.fhir.outputs import validate_bundle

EFFECTIVE = "2026-06-01"
SPECIMEN = "Specimen/current"
SCORES = ("0", "0-ultralow", "1+", "2+", "3+")
CALL_CODES = {"positive": "LA6576-8", "negative": "LA6577-6", "equivocal": "LA11885-3"}
ISH_CALLS = ("amplified", "not amplified", "equivocal")


@dataclass(frozen=True)
class Case:
    """The choices behind one request (what hypothesis draws and shrinks).

    Attributes:
        site: the tumorSite parameter; None leaves it out (unknown site).
        ihc: an IHC score, a qualitative call (``call:positive``), or None.
        ihc_assessed: for IHC 0, whether null was separated from ultralow.
        ihc_status: the IHC Observation's status.
        ihc_other_block: the IHC comes from another block of the specimen.
        ish: ``{"avg_her2_copies": ..., ...}`` numbers, or ``{"call": ...}``, or None.
        ish_status: the ISH Observations' status.
        recount: a blinded recount's numbers, or None.
        priors: earlier specimens' IHC scores (heterogeneity).
        withdrawn: an earlier IHC of this specimen marked entered-in-error.
    """

    site: str | None
    ihc: str | None = None
    ihc_assessed: bool = True
    ihc_status: str = "final"
    ihc_other_block: bool = False
    ish: dict[str, Any] | None = None
    ish_status: str = "final"
    recount: dict[str, Any] | None = None
    priors: tuple[str, ...] = ()
    withdrawn: bool = False


def _ihc(case: Case, specimen: str) -> dict[str, Any]:
    assert case.ihc is not None
    if case.ihc.startswith("call:"):
        code = CALL_CODES[case.ihc.removeprefix("call:")]
        resource = case_ihc("ihc", "3+", specimen=specimen, effective=EFFECTIVE)
        resource["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": code}]}
    else:
        resource = case_ihc(
            "ihc", case.ihc, specimen=specimen, effective=EFFECTIVE, assessed=case.ihc_assessed
        )
    resource["status"] = case.ihc_status
    return resource


def _ish(case: Case) -> list[dict[str, Any]]:
    assert case.ish is not None
    if "call" in case.ish:
        resource = case_ihc("ish-call", "3+", specimen=SPECIMEN, effective=EFFECTIVE)
        del resource["valueCodeableConcept"]
        resource["code"] = {"coding": [{"system": LOINC, "code": "85318-4"}]}
        resource["valueString"] = case.ish["call"]
        resources = [resource]
    else:
        resources = case_ish("ish", case.ish, specimen=SPECIMEN, effective=EFFECTIVE)
    for resource in resources:
        resource["status"] = case.ish_status
    return resources


def request(case: Case) -> dict[str, Any]:
    """The Parameters (tumorSite + Bundle) of a case."""
    resources: list[dict[str, Any]] = [
        {"resourceType": "Specimen", "id": "current", "subject": {"reference": PATIENT}}
    ]
    ihc_specimen = SPECIMEN
    if case.ihc_other_block:
        ihc_specimen = "Specimen/other-block"
        resources.append(
            {
                "resourceType": "Specimen",
                "id": "other-block",
                "subject": {"reference": PATIENT},
                "parent": [{"reference": SPECIMEN}],
            }
        )
    if case.ihc is not None:
        resources.append(_ihc(case, ihc_specimen))
    if case.ish is not None:
        resources += _ish(case)
    if case.recount is not None:
        resources.append(
            recount_panel(
                "recount",
                case.recount,
                subject=PATIENT,
                specimen=SPECIMEN,
                effective=EFFECTIVE,
                version="1",
            )
        )
    if case.withdrawn:
        old = case_ihc("ihc-withdrawn", "1+", specimen=SPECIMEN, effective=EFFECTIVE)
        old["status"] = "entered-in-error"
        resources.append(old)
    for index, score in enumerate(case.priors):
        resources.append(
            case_ihc(
                f"prior-{index}",
                score,
                specimen=f"Specimen/prior-{index}",
                effective=f"2025-0{index + 1}-01",
            )
        )
    parameters: list[dict[str, Any]] = []
    if case.site is not None:
        parameters.append({"name": "tumorSite", "valueCode": case.site})
    bundle = {"resourceType": "Bundle", "type": "collection"}
    parameters.append(
        {"name": "bundle", "resource": {**bundle, "entry": [{"resource": r} for r in resources]}}
    )
    return {"resourceType": "Parameters", "parameter": parameters}


copies = st.decimals(min_value=Decimal("0.5"), max_value=Decimal(25), places=1)


@st.composite
def dual_counts(draw: st.DrawFn) -> dict[str, Any]:
    her2, cep17 = draw(copies), draw(copies)
    counts: dict[str, Any] = {"avg_her2_copies": her2, "avg_cep17_copies": cep17}
    if draw(st.booleans()):
        # A reported ratio consistent with the averages (an inconsistent one is an
        # input error, which writes no Observation).
        counts["her2_cep17_ratio"] = (her2 / cep17).quantize(Decimal("0.001"))
    if draw(st.booleans()):
        counts["cells_counted"] = draw(st.integers(20, 200))
    return counts


ish_results = st.one_of(
    st.none(),
    dual_counts(),
    st.builds(lambda c: {"avg_her2_copies": c}, copies),  # single-probe
    st.builds(lambda call: {"call": call}, st.sampled_from(ISH_CALLS)),
)
statuses = st.sampled_from(["final", "amended", "corrected", "preliminary"])


@st.composite
def cases(draw: st.DrawFn) -> Case:
    ish = draw(ish_results)
    return Case(
        site=draw(st.sampled_from(["breast", "gastroesophageal", "other", None])),
        ihc=draw(
            st.one_of(
                st.none(),
                st.sampled_from(SCORES),
                st.sampled_from(["call:" + c for c in CALL_CODES]),
            )
        ),
        ihc_assessed=draw(st.booleans()),
        ihc_status=draw(statuses),
        ihc_other_block=draw(st.booleans()),
        ish=ish,
        ish_status=draw(statuses),
        recount=draw(st.none() | dual_counts()) if ish and "avg_cep17_copies" in ish else None,
        priors=tuple(draw(st.lists(st.sampled_from(SCORES), max_size=2))),
        withdrawn=draw(st.booleans()),
    )


def _check(case: Case) -> dict[str, Any]:
    """Derive a case's request and validate every resource of the response."""
    bundle: dict[str, Any] = derive(request(case), NOW).bundle
    validate_bundle(bundle)
    return bundle


def _events(bundle: dict[str, Any], case: Case) -> None:
    """Label the paths drawn (``pytest --hypothesis-show-statistics`` shows them)."""
    for resource in (e["resource"] for e in bundle["entry"]):
        if resource["resourceType"] == "Observation":
            event(f"{resource['valueCodeableConcept']['text']}, site {case.site}")
            event(f"Observation.status {resource['status']}")
        if resource["resourceType"] == "List":
            event(f"List of {len(resource['contained'])} Medications")
        for entity in resource.get("entity", []):
            event(f"Provenance entity {entity['role']}")


@settings(max_examples=300, deadline=None)
@given(cases())
# Paths that must be in every run, whatever hypothesis draws.
@example(Case("breast", "2+", ish={"avg_her2_copies": Decimal("5.0")}, withdrawn=True))
@example(Case("breast", "0", ihc_assessed=False, priors=("3+",)))
@example(Case(None, "3+", ish={"call": "amplified"}))
@example(Case("gastroesophageal", "call:equivocal", ish={"call": "equivocal"}))
@example(Case("other", "3+", ihc_status="preliminary"))
def test_every_output_of_any_request_is_valid_r4b(case: Case) -> None:
    _events(_check(case), case)


def test_a_withdrawn_input_is_a_removal_entity_of_a_valid_provenance() -> None:
    bundle = _check(Case("breast", "3+", withdrawn=True))
    (prov,) = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    assert {
        "role": "removal",
        "what": {"reference": "Observation/ihc-withdrawn/_history/1"},
    } in prov["entity"]


def test_a_positive_result_writes_a_valid_list_with_contained_medications() -> None:
    bundle = _check(Case("breast", "3+"))
    (listing,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "List"]
    assert len(listing["contained"]) == len(listing["entry"]) > 1
