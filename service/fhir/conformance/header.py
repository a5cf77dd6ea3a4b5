"""The header every conformance resource of the implementation guide shares."""

from __future__ import annotations

from typing import Any, Final

from service.fhir.codes import CANONICAL

IG_VERSION: Final = "0.1.0"
PUBLISHER: Final = "her2-status open-source project"


def conformance_header(
    resource_type: str,
    rid: str,
    title: str,
    description: str,
    name: str | None = None,
    version: str = IG_VERSION,
) -> dict[str, Any]:
    """The canonical metadata shared by the guide's resources.

    Args:
        resource_type: The FHIR resource type, e.g. ``"CodeSystem"``.
        rid: The resource id; the canonical URL is ``{CANONICAL}/{resource_type}/{rid}``.
        title: Human-readable title.
        description: Markdown description.
        name: Computer-friendly name; by default the id in PascalCase.
        version: Business version; the guide's version unless the resource versions
            something else (the rule-set CodeSystem carries the rule set's version).

    Returns:
        The header elements, in the order the published JSON lists them.
    """
    return {
        "resourceType": resource_type,
        "id": rid,
        "url": f"{CANONICAL}/{resource_type}/{rid}",
        "version": version,
        "name": name or "".join(part.capitalize() for part in rid.split("-")),
        "title": title,
        "status": "active",
        "experimental": False,
        "publisher": PUBLISHER,
        "description": description,
    }
