"""ClinicalTrials.gov API v2 records from a directory (issue 14)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.clients.ctgov_files import load_directory
from service.her2 import Site, Status
from service.trials.ctgov import NotAStudy, study_from_record
from service.trials.matching import Outcome, PatientHer2, match_studies
from tests.builders.trials import CTGOV


def test_directory() -> None:
    loaded = load_directory(CTGOV)
    assert [s.study_id for s in loaded.studies] == [
        "NCT02614794",
        "NCT03734029",
        "NCT03505710",
        "FIXTURE-GASTRIC-POS",
        "FIXTURE-GASTRIC-NEG",
    ]
    assert loaded.skipped == ("broken.json", "not-a-study.json")
    db04 = loaded.studies[1]
    assert db04.overall_status == "RECRUITING"
    assert db04.phases == ("PHASE3",)
    assert db04.keywords == ("HER2-low",)
    assert db04.eligibility.startswith("Inclusion Criteria:")


def test_records_without_an_id_are_not_studies() -> None:
    with pytest.raises(NotAStudy):
        study_from_record({"protocolSection": {"identificationModule": {}}})
    with pytest.raises(NotAStudy):
        study_from_record({"resourceType": "ResearchStudy"})


def test_missing_optional_fields_read_as_empty() -> None:
    study = study_from_record(
        {"protocolSection": {"identificationModule": {"nctId": "NCT1"}, "designModule": []}}
    )
    assert (study.title, study.overall_status, study.phases, study.eligibility) == (
        "",
        None,
        (),
        "",
    )


def test_a_her2_low_breast_patient_against_the_directory() -> None:
    results = {Site.BREAST: PatientHer2(Site.BREAST, Status.NEGATIVE, True, False)}
    matches = {
        m.study.study_id: m.outcome for m in match_studies(load_directory(CTGOV).studies, results)
    }
    assert matches == {
        "NCT02614794": Outcome.EXCLUDED,
        "NCT03734029": Outcome.CANDIDATE,
        "NCT03505710": Outcome.NOT_UNDERSTOOD,
        "FIXTURE-GASTRIC-POS": Outcome.EXCLUDED,
        "FIXTURE-GASTRIC-NEG": Outcome.EXCLUDED,
    }


def test_recruiting_filter_on_the_directory() -> None:
    results = {Site.GASTROESOPHAGEAL: PatientHer2(Site.GASTROESOPHAGEAL, Status.NEGATIVE)}
    matches = match_studies(
        load_directory(CTGOV).studies, results, statuses=["RECRUITING", "NOT_YET_RECRUITING"]
    )
    assert {m.study.study_id: m.outcome for m in matches} == {
        "NCT03734029": Outcome.EXCLUDED,
        "FIXTURE-GASTRIC-POS": Outcome.EXCLUDED,
        "FIXTURE-GASTRIC-NEG": Outcome.CANDIDATE,
    }


def test_blank_conditions_and_keywords_are_left_out() -> None:
    study = study_from_record(
        {
            "protocolSection": {
                "identificationModule": {"nctId": "NCT1"},
                "conditionsModule": {"conditions": ["", "Breast Cancer", "  "], "keywords": [""]},
            }
        }
    )
    assert (study.conditions, study.keywords) == (("Breast Cancer",), ())


@pytest.mark.parametrize(
    "text",
    [
        '{"x": ' + "9" * 5000 + "}",  # past Python's integer-digit limit: ValueError
        "[" * 100_000 + "]" * 100_000,  # nesting too deep to parse: RecursionError
        "\ufffe not json",
    ],
)
def test_a_file_that_cannot_be_parsed_is_skipped_not_fatal(tmp_path: Path, text: str) -> None:
    # One bad download must not make every trial request fail.
    shutil.copy(CTGOV / "NCT03734029.json", tmp_path)
    (tmp_path / "bad.json").write_text(text, encoding="utf-8")
    loaded = load_directory(tmp_path)
    assert [s.study_id for s in loaded.studies] == ["NCT03734029"]
    assert loaded.skipped == ("bad.json",)
