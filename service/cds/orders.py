"""``order-select`` / ``order-sign`` cards: a HER2-directed agent against the HER2 result.

An order is matched to catalog agents by its codings only: an RxNorm code equal to
an agent's catalog code, or an ATC code equal to an agent's ATC code.  RxNorm
ingredients roll up (both ADCs roll up to trastuzumab, 224905), so a code that is
not the catalog's own is never widened to an agent; an ATC code shared by two agents
(L01FD01: trastuzumab IV and SC) matches both, and the label counts as covering the
result only when it covers it for every one of them.

The patient's current results are the most recent specimen group of each site.
For each matched agent and current result one card: ``info`` when the catalog lists
the agent for the result's category and site (the card quotes the labelled
setting), ``warning`` with override reasons when it does not, or when the status is
equivocal or indeterminate, or when no HER2 result is found.  When reflex ISH is
the pending step, the warning carries a suggestion to order it.  The wording says
what the FDA label covers; it never recommends or discourages a treatment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from service.cds import wording
from service.cds.cards import (
    CardContext,
    GroupResult,
    card_uuid,
    override_reasons,
    reflex_ish_suggestion,
    source,
    view_links,
)
from service.fhir.cds_orders import DraftOrder
from service.her2 import Agent, Catalog, NextStep, Status


@dataclass(frozen=True)
class Match:
    """The catalog agents one draft order names (one or more)."""

    agents: tuple[Agent, ...]

    @property
    def key(self) -> str:
        """A stable key of the matched agents (for card uuids)."""
        return "+".join(agent.id for agent in self.agents)

    @property
    def name(self) -> str:
        """The agents' short names (without the catalog's parenthesis), for the summary."""
        return " or ".join(agent.name.split(" (")[0] for agent in self.agents)


def match_agents(order: DraftOrder, catalog: Catalog) -> Match | None:
    """The catalog agents an order names by RxNorm or ATC code, or None.

    RxNorm and ATC matches that agree narrow each other (their intersection); codings
    that disagree (an ADC ordered under the trastuzumab ingredient code with its own
    ATC code) give every agent either names, so the card holds for all of them.
    """
    rxnorm, atc = catalog.code_systems["rxnorm"], catalog.code_systems["atc"]
    agents = list(catalog.agents.values())
    by_rxnorm = [a for a in agents if (rxnorm, a.rxnorm) in order.codings]
    by_atc = [a for a in agents if a.atc is not None and (atc, a.atc) in order.codings]
    both = [a for a in by_rxnorm if a in by_atc]
    chosen = both or [a for a in agents if a in by_rxnorm or a in by_atc]
    return Match(tuple(chosen)) if chosen else None


def current_results(groups: list[GroupResult]) -> list[GroupResult]:
    """The most recent group of each site (undated groups count as oldest)."""
    latest: dict[object, GroupResult] = {}
    for group in groups:
        site = group.where
        known = latest.get(site)
        if known is None or (wording.safe_date(group.date) or "") > (
            wording.safe_date(known.date) or ""
        ):
            latest[site] = group
    return list(latest.values())


def _settings(match: Match, group: GroupResult) -> list[str] | None:
    """The labelled setting of each agent for this group's category, None if one lacks it."""
    listed = {item.agent.id: item.setting for item in group.therapies.listings}
    if not all(agent.id in listed for agent in match.agents):
        return None
    return [f"{agent.name}: {listed[agent.id]}" for agent in match.agents]


def _labels(match: Match) -> str:
    return "\n".join(f"- {agent.name}: {agent.labelled_settings}" for agent in match.agents)


def _warning(
    context: CardContext, match: Match, key: str, summary: str, detail: str
) -> dict[str, Any]:
    return {
        "uuid": card_uuid(context, key, match.key, "order-check"),
        "summary": wording.clip(summary),
        "detail": detail,
        "indicator": "warning",
        "overrideReasons": override_reasons(),
    }


def order_card(context: CardContext, match: Match, group: GroupResult) -> dict[str, Any]:
    """The card of one matched agent against one current result (see the module)."""
    result = group.result
    category = group.therapies.category
    where = wording.SITE_TEXT[group.where]
    date = wording.safe_date(group.date)
    seen = f"{wording.status_phrase(result)} ({where}{', ' + date if date else ''})"
    disclaimer = f"_{group.therapies.disclaimer}_"
    if result.status in (Status.EQUIVOCAL, Status.INDETERMINATE):
        steps = wording.steps_of(result)
        pending = wording.STEP_TEXT[steps[0]] if steps else "the status is not resolved"
        card = _warning(
            context,
            match,
            group.key,
            f"{match.name}: HER2 status is {result.status.value}; no label covers an "
            "unresolved status",
            f"The current HER2 result is **{seen}**: {pending}. The FDA labels of "
            "HER2-directed agents cover resolved HER2 categories only.\n\n"
            f"**What the label covers:**\n{_labels(match)}\n\n{disclaimer}",
        )
        if NextStep.ORDER_REFLEX_ISH in steps:
            card["suggestions"] = [reflex_ish_suggestion(context, group)]
            card["selectionBehavior"] = "at-most-one"
    else:
        settings = _settings(match, group)
        if settings is not None:
            card = {
                "uuid": card_uuid(context, group.key, match.key, "order-check"),
                "summary": wording.clip(
                    f"{match.name}: the label covers {wording.CATEGORY_TEXT[category]}"
                ),
                "detail": f"The current HER2 result is **{seen}**.\n\n"
                "**Labelled setting for this result:**\n"
                + "\n".join(f"- {line}" for line in settings)
                + f"\n\n{disclaimer}",
                "indicator": "info",
            }
        else:
            card = _warning(
                context,
                match,
                group.key,
                f"{match.name}: the label does not cover {wording.CATEGORY_TEXT[category]}",
                f"The current HER2 result is **{seen}**. The therapy catalog "
                f"({group.therapies.catalog_id} {group.therapies.catalog_version}) does not "
                "list this agent for that HER2 category and site.\n\n"
                f"**What the label covers:**\n{_labels(match)}\n\n{disclaimer}",
            )
    card["source"] = source(result)
    links = view_links(context)
    if links:
        card["links"] = links
    return card


def no_result_card(context: CardContext, match: Match, disclaimer: str) -> dict[str, Any]:
    """The warning when a HER2-directed agent is ordered and no HER2 result is found."""
    card = _warning(
        context,
        match,
        "no-result",
        f"{match.name}: no HER2 IHC or ISH result was found for this patient",
        "The FDA labels of HER2-directed agents name a HER2 category; no HER2 IHC or ISH "
        f"result was found in the data available to this service.\n\n"
        f"**What the label covers:**\n{_labels(match)}\n\n_{disclaimer}_",
    )
    card["source"] = source(None)
    return card


def order_cards(
    context: CardContext, orders: list[DraftOrder], groups: list[GroupResult], catalog: Catalog
) -> list[dict[str, Any]]:
    """The cards of every draft order that names a catalog agent (see the module)."""
    current = current_results(groups)
    cards: list[dict[str, Any]] = []
    seen: set[str] = set()
    for order in orders:
        match = match_agents(order, catalog)
        if match is None or match.key in seen:
            continue
        seen.add(match.key)
        if not current:
            cards.append(no_result_card(context, match, catalog.disclaimer))
            continue
        cards.extend(order_card(context, match, group) for group in current)
    return cards


__all__ = [
    "Match",
    "current_results",
    "match_agents",
    "no_result_card",
    "order_card",
    "order_cards",
]
