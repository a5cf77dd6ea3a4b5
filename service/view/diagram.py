"""The path one result took through the guideline's algorithm (a marked ``flows`` tree).

A step is *matched* when one of its rule ids is among the result's rationale ids
(and the specimen's IHC passes its guard); it is *taken* when it is matched or a
step after it is.  So the highlighted path is exactly what the engine's rationale
says fired, never a second reading of the inputs; the input values are only printed
on the steps taken ("the numbers used").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from service.her2 import Her2Result, IhcScore, Invalid, IshInput, Site, SpecimenInput
from service.her2.numbers import Bound, describe
from service.view.flows import FRAME, Flow, Step, figures

Values = dict[str, str]


@dataclass
class Marked:
    """One step of a flow, marked for one result.

    Attributes:
        step: the step of the algorithm.
        matched: the result's rule ids this step stands for.
        taken: whether the path goes through this step.
        order: 1, 2, … along the path (None when not taken).
        values: the input values printed on the step (taken steps only).
        children: the marked steps that follow.
    """

    step: Step
    matched: tuple[str, ...]
    taken: bool
    values: str | None = None
    order: int | None = None
    children: list[Marked] = field(default_factory=list)


@dataclass
class MarkedFlow:
    """One figure marked for one result."""

    flow: Flow
    root: Marked

    @property
    def taken(self) -> bool:
        """Whether the path goes through this figure."""
        return self.root.taken

    def steps(self) -> list[Marked]:
        """Every marked step, depth first."""
        found: list[Marked] = []
        stack = [self.root]
        while stack:
            node = stack.pop()
            found.append(node)
            stack.extend(reversed(node.children))
        return found

    def path(self) -> list[Marked]:
        """The steps taken, in order."""
        return [m for m in self.steps() if m.taken]

    def matched_ids(self) -> set[str]:
        """The result's rule ids found on this figure."""
        return {rule for m in self.steps() for rule in m.matched}


def _number(value: object) -> str | None:
    if isinstance(value, Decimal):
        return describe(value)
    if isinstance(value, Bound):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


_CALL_KEYS = {
    "positive": "positive-call",
    "equivocal": "equivocal-call",
    "negative": "negative-call",
}


def ihc_key(spec: SpecimenInput) -> str:
    """The IHC column of the tables for a specimen (as ``validation.Ihc.key``)."""
    score = spec.ihc_score
    if isinstance(score, IhcScore):
        if score is IhcScore.ZERO and spec.ihc0_ultralow_assessed is False:
            return "0-unassessed"
        return score.value
    call = spec.ihc_call
    if call is not None and not isinstance(call, Invalid):
        return _CALL_KEYS[call.value]
    return "none"


def _ish_values(ish: IshInput | Invalid | None, prefix: str = "") -> Values:
    if not isinstance(ish, IshInput):
        return {}
    values: Values = {}
    ratio = _number(ish.her2_cep17_ratio)
    her2, cep17 = _number(ish.avg_her2_copies), _number(ish.avg_cep17_copies)
    if ratio is not None:
        values["ratio"] = f"{prefix}ratio {ratio}"
    elif her2 is not None and cep17 is not None:
        values["ratio"] = f"{prefix}ratio from {her2}/{cep17}"
    if her2 is not None:
        values["her2"] = f"{prefix}HER2 {her2}/cell"
    if cep17 is not None:
        values["cep17"] = f"{prefix}CEP17 {cep17}/cell"
    cells = _number(ish.cells_counted)
    if cells is not None:
        values["cells"] = f"{cells} cells"
    if not values and ish.lab_call is not None and not isinstance(ish.lab_call, Invalid):
        values["ratio"] = f"{prefix}call {ish.lab_call.value}"
    return values


def values_of(spec: SpecimenInput, result: Her2Result) -> Values:
    """The input values a diagram prints on its steps, as short texts."""
    values = _ish_values(spec.ish)
    key = ihc_key(spec)
    if key != "none":
        text = "IHC " + key.replace("-call", " (call only)")
        if spec.ihc_same_specimen is False:
            text += ", other tissue"
        values["ihc"] = text
    else:
        values["ihc"] = "no IHC"
    if result.ish_group is not None:
        values["group"] = f"group {result.ish_group}"
    recount = _ish_values(spec.ish_recount, "recount ")
    if recount:
        values["recount"] = ", ".join(v for k, v in recount.items() if k in ("ratio", "her2"))
    return values


def _mark(step: Step, fired: set[str], key: str, values: Values) -> Marked:
    children = [_mark(child, fired, key, values) for child in step.children]
    guarded = step.ihc is None or key in step.ihc
    matched = tuple(r for r in step.rule_ids if r in fired) if guarded else ()
    taken = bool(matched) or any(child.taken for child in children)
    shown = None
    if taken:
        shown = ", ".join(values[k] for k in step.shows if k in values) or None
    return Marked(step, matched, taken, shown, None, children)


def mark(flow: Flow, result: Her2Result, spec: SpecimenInput) -> MarkedFlow:
    """Mark one figure with the path of one result."""
    marked = MarkedFlow(
        flow, _mark(flow.root, set(result.rule_ids), ihc_key(spec), values_of(spec, result))
    )
    # The frame's root ("Specimen") is where every path starts: it is not a step.
    path = [m for m in marked.path() if not (m is marked.root and flow is FRAME)]
    for number, step in enumerate(path, start=1):
        step.order = number
    return marked


def flows_for(result: Her2Result) -> tuple[Flow, ...]:
    """The figures of the result's site (both tables when the site is unknown).

    They are drawn with the thresholds of the rule set that produced the result.
    """
    drawn = figures(result.ruleset.thresholds)
    if result.site is Site.BREAST:
        return drawn.breast
    if result.site is Site.GASTROESOPHAGEAL:
        return drawn.gastroesophageal
    if result.site is Site.OTHER:
        return drawn.other
    return drawn.breast + drawn.gastroesophageal


def diagrams(result: Her2Result, spec: SpecimenInput) -> list[MarkedFlow]:
    """The marked figures of one result: the site's figures (taken ones first), the frame."""
    marked = [mark(flow, result, spec) for flow in flows_for(result)]
    marked.sort(key=lambda m: not m.taken)  # stable: the guideline's order otherwise
    return [*marked, mark(FRAME, result, spec)]


def path_text(marked: MarkedFlow) -> list[str]:
    """The path in words, one sentence per step taken (the diagram's text alternative)."""
    lines = []
    for step in marked.path():
        if step is marked.root and marked.flow is FRAME:
            continue
        text = step.step.label
        if step.step.edge:
            text = f"{step.step.edge}: {text}"
        if step.values:
            text += f" ({step.values})"
        if step.matched:
            text += " [" + ", ".join(step.matched) + "]"
        lines.append(text)
    return lines


__all__ = ["Marked", "MarkedFlow", "diagrams", "flows_for", "ihc_key", "mark", "path_text"]
