"""The rule set as data: thresholds, decision tables, priorities and report comments.

Each row names the guideline figure or project rule it encodes.  Changing any
row, threshold or comment here changes the clinical meaning of results, so it
must come with a new ``RULESET.version`` (results carry it, and stored results
are re-derived when it changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from service.her2.model import NextStep, RuleSet, Status

RULESET: Final = RuleSet(
    id="her2-status-rules",
    version="1.0.0",
    guidelines=(
        "ASCO/CAP HER2 testing in breast cancer, 2018 focused update (Wolff et al., "
        "J Clin Oncol 2018;36(20)), affirmed 2023 (J Clin Oncol 2023;41:3867)",
        "CAP/ASCP/ASCO HER2 testing in gastroesophageal adenocarcinoma, 2016 "
        "(Bartley et al., Arch Pathol Lab Med 2016;140:1345)",
        "FDA labels: HER2-low (DESTINY-Breast04, 2022-08-05), HER2-ultralow "
        "(DESTINY-Breast06, 2025-01-27), tumour-agnostic IHC 3+ (2024-04-05)",
    ),
)

# Thresholds (her2-rules.md section 1): ">=" is inclusive everywhere.
RATIO_THRESHOLD: Final = Decimal("2.0")
COPIES_LOW: Final = Decimal("4.0")
COPIES_HIGH: Final = Decimal("6.0")
MIN_CELLS: Final = 20
RATIO_TOLERANCE_PERCENT: Final = Decimal(5)


@dataclass(frozen=True)
class Row:
    """One row of a decision table."""

    rule_id: str
    status: Status
    next_step: NextStep | None
    source: str
    statement: str


P, N, E, IND = Status.POSITIVE, Status.NEGATIVE, Status.EQUIVOCAL, Status.INDETERMINATE
S = NextStep

# Breast (her2-rules.md section 4).  Keys: (IHC class, ISH category).
# IHC class: "3+", "2+", "low" (0, 0-ultralow, 1+ or a Negative call), "none"
# ("none" also stands for IHC not done on the ISH tissue where that matters).
# ISH category: "none", "G1", "G2-4", "G5", the recount states of group 2-4 with
# IHC 2+, single-probe bands "S>=6", "S4-6", "S<4", and "eq" (a qualitative
# ISH equivocal call).
_F1 = "ASCO/CAP 2018 Fig 1"
_F3 = "ASCO/CAP 2018 Fig 3"
_F46 = "ASCO/CAP 2018 Fig 4-6"
_F2 = "ASCO/CAP 2018 Fig 2"
_PD = "project rule (her2-rules.md section 2): status follows the algorithm, discordance flagged"

BREAST_ROWS: Final[dict[tuple[str, str], Row]] = {
    ("3+", "none"): Row("B1", P, None, _F1, "IHC 3+ is HER2-positive"),
    ("2+", "none"): Row(
        "B2", E, S.ORDER_REFLEX_ISH, _F1, "IHC 2+ is equivocal; reflex ISH is required"
    ),
    ("1+", "none"): Row("B3", N, None, _F1, "IHC 1+ is HER2-negative (HER2-low)"),
    ("0", "none"): Row("B4", N, None, _F1, "IHC 0 is HER2-negative"),
    ("0-ultralow", "none"): Row(
        "B5", N, None, _F1, "IHC 0 with faint staining in <= 10 % of cells is negative (ultralow)"
    ),
    # A Negative IHC call without a score ("0 or 1+", her2-rules.md section 5.3).
    ("low", "none"): Row("B3", N, None, _F1, "IHC 0 or 1+ is HER2-negative"),
    **{
        (ihc, "G1"): Row("B6", P, None, _F3, "ISH group 1 is HER2-positive")
        for ihc in ("3+", "2+", "none")
    },
    ("low", "G1"): Row(
        "B7",
        P,
        S.PATHOLOGIST_REVIEW_DISCORDANCE,
        f"{_F3}; {_PD}",
        "ISH group 1 is HER2-positive, but IHC 0/1+ disagrees: pathologist review",
    ),
    ("none", "G2-4"): Row(
        "B8",
        E,
        S.CONCURRENT_IHC_REVIEW,
        _F46,
        "groups 2-4 need concurrent IHC on the same tissue before a final call",
    ),
    ("3+", "G2-4"): Row("B9", P, None, _F46, "groups 2-4 with concurrent IHC 3+ are positive"),
    ("low", "G2-4"): Row(
        "B10",
        N,
        S.NEGATIVE_WITH_REQUIRED_COMMENT,
        _F46,
        "groups 2-4 with concurrent IHC 0/1+ are negative, with the required comment",
    ),
    ("2+", "G2-4:no-recount"): Row(
        "B11",
        E,
        S.ISH_RECOUNT_BLINDED_OBSERVER,
        _F46,
        "groups 2-4 with IHC 2+ need a blinded second-observer recount of >= 20 cells",
    ),
    ("2+", "G2:recount-same"): Row(
        "B12",
        N,
        S.NEGATIVE_WITH_REQUIRED_COMMENT,
        "ASCO/CAP 2018 Fig 4",
        "recount still group 2 with IHC 2+: negative, with the required comment",
    ),
    ("2+", "G3:recount-same"): Row(
        "B13", P, None, "ASCO/CAP 2018 Fig 5", "recount still group 3 with IHC 2+: positive"
    ),
    ("2+", "G4:recount-same"): Row(
        "B14",
        N,
        S.NEGATIVE_WITH_REQUIRED_COMMENT,
        "ASCO/CAP 2018 Fig 6",
        "recount still group 4 with IHC 2+: negative, with the required comment",
    ),
    ("2+", "G2-4:recount-changed"): Row(
        "B15",
        E,
        S.INTERNAL_ADJUDICATION,
        _F46,
        "the recount fell into another group: internal adjudication decides",
    ),
    **{
        (ihc, "G5"): Row("B16", N, None, _F3, "ISH group 5 is HER2-negative")
        for ihc in ("low", "2+")
    },
    ("none", "G5"): Row(
        "B17",
        N,
        S.ORDER_IHC,
        _F3,
        "ISH group 5 is HER2-negative; IHC is needed for the HER2-low/ultralow class",
    ),
    ("3+", "G5"): Row(
        "B18",
        P,
        S.PATHOLOGIST_REVIEW_DISCORDANCE,
        f"{_F1}; {_PD}",
        "IHC 3+ is positive, but ISH group 5 disagrees: pathologist review",
    ),
    **{
        (ihc, "S>=6"): Row("B19", P, None, _F2, "single-probe average HER2 >= 6.0 is positive")
        for ihc in ("3+", "2+")
    },
    ("none", "S>=6"): Row(
        "B20",
        P,
        S.CONCURRENT_IHC_REVIEW_RECOMMENDED,
        _F2,
        "single-probe average HER2 >= 6.0 is positive; concurrent IHC review recommended",
    ),
    ("low", "S>=6"): Row(
        "B21",
        P,
        S.PATHOLOGIST_REVIEW_DISCORDANCE,
        f"{_F2}; {_PD}",
        "single-probe average HER2 >= 6.0 is positive, but IHC 0/1+ disagrees",
    ),
    ("3+", "S4-6"): Row("B22", P, None, _F2, "single-probe 4.0-<6.0 with IHC 3+ is positive"),
    ("2+", "S4-6"): Row(
        "B23",
        E,
        S.ORDER_DUAL_PROBE_ISH,
        _F2,
        "single-probe 4.0-<6.0 with IHC 2+ needs dual-probe ISH",
    ),
    ("low", "S4-6"): Row("B24", N, None, _F2, "single-probe 4.0-<6.0 with IHC 0/1+ is negative"),
    ("none", "S4-6"): Row(
        "B25",
        E,
        S.ORDER_IHC_AND_OR_DUAL_PROBE_ISH,
        _F2,
        "single-probe 4.0-<6.0 without IHC needs IHC and/or dual-probe ISH",
    ),
    **{
        (ihc, "S<4"): Row("B26", N, None, _F2, "single-probe average HER2 < 4.0 is negative")
        for ihc in ("low", "2+")
    },
    ("none", "S<4"): Row(
        "B27",
        N,
        S.ORDER_IHC,
        _F2,
        "single-probe average HER2 < 4.0 is negative; IHC is needed for the HER2-low class",
    ),
    ("3+", "S<4"): Row(
        "B28",
        P,
        S.PATHOLOGIST_REVIEW_DISCORDANCE,
        f"{_F1}; {_PD}",
        "IHC 3+ is positive, but single-probe average HER2 < 4.0 disagrees",
    ),
    # Qualitative ISH "equivocal" (a pre-2018 category; her2-rules.md section 5.3).
    # IHC 3+ stays positive by Fig 1 (project rule: IHC 3+ or ISH-positive is positive).
    ("3+", "eq"): Row("BQ1", P, None, _F1, "IHC 3+ is positive; the ISH equivocal call is moot"),
    **{
        (ihc, "eq"): Row(
            "BQ2",
            E,
            S.CONCURRENT_IHC_REVIEW,
            "her2-rules.md section 5.3",
            "an ISH equivocal call needs concurrent IHC review",
        )
        for ihc in ("2+", "low", "none")
    },
}

# Gastroesophageal (her2-rules.md section 5).  ISH category: "none", "single",
# "pos" (dual ratio >= 2.0), "neg-high" (ratio < 2.0, average HER2 >= 6.0),
# "neg" (ratio < 2.0, average HER2 < 6.0 or absent), "eq" (qualitative equivocal).
_GEA = "CAP/ASCP/ASCO 2016 GEA"
GASTRO_ROWS: Final[dict[tuple[str, str], Row]] = {
    **{
        ("3+", ish): Row("G1", P, None, _GEA, "IHC 3+ is HER2-positive")
        for ish in ("none", "single", "pos")
    },
    **{
        ("3+", ish): Row(
            "G2",
            P,
            S.PATHOLOGIST_REVIEW_DISCORDANCE,
            f"{_GEA}; {_PD}",
            "IHC 3+ is positive, but the dual-probe ratio < 2.0 disagrees",
        )
        for ish in ("neg", "neg-high")
    },
    **{
        ("low", ish): Row("G3", N, None, _GEA, "IHC 0/1+ is HER2-negative")
        for ish in ("none", "single", "neg", "neg-high")
    },
    ("low", "pos"): Row(
        "G4",
        N,
        S.PATHOLOGIST_REVIEW_DISCORDANCE,
        f"{_GEA}; {_PD}",
        "IHC 0/1+ is negative, but the dual-probe ratio >= 2.0 disagrees",
    ),
    ("2+", "none"): Row("G5", E, S.ORDER_REFLEX_ISH, _GEA, "IHC 2+ is equivocal; reflex ISH"),
    **{
        (ihc, "pos"): Row("G6", P, None, _GEA, "ISH ratio >= 2.0 is positive")
        for ihc in ("2+", "none")
    },
    **{
        (ihc, "neg-high"): Row(
            "G7",
            E,
            S.PATHOLOGIST_REVIEW,
            _GEA,
            "ratio < 2.0 with average HER2 >= 6.0 is not covered by the ratio rule: review",
        )
        for ihc in ("2+", "none")
    },
    ("2+", "neg"): Row("G8", N, None, _GEA, "IHC 2+ with ISH ratio < 2.0 is negative"),
    ("none", "neg"): Row(
        "G9",
        N,
        S.ORDER_IHC,
        _GEA,
        "ISH ratio < 2.0 is negative; the algorithm starts with IHC, so order IHC",
    ),
    ("2+", "single"): Row(
        "G10",
        E,
        S.PATHOLOGIST_REVIEW,
        _GEA,
        "the gastroesophageal ISH criterion is a ratio; single-probe needs review",
    ),
    ("none", "single"): Row(
        "G11",
        E,
        S.ORDER_IHC,
        _GEA,
        "single-probe ISH without IHC: the algorithm starts with IHC, so order IHC",
    ),
    # Qualitative ISH "equivocal" (her2-rules.md section 5.3: pathologist_review).
    ("3+", "eq"): Row(
        "GQ1", P, S.PATHOLOGIST_REVIEW, _GEA, "IHC 3+ is positive; ISH equivocal call: review"
    ),
    ("low", "eq"): Row(
        "GQ2", N, S.PATHOLOGIST_REVIEW, _GEA, "IHC 0/1+ is negative; ISH equivocal call: review"
    ),
    **{
        (ihc, "eq"): Row("GQ3", E, S.PATHOLOGIST_REVIEW, _GEA, "ISH equivocal call: review")
        for ihc in ("2+", "none")
    },
}

OTHER_POSITIVE: Final = Row(
    "O1",
    P,
    None,
    "her2-rules.md section 6 (tumour-agnostic T-DXd label, 2024-04-05)",
    "IHC 3+ is positive at any site",
)
OTHER_UNSUPPORTED: Final = Row(
    "O2",
    IND,
    S.NO_SITE_SPECIFIC_GUIDELINE,
    "her2-rules.md section 6",
    "no site-specific guideline: only IHC 3+ can be interpreted at this site",
)

# next_step priority (her2-rules.md section 8): input/technical, then specimen
# workup, then discordance review, then the required comment, then heterogeneity.
NEXT_STEP_TIERS: Final[tuple[tuple[NextStep, ...], ...]] = (
    (
        S.CORRECT_INPUT,
        S.COUNT_ADDITIONAL_CELLS,
        S.REPEAT_TEST_NEW_SPECIMEN,
        S.OBTAIN_HER2_TESTING,
        S.SPECIFY_TUMOR_SITE,
        S.NO_SITE_SPECIFIC_GUIDELINE,
    ),
    (
        S.ORDER_REFLEX_ISH,
        S.ISH_RECOUNT_BLINDED_OBSERVER,
        S.INTERNAL_ADJUDICATION,
        S.CONCURRENT_IHC_REVIEW,
        S.ORDER_DUAL_PROBE_ISH,
        S.ORDER_IHC_AND_OR_DUAL_PROBE_ISH,
        S.ORDER_IHC,
        S.CONCURRENT_IHC_REVIEW_RECOMMENDED,
    ),
    (S.PATHOLOGIST_REVIEW_DISCORDANCE, S.PATHOLOGIST_REVIEW),
    (S.NEGATIVE_WITH_REQUIRED_COMMENT,),
    (S.CLINICIAN_REVIEW_HETEROGENEITY,),
)
NEXT_STEP_RANK: Final[dict[NextStep, int]] = {
    step: rank for rank, step in enumerate(s for tier in NEXT_STEP_TIERS for s in tier)
}

# her2-rules.md section 11: next steps compatible with a final interpretation.
FINAL_COMPATIBLE_STEPS: Final[frozenset[NextStep | None]] = frozenset(
    {
        None,
        S.NEGATIVE_WITH_REQUIRED_COMMENT,
        S.CONCURRENT_IHC_REVIEW_RECOMMENDED,
        S.ORDER_IHC,
        S.CLINICIAN_REVIEW_HETEROGENEITY,
        S.REPEAT_TEST_NEW_SPECIMEN,
    }
)
FINAL_STATUSES: Final = frozenset({P, N, IND})

# The mandatory report comments of ASCO/CAP 2018 (Fig 4-6), paraphrased.
REQUIRED_COMMENTS: Final[dict[int, str]] = {
    2: (
        "ISH group 2 (HER2/CEP17 ratio >= 2.0, average HER2 copy number < 4.0 signals/cell): "
        "evidence is limited on the efficacy of HER2-targeted therapy for this signal pattern "
        "in the absence of protein overexpression (IHC 3+); in the first adjuvant trastuzumab "
        "trials this small subgroup showed no clear benefit. Without IHC 3+ the specimen is "
        "considered HER2-negative (ASCO/CAP 2018, Fig 4)."
    ),
    3: (
        "ISH group 3 (HER2/CEP17 ratio < 2.0, average HER2 copy number >= 6.0 signals/cell): "
        "there are insufficient data on the efficacy of HER2-targeted therapy for a ratio "
        "< 2.0 without protein overexpression; such patients were not eligible for the first "
        "adjuvant trastuzumab trials. With concurrent IHC 0 or 1+ the specimen is considered "
        "HER2-negative (ASCO/CAP 2018, Fig 5)."
    ),
    4: (
        "ISH group 4 (HER2/CEP17 ratio < 2.0, average HER2 copy number >= 4.0 and < 6.0 "
        "signals/cell): it is uncertain whether patients with this pattern benefit from "
        "HER2-targeted therapy without protein overexpression (IHC 3+). Results near the "
        "threshold are more likely to change on repeat testing by chance alone. Without IHC 3+ "
        "the specimen is considered HER2-negative without additional testing on the same "
        "specimen (ASCO/CAP 2018, Fig 6)."
    ),
}
