"""Properties of the criterion reader on any text (issue 14)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.trials.criteria import read_study
from service.trials.model import CriterionKind, Section

WORDS = st.sampled_from(
    [
        "HER2",
        "HER2-positive",
        "HER2-negative",
        "HER2-low",
        "ultralow",
        "IHC",
        "ISH",
        "ISH-",
        "ISH+",
        "0",
        "1+",
        "2+",
        "3+",
        "or",
        "and",
        "not",
        "never",
        "/",
        "(",
        ")",
        "mutation",
        "gastric",
        "breast",
        "Cohort",
        "if",
        ",",
        ".",
        "\n",
        "\n* ",
        "Inclusion Criteria:\n",
        "Exclusion Criteria:\n",
        "ratio",
        "2.0",
        "equivocal",
        "amplified",
    ]
)
TEXT = st.lists(WORDS, max_size=40).map(" ".join) | st.text(max_size=300)


@given(TEXT, st.lists(st.text(max_size=40), max_size=3))
def test_any_text_reads_without_error_and_keeps_its_sentences(
    text: str, conditions: list[str]
) -> None:
    for criterion in read_study(text, conditions):
        if criterion.source == "eligibility":
            assert criterion.sentence in text
        assert criterion.kind in CriterionKind
        assert criterion.section in Section
        # A criterion is either a status (with classes) or none of them.
        no_classes = {CriterionKind.NOT_UNDERSTOOD, CriterionKind.HER2_MUTATION}
        assert (criterion.classes is None) == (criterion.kind in no_classes)
