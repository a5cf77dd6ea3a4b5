"""Trial matches as a FHIR ``searchset`` Bundle of ResearchStudy (issue 14).

The shape is the one the mCODE trial-matching services answer
(``clinical-trial-matching-service``, ``src/searchset.ts``): ``type`` ``searchset``,
``total``, and per trial an entry with the ``ResearchStudy`` and ``search.mode``
``match`` with a ``search.score`` in [0, 1].

Each ResearchStudy carries: ``id`` (the study id when it is a valid FHIR id),
``identifier`` (the NCT number with the mCODE library's ``http://clinicaltrials.gov/``
system; another id without a system), ``title``, ``status`` and ``phase`` (FHIR codes,
``service.fhir.research_study_codes``), ``condition`` and ``keyword`` (as text), and
the HER2 explanation in ``description``: the outcome, each finding's reason and the
verbatim sentence it came from.  The explanation is plain text in a standard element
rather than a new extension, so that every FHIR client shows it.

Scores order the list; they are not probabilities (``SCORES``): a candidate (every
HER2 criterion met) 1, a trial to review by hand (the result cannot answer a
criterion, or a criterion was not understood) 0.5, a trial without HER2 criterion
0.25, an excluded trial 0.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable
from decimal import Decimal
from typing import Any, Final

from service.fhir.issues import Issue, outcome_resource
from service.fhir.research_study_codes import CTGOV_SYSTEM, fhir_phase, fhir_status
from service.trials.matching import Outcome, TrialMatch

SCORES: Final[dict[Outcome, Decimal]] = {
    Outcome.CANDIDATE: Decimal("1"),
    Outcome.NEEDS_REVIEW: Decimal("0.5"),
    Outcome.NOT_UNDERSTOOD: Decimal("0.5"),
    Outcome.NO_HER2_CRITERION: Decimal("0.25"),
    Outcome.EXCLUDED: Decimal("0"),
}

LABELS: Final[dict[Outcome, str]] = {
    Outcome.CANDIDATE: "candidate: every HER2 criterion is met",
    Outcome.NEEDS_REVIEW: "needs review: the HER2 result cannot answer a HER2 criterion",
    Outcome.NOT_UNDERSTOOD: "needs review: a HER2 criterion was not understood",
    Outcome.NO_HER2_CRITERION: "no HER2 criterion: HER2 was not read as a criterion",
    Outcome.EXCLUDED: "excluded by a HER2 criterion",
}

NOT_A_DECISION: Final = (
    "A candidate list for a clinician and a research coordinator, not an eligibility "
    "decision: only HER2 was read."
)

_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_NCT: Final = re.compile(r"NCT[0-9]{8}")
# Entries get stable urn:uuid full URLs derived from the study id.
_NAMESPACE: Final = uuid.UUID("6f1d3a52-9c4e-5b7a-8e21-4a0d2c9b7e15")


def _description(match: TrialMatch) -> str:
    lines = [f"HER2 match (her2-status): {LABELS[match.outcome]}."]
    for finding in match.findings:
        line = f"- {finding.outcome.value}: {finding.reason}"
        criterion = finding.criterion
        if criterion is not None:
            line += f' ({criterion.section.value}, {criterion.source}): "{criterion.sentence}"'
        lines.append(line)
    lines.append(NOT_A_DECISION)
    return "\n".join(lines)


def research_study(match: TrialMatch) -> dict[str, Any]:
    """One trial and its HER2 outcome as a ResearchStudy."""
    study = match.study
    resource: dict[str, Any] = {"resourceType": "ResearchStudy"}
    if _FHIR_ID.fullmatch(study.study_id):
        resource["id"] = study.study_id
    identifier: dict[str, str] = {"use": "official", "value": study.study_id}
    if _NCT.fullmatch(study.study_id):
        identifier["system"] = CTGOV_SYSTEM
    resource["identifier"] = [identifier]
    if study.title.strip():
        resource["title"] = study.title.strip()
    resource["status"] = fhir_status(study.overall_status)
    phase = fhir_phase(study.phases)
    if phase is not None:
        resource["phase"] = phase
    # A FHIR string is never empty: blank conditions or keywords of a source are left out.
    conditions = [c.strip() for c in study.conditions if c.strip()]
    if conditions:
        resource["condition"] = [{"text": c} for c in conditions]
    keywords = [k.strip() for k in study.keywords if k.strip()]
    if keywords:
        resource["keyword"] = [{"text": k} for k in keywords]
    resource["description"] = _description(match)
    return resource


def _entry(match: TrialMatch) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid5(_NAMESPACE, match.study.study_id)}",
        "resource": research_study(match),
        "search": {"mode": "match", "score": SCORES[match.outcome]},
    }


def searchset(
    matches: Iterable[TrialMatch],
    outcomes: Collection[Outcome],
    issues: Iterable[Issue] = (),
) -> dict[str, Any]:
    """The searchset Bundle of the matches whose outcome is in ``outcomes``.

    Args:
        matches: every trial's outcome.
        outcomes: the outcomes answered (the others are left out).
        issues: notes for the caller; when any, one OperationOutcome entry with
            ``search.mode`` ``outcome`` closes the Bundle (not counted in ``total``).

    Returns:
        The Bundle, trials by score (highest first), then by study id.
    """
    chosen = sorted(
        (m for m in matches if m.outcome in outcomes),
        key=lambda m: (-SCORES[m.outcome], m.study.study_id),
    )
    entries = [_entry(m) for m in chosen]
    notes = list(issues)
    if notes:
        entries.append({"resource": outcome_resource(notes), "search": {"mode": "outcome"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(chosen), "entry": entries}


__all__ = ["LABELS", "NOT_A_DECISION", "SCORES", "research_study", "searchset"]
