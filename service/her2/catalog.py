"""The HER2-directed therapy catalog (therapy-catalog.md) and its category selection.

The catalog is data (``data/therapy_catalog.json``) with its own version and
verification date, so that a pharmacist can review and update it without
touching code.  It is checked for internal consistency when loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from service.her2.model import Her2Result, Site, Status


class CatalogError(ValueError):
    """The catalog data file is malformed (a packaging defect, not bad input)."""


@dataclass(frozen=True)
class TherapyClass:
    """A class of the project's her2-therapy-class code system."""

    code: str
    display: str
    atc_group: str | None


@dataclass(frozen=True)
class Agent:
    """One HER2-directed agent with its codes (None where a code is unverified)."""

    id: str
    name: str
    therapy_class: TherapyClass
    rxnorm: str
    rxnorm_tty: str
    atc: str | None
    ncit: str | None
    labelled_settings: str


@dataclass(frozen=True)
class TherapyListing:
    """An agent listed for a category, with the labelled setting for that category."""

    agent: Agent
    setting: str


@dataclass(frozen=True)
class TherapySelection:
    """The reference list for one result: the category, its agents and a note."""

    category: str
    listings: tuple[TherapyListing, ...]
    note: str | None
    disclaimer: str
    catalog_id: str
    catalog_version: str
    verified_on: str

    @property
    def classes(self) -> tuple[TherapyClass, ...]:
        """The distinct therapy classes of the listed agents, in listing order."""
        seen: dict[str, TherapyClass] = {}
        for listing in self.listings:
            seen.setdefault(listing.agent.therapy_class.code, listing.agent.therapy_class)
        return tuple(seen.values())


@dataclass(frozen=True)
class Catalog:
    """The loaded catalog."""

    catalog_id: str
    version: str
    verified_on: str
    disclaimer: str
    code_systems: dict[str, str]
    classes: dict[str, TherapyClass]
    agents: dict[str, Agent]
    categories: dict[str, tuple[tuple[TherapyListing, ...], str | None]]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise CatalogError(message)


def _parse(data: dict[str, Any]) -> Catalog:
    classes = {
        c["code"]: TherapyClass(c["code"], c["display"], c.get("atc_group"))
        for c in data["classes"]
    }
    agents: dict[str, Agent] = {}
    for a in data["agents"]:
        _require(a["class"] in classes, f"agent {a['id']}: unknown class {a['class']}")
        _require(a["id"] not in agents, f"agent {a['id']} listed twice")
        agents[a["id"]] = Agent(
            id=a["id"],
            name=a["name"],
            therapy_class=classes[a["class"]],
            rxnorm=a["rxnorm"]["code"],
            rxnorm_tty=a["rxnorm"]["tty"],
            atc=a.get("atc"),
            ncit=a.get("ncit"),
            labelled_settings=a["labelled_settings"],
        )
    categories: dict[str, tuple[tuple[TherapyListing, ...], str | None]] = {}
    for key, entry in data["categories"].items():
        listings = []
        for item in entry["agents"]:
            _require(item["agent"] in agents, f"category {key}: unknown agent {item['agent']}")
            listings.append(TherapyListing(agents[item["agent"]], item["setting"]))
        categories[key] = (tuple(listings), entry.get("note"))
    missing = _CATEGORIES - categories.keys()
    _require(not missing, f"categories missing: {sorted(missing)}")
    return Catalog(
        catalog_id=data["catalog_id"],
        version=data["version"],
        verified_on=data["verification"]["date"],
        disclaimer=data["disclaimer"],
        code_systems=dict(data["code_systems"]),
        classes=classes,
        agents=agents,
        categories=categories,
    )


_CATEGORIES = frozenset(
    {
        "breast/positive",
        "breast/her2-low",
        "breast/her2-ultralow",
        "breast/her2-0",
        "breast/negative-ihc0-unclassified",
        "breast/negative-unclassified",
        "gastroesophageal/positive",
        "gastroesophageal/negative",
        "other/ihc-3+",
        "site-unknown",
        "unresolved",
    }
)


@cache
def load_catalog() -> Catalog:
    """Load and check the packaged catalog (once per process).

    Raises:
        CatalogError: when the data file is inconsistent (unknown agent or class,
            a category missing).
    """
    text = (
        resources.files("service.her2")
        .joinpath("data/therapy_catalog.json")
        .read_text(encoding="utf-8")
    )
    try:
        return _parse(json.loads(text))
    except (KeyError, TypeError) as exc:
        raise CatalogError(f"therapy catalog is malformed: {exc!r}") from exc


def category_for(result: Her2Result, site: Site | None) -> str:
    """The catalog category of a result (therapy-catalog.md, "Category -> agents").

    Args:
        result: the derived HER2 result.
        site: the tumour site the result was derived for (None when unknown).

    Returns:
        A key of the catalog's ``categories``.
    """
    if result.status not in (Status.POSITIVE, Status.NEGATIVE):
        return "unresolved"
    if site is None:
        return "site-unknown"
    positive = result.status is Status.POSITIVE
    if site is Site.BREAST:
        if positive:
            return "breast/positive"
        if result.her2_low is True:
            return "breast/her2-low"
        if result.ultralow is True:
            return "breast/her2-ultralow"
        if result.her2_low is False and result.ultralow is False:
            return "breast/her2-0"
        if result.her2_low is False and result.ultralow is None:
            return "breast/negative-ihc0-unclassified"
        return "breast/negative-unclassified"
    if site is Site.GASTROESOPHAGEAL:
        return "gastroesophageal/positive" if positive else "gastroesophageal/negative"
    # Other sites: only IHC 3+ is ever positive there (her2-rules.md section 6).
    return "other/ihc-3+" if positive else "unresolved"


def therapies_for(
    result: Her2Result, site: Site | None = None, catalog: Catalog | None = None
) -> TherapySelection:
    """The HER2-directed agents whose label covers this result's category and site.

    Reference information, not a recommendation.  Equivocal and indeterminate
    results list nothing; T-DXd alone is listed for HER2-low and HER2-ultralow.

    Args:
        result: the derived HER2 result.
        site: the tumour site; defaults to the site the result was derived for.
        catalog: a catalog to use instead of the packaged one (for review tooling).

    Returns:
        The selection, possibly with no agents (then no list is written).
    """
    catalog = catalog or load_catalog()
    category = category_for(result, site if site is not None else result.site)
    listings, note = catalog.categories[category]
    return TherapySelection(
        category=category,
        listings=listings,
        note=note,
        disclaimer=catalog.disclaimer,
        catalog_id=catalog.catalog_id,
        catalog_version=catalog.version,
        verified_on=catalog.verified_on,
    )
