"""The store port in memory: a dict of resources, for tests and local runs.

It behaves as the FHIR server does where write-back depends on it: every write
makes a new ``meta.versionId``; ``PUT Type?identifier=system|value`` updates the
one match (or creates), honouring ``ifMatch``; ``POST Type`` creates with a new
id; a transaction is applied whole or not at all, and its ``urn:uuid`` references
are resolved to the written ids.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Iterator
from typing import Any
from urllib.parse import parse_qs

from service.app.fhir_store import specimen_references
from service.clients.errors import FhirPreconditionFailed, FhirTooManyMatches


def _has_identifier(resource: dict[str, Any], system: str, value: str | None) -> bool:
    return any(
        i.get("system") == system and (value is None or i.get("value") == value)
        for i in resource.get("identifier", [])
    )


def _subject_is(resource: dict[str, Any], patient_id: str) -> bool:
    return (resource.get("subject") or {}).get("reference") == f"Patient/{patient_id}"


class MemoryStore:
    """Resources by ``Type/id``, versioned."""

    def __init__(self, base_url: str = "http://memory.test/fhir") -> None:
        self._base_url = base_url
        self.resources: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.commits = 0

    @property
    def base_url(self) -> str:
        """A base for absolute ``fullUrl``s."""
        return self._base_url

    # --- seeding (tests, local runs) ------------------------------------------------

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Store ``resource`` under its own id as a new version; return the stored copy."""
        return copy.deepcopy(self._write(self.resources, resource, resource["id"]))

    # --- the port ---------------------------------------------------------------------

    def patient_inputs(self, patient_id: str, codes: Collection[tuple[str, str]]) -> dict[str, Any]:
        """The patient's Observations with a recognised code, reports, conditions, specimens."""
        wanted = set(codes)
        found = {
            ref: r
            for ref, r in self.resources.items()
            if _subject_is(r, patient_id)
            and (
                r["resourceType"] in ("DiagnosticReport", "Condition")
                or (
                    r["resourceType"] == "Observation"
                    and any(
                        (c.get("system"), c.get("code")) in wanted
                        for c in (r.get("code") or {}).get("coding", [])
                    )
                )
            )
        }
        for ref in sorted(specimen_references(found.values(), self._base_url)):
            if ref in self.resources:
                found[ref] = self.resources[ref]
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {"fullUrl": f"{self._base_url}/{ref}", "resource": copy.deepcopy(r)}
                for ref, r in found.items()
            ],
        }

    def find(self, resource_type: str, system: str, key: str) -> dict[str, Any] | None:
        """The one resource with identifier ``system|key``."""
        found = list(self._matching(self.resources, resource_type, system, key))
        if len(found) > 1:
            raise FhirTooManyMatches(f"{resource_type} identifier matched {len(found)}")
        return copy.deepcopy(found[0]) if found else None

    def exists(self, reference: str) -> bool:
        """Whether ``Type/id`` is stored."""
        return reference in self.resources

    def status_observations(self, patient_id: str, system: str) -> list[dict[str, Any]]:
        """The patient's Observations with an identifier of ``system``."""
        return [
            copy.deepcopy(r)
            for r in self._matching(self.resources, "Observation", system, None)
            if _subject_is(r, patient_id)
        ]

    def update(self, resource: dict[str, Any]) -> dict[str, Any]:
        """PUT Type/id: a new version under the resource's own id."""
        return self.put(resource)

    def commit(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Apply every PUT of a transaction on a copy; keep the copy only if all succeed."""
        staged = copy.deepcopy(self.resources)
        written: list[tuple[str, dict[str, Any]]] = []
        for entry in bundle["entry"]:
            request = entry["request"]
            if request["method"] not in ("PUT", "POST"):
                raise ValueError(f"unsupported transaction method {request['method']}")
            resource = entry["resource"]
            path, _, query = request["url"].partition("?")
            if request["method"] == "POST":
                # A create: a new id assigned by the store.
                current, logical_id = None, str(next(self._ids))
            elif query:
                system, _, key = parse_qs(query)["identifier"][0].partition("|")
                found = list(self._matching(staged, path, system, key))
                if len(found) > 1:
                    raise FhirTooManyMatches(f"{path} identifier matched {len(found)}")
                current = found[0] if found else None
                logical_id = current["id"] if current else str(next(self._ids))
            else:
                current = staged.get(path)
                logical_id = path.split("/", 1)[1]
            expected = request.get("ifMatch")
            version = ((current or {}).get("meta") or {}).get("versionId")
            if expected is not None and expected != f'W/"{version}"':
                # What was read is no longer what is stored: another writer came first.
                raise FhirPreconditionFailed("version conflict", 412)
            stored = self._write(staged, resource, logical_id)
            written.append((entry.get("fullUrl", ""), stored))
        local = {url: f"{r['resourceType']}/{r['id']}" for url, r in written if url}
        for _, stored in written:
            for reference in _references(stored):
                if reference.get("reference") in local:
                    reference["reference"] = local[reference["reference"]]
        self.resources = staged
        self.commits += 1
        return {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [
                {
                    "response": {
                        "status": "201 Created" if r["meta"]["versionId"] == "1" else "200 OK",
                        "location": f"{r['resourceType']}/{r['id']}/_history/"
                        f"{r['meta']['versionId']}",
                    }
                }
                for _, r in written
            ],
        }

    # --- internals ----------------------------------------------------------------------

    @staticmethod
    def _matching(
        resources: dict[str, dict[str, Any]], resource_type: str, system: str, key: str | None
    ) -> Iterator[dict[str, Any]]:
        for resource in resources.values():
            if resource["resourceType"] == resource_type and _has_identifier(resource, system, key):
                yield resource

    @staticmethod
    def _write(
        resources: dict[str, dict[str, Any]], resource: dict[str, Any], logical_id: str
    ) -> dict[str, Any]:
        ref = f"{resource['resourceType']}/{logical_id}"
        previous = ((resources.get(ref) or {}).get("meta") or {}).get("versionId", "0")
        stored = copy.deepcopy(resource)
        stored["id"] = logical_id
        stored["meta"] = {**(stored.get("meta") or {}), "versionId": str(int(previous) + 1)}
        resources[ref] = stored
        return stored


def _references(value: Any) -> Iterator[dict[str, Any]]:
    """Every Reference-like object (a dict with a string ``reference``) inside a resource."""
    if isinstance(value, dict):
        if isinstance(value.get("reference"), str):
            yield value
        for item in value.values():
            yield from _references(item)
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


__all__ = ["MemoryStore"]
