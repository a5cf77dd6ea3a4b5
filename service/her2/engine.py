"""HER2 status derivation for one specimen: her2-rules.md sections 3-11.

``evaluate`` takes one specimen's inputs and a rule set and returns a
:class:`Her2Result`; it never raises for bad input (an ``error`` code says what
is wrong) and treats clinical ambiguity as a result (``equivocal`` plus a
``next_step``).  The work is split by job: ``validation`` (section 3),
``breast`` (4), ``gastro`` (5, 6), ``priority`` (8, 10, 11) and ``series``
(several specimens, section 10).  What the tables say is data: ``ruleset``.
"""

from __future__ import annotations

from service.her2.breast import derive_breast
from service.her2.draft import Draft, InputError, NothingUsable
from service.her2.gastro import derive_gastro, derive_other
from service.her2.model import (
    ErrorCode,
    Her2Result,
    Invalid,
    IshInput,
    NextStep,
    PriorResult,
    RationaleEntry,
    Site,
    SpecimenInput,
    Status,
)
from service.her2.priority import finish, ordered
from service.her2.ruleset import GASTRO_ISH, OTHER_ISH, SAME_TISSUE_CATEGORIES, RuleSet, Table
from service.her2.ruleset_load import default_ruleset
from service.her2.validation import Ihc, Ish, read_ihc, read_ish, read_site


def _status_fixed_by_ihc(ihc: Ihc, site: Site, ruleset: RuleSet) -> bool:
    """Whether the IHC alone fixes the status whatever any ISH result could be.

    her2-rules.md section 3 item 7 names the cases (breast IHC 3+; gastro IHC 3+
    or 0/0u/1+); they are read off the rule set's own table: every ISH column of
    the IHC's row gives one status.  A breast IHC from other tissue than the ISH
    counts as no IHC in the columns that need the same tissue, as in the table.
    """
    if ihc.key == "none":
        return False
    table: Table
    if site is Site.BREAST:
        table = ruleset.breast
        statuses = set()
        for (key, category), row in table.index.items():
            usable_key = (
                "none" if category in SAME_TISSUE_CATEGORIES and not ihc.same_specimen else ihc.key
            )
            if key == usable_key and category != "none":
                statuses.add(row.status)
        statuses.add(table.row(ihc.key, "none").status)
        return len(statuses) == 1
    table = ruleset.gastroesophageal if site is Site.GASTROESOPHAGEAL else ruleset.other
    columns = GASTRO_ISH if site is Site.GASTROESOPHAGEAL else OTHER_ISH
    return len({table.row(ihc.key, c).status for c in columns}) == 1


def _read_ish_or_set_aside(
    raw: IshInput | Invalid, path: str, site: Site, ihc: Ihc, draft: Draft
) -> Ish | None:
    """Validate one ISH; one that carries nothing usable is set aside only when moot."""
    try:
        return read_ish(raw, path, site, draft)
    except NothingUsable as problem:
        if not _status_fixed_by_ihc(ihc, site, draft.ruleset):
            if path == "ish_recount":
                problem.rule_id = "V6"
            raise
        draft.unusable_inputs.append(path)
        draft.note(
            "V7",
            f"her2-rules.md section 3 item 7: the {path.replace('_', ' ')} result carries "
            f"nothing usable; {ihc.describe()} fixes the status whatever any ISH result "
            "could be, so the status follows from the IHC alone.",
        )
        return None


def _derive(spec: SpecimenInput, site: Site, ruleset: RuleSet) -> Draft:
    """Validate and apply one site's rules (no heterogeneity, no interpretation status)."""
    draft = Draft(ruleset=ruleset, site=site)
    try:
        ihc = read_ihc(spec, draft)
        if not ihc.present and spec.ish is None:
            raise InputError(
                "V3",
                ErrorCode.MISSING_DATA,
                "",
                "Neither an IHC nor an ISH result is available.",
                NextStep.OBTAIN_HER2_TESTING,
            )
        ish = None
        if spec.ish is not None:
            ish = _read_ish_or_set_aside(spec.ish, "ish", site, ihc, draft)
        recount = None
        if spec.ish_recount is not None:
            try:
                recount = _read_ish_or_set_aside(spec.ish_recount, "ish_recount", site, ihc, draft)
            except InputError as problem:
                problem.rule_id = "V6"  # section 3.6: the recount, by the same rules
                raise
        if site is Site.BREAST:
            derive_breast(ihc, ish, recount, draft)
        elif site is Site.GASTROESOPHAGEAL:
            derive_gastro(ihc, ish, draft)
        else:
            derive_other(ihc, ish, draft)
    except InputError as problem:
        draft.fail(problem)
    return draft


def _derive_unknown_site(spec: SpecimenInput, ruleset: RuleSet) -> Draft:
    """her2-rules.md section 7: both rule sets must agree, else ask for the site."""
    breast = _derive(spec, Site.BREAST, ruleset)
    gastro = _derive(spec, Site.GASTROESOPHAGEAL, ruleset)
    draft = Draft(
        ruleset=ruleset, site=None, inputs_final=breast.inputs_final and gastro.inputs_final
    )
    breast_step = ordered(breast.steps, ruleset)[:1]
    gastro_step = ordered(gastro.steps, ruleset)[:1]
    if breast.status is gastro.status and breast_step == gastro_step:
        draft.status = breast.status
        draft.steps = ordered(breast.steps + gastro.steps, ruleset)
        draft.unusable_inputs = sorted(set(breast.unusable_inputs) | set(gastro.unusable_inputs))
        if breast.error is gastro.error:
            draft.error, draft.error_location = breast.error, breast.error_location
        draft.note(
            "U1",
            "her2-rules.md section 7: the tumour site is unknown; the breast and the "
            f"gastroesophageal rules agree on {breast.status.value}. HER2-low, ultralow and "
            "ISH group are not assigned.",
        )
    else:
        draft.status = Status.INDETERMINATE
        draft.steps = [NextStep.SPECIFY_TUMOR_SITE]
        draft.note(
            "U2",
            "her2-rules.md section 7: the tumour site is unknown and the breast rules "
            f"({breast.status.value}) and the gastroesophageal rules "
            f"({gastro.status.value}) differ; specify the tumour site.",
        )
    for label, branch in (("breast", breast), ("gastroesophageal", gastro)):
        draft.rationale.extend(
            RationaleEntry(e.rule_id, f"[{label} rules] {e.text}") for e in branch.rationale
        )
    return draft


def draft_for(specimen: SpecimenInput, ruleset: RuleSet) -> Draft:
    """Everything of a specimen's result that does not depend on other specimens."""
    if not isinstance(specimen, SpecimenInput):
        draft = Draft(
            ruleset=ruleset, site=None, steps=[NextStep.CORRECT_INPUT], error=ErrorCode.INVALID_TYPE
        )
        draft.note("V0", "her2-rules.md section 3: the input is not a specimen record.")
        return draft
    # Step 1 of section 3 (assay failure) comes before every vocabulary check.
    if specimen.assay_failed is True:
        draft = Draft(ruleset=ruleset, site=None, steps=[NextStep.REPEAT_TEST_NEW_SPECIMEN])
        draft.note(
            "V1",
            "her2-rules.md section 3: the lab reported a technical failure of the assay; "
            "HER2 status is indeterminate, repeat the test on another specimen.",
        )
        return draft
    try:
        if specimen.assay_failed is not False:
            raise InputError(
                "V1", ErrorCode.INVALID_TYPE, "assay_failed", "assay_failed must be a boolean."
            )
        site = read_site(specimen.site)
    except InputError as problem:
        draft = Draft(ruleset=ruleset, site=None)
        draft.fail(problem)
        draft.error_location = problem.location
        return draft
    if site is None:
        return _derive_unknown_site(specimen, ruleset)
    return _derive(specimen, site, ruleset)


def evaluate(specimen: SpecimenInput, ruleset: RuleSet | None = None) -> Her2Result:
    """Derive the HER2 status of one specimen.

    Implements her2-rules.md: validation (section 3), breast (4), gastroesophageal
    (5), qualitative-only results (5.3), other sites (6), unknown site (7),
    next_step priority (8), heterogeneity against ``specimen.prior_results`` (10)
    and the interpretation status (11).

    Args:
        specimen: the specimen's inputs; any values, including invalid ones.
        ruleset: the rule set to apply (default: the service's current one).

    Returns:
        The result, carrying the rule set.  Invalid input gives status
        ``indeterminate`` with an ``error`` code and its location; this function
        does not raise for input.
    """
    draft = draft_for(specimen, ruleset or default_ruleset())
    priors: tuple[PriorResult, ...] = ()
    if isinstance(specimen, SpecimenInput) and draft.error is None:
        priors = specimen.prior_results
    return finish(draft, priors)


__all__ = ["draft_for", "evaluate"]
