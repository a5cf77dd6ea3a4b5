"""``patient-view`` cards, and the parts every card shares (CDS Hooks 2.0, "Card Attributes").

One card per specimen group with a current result: the status, the HER2-low /
ultralow class, the pending next step and any discordance or heterogeneity flag;
``info`` when nothing is pending, ``warning`` when a workup step is pending or a
review is flagged (``critical`` is never used: no HER2 result is an emergency).
The source names the rule set and its version; a link opens the decision view.
Card ``uuid``s are derived from the hook instance, so the feedback endpoint can
tell which card a clinician acted on without the service keeping any state.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Final

from service.cds import wording
from service.fhir.cds_orders import reflex_ish_request
from service.fhir.codes import CANONICAL, CS_STATUS
from service.her2 import Her2Result, NextStep, Site, TherapySelection

CS_OVERRIDE_REASON: Final = f"{CANONICAL}/CodeSystem/her2-cds-override-reason"
OVERRIDE_REASONS: Final = (
    ("newer-result-elsewhere", "A newer HER2 result is documented outside this record"),
    ("tumour-board", "Decided by a multidisciplinary tumour board"),
    ("clinical-trial", "Given within a clinical trial"),
    ("off-label-documented", "Off-label use; the decision is documented"),
)
_NAMESPACE: Final = uuid.UUID("6f1f0c77-5f55-4a8e-9a0e-5a8c5a2c1d40")


@dataclass(frozen=True)
class GroupResult:
    """One specimen group's current result, as the cards need it.

    Attributes:
        key: the group's deterministic key (the status Observation's identifier).
        result: the rule result.
        therapies: the catalog's reference list for its category and site.
        specimen: the ``Specimen/id`` reference, when the group has one.
        date: the specimen's collection or result date (ISO text), if known.
        site: the group's tumour site (None: the site the rules applied, if any).
    """

    key: str
    result: Her2Result
    therapies: TherapySelection
    specimen: str | None = None
    date: str | None = None
    site: Site | None = None

    @property
    def where(self) -> Site | None:
        """The tumour site: the group's, else the one whose rules were applied."""
        return self.site if self.site is not None else self.result.site


@dataclass(frozen=True)
class CardContext:
    """What every card of one hook call shares.

    Attributes:
        hook_instance: the call's ``hookInstance`` (card uuids derive from it).
        patient_id: the patient in context (a valid FHIR id).
        view_url: the public base of the decision view (None: no link).
    """

    hook_instance: str
    patient_id: str
    view_url: str | None


def card_uuid(context: CardContext, *parts: str) -> str:
    """A uuid unique to this hook instance and card (stable for equal inputs)."""
    return str(uuid.uuid5(_NAMESPACE, "|".join((context.hook_instance, *parts))))


def source(result: Her2Result | None) -> dict[str, Any]:
    """The card's source: the rule set and its version (or the service alone)."""
    if result is None:
        return {"label": "her2-status"}
    ruleset = result.ruleset
    return {
        "label": f"her2-status, rule set {ruleset.id} {ruleset.version}",
        "topic": {"system": CS_STATUS, "code": result.status.value, "display": "HER2 status"},
    }


def override_reasons() -> list[dict[str, str]]:
    """The reasons a clinician may pick when overriding a warning."""
    return [
        {"system": CS_OVERRIDE_REASON, "code": code, "display": display}
        for code, display in OVERRIDE_REASONS
    ]


def view_links(context: CardContext) -> list[dict[str, str]]:
    """The link to the patient's decision view (none when no public URL is configured)."""
    if context.view_url is None:
        return []
    return [
        {
            "label": "HER2 decision view (the path through the guideline)",
            "url": f"{context.view_url}/view/Patient/{context.patient_id}",
            "type": "absolute",
        }
    ]


def reflex_ish_suggestion(context: CardContext, group: GroupResult) -> dict[str, Any]:
    """A suggestion creating the draft reflex ISH order for a group's specimen."""
    return {
        "label": "Order reflex HER2 ISH on the same specimen",
        "uuid": card_uuid(context, group.key, "reflex-ish"),
        "actions": [
            {
                "type": "create",
                "description": "Create a draft order for HER2 ISH on the specimen with IHC 2+.",
                "resource": reflex_ish_request(context.patient_id, group.specimen),
            }
        ],
    }


def _where(group: GroupResult) -> str:
    site = wording.SITE_TEXT[group.where]
    date = wording.safe_date(group.date)
    return f"{site}, {date}" if date else site


def summary(group: GroupResult) -> str:
    """``HER2-negative, HER2-low (breast, 2026-01-10)``, with the pending step if any."""
    text = f"{wording.status_phrase(group.result)} ({_where(group)})"
    steps = [s for s in wording.steps_of(group.result) if s not in wording.QUIET_STEPS]
    if steps:
        text += ": " + wording.SHORT_STEP[steps[0]]
    return wording.clip(text)


def _labelled(selection: TherapySelection) -> list[str]:
    if not selection.listings:
        lines = ["- No HER2-directed agent's FDA label covers this result."]
    else:
        lines = [
            f"- {item.agent.name}: {item.setting}"
            for item in selection.listings  # the catalog's own words
        ]
    if selection.note:
        lines.append(f"- {selection.note}")
    return lines


def detail(group: GroupResult) -> str:
    """The card's Markdown: status, class, steps, flags, comment, labelled settings."""
    result = group.result
    # One Markdown list item per fact: single newlines would run them into one line.
    lines = [
        f"**Status:** {wording.status_phrase(result)} ({result.interpretation.value}), "
        f"{_where(group)}.",
    ]
    if result.her2_low is not None or result.ultralow is not None:
        low = {True: "yes", False: "no", None: "unknown"}
        lines.append(
            f"**HER2-low:** {low[result.her2_low]}; **HER2-ultralow:** {low[result.ultralow]}."
        )
    if result.ish_group is not None:
        lines.append(f"**ISH group:** {result.ish_group}.")
    steps = wording.steps_of(result)
    if steps:
        lines.append("**Next steps:** " + "; ".join(wording.STEP_TEXT[s] for s in steps) + ".")
    flags = [
        name
        for step, name in (
            (wording.DISCORDANCE, "discordance between IHC and ISH"),
            (wording.HETEROGENEITY, "heterogeneity across specimens"),
        )
        if step in steps
    ]
    if flags:
        lines.append("**Flags:** " + "; ".join(flags) + ".")
    if result.required_comment:
        lines.append(f"**Required report comment:** {result.required_comment}")
    lines = [f"- {line}" for line in lines]
    lines.append("")
    lines.append("**HER2-directed agents whose FDA label covers this result:**")
    lines += _labelled(group.therapies)
    lines.append("")
    lines.append(
        f"_{group.therapies.disclaimer}_ (catalog {group.therapies.catalog_id} "
        f"{group.therapies.catalog_version}, codes verified {group.therapies.verified_on})"
    )
    return "\n".join(lines)


def patient_view_card(context: CardContext, group: GroupResult) -> dict[str, Any]:
    """The card of one specimen group (see the module)."""
    result = group.result
    card: dict[str, Any] = {
        "uuid": card_uuid(context, group.key, "status"),
        "summary": summary(group),
        "detail": detail(group),
        "indicator": "warning" if wording.needs_attention(result) else "info",
        "source": source(result),
    }
    if NextStep.ORDER_REFLEX_ISH in wording.steps_of(result):
        card["suggestions"] = [reflex_ish_suggestion(context, group)]
        card["selectionBehavior"] = "at-most-one"
    links = view_links(context)
    if links:
        card["links"] = links
    return card


def patient_view_cards(context: CardContext, groups: list[GroupResult]) -> list[dict[str, Any]]:
    """One card per group, most recent specimen first (undated last)."""
    ordered = sorted(groups, key=lambda g: wording.safe_date(g.date) or "", reverse=True)
    return [patient_view_card(context, group) for group in ordered]


__all__ = [
    "CS_OVERRIDE_REASON",
    "CardContext",
    "GroupResult",
    "card_uuid",
    "detail",
    "override_reasons",
    "patient_view_card",
    "patient_view_cards",
    "reflex_ish_suggestion",
    "source",
    "summary",
    "view_links",
]
