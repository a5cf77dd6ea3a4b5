"""The therapy catalog (therapy-catalog.md): data integrity and category selection."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from service.her2 import Site, evaluate, load_catalog, therapies_for
from service.her2.catalog import CatalogError, _parse
from tests.builders import dual, spec

TDXD = "fam-trastuzumab-deruxtecan"
BREAST_POSITIVE = [
    "trastuzumab",
    "trastuzumab-hyaluronidase-oysk",
    "pertuzumab",
    "pertuzumab-trastuzumab-hyaluronidase-zzxf",
    "margetuximab",
    "ado-trastuzumab-emtansine",
    TDXD,
    "lapatinib",
    "neratinib",
    "tucatinib",
]


def _agents(specimen: object) -> list[str]:
    result = evaluate(specimen)  # type: ignore[arg-type]
    return [listing.agent.id for listing in therapies_for(result).listings]


@pytest.mark.parametrize(
    ("specimen", "agents"),
    [
        (spec("breast", "3+"), BREAST_POSITIVE),
        (spec("breast", "1+"), [TDXD]),
        (spec("breast", "2+", ish=dual("1.2", "2.4", "2.0")), [TDXD]),  # HER2-low by 2+/ISH-
        (spec("breast", "0-ultralow"), [TDXD]),
        (spec("breast", "0"), []),
        (spec("breast", "0", ihc0_ultralow_assessed=False), []),
        (spec("breast", None, ish=dual("1.2", "2.4", "2.0")), []),  # not sub-classified
        (spec("breast", "2+"), []),  # equivocal
        (spec(assay_failed=True), []),  # indeterminate
        (spec("gastroesophageal", "3+"), ["trastuzumab", TDXD]),
        (spec("gastroesophageal", "1+"), []),
        (spec("other", "3+"), [TDXD]),
        (spec("other", "2+"), []),
        (spec(None, "3+"), []),  # site unknown: settings differ by site
    ],
)
def test_category_to_agents(specimen: object, agents: list[str]) -> None:
    assert _agents(specimen) == agents


def test_tdxd_is_the_only_agent_for_low_and_ultralow() -> None:
    for ihc in ("1+", "0-ultralow"):
        selection = therapies_for(evaluate(spec("breast", ihc)))
        assert [c.code for c in selection.classes] == ["her2-antibody-drug-conjugate"]


def test_legacy_ihc0_note_suggests_ultralow_re_review() -> None:
    selection = therapies_for(evaluate(spec("breast", "0", ihc0_ultralow_assessed=False)))
    assert selection.category == "breast/negative-ihc0-unclassified"
    assert selection.note is not None
    assert "ultralow" in selection.note


def test_gastro_trastuzumab_setting_mentions_pembrolizumab_partner() -> None:
    selection = therapies_for(evaluate(spec("gastroesophageal", "3+")))
    trastuzumab = next(item for item in selection.listings if item.agent.id == "trastuzumab")
    assert "pembrolizumab" in trastuzumab.setting


def test_site_argument_overrides_result_site() -> None:
    result = evaluate(spec("breast", "3+"))
    assert [i.agent.id for i in therapies_for(result).listings] == BREAST_POSITIVE
    assert therapies_for(result, Site.GASTROESOPHAGEAL).category == "gastroesophageal/positive"


def test_codes_follow_the_catalog() -> None:
    catalog = load_catalog()
    tdxd = catalog.agents[TDXD]
    assert (tdxd.rxnorm, tdxd.rxnorm_tty, tdxd.atc, tdxd.ncit) == (
        "2267574",
        "PIN",
        "L01FD04",
        "C128799",
    )
    # The RxNorm trap: the ADCs must not be identified by the trastuzumab ingredient.
    assert catalog.agents["ado-trastuzumab-emtansine"].rxnorm == "1371046"
    assert catalog.agents["trastuzumab"].rxnorm == "224905"
    assert len({a.atc for a in catalog.agents.values() if a.atc}) == 9
    assert catalog.verified_on == "2025-10-06"
    assert catalog.code_systems["rxnorm"] == "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_unverified_codes_are_omitted() -> None:
    catalog = load_catalog()
    assert catalog.agents["trastuzumab-hyaluronidase-oysk"].ncit is None
    assert catalog.agents["zanidatamab"].atc is None
    assert catalog.classes["her2-bispecific-antibody"].atc_group is None


def test_not_her2_directed_agents_are_never_listed() -> None:
    names = " ".join(a.id for a in load_catalog().agents.values())
    for excluded in ("pembrolizumab", "zolbetuximab", "zongertinib", "sevabertinib"):
        assert excluded not in names


def _raw() -> dict[str, object]:
    text = resources.files("service.her2").joinpath("data/therapy_catalog.json").read_text()
    data: dict[str, object] = json.loads(text)
    return data


def test_catalog_check_rejects_unknown_agent_in_category() -> None:
    data = _raw()
    categories = data["categories"]
    assert isinstance(categories, dict)
    categories["breast/her2-low"]["agents"].append({"agent": "no-such-drug", "setting": "x"})
    with pytest.raises(CatalogError, match="no-such-drug"):
        _parse(data)


def test_catalog_check_rejects_missing_category() -> None:
    data = _raw()
    categories = data["categories"]
    assert isinstance(categories, dict)
    del categories["unresolved"]
    with pytest.raises(CatalogError, match="unresolved"):
        _parse(data)
