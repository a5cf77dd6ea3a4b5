"""her2-rules.md section 3 item 7: an ISH that is present but carries nothing usable.

It is ``incomplete_ish`` unless the other modality fixes the status whatever any ISH
result could say (breast IHC 3+; gastro IHC 3+ or 0/0u/1+): then the status follows
from the IHC, the ISH is named as set aside, and the interpretation is what the
remaining row says.
"""

from __future__ import annotations

import pytest

from service.her2 import IshInput, evaluate
from service.her2.inputs import ish_from
from tests.builders import dual, spec

BLANK = ish_from()
LEGACY_NO_CALL = ish_from(her2_cep17_ratio="greater than 1.8")


@pytest.mark.parametrize("ish", [BLANK, LEGACY_NO_CALL], ids=["blank", "legacy-no-call"])
@pytest.mark.parametrize(
    ("site", "ihc", "status", "row"),
    [
        ("breast", "3+", "positive", "B1"),
        ("gastroesophageal", "3+", "positive", "G1"),
        ("gastroesophageal", "1+", "negative", "G3"),
        ("gastroesophageal", "0", "negative", "G3"),
        ("gastroesophageal", "0-ultralow", "negative", "G3"),
        ("other", "3+", "positive", "O1"),
    ],
)
def test_moot_unusable_ish_is_set_aside(
    ish: IshInput, site: str, ihc: str, status: str, row: str
) -> None:
    result = evaluate(spec(site, ihc, ish=ish))
    assert result.error is None
    assert result.status == status
    assert result.unusable_inputs == ("ish",)
    assert row in result.rule_ids
    assert "V7" in result.rule_ids
    assert result.interpretation == "final"


@pytest.mark.parametrize("ish", [BLANK, LEGACY_NO_CALL], ids=["blank", "legacy-no-call"])
@pytest.mark.parametrize(
    ("site", "ihc"),
    [
        ("breast", "2+"),
        ("breast", "1+"),  # group 1 would make it positive (B7)
        ("breast", "0"),
        ("breast", "0-ultralow"),
        ("breast", None),
        ("gastroesophageal", "2+"),
        ("gastroesophageal", None),
    ],
)
def test_unusable_ish_that_could_matter_is_incomplete(
    ish: IshInput, site: str, ihc: str | None
) -> None:
    result = evaluate(spec(site, ihc, ish=ish))
    assert result.status == "indeterminate"
    assert result.error == "incomplete_ish"
    assert result.error_location == "ish"
    assert result.unusable_inputs == ()


def test_breast_ihc3_from_other_tissue_does_not_fix_the_status() -> None:
    # With IHC from other tissue, groups 2-4 would be B8 (equivocal): the ISH could matter.
    result = evaluate(spec("breast", "3+", ish=BLANK, ihc_same_specimen=False))
    assert result.error == "incomplete_ish"


def test_unknown_site_ihc3_with_blank_ish_is_positive_under_both_rule_sets() -> None:
    result = evaluate(spec(None, "3+", ish=BLANK))
    assert result.status == "positive"
    assert result.unusable_inputs == ("ish",)
    assert "U1" in result.rule_ids


def test_blank_recount_is_set_aside_only_when_moot() -> None:
    moot = evaluate(spec("breast", "3+", ish=dual("2.4", "3.6", "1.5"), ish_recount=BLANK))
    assert moot.status == "positive"
    assert moot.unusable_inputs == ("ish_recount",)
    pending = evaluate(spec("breast", "2+", ish=dual("2.4", "3.6", "1.5"), ish_recount=BLANK))
    assert pending.error == "incomplete_ish"
    assert pending.error_location == "ish_recount"
    assert "V6" in pending.rule_ids


def test_a_usable_ish_is_never_set_aside() -> None:
    result = evaluate(spec("breast", "3+", ish=dual("1.2", "2.4", "2.0")))
    assert result.unusable_inputs == ()
    assert "B18" in result.rule_ids
