"""The Patient-level operation: read from the EHR's FHIR server, derive, write back.

Contract section 8: the patient's HER2 results are searched with every
recognised code (following ``link[next]``), with the referenced Specimens, the
patient's DiagnosticReports and Conditions; the stateless derivation runs on
them; with ``persist`` the results are written in ONE transaction:

- ``PUT Observation?identifier=…`` and ``PUT List?identifier=…`` (conditional
  update on the deterministic key), with ``If-Match`` on the version read;
- ``PUT Provenance/[deterministic id]``; ``PUT Device/her2-status-service`` when
  the server does not have it;
- nothing for a key whose stored result is identical (value, status, input
  versions, rule-set version);
- a new version of the same Observation on re-derivation (final → amended, or
  corrected when an input was corrected), ``entered-in-error`` when every input
  it rested on was withdrawn, and a List ``retired`` when no agent applies any
  more.  Nothing is deleted.

Writes for one key are serialised across threads and worker processes with a
file lock per key.  A 412 "matched several" is reported, never retried.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from filelock import FileLock, Timeout

from service.clients.errors import FhirNotFound, FhirServerUnavailable, FhirTooManyMatches
from service.clients.fhir import FhirClient
from service.fhir.codes import DEVICE_ID, SID_STATUS, SID_THERAPY_LIST
from service.fhir.issues import Issue
from service.fhir.outbound import (
    Derived,
    device,
    full_url,
    provenance,
    provenance_id,
    status_observation,
    therapy_list,
)
from service.her2 import InterpretationStatus, RuleSet, default_ruleset
from service.operation import derive
from service.settings import Settings

LOCK_TIMEOUT_SECONDS = 30.0


@dataclass
class WriteOutcome:
    """The Patient-level operation's result."""

    bundle: dict[str, Any]
    issues: list[Issue]
    usable: bool
    groups: int
    written: int = 0


@dataclass
class _Planned:
    """What one key needs written."""

    key: str
    entries: list[dict[str, Any]] = field(default_factory=list)


def _comparable(observation: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What decides whether a stored result is identical (contract section 8)."""
    if observation is None:
        return None
    status = observation.get("status")
    final_like = "final" if status in ("final", "amended", "corrected") else status
    value = sorted(
        (c.get("system"), c.get("code"))
        for c in (observation.get("valueCodeableConcept") or {}).get("coding", [])
    )
    # Many servers (HAPI among them) strip versions from stored references: compare the
    # inputs by identity here; their versions are covered by the Provenance id.
    inputs = sorted(
        str(r.get("reference", "")).split("/_history/")[0]
        for r in observation.get("derivedFrom", [])
    )
    versions = sorted(c.get("version") for c in (observation.get("method") or {}).get("coding", []))
    components = sorted(
        (
            c["code"]["coding"][0]["code"],
            str(c.get("valueBoolean", c.get("valueInteger", c.get("valueCodeableConcept")))),
        )
        for c in observation.get("component", [])
    )
    return (final_like, value, inputs, versions, components)


def _if_match(resource: dict[str, Any] | None) -> dict[str, str]:
    version = ((resource or {}).get("meta") or {}).get("versionId")
    return {"ifMatch": f'W/"{version}"'} if version else {}


class Writer:
    """Reads a patient's HER2 results, derives, and writes the results back."""

    def __init__(self, client: FhirClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    # --- reading ------------------------------------------------------------

    def _codes_param(self) -> str:
        return ",".join(sorted(f"{system}|{code}" for system, code in self.settings.code_map.kinds))

    def fetch(self, patient_id: str) -> dict[str, Any]:
        """A searchset-like Bundle of everything the derivation needs."""
        subject = f"Patient/{patient_id}"
        resources: dict[str, dict[str, Any]] = {}

        def keep(resource: dict[str, Any]) -> None:
            if isinstance(resource.get("id"), str):
                resources[f"{resource['resourceType']}/{resource['id']}"] = resource

        for resource in self.client.search(
            "Observation", {"subject": subject, "code": self._codes_param()}
        ):
            keep(resource)
        for resource_type in ("DiagnosticReport", "Condition"):
            for resource in self.client.search(resource_type, {"subject": subject}):
                keep(resource)
        specimens = set()
        for resource in resources.values():
            # Observation.specimen is one Reference, DiagnosticReport.specimen a list.
            value = resource.get("specimen")
            for specimen in value if isinstance(value, list) else [value]:
                ref = specimen.get("reference") if isinstance(specimen, dict) else None
                if isinstance(ref, str) and ref.startswith("Specimen/"):
                    specimens.add(ref)
        for ref in sorted(specimens):
            try:
                keep(self.client.read(ref))
            except FhirNotFound:
                continue
        return {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {"fullUrl": self.client.url(ref), "resource": resource}
                for ref, resource in resources.items()
            ],
        }

    def _stored(self, resource_type: str, system: str, key: str) -> dict[str, Any] | None:
        found = list(self.client.search(resource_type, {"identifier": f"{system}|{key}"}))
        if len(found) > 1:
            raise FhirTooManyMatches(f"{resource_type} identifier matched {len(found)}")
        return found[0] if found else None

    # --- planning -----------------------------------------------------------------

    def _plan(self, derived: Derived, now: dt.datetime) -> _Planned:
        planned = _Planned(derived.key)
        stored_obs = self._stored("Observation", SID_STATUS, derived.key)
        stored_list = self._stored("List", SID_THERAPY_LIST, derived.key)
        obs_url = full_url("Observation", derived.key)
        observation = status_observation(derived, now)
        listing = therapy_list(derived, obs_url, now)
        list_unchanged = (listing is not None) == (
            stored_list is not None and stored_list.get("status") == "current"
        )
        if (
            _comparable(stored_obs) == _comparable(observation)
            and list_unchanged
            and self._exists(f"Provenance/{provenance_id(derived)}")
        ):
            # Identical value, status and rule-set version, and the Provenance whose id
            # hashes the same input versions is already there: nothing is written.
            return planned
        was_final = stored_obs is not None and stored_obs.get("status") in (
            "final",
            "amended",
            "corrected",
        )
        if was_final and derived.result.interpretation is InterpretationStatus.FINAL:
            corrected = any(n.resource.get("status") == "corrected" for n in derived.group.used)
            observation["status"] = "corrected" if corrected else "amended"
        planned.entries.append(
            {
                "fullUrl": obs_url,
                "resource": observation,
                "request": {
                    "method": "PUT",
                    "url": f"Observation?identifier={SID_STATUS}|{derived.key}",
                    **_if_match(stored_obs),
                },
            }
        )
        targets = [obs_url]
        list_entry = self._list_entry(derived.key, listing, stored_list)
        if list_entry is not None:
            planned.entries.append(list_entry)
            targets.append(list_entry["fullUrl"])
        activity = "UPDATE" if stored_obs is not None else "CREATE"
        prov = provenance(derived, targets, now, activity)
        planned.entries.append(
            {
                "fullUrl": self.client.url(f"Provenance/{prov['id']}"),
                "resource": prov,
                "request": {"method": "PUT", "url": f"Provenance/{prov['id']}"},
            }
        )
        return planned

    def _list_entry(
        self, key: str, listing: dict[str, Any] | None, stored: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        url = f"List?identifier={SID_THERAPY_LIST}|{key}"
        if listing is not None:
            return {
                "fullUrl": full_url("List", key),
                "resource": listing,
                "request": {"method": "PUT", "url": url, **_if_match(stored)},
            }
        if stored is not None and stored.get("status") != "retired":
            # No agent applies any more: the list is retired, never emptied or deleted.
            retired = {k: v for k, v in stored.items() if k not in ("meta", "text")}
            retired["status"] = "retired"
            return {
                "fullUrl": full_url("List", key),
                "resource": retired,
                "request": {"method": "PUT", "url": url, **_if_match(stored)},
            }
        return None

    def _withdrawn(
        self, patient_id: str, payload: dict[str, Any], keys: set[str], now: dt.datetime
    ) -> list[dict[str, Any]]:
        """Stored results whose inputs were all entered-in-error become entered-in-error."""
        statuses = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"].get("status")
            for e in payload["entry"]
        }
        entries = []
        for stored in self.client.search(
            "Observation", {"subject": f"Patient/{patient_id}", "identifier": f"{SID_STATUS}|"}
        ):
            key = next(
                (
                    i.get("value")
                    for i in stored.get("identifier", [])
                    if i.get("system") == SID_STATUS
                ),
                None,
            )
            if key is None or key in keys or stored.get("status") == "entered-in-error":
                continue
            inputs = [
                "/".join(str(r.get("reference", "")).split("/")[:2])
                for r in stored.get("derivedFrom", [])
            ]
            if inputs and all(statuses.get(ref) == "entered-in-error" for ref in inputs):
                withdrawn = {k: v for k, v in stored.items() if k not in ("meta", "text")}
                withdrawn["status"] = "entered-in-error"
                withdrawn["issued"] = now.isoformat().replace("+00:00", "Z")
                entries.append(
                    {
                        "fullUrl": full_url("Observation", key),
                        "resource": withdrawn,
                        "request": {
                            "method": "PUT",
                            "url": f"Observation?identifier={SID_STATUS}|{key}",
                            **_if_match(stored),
                        },
                    }
                )
                # No agent applies to a withdrawn result: its List is retired.
                retired = self._list_entry(key, None, self._stored("List", SID_THERAPY_LIST, key))
                if retired is not None:
                    entries.append(retired)
        return entries

    # --- writing -------------------------------------------------------------------

    @contextmanager
    def _locked(self, keys: list[str]) -> Iterator[None]:
        self.settings.lock_dir.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            for key in sorted(set(keys)):  # one global order: no deadlock between requests
                name = hashlib.sha256(key.encode()).hexdigest()[:32]
                lock = FileLock(str(self.settings.lock_dir / f"{name}.lock"))
                try:
                    stack.enter_context(lock.acquire(timeout=LOCK_TIMEOUT_SECONDS))
                except Timeout:
                    raise FhirServerUnavailable("write lock busy") from None
            yield

    def _exists(self, reference: str) -> bool:
        try:
            self.client.read(reference)
        except FhirNotFound:
            return False
        return True

    def _device_entry(self, ruleset: RuleSet) -> list[dict[str, Any]]:
        if self._exists(f"Device/{DEVICE_ID}"):
            return []
        return [
            {
                "fullUrl": self.client.url(f"Device/{DEVICE_ID}"),
                "resource": device(ruleset),
                "request": {"method": "PUT", "url": f"Device/{DEVICE_ID}"},
            }
        ]

    def run(self, patient_id: str, persist: bool, now: dt.datetime) -> WriteOutcome:
        """Derive for one patient and, with ``persist``, write what changed."""
        payload = self.fetch(patient_id)
        derivation = derive(payload, now, self.settings.code_map, self.settings.grouping_window)
        outcome = WriteOutcome(
            derivation.bundle, derivation.issues, derivation.usable, len(derivation.derived)
        )
        if not persist:
            return outcome
        # Even when nothing is derivable (every input withdrawn), earlier results of
        # this patient may have to become entered-in-error: always go on.
        keys = [d.key for d in derivation.derived]
        with self._locked(keys):
            entries = [e for d in derivation.derived for e in self._plan(d, now).entries]
            entries += self._withdrawn(patient_id, payload, set(keys), now)
            if not entries:
                return outcome
            rulesets = [d.result.ruleset for d in derivation.derived] or [default_ruleset()]
            entries = self._device_entry(rulesets[0]) + entries
            response = self.client.transaction(
                {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            )
        outcome.written = len(entries)
        outcome.bundle = {
            **derivation.bundle,
            "entry": [
                *derivation.bundle["entry"],
                {"fullUrl": full_url("transaction-response", str(now)), "resource": response},
            ],
        }
        return outcome


__all__ = ["WriteOutcome", "Writer"]
