"""The guide as a FHIR NPM package: ``package.json`` and the ImplementationGuide resource."""

from __future__ import annotations

from typing import Any, Final

from service.fhir.codes import CANONICAL
from service.fhir.conformance.header import IG_VERSION, PUBLISHER, conformance_header

PACKAGE_ID: Final = "her2-status.fhir"
# THO: the guide's resources use its code systems (e.g. observation-category).
TERMINOLOGY: Final = ("hl7.terminology.r4", "7.0.1")
_DESCRIPTION: Final = (
    "Profiles, extensions, terminology and the $her2-status operation of the her2-status "
    "service, which derives HER2 status from FHIR R4 pathology results."
)


def package_json() -> dict[str, Any]:
    """The npm manifest that makes ``fhir_profiles/`` a loadable FHIR package."""
    return {
        "name": PACKAGE_ID,
        "version": IG_VERSION,
        "description": _DESCRIPTION,
        "author": PUBLISHER,
        "license": "Apache-2.0",
        "canonical": CANONICAL,
        "url": CANONICAL,
        "type": "IG",
        "fhirVersions": ["4.0.1"],
        "dependencies": {"hl7.fhir.r4.core": "4.0.1", TERMINOLOGY[0]: TERMINOLOGY[1]},
    }


def implementation_guide(
    resources: dict[str, dict[str, Any]], examples: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The ImplementationGuide listing every resource of the package.

    Args:
        resources: The conformance resources, by file name.
        examples: The example instances, by file name.

    Returns:
        The ImplementationGuide as FHIR JSON.
    """
    listed = [_entry(r, None) for r in resources.values()]
    listed += [
        _entry(r, (r.get("meta") or {}).get("profile", [None])[0]) for r in examples.values()
    ]
    return {
        **conformance_header(
            "ImplementationGuide", "her2-status", "her2-status implementation guide", _DESCRIPTION
        ),
        "license": "Apache-2.0",
        "packageId": PACKAGE_ID,
        "fhirVersion": ["4.0.1"],
        "dependsOn": [
            {
                "id": "tho",
                "uri": "http://terminology.hl7.org/ImplementationGuide/hl7.terminology",
                "packageId": TERMINOLOGY[0],
                "version": TERMINOLOGY[1],
            }
        ],
        "definition": {"resource": listed},
    }


def _entry(resource: dict[str, Any], profile: str | None) -> dict[str, Any]:
    name = resource.get("title") or resource.get("name") or resource["id"]
    entry: dict[str, Any] = {
        "reference": {"reference": f"{resource['resourceType']}/{resource['id']}"},
        "name": name,
    }
    if profile:
        entry["exampleCanonical"] = profile
    else:
        # Conformance resources, and examples of no profile (the Device outputs cite).
        entry["exampleBoolean"] = resource["resourceType"] == "Device"
    return entry
