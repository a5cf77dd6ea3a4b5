"""Criterion extraction: sections, kinds, sites, conditions and keywords (issue 14)."""

from __future__ import annotations

import pytest

from service.her2 import Site
from service.trials.criteria import read_sentence, read_study, sentences
from service.trials.model import Criterion, CriterionKind, Her2Class, Section

TEXT = """Key Inclusion Criteria:

* Has HER2-low expression (IHC 1+ or IHC 2+/ISH-) as determined by the central laboratory result.
* Was never previously HER2-positive (IHC 3+ or IHC 2+/ISH+) on prior pathology testing.

Exclusion Criteria:

1. Known HER2-positive disease.
2. Pregnancy or breastfeeding
"""


def test_sections_and_bullets() -> None:
    found = list(sentences("Preamble mentioning HER2.\n" + TEXT))
    assert found[0] == (Section.UNKNOWN, "Preamble mentioning HER2.")
    assert found[1][0] is Section.INCLUSION
    assert found[1][1].startswith("Has HER2-low")
    assert found[-1] == (Section.EXCLUSION, "Pregnancy or breastfeeding")


def test_each_criterion_keeps_its_sentence_and_section() -> None:
    criteria = read_study(TEXT)
    assert [(c.kind, c.section, c.excludes) for c in criteria] == [
        (CriterionKind.HER2_LOW, Section.INCLUSION, False),
        (CriterionKind.HER2_POSITIVE, Section.INCLUSION, True),
        (CriterionKind.HER2_POSITIVE, Section.EXCLUSION, True),
    ]
    assert criteria[2].sentence == "Known HER2-positive disease."


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("HER2-negative or HER2-low metastatic breast cancer", CriterionKind.HER2_NEGATIVE_OR_LOW),
        ("HER2 IHC 0 without membrane staining (HER2-null)", CriterionKind.HER2_NULL),
        ("HER2 IHC 0 status", CriterionKind.HER2_ZERO),
        ("HER2-low or HER2-ultralow", CriterionKind.HER2_LOW_OR_ULTRALOW),
        ("HR+/HER2- advanced breast cancer", CriterionKind.HER2_NEGATIVE),
        ("HER2 IHC 2+ only", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-positive or HER2-low", CriterionKind.NOT_UNDERSTOOD),
        ("ERBB2 amplification detected by NGS", CriterionKind.NOT_UNDERSTOOD),
        ("ERBB2 exon 20 insertion", CriterionKind.HER2_MUTATION),
        ("HER2 status not HER2-low", CriterionKind.NOT_UNDERSTOOD),
        ("If HER2-positive, must have received prior trastuzumab", CriterionKind.NOT_UNDERSTOOD),
        (
            "Patients with HER2-positive disease must have received trastuzumab",
            CriterionKind.NOT_UNDERSTOOD,
        ),
        ("HER2-low disease (Cohort B)", CriterionKind.NOT_UNDERSTOOD),
        ("Patients with HER2-positive breast cancer", CriterionKind.HER2_POSITIVE),
        # Scores naming part of a class only: IHC 3+ leaves out ISH-amplified 2+,
        # IHC 1+ leaves out 2+/ISH-negative, IHC 0-1+ leaves out 2+/ISH-negative.
        ("HER2 IHC 3+ solid tumour", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 IHC 1+ breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 IHC 0 or 1+", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 IHC 0-1+ or ISH negative", CriterionKind.HER2_NEGATIVE),
        ("HER2 IHC 3+ or ISH amplified", CriterionKind.HER2_POSITIVE),
        ("HER2 IHC 1+ or IHC 2+ with ISH non-amplified", CriterionKind.HER2_LOW),
        # A class word defined by scores naming part of it: the study takes that part.
        ("HER2-negative (IHC 0) metastatic breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-negative breast cancer, defined as IHC 0", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-negative (IHC 0 or 1+)", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-positive (IHC 3+)", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-low (IHC 1+)", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-low (IHC 2+/ISH-)", CriterionKind.NOT_UNDERSTOOD),
        # ... and scores naming all of it, or another class as an alternative.
        ("HER2-negative (IHC 0-1+ or 2+/ISH-)", CriterionKind.HER2_NEGATIVE),
        ("HER2-low (IHC 1+ or IHC 2+/ISH-)", CriterionKind.HER2_LOW),
        ("HER2-positive (IHC 3+ or ISH amplified)", CriterionKind.HER2_POSITIVE),
        ("HER2+ defined by FISH and/or 3+ staining by IHC", CriterionKind.HER2_POSITIVE),
        ("HER2-low or HER2 IHC 0 breast cancer", CriterionKind.HER2_LOW_OR_ZERO),
        ("HER2-negative (HER2-0 or HER2-low)", CriterionKind.HER2_NEGATIVE_OR_LOW),
        ("HER2-negative (IHC 0 or HER2-low)", CriterionKind.HER2_NEGATIVE_OR_LOW),
        # A shortened alternative names two classes, never the first alone.
        ("HER2 positive or negative breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-negative or positive", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-positive or -negative disease", CriterionKind.NOT_UNDERSTOOD),
        ("HER2+/- breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 positive/negative", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-low or negative disease", CriterionKind.HER2_NEGATIVE_OR_LOW),
        ("HER2-low or -ultralow breast cancer", CriterionKind.HER2_LOW_OR_ULTRALOW),
        ("HER2-positive, ER-negative", CriterionKind.HER2_POSITIVE),
        # ERBB2 amplification found by a genomic or plasma test is no HER2 status.
        ("ERBB2 amplification detected in circulating tumor DNA", CriterionKind.NOT_UNDERSTOOD),
        ("ERBB2 amplification in plasma cfDNA", CriterionKind.NOT_UNDERSTOOD),
        ("ERBB2 amplification by comprehensive genomic profiling", CriterionKind.NOT_UNDERSTOOD),
        ("ERBB2 amplification by next-generation sequencing", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 ISH average copy number >= 6.0 signals/cell", CriterionKind.NOT_UNDERSTOOD),
        # Scores naming more than the class word: IHC 0 is ultralow *or* null.
        ("HER2-ultralow (IHC 0)", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-null (IHC 0)", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 IHC 0 (null) breast cancer", CriterionKind.NOT_UNDERSTOOD),
        (
            "HER2-low (IHC 1+ or IHC 2+/ISH-) or HER2-ultralow (IHC 0 with faint staining)",
            CriterionKind.HER2_LOW_OR_ULTRALOW,
        ),
        (
            "HER2-ultralow (IHC 0 with faint, incomplete membrane staining in <=10% of cells)",
            CriterionKind.HER2_ULTRALOW,
        ),
        ("HER2-null (IHC 0 with no membrane staining)", CriterionKind.HER2_NULL),
        # A positive or negative class by one test method only.
        ("HER2 gene amplification by FISH", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-positive as defined by FISH amplification", CriterionKind.NOT_UNDERSTOOD),
        ("HER2 overexpression by IHC", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-negative by IHC", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-positive by IHC or ISH", CriterionKind.HER2_POSITIVE),
        ("HER2-overexpressing breast cancer", CriterionKind.HER2_POSITIVE),
        # Triple-negative is an alternative the HER2 classes cannot say.
        ("HER2-positive or triple-negative breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("HER2-low or TNBC", CriterionKind.NOT_UNDERSTOOD),
        # Criteria of a part of the study.
        ("Dose expansion: HER2-low breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("Part B only: HER2-positive breast cancer", CriterionKind.NOT_UNDERSTOOD),
        ("Phase 2 portion: HER2-negative", CriterionKind.NOT_UNDERSTOOD),
        ("Stratum A: HER2-low", CriterionKind.NOT_UNDERSTOOD),
    ],
)
def test_kinds(sentence: str, kind: CriterionKind) -> None:
    found = read_sentence(sentence, Section.INCLUSION)
    assert found is not None
    assert found.kind is kind


def test_zero_covers_ultralow_and_null() -> None:
    found = read_sentence("HER2 IHC 0", Section.INCLUSION)
    assert found is not None
    assert found.classes == frozenset({Her2Class.ULTRALOW, Her2Class.NULL})


def test_no_her2_no_criterion() -> None:
    assert read_sentence("ECOG performance status 0 or 1", Section.INCLUSION) is None
    assert read_sentence("Prior anti-HER2 therapy is allowed", Section.EXCLUSION) is None


def test_site_of_a_sentence() -> None:
    found = read_sentence(
        "HER2-positive gastric or gastroesophageal junction adenocarcinoma", Section.INCLUSION
    )
    assert found is not None
    assert found.site is Site.GASTROESOPHAGEAL
    assert found.kind is CriterionKind.HER2_POSITIVE


def test_conditions_and_keywords_are_inclusion_criteria() -> None:
    criteria = read_study(
        "", conditions=("HER2-low Breast Cancer", "HER2"), keywords=("HER2 mutation",)
    )
    assert [(c.kind, c.source, c.section) for c in criteria] == [
        (CriterionKind.HER2_LOW, "condition", Section.INCLUSION),
        (CriterionKind.HER2_MUTATION, "keyword", Section.INCLUSION),
    ]


def test_negation_does_not_reach_through_a_prior_therapy() -> None:
    found = read_sentence(
        "No prior systemic therapy for HER2-positive metastatic breast cancer", Section.INCLUSION
    )
    assert found is not None
    assert found.kind is CriterionKind.HER2_POSITIVE
    assert not found.negated
    denied = read_sentence("Tumour never classified as HER2-positive", Section.INCLUSION)
    assert denied is not None
    assert denied.negated


def test_a_qualified_class_in_an_exclusion_list_is_not_understood() -> None:
    sentence = "HER2-positive disease that has not received prior trastuzumab"
    excluded = read_sentence(sentence, Section.EXCLUSION)
    assert excluded is not None
    assert excluded.kind is CriterionKind.NOT_UNDERSTOOD
    required = read_sentence(sentence, Section.INCLUSION)
    assert required is not None
    assert required.kind is CriterionKind.HER2_POSITIVE


def test_coded_criteria_replace_text_conditions_and_keywords() -> None:
    coded = (
        Criterion(
            CriterionKind.HER2_LOW, Section.INCLUSION, "her2-low: true", source="characteristic"
        ),
    )
    text = "Inclusion Criteria:\n- HER2-positive breast cancer"
    assert read_study(text, ["HER2-positive Breast Cancer"], ["HER2+"], coded) == list(coded)
    # No coded criteria (None or none): the text, conditions and keywords are read.
    for nothing in (None, ()):
        kinds = [c.kind for c in read_study(text, ["HER2-positive Breast Cancer"], (), nothing)]
        assert kinds == [CriterionKind.HER2_POSITIVE, CriterionKind.HER2_POSITIVE]


@pytest.mark.parametrize(
    ("conditions", "keywords"),
    [
        (("HER2-positive Breast Cancer", "Triple Negative Breast Cancer"), ()),
        (("Triple Negative Breast Cancer", "HER2-low Breast Cancer"), ()),
        ((), ("HER2-positive", "TNBC")),
    ],
)
def test_a_triple_negative_label_beside_a_class_is_not_understood(
    conditions: tuple[str, ...], keywords: tuple[str, ...]
) -> None:
    (found,) = read_study("", conditions, keywords)
    assert found.kind is CriterionKind.NOT_UNDERSTOOD


@pytest.mark.parametrize(
    "label", ["Non-HER2-positive Breast Cancer", "HER2-negative (IHC 0) Breast Cancer"]
)
def test_a_label_naming_a_status_not_understood_is_kept(label: str) -> None:
    assert [c.kind for c in read_study("", (label,))] == [CriterionKind.NOT_UNDERSTOOD]
    assert read_study("", ("HER2 Breast Cancer",)) == []  # topical: names no status
