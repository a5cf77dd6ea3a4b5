"""Property tests (hypothesis): totality, determinism, monotonicity, sub-class safety."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from service.her2 import Her2Result, IshInput, SpecimenInput, evaluate, evaluate_series
from service.her2.inputs import date_from, ish_from, prior_from, specimen_from

SCORES = ["0", "0-ultralow", "1+", "2+", "3+"]
garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 100),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([*SCORES, "dual", "single", "amplified", "equivocal", "> 2.2", "<1.8"]),
    st.lists(st.integers(), max_size=2),
)
positive_decimals = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(40), places=2)


@st.composite
def ish_records(draw: st.DrawFn, values: st.SearchStrategy[object] = garbage) -> IshInput:
    return ish_from(
        probe=draw(values),
        her2_cep17_ratio=draw(values),
        avg_her2_copies=draw(values),
        avg_cep17_copies=draw(values),
        cells_counted=draw(values),
        lab_call=draw(values),
        final=draw(values),
    )


@st.composite
def anything(draw: st.DrawFn) -> SpecimenInput:
    return specimen_from(
        site=draw(st.one_of(st.sampled_from(["breast", "gastroesophageal", "other"]), garbage)),
        ihc_score=draw(st.one_of(st.sampled_from(SCORES), garbage)),
        ihc0_ultralow_assessed=draw(garbage),
        ihc_call=draw(garbage),
        ihc_final=draw(garbage),
        ish=draw(st.one_of(st.none(), ish_records(), garbage)),
        ish_recount=draw(st.one_of(st.none(), ish_records())),
        ihc_same_specimen=draw(garbage),
        assay_failed=draw(garbage),
        collected=draw(garbage),
        prior_results=tuple(
            draw(st.lists(st.builds(prior_from, status=garbage, ihc_score=garbage), max_size=2))
        ),
    )


@st.composite
def plausible(draw: st.DrawFn) -> SpecimenInput:
    probe = draw(st.sampled_from(["dual", "single"]))
    her2 = draw(positive_decimals)
    ish = None
    if draw(st.booleans()):
        if probe == "dual":
            cep17 = draw(positive_decimals)
            ish = ish_from(probe="dual", avg_her2_copies=her2, avg_cep17_copies=cep17)
        else:
            ish = ish_from(probe="single", avg_her2_copies=her2)
    return specimen_from(
        site=draw(st.sampled_from(["breast", "gastroesophageal", "other", None])),
        ihc_score=draw(st.sampled_from([*SCORES, None])),
        ihc0_ultralow_assessed=draw(st.booleans()),
        ish=ish,
        ihc_same_specimen=draw(st.booleans()),
    )


@settings(max_examples=400)
@given(anything())
def test_any_input_returns_a_result_without_raising(specimen: SpecimenInput) -> None:
    result = evaluate(specimen)
    assert result.rationale
    assert (result.error is None) or result.status == "indeterminate"


@settings(max_examples=100)
@given(st.lists(anything(), max_size=4))
def test_series_never_raises(specimens: list[SpecimenInput]) -> None:
    assert len(evaluate_series(specimens)) == len(specimens)


@st.composite
def dated(draw: st.DrawFn) -> SpecimenInput:
    specimen = draw(plausible())
    day = draw(st.sampled_from(["2025-01-10", "2025-06-01", "2026-01-10", None]))
    return replace(specimen, collected=date_from(day))


def _clinical(result: Her2Result) -> tuple[object, ...]:
    return (
        result.status,
        result.her2_low,
        result.ultralow,
        result.next_step,
        result.interpretation,
    )


@settings(max_examples=150)
@given(st.lists(dated(), min_size=2, max_size=4), st.randoms(use_true_random=False))
def test_series_results_do_not_depend_on_the_order_of_specimens(
    specimens: list[SpecimenInput], rnd: Random
) -> None:
    # Section 10: each specimen stands on its own and only the most recent is compared
    # with the others; the order a reader happens to list them in must not matter.
    order = list(range(len(specimens)))
    rnd.shuffle(order)
    forward = evaluate_series(specimens)
    shuffled = evaluate_series([specimens[i] for i in order])
    assert [_clinical(shuffled[order.index(i)]) for i in range(len(specimens))] == [
        _clinical(r) for r in forward
    ]


@settings(max_examples=300)
@given(plausible())
def test_low_and_ultralow_only_for_breast_negatives_with_ihc(specimen: SpecimenInput) -> None:
    result = evaluate(specimen)
    if result.her2_low or result.ultralow:
        assert result.status == "negative"
        assert specimen.site == "breast"
        assert specimen.ihc_score is not None  # never for an ISH-only result
    assert not (result.her2_low and result.ultralow)


@settings(max_examples=300)
@given(
    site=st.sampled_from(["breast", "gastroesophageal"]),
    ihc=st.sampled_from([*SCORES, None]),
    her2=positive_decimals,
    cep17=positive_decimals,
    bump_her2=st.decimals(min_value=0, max_value=20, places=2),
    shrink_cep17=st.decimals(min_value=0, max_value=Decimal("0.99"), places=2),
)
def test_raising_ratio_or_copies_never_turns_positive_into_negative(
    site: str,
    ihc: str | None,
    her2: Decimal,
    cep17: Decimal,
    bump_her2: Decimal,
    shrink_cep17: Decimal,
) -> None:
    def status(h: Decimal, c: Decimal) -> str:
        ish = ish_from(probe="dual", avg_her2_copies=h, avg_cep17_copies=c)
        return evaluate(specimen_from(site=site, ihc_score=ihc, ish=ish)).status.value

    before = status(her2, cep17)
    # More HER2 copies (ratio and copies rise), or less CEP17 (ratio rises).
    after_copies = status(her2 + bump_her2, cep17)
    after_ratio = status(her2, max(cep17 * (1 - shrink_cep17), Decimal("0.01")))
    if before == "positive":
        assert after_copies != "negative"
        assert after_ratio != "negative"


@settings(max_examples=200)
@given(her2=positive_decimals, ihc=st.sampled_from([*SCORES, None]))
def test_single_probe_monotone_in_copies(her2: Decimal, ihc: str | None) -> None:
    def status(h: Decimal) -> str:
        ish = ish_from(probe="single", avg_her2_copies=h)
        return evaluate(specimen_from(site="breast", ihc_score=ihc, ish=ish)).status.value

    if status(her2) == "positive":
        assert status(her2 + 1) == "positive"
