"""patient-view cards for every representative result: wording, indicator, suggestion, shape."""

from __future__ import annotations

import pytest

from service.cds.cards import CardContext, patient_view_card, patient_view_cards
from tests.builders.cds import PUBLIC_URL, SCENARIOS, group_result
from tests.builders.cds_schema import CARD, RESPONSE, schema_errors

CONTEXT = CardContext("0b1e3c1a-7d7e-4d7b-9f4e-2a7d6c1f1a11", "p1", PUBLIC_URL)

# name: (indicator, summary, a phrase of the detail, reflex ISH suggested)
EXPECTED = {
    "positive": ("info", "HER2-positive (breast, 2026-01-10)", "- trastuzumab", False),
    "her2-low": (
        "info",
        "HER2-negative, HER2-low (breast, 2026-01-10)",
        "fam-trastuzumab deruxtecan (T-DXd): Breast HER2-low metastatic",
        False,
    ),
    "ultralow": (
        "info",
        "HER2-negative, HER2-ultralow (breast, 2026-01-10)",
        "Breast HR-positive HER2-ultralow metastatic",
        False,
    ),
    "her2-0": (
        "info",
        "HER2-negative, HER2-0 (breast, 2026-01-10)",
        "No HER2-directed agent's FDA label covers this result.",
        False,
    ),
    "ihc0-unassessed": (
        "info",
        "HER2-negative (breast, 2026-01-10)",
        "re-review of the IHC slide for the HER2-ultralow pattern",
        False,
    ),
    "equivocal-reflex-ish": (
        "warning",
        "HER2 equivocal (breast, 2026-01-10): reflex ISH pending",
        "reflex ISH on the same specimen is pending (IHC 2+)",
        True,
    ),
    "equivocal-recount": (
        "warning",
        "HER2 equivocal (breast, 2026-01-10): blinded ISH recount pending",
        "**ISH group:** 4.",
        False,
    ),
    "equivocal-adjudication": (
        "warning",
        "HER2 equivocal (breast, 2026-01-10): internal adjudication pending",
        "internal adjudication is pending",
        False,
    ),
    "equivocal-concurrent-ihc": (
        "warning",
        "HER2 equivocal (breast, 2026-01-10): concurrent IHC review pending",
        "review of the concurrent IHC on the ISH tissue is pending",
        False,
    ),
    "equivocal-dual-probe": (
        "warning",
        "HER2 equivocal (breast, 2026-01-10): dual-probe ISH pending",
        "dual-probe ISH is pending",
        False,
    ),
    "equivocal-ihc-and-or-dual": (
        "warning",
        "HER2 equivocal (breast, 2026-01-10): IHC and/or dual-probe ISH pending",
        "IHC and/or dual-probe ISH is pending",
        False,
    ),
    "indeterminate": (
        "warning",
        "HER2 indeterminate (breast, 2026-01-10): repeat on a new specimen",
        "the assay failed: repeat testing on another specimen",
        False,
    ),
    "discordance": (
        "warning",
        "HER2-positive (breast, 2026-01-10): discordance: pathologist review",
        "**Flags:** discordance between IHC and ISH.",
        False,
    ),
    "group2-comment": (
        "info",
        "HER2-negative, HER2-low (breast, 2026-01-10)",
        "**Required report comment:** ISH group 2",
        False,
    ),
    "heterogeneity": (
        "warning",
        "HER2-negative, HER2-low (breast, 2026-01-10): heterogeneity: clinician review",
        "**Flags:** heterogeneity across specimens.",
        False,
    ),
    "gastro-positive": (
        "info",
        "HER2-positive (gastroesophageal, 2026-01-10)",
        "Gastroesophageal HER2-positive metastatic, first line with chemotherapy",
        False,
    ),
    "gastro-negative": (
        "info",
        "HER2-negative (gastroesophageal, 2026-01-10)",
        "No HER2-directed agent's FDA label covers this result.",
        False,
    ),
    "gastro-equivocal": (
        "warning",
        "HER2 equivocal (gastroesophageal, 2026-01-10): reflex ISH pending",
        "reflex ISH on the same specimen is pending",
        True,
    ),
    "other-ihc3": (
        "info",
        "HER2-positive (other site, 2026-01-10)",
        "Any solid tumour IHC 3+ after prior therapy",
        False,
    ),
    "other-ihc2": (
        "warning",
        "HER2 indeterminate (other site, 2026-01-10): no site-specific guideline",
        "only IHC 3+ is interpretable at this site",
        False,
    ),
    "site-unknown-ihc3": (
        "info",
        "HER2-positive (site unknown, 2026-01-10)",
        "The tumour site is unknown: labelled HER2 settings differ by site",
        False,
    ),
}


def test_every_scenario_has_an_expectation() -> None:
    assert set(EXPECTED) == set(SCENARIOS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_patient_view_card(name: str) -> None:
    indicator, summary, phrase, reflex = EXPECTED[name]
    card = patient_view_card(CONTEXT, group_result(name))
    assert schema_errors(card, CARD) == []
    assert card["indicator"] == indicator
    assert card["summary"] == summary
    assert phrase in card["detail"]
    assert "Reference information, not a treatment recommendation" in card["detail"]
    assert card["source"]["label"] == "her2-status, rule set her2-status-rules 1.0.0"
    assert card["links"] == [
        {
            "label": "HER2 decision view (the path through the guideline)",
            "url": "https://her2.test/view/Patient/p1",
            "type": "absolute",
        }
    ]
    assert ("suggestions" in card) is reflex
    assert "overrideReasons" not in card  # nothing to override on a chart view


@pytest.mark.parametrize("name", ["equivocal-reflex-ish", "gastro-equivocal"])
def test_reflex_ish_suggestion_creates_a_draft_order_for_the_specimen(name: str) -> None:
    card = patient_view_card(CONTEXT, group_result(name))
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    assert action["resource"] == {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "order",
        "code": {"coding": [{"system": "http://loinc.org", "code": "74885-5"}], "text": "HER2 ISH"},
        "subject": {"reference": "Patient/p1"},
        "reasonCode": [
            {
                "coding": [
                    {
                        "system": "https://her2-status.org/fhir/CodeSystem/her2-next-step",
                        "code": "order_reflex_ish",
                    }
                ],
                "text": "Reflex ISH after IHC 2+ (equivocal)",
            }
        ],
        "specimen": [{"reference": "Specimen/s1"}],
    }


def test_status_and_ultralow_are_stated_in_the_detail() -> None:
    detail = patient_view_card(CONTEXT, group_result("ultralow"))["detail"]
    assert "**Status:** HER2-negative, HER2-ultralow (final), breast, 2026-01-10." in detail
    assert "**HER2-low:** no; **HER2-ultralow:** yes." in detail


def test_one_card_per_group_newest_first_and_undated_last() -> None:
    groups = [
        group_result("her2-low", key="a", date="2025-03-01"),
        group_result("positive", key="b", date=None),
        group_result("equivocal-reflex-ish", key="c", date="2026-02-01T10:00:00Z"),
    ]
    cards = patient_view_cards(CONTEXT, groups)
    assert [c["summary"].split(" (")[0] for c in cards] == [
        "HER2 equivocal",
        "HER2-negative, HER2-low",
        "HER2-positive",
    ]
    assert schema_errors({"cards": cards}, RESPONSE) == []
    assert len({c["uuid"] for c in cards}) == 3


def test_card_uuids_differ_per_hook_instance_and_repeat_for_the_same_one() -> None:
    group = group_result("positive")
    first = patient_view_card(CONTEXT, group)["uuid"]
    again = patient_view_card(CONTEXT, group)["uuid"]
    other = patient_view_card(CardContext("another-instance", "p1", PUBLIC_URL), group)["uuid"]
    assert first == again
    assert first != other


def test_a_date_that_is_not_a_date_never_reaches_the_card() -> None:
    card = patient_view_card(CONTEXT, group_result("positive", date="[click](http://x.test)"))
    assert card["summary"] == "HER2-positive (breast)"
    assert "click" not in card["detail"]


def test_no_link_without_a_public_url() -> None:
    card = patient_view_card(CardContext("i", "p1", None), group_result("positive"))
    assert "links" not in card


def test_the_schema_rejects_what_the_specification_forbids() -> None:
    card = patient_view_card(CONTEXT, group_result("equivocal-reflex-ish"))
    assert schema_errors({**card, "summary": "x" * 140}, CARD)
    assert schema_errors({**card, "indicator": "urgent"}, CARD)
    assert schema_errors({k: v for k, v in card.items() if k != "selectionBehavior"}, CARD)
    assert schema_errors({k: v for k, v in card.items() if k != "source"}, CARD)
    assert schema_errors({**card, "overrideReasons": [{"code": "x"}]}, CARD)
    assert schema_errors({**card, "links": [{"label": "x", "url": "x", "type": "absolute"}]}, CARD)
