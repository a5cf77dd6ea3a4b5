"""order-select / order-sign cards: every catalog agent against every HER2 category.

The expected coverage is transcribed from the therapy catalog's reference table
(category → agents whose label covers it), not computed from the catalog file, so
a changed catalog row without a changed expectation fails here.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from service.cds.cards import CardContext
from service.cds.orders import match_agents, order_cards
from service.fhir.cds_orders import draft_orders
from service.her2 import load_catalog
from tests.builders.cds import (
    ATC,
    PUBLIC_URL,
    RXNORM,
    group_result,
    medication_request,
)
from tests.builders.cds import (
    draft_orders as orders_bundle,
)
from tests.builders.cds_schema import RESPONSE, schema_errors

CONTEXT = CardContext("5d2f8a3e-1c1b-4d9e-8f0a-6b7c8d9e0f10", "p1", PUBLIC_URL)

AGENTS = {  # id: (RxNorm, ATC)
    "trastuzumab": ("224905", "L01FD01"),
    "trastuzumab-hyaluronidase-oysk": ("2119713", "L01FD01"),
    "pertuzumab": ("1298944", "L01FD02"),
    "pertuzumab-trastuzumab-hyaluronidase-zzxf": ("2382603", "L01FY01"),
    "margetuximab": ("2473851", "L01FD06"),
    "ado-trastuzumab-emtansine": ("1371046", "L01FD03"),
    "fam-trastuzumab-deruxtecan": ("2267574", "L01FD04"),
    "lapatinib": ("480167", "L01EH01"),
    "neratinib": ("1940643", "L01EH02"),
    "tucatinib": ("2361285", "L01EH03"),
    "zanidatamab": ("2698198", None),
}
BREAST_POSITIVE = frozenset(set(AGENTS) - {"zanidatamab"})
TDXD = frozenset({"fam-trastuzumab-deruxtecan"})
COVERED = {  # scenario: agents whose label covers its category and site
    "positive": BREAST_POSITIVE,
    "her2-low": TDXD,
    "ultralow": TDXD,
    "her2-0": frozenset(),
    "ihc0-unassessed": frozenset(),
    "group2-comment": TDXD,
    "gastro-positive": frozenset({"trastuzumab", "fam-trastuzumab-deruxtecan"}),
    "gastro-negative": frozenset(),
    "other-ihc3": TDXD,
    "site-unknown-ihc3": frozenset(),
}
UNRESOLVED = (
    "equivocal-reflex-ish",
    "equivocal-recount",
    "equivocal-adjudication",
    "equivocal-concurrent-ihc",
    "equivocal-dual-probe",
    "equivocal-ihc-and-or-dual",
    "indeterminate",
    "gastro-equivocal",
    "other-ihc2",
)
_RECOMMENDS = re.compile(r"recommend|should|consider", re.IGNORECASE)


def _cards(scenario: str, *orders: dict[str, Any]) -> list[dict[str, Any]]:
    return order_cards(
        CONTEXT, draft_orders(orders_bundle(*orders)), [group_result(scenario)], load_catalog()
    )


def _no_advice(card: dict[str, Any]) -> None:
    text = f"{card['summary']}\n{card['detail']}".replace("not a treatment recommendation", "")
    assert not _RECOMMENDS.search(text)


def test_the_expected_agents_are_the_catalog_agents() -> None:
    catalog = load_catalog()
    assert set(AGENTS) == set(catalog.agents)
    assert {a.id: (a.rxnorm, a.atc) for a in catalog.agents.values()} == AGENTS


@pytest.mark.parametrize("scenario", sorted(COVERED))
@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agent_against_a_resolved_category(agent: str, scenario: str) -> None:
    (card,) = _cards(scenario, medication_request((RXNORM, AGENTS[agent][0])))
    assert schema_errors({"cards": [card]}, RESPONSE) == []
    name = load_catalog().agents[agent].name.split(" (")[0]
    assert str(card["summary"]).startswith(f"{name}: the label ")
    if agent in COVERED[scenario]:
        assert card["indicator"] == "info"
        assert ": the label covers " in str(card["summary"])
        assert "**Labelled setting for this result:**" in str(card["detail"])
        assert "overrideReasons" not in card
    else:
        assert card["indicator"] == "warning"
        assert ": the label does not cover " in str(card["summary"])
        assert "**What the label covers:**" in str(card["detail"])
        assert [r["code"] for r in card["overrideReasons"]] == [
            "newer-result-elsewhere",
            "tumour-board",
            "clinical-trial",
            "off-label-documented",
        ]
    assert card["links"] == [
        {
            "label": "HER2 decision view (the path through the guideline)",
            "url": "https://her2.test/view/Patient/p1",
            "type": "absolute",
        }
    ]
    _no_advice(card)


@pytest.mark.parametrize("scenario", UNRESOLVED)
@pytest.mark.parametrize("agent", sorted(AGENTS))
def test_agent_while_the_status_is_unresolved(agent: str, scenario: str) -> None:
    (card,) = _cards(scenario, medication_request((RXNORM, AGENTS[agent][0])))
    assert schema_errors({"cards": [card]}, RESPONSE) == []
    assert card["indicator"] == "warning"
    assert "no label covers an unresolved status" in str(card["summary"])
    assert "overrideReasons" in card
    reflex = scenario in ("equivocal-reflex-ish", "gastro-equivocal")
    assert ("suggestions" in card) is reflex
    _no_advice(card)


def test_trastuzumab_for_a_her2_negative_breast_cancer() -> None:
    (card,) = _cards("her2-low", medication_request((RXNORM, "224905")))
    assert card["summary"] == (
        "trastuzumab: the label does not cover HER2-low (HER2-negative) breast cancer"
    )
    assert "- trastuzumab (incl. IV biosimilars" in str(card["detail"])


def test_tdxd_for_her2_0_without_ultralow() -> None:
    (card,) = _cards("her2-0", medication_request((RXNORM, "2267574")))
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "fam-trastuzumab deruxtecan: the label does not cover HER2-0 (null, HER2-negative) "
        "breast cancer without ultralow staining"
    )


def test_tdxd_for_ultralow_quotes_the_labelled_setting() -> None:
    (card,) = _cards("ultralow", medication_request((RXNORM, "2267574")))
    assert card["indicator"] == "info"
    assert (
        "- fam-trastuzumab deruxtecan (T-DXd): Breast HR-positive HER2-ultralow metastatic "
        "after >= 1 endocrine therapy." in str(card["detail"])
    )


def test_reflex_ish_is_suggested_while_it_is_pending() -> None:
    (card,) = _cards("equivocal-reflex-ish", medication_request((RXNORM, "224905")))
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    assert suggestion["actions"][0]["resource"]["resourceType"] == "ServiceRequest"
    assert suggestion["actions"][0]["resource"]["code"]["coding"][0]["code"] == "74885-5"


def test_a_shared_atc_code_names_both_agents_and_holds_for_both() -> None:
    order = medication_request((ATC, "L01FD01"))
    (breast,) = _cards("positive", order)
    (gastro,) = _cards("gastro-positive", order)
    assert breast["indicator"] == "info"
    assert str(breast["summary"]).startswith(
        "trastuzumab or trastuzumab and hyaluronidase-oysk: the label covers"
    )
    # Herceptin Hylecta is not labelled for gastric cancer: not covered for both.
    assert gastro["indicator"] == "warning"


def test_an_adc_under_the_ingredient_code_is_never_taken_for_trastuzumab_alone() -> None:
    order = medication_request((RXNORM, "224905"), (ATC, "L01FD04"))
    match = match_agents(draft_orders(orders_bundle(order))[0], load_catalog())
    assert match is not None
    assert {a.id for a in match.agents} == {"trastuzumab", "fam-trastuzumab-deruxtecan"}
    (card,) = _cards("her2-low", order)
    assert card["indicator"] == "warning"  # trastuzumab's label does not cover HER2-low


def test_agreeing_rxnorm_and_atc_codes_name_one_agent() -> None:
    order = medication_request((RXNORM, "2119713"), (ATC, "L01FD01"))
    match = match_agents(draft_orders(orders_bundle(order))[0], load_catalog())
    assert match is not None
    assert [a.id for a in match.agents] == ["trastuzumab-hyaluronidase-oysk"]


@pytest.mark.parametrize("kind", ["MedicationStatement", "ServiceRequest"])
def test_other_order_types_are_checked(kind: str) -> None:
    (card,) = _cards("her2-0", medication_request((RXNORM, "2267574"), resource_type=kind))
    assert card["indicator"] == "warning"


def test_a_contained_or_bundled_medication_is_followed() -> None:
    contained = medication_request(
        medicationReference={"reference": "#m"},
        contained=[
            {
                "resourceType": "Medication",
                "id": "m",
                "code": {"coding": [{"system": RXNORM, "code": "480167"}]},
            }
        ],
    )
    (card,) = _cards("positive", contained)
    assert str(card["summary"]).startswith("lapatinib: the label covers")
    bundled = medication_request(medicationReference={"reference": "Medication/m2"})
    medication = {
        "resourceType": "Medication",
        "id": "m2",
        "code": {"coding": [{"system": RXNORM, "code": "1940643"}]},
    }
    (card,) = _cards("her2-low", bundled, medication)
    assert str(card["summary"]).startswith("neratinib: the label does not cover")


def test_orders_of_other_drugs_get_no_card() -> None:
    pembrolizumab = medication_request((RXNORM, "1547545"))
    unknown_system = medication_request(("http://example.org/local", "224905"))
    assert _cards("positive", pembrolizumab, unknown_system) == []


def test_the_same_agent_twice_gives_one_card() -> None:
    order = medication_request((RXNORM, "224905"))
    assert len(_cards("positive", order, order)) == 1


def test_no_her2_result_is_a_warning() -> None:
    orders = draft_orders(orders_bundle(medication_request((RXNORM, "2267574"))))
    (card,) = order_cards(CONTEXT, orders, [], load_catalog())
    assert card["indicator"] == "warning"
    assert card["summary"] == (
        "fam-trastuzumab deruxtecan: no HER2 IHC or ISH result was found for this patient"
    )
    assert schema_errors({"cards": [card]}, RESPONSE) == []


def test_the_most_recent_group_of_each_site_is_compared() -> None:
    groups = [
        group_result("positive", key="old", date="2024-01-01"),
        group_result("her2-low", key="new", date="2026-01-01"),
        group_result("gastro-positive", key="gastric", date="2025-01-01"),
    ]
    orders = draft_orders(orders_bundle(medication_request((RXNORM, "224905"))))
    cards = order_cards(CONTEXT, orders, groups, load_catalog())
    assert sorted(c["indicator"] for c in cards) == ["info", "warning"]
    assert any("HER2-negative, HER2-low (breast, 2026-01-01)" in c["detail"] for c in cards)
    assert not any("2024-01-01" in c["detail"] for c in cards)


def test_a_draft_orders_value_that_is_not_a_bundle_yields_no_order() -> None:
    assert draft_orders(None) == []
    assert draft_orders({"resourceType": "Bundle", "entry": "x"}) == []
