"""What the decision view shows, built from a derivation (no HTML here).

One :class:`GroupView` per derived specimen group (status, classes, steps, the
figures with the path, the rationale, the required comment, the therapy reference
list, the inputs used and those set aside) and one :class:`PatientView` per
subject (the specimens on a timeline with their flags).  The texts are the
engine's own; the only wording added here is the plain-language name of each
next step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from service.app.derivation import Derivation, GroupOutput
from service.fhir.issues import Issue
from service.her2 import Her2Result, NextStep, Status
from service.view.diagram import diagrams, path_text
from service.view.svg import draw
from service.view.timeline import Point, draw_timeline

NEXT_STEP_TEXT: dict[NextStep, str] = {
    NextStep.ORDER_REFLEX_ISH: "Order reflex ISH on the same specimen",
    NextStep.CONCURRENT_IHC_REVIEW: "Review concurrent IHC on the same tissue as the ISH",
    NextStep.ISH_RECOUNT_BLINDED_OBSERVER: "ISH recount by a blinded second observer",
    NextStep.INTERNAL_ADJUDICATION: "Internal adjudication (the recount changed group)",
    NextStep.NEGATIVE_WITH_REQUIRED_COMMENT: "Report as negative with the required comment",
    NextStep.ORDER_DUAL_PROBE_ISH: "Order dual-probe ISH",
    NextStep.ORDER_IHC_AND_OR_DUAL_PROBE_ISH: "Order IHC and/or dual-probe ISH",
    NextStep.CONCURRENT_IHC_REVIEW_RECOMMENDED: "Concurrent IHC review recommended",
    NextStep.ORDER_IHC: "Order IHC",
    NextStep.PATHOLOGIST_REVIEW_DISCORDANCE: "Pathologist review: the tests disagree",
    NextStep.PATHOLOGIST_REVIEW: "Pathologist review",
    NextStep.CLINICIAN_REVIEW_HETEROGENEITY: "Clinician review: specimens differ over time",
    NextStep.REPEAT_TEST_NEW_SPECIMEN: "Repeat the test on a new specimen",
    NextStep.OBTAIN_HER2_TESTING: "Obtain HER2 testing",
    NextStep.CORRECT_INPUT: "Correct the input",
    NextStep.COUNT_ADDITIONAL_CELLS: "Count additional cells",
    NextStep.NO_SITE_SPECIFIC_GUIDELINE: "No site-specific guideline applies",
    NextStep.SPECIFY_TUMOR_SITE: "Specify the tumour site",
}


def _yes_no(value: bool | None) -> str:
    return {True: "yes", False: "no", None: "unknown"}[value]


def negative_class(result: Her2Result) -> str | None:
    """HER2-low / HER2-ultralow / HER2-0 for a negative (None when not negative)."""
    if result.status is not Status.NEGATIVE:
        return None
    if result.her2_low:
        return "HER2-low"
    if result.ultralow:
        return "HER2-ultralow"
    if result.her2_low is False and result.ultralow is False:
        return "HER2-0"
    return "HER2-low/ultralow class unknown"


@dataclass(frozen=True)
class Figure:
    """One algorithm figure with the path drawn on it."""

    uid: str
    title: str
    source: str
    svg: Markup
    path: list[str]
    taken: bool


@dataclass(frozen=True)
class InputUsed:
    """An input the result rests on: its reference (or place in the request) and fields."""

    reference: str
    kind: str
    fields: list[str]


@dataclass(frozen=True)
class SetAside:
    """Something present that the result does not rest on, with the reason."""

    what: str
    reason: str


@dataclass
class GroupView:
    """One derived specimen group, as the view shows it."""

    anchor: str
    key: str
    subject: str | None
    specimen: str | None
    date: str | None
    site: str
    site_basis: str
    result: Her2Result
    negative_class: str | None
    her2_low: str
    ultralow: str
    steps: list[tuple[str, str]]
    discordance: bool
    heterogeneity: bool
    figures: list[Figure]
    inputs: list[InputUsed]
    set_aside: list[SetAside]
    notes: list[str]
    therapies: list[tuple[str, str, str]]
    disclaimer: str
    therapy_note: str | None
    catalog: str

    @property
    def rule_ids(self) -> list[str]:
        """The result's rule ids (the path drawn on the figures)."""
        return list(dict.fromkeys(self.result.rule_ids))


@dataclass
class PatientView:
    """One subject's specimens in date order."""

    subject: str
    groups: list[GroupView] = field(default_factory=list)
    earlier: list[tuple[str, str]] = field(default_factory=list)
    timeline: Markup = field(default_factory=Markup)


def _inputs(output: GroupOutput) -> list[InputUsed]:
    group = output.derived.group
    by_path: dict[str, list[str]] = {}
    for name, path in group.field_paths.items():
        by_path.setdefault(path.split(".value", 1)[0].split(".component", 1)[0], []).append(name)
    used = []
    for node in group.used:
        reference = node.reference() or node.path
        fields = sorted(
            {f for p, names in by_path.items() if p.startswith(node.path) for f in names}
        )
        used.append(InputUsed(reference, node.type or "resource", fields))
    return used


def _set_aside(output: GroupOutput) -> list[SetAside]:
    group, result = output.derived.group, output.derived.result
    aside = [
        SetAside(node.reference() or node.path, "entered-in-error: withdrawn by the lab")
        for node in group.withdrawn
    ]
    for location in result.unusable_inputs:
        aside.append(
            SetAside(
                group.field_paths.get(location, location),
                "carries nothing usable; the IHC alone fixes the status (her2-rules.md §3.7)",
            )
        )
    return aside


def group_view(output: GroupOutput, index: int) -> GroupView:
    """The view of one derived group (``index`` numbers the groups of one page)."""
    derived = output.derived
    group, result, selection = derived.group, derived.result, derived.therapies
    steps = [s for s in (result.next_step, *result.additional_steps) if s is not None]
    figures = []
    for number, marked in enumerate(diagrams(result, group.spec), start=1):
        uid = f"g{index}-f{number}"
        figures.append(
            Figure(
                uid,
                marked.flow.title,
                marked.flow.source,
                draw(marked, uid),
                path_text(marked),
                marked.taken,
            )
        )
    return GroupView(
        anchor=f"group-{index}",
        key=output.key,
        subject=group.subject,
        specimen=group.specimen,
        date=group.effective_text,
        site=result.site.value if result.site else "unknown",
        site_basis=group.site_basis,
        result=result,
        negative_class=negative_class(result),
        her2_low=_yes_no(result.her2_low),
        ultralow=_yes_no(result.ultralow),
        steps=[(s.value, NEXT_STEP_TEXT[s]) for s in steps],
        discordance=NextStep.PATHOLOGIST_REVIEW_DISCORDANCE in steps,
        heterogeneity=NextStep.CLINICIAN_REVIEW_HETEROGENEITY in steps,
        figures=figures,
        inputs=_inputs(output),
        set_aside=_set_aside(output),
        notes=list(group.notes),
        therapies=[
            (item.agent.name, item.agent.therapy_class.display, item.setting)
            for item in selection.listings
        ],
        disclaimer=selection.disclaimer,
        therapy_note=selection.note,
        catalog=f"{selection.catalog_id} {selection.catalog_version}, "
        f"codes verified {selection.verified_on}",
    )


def patients(groups: list[GroupView], outputs: list[GroupOutput]) -> list[PatientView]:
    """The groups by subject, oldest specimen first, with earlier results in the request."""
    by_subject: dict[str, PatientView] = {}
    for view, output in zip(groups, outputs, strict=True):
        subject = view.subject or "no subject"
        patient = by_subject.setdefault(subject, PatientView(subject))
        patient.groups.append(view)
        for prior in output.derived.group.spec.prior_results:
            status = getattr(prior.status, "value", None)
            if isinstance(status, str):
                entry = (prior.date or "undated", status)
                if entry not in patient.earlier:
                    patient.earlier.append(entry)
    for number, patient in enumerate(by_subject.values(), start=1):
        # Undated specimens last (they cannot be placed in time).
        patient.groups.sort(key=lambda g: (g.date is None, g.date or ""))
        patient.earlier.sort()
        points = []
        for g in patient.groups:
            flags = [
                text
                for on, text in (
                    (g.heterogeneity, "heterogeneity: earlier specimens differ"),
                    (g.discordance, "discordance: the tests disagree"),
                )
                if on
            ]
            points.append(
                Point(
                    g.date,
                    f"{g.specimen or g.key} ({g.site})",
                    g.result.status.value,
                    g.negative_class or "",
                    tuple(flags),
                    g.anchor,
                )
            )
        patient.timeline = draw_timeline(points, f"timeline-{number}")
    return list(by_subject.values())


@dataclass
class PageView:
    """Everything one page shows for one derivation."""

    groups: list[GroupView]
    patients: list[PatientView]
    issues: list[Issue]
    ruleset: str | None


def page_view(derivation: Derivation) -> PageView:
    """The view of a derivation: groups, patients and the request's issues."""
    groups = [group_view(output, i) for i, output in enumerate(derivation.outputs, start=1)]
    ruleset = None
    if derivation.outputs:
        rules = derivation.outputs[0].derived.result.ruleset
        ruleset = f"{rules.label}: " + "; ".join(rules.guidelines)
    return PageView(groups, patients(groups, derivation.outputs), derivation.issues, ruleset)


__all__ = ["NEXT_STEP_TEXT", "GroupView", "PageView", "PatientView", "negative_class", "page_view"]
