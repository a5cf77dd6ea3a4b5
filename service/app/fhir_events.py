"""The event parts over the EHR's FHIR server: change feed, patient finder, Subscription.

- ``FhirChangeFeed``: the catch-up search (``_lastUpdated=gt…``, every page).
- ``FhirPatientFinder``: whose resource changed, when a notification did not say
  (a delete: the last version with a subject in the resource's history).
- ``Subscriptions``: create or update (idempotently: found by the project's tag),
  remove and show the service's rest-hook Subscription.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterator
from typing import Any

from service.app.queue import Notice
from service.clients.errors import FhirNotFound
from service.clients.fhir import FhirClient
from service.fhir.subscription import (
    SUBSCRIPTION_ID,
    SUBSCRIPTION_TAG,
    describe,
    patient_of,
    subscription,
    valid_id,
    valid_type,
)


class FhirChangeFeed:
    """Observations changed since a watermark."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client

    def changed_since(self, codes: Collection[tuple[str, str]], since: str) -> Iterator[Notice]:
        """Search every input code, updated after ``since``, following next links."""
        params = {
            "code": ",".join(f"{system}|{code}" for system, code in sorted(codes)),
            "_lastUpdated": f"gt{since}",
        }
        for resource in self.client.search("Observation", params):
            resource_id = resource.get("id")
            if not isinstance(resource_id, str) or not valid_id(resource_id):
                continue
            meta = resource.get("meta")
            version = meta.get("versionId") if isinstance(meta, dict) else None
            yield Notice(
                "Observation",
                resource_id,
                version if isinstance(version, str) and valid_id(version) else "",
                patient_of(resource),
            )


class FhirPatientFinder:
    """Reads the changed resource (or its history, once deleted) for its subject."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client

    def patient_of(self, notice: Notice) -> str | None:
        """The subject's Patient id of the current version, else of the latest one with one."""
        if not valid_type(notice.resource_type) or not valid_id(notice.resource_id):
            return None
        try:
            return patient_of(self.client.read(notice.reference))
        except FhirNotFound:
            pass
        # Deleted (410) or never seen: the history keeps the versions before the delete.
        try:
            for page in self.client.search_pages(f"{notice.reference}/_history", {}):
                for entry in page.get("entry") or []:
                    resource = entry.get("resource") if isinstance(entry, dict) else None
                    if isinstance(resource, dict):
                        found = patient_of(resource)
                        if found is not None:
                            return found
        except FhirNotFound:
            return None
        return None


class Subscriptions:
    """The service's Subscription on the EHR's FHIR server."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client

    def find(self) -> list[dict[str, Any]]:
        """Every Subscription carrying the project's tag."""
        tag = f"{SUBSCRIPTION_TAG['system']}|{SUBSCRIPTION_TAG['code']}"
        return list(self.client.search("Subscription", {"_tag": tag}))

    def put(
        self, codes: Collection[tuple[str, str]], endpoint: str, headers: list[str]
    ) -> dict[str, Any]:
        """Create or update it (PUT with the project's id: running twice changes nothing more)."""
        resource = subscription(codes, endpoint, headers)
        found = [r for r in self.find() if isinstance(r.get("id"), str) and valid_id(r["id"])]
        if found:
            resource["id"] = found[0]["id"]
            for extra in found[1:]:  # one Subscription, however many were made by hand
                self.client.delete(f"Subscription/{extra['id']}")
        else:
            # A new id per creation: HAPI names a delivery channel after the id, and a
            # channel of a just-deleted Subscription can lose its new subscriber.
            resource["id"] = f"{SUBSCRIPTION_ID}-{secrets.token_hex(6)}"
        return describe(self.client.update(resource))

    def remove(self) -> int:
        """Delete every tagged Subscription; return how many."""
        removed = 0
        for resource in self.find():
            resource_id = resource.get("id")
            if isinstance(resource_id, str) and valid_id(resource_id):
                self.client.delete(f"Subscription/{resource_id}")
                removed += 1
        return removed

    def status(self) -> list[dict[str, Any]]:
        """What the server says about each (no headers: they hold the secret)."""
        return [describe(resource) for resource in self.find()]


__all__ = ["SUBSCRIPTION_ID", "FhirChangeFeed", "FhirPatientFinder", "Subscriptions"]
