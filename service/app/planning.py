"""What write-back writes: a pure function of the derivation's outputs and what is stored.

Contract section 8: per derived key, ``PUT Observation?identifier=…`` and
``PUT List?identifier=…`` (conditional update on the deterministic key) with
``ifMatch`` on the version read, and ``PUT Provenance/[deterministic id]``;
nothing for a key whose stored result is identical (value, status, input
versions, rule-set version); a new version of the same Observation on
re-derivation (final → amended, or corrected when an input was corrected),
``entered-in-error`` when every input it rested on was withdrawn, and a List
``retired`` when no agent applies any more.  Nothing is deleted.  The Device is
written when the store lacks it.

Nothing here reads or writes: the caller loads a ``Snapshot`` (using
``may_be_unchanged`` and ``to_withdraw`` to read no more than needed), holds the
locks, and commits what ``plan`` returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.app.derivation import GroupOutput
from service.fhir.codes import DEVICE_ID, SID_STATUS, SID_THERAPY_LIST
from service.fhir.outbound import device, full_url
from service.her2 import InterpretationStatus, RuleSet

Entry = dict[str, Any]
_FINAL_LIKE = ("final", "amended", "corrected")


@dataclass(frozen=True)
class Snapshot:
    """What the store holds for one patient, as far as planning needs it.

    Attributes:
        observations: the stored status Observation per derived key (None: none).
        lists: the stored List per key, for derived keys and keys to withdraw.
        provenances: ids of the Provenances found stored (only those looked up).
        withdrawals: stored status Observations of other keys whose inputs were all
            withdrawn (from ``to_withdraw``), with their key.
    """

    observations: Mapping[str, dict[str, Any] | None]
    lists: Mapping[str, dict[str, Any] | None]
    provenances: frozenset[str]
    withdrawals: Sequence[tuple[str, dict[str, Any]]] = ()


def comparable(observation: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """What decides whether a stored result is identical (contract section 8)."""
    if observation is None:
        return None
    status = observation.get("status")
    final_like = "final" if status in _FINAL_LIKE else status
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


def if_match(resource: dict[str, Any] | None) -> dict[str, str]:
    """The ``ifMatch`` of a write that must find the version read (nothing for a create)."""
    version = ((resource or {}).get("meta") or {}).get("versionId")
    return {"ifMatch": f'W/"{version}"'} if version else {}


def may_be_unchanged(
    output: GroupOutput, stored_obs: dict[str, Any] | None, stored_list: dict[str, Any] | None
) -> bool:
    """Whether a key may need nothing written (then its Provenance decides)."""
    list_unchanged = (output.listing is not None) == (
        stored_list is not None and stored_list.get("status") == "current"
    )
    return comparable(stored_obs) == comparable(output.observation) and list_unchanged


def to_withdraw(
    stored: Sequence[dict[str, Any]], input_statuses: Mapping[str, Any], keys: set[str]
) -> list[tuple[str, dict[str, Any]]]:
    """Stored status Observations of other keys whose inputs are all entered-in-error.

    Args:
        stored: the patient's stored status Observations.
        input_statuses: ``status`` of every fetched input by ``Type/id``.
        keys: the keys derived now (never withdrawn).

    Returns:
        (key, stored Observation) pairs, in the store's order.
    """
    found = []
    for observation in stored:
        key = next(
            (
                i.get("value")
                for i in observation.get("identifier", [])
                if i.get("system") == SID_STATUS
            ),
            None,
        )
        if key is None or key in keys or observation.get("status") == "entered-in-error":
            continue
        inputs = [
            "/".join(str(r.get("reference", "")).split("/")[:2])
            for r in observation.get("derivedFrom", [])
        ]
        if inputs and all(input_statuses.get(ref) == "entered-in-error" for ref in inputs):
            found.append((key, observation))
    return found


def list_entry(
    key: str, listing: dict[str, Any] | None, stored: dict[str, Any] | None
) -> Entry | None:
    """The List write of a key: the new List, the stored one retired, or nothing."""
    url = f"List?identifier={SID_THERAPY_LIST}|{key}"
    if listing is not None:
        return {
            "fullUrl": full_url("List", key),
            "resource": listing,
            "request": {"method": "PUT", "url": url, **if_match(stored)},
        }
    if stored is not None and stored.get("status") != "retired":
        # No agent applies any more: the list is retired, never emptied or deleted.
        retired = {k: v for k, v in stored.items() if k not in ("meta", "text")}
        retired["status"] = "retired"
        return {
            "fullUrl": full_url("List", key),
            "resource": retired,
            "request": {"method": "PUT", "url": url, **if_match(stored)},
        }
    return None


def _group_entries(output: GroupOutput, snapshot: Snapshot, base_url: str) -> list[Entry]:
    key = output.key
    stored_obs, stored_list = snapshot.observations.get(key), snapshot.lists.get(key)
    prov_id = output.provenance["id"]
    if may_be_unchanged(output, stored_obs, stored_list) and prov_id in snapshot.provenances:
        # Identical value, status and rule-set version, and the Provenance whose id
        # hashes the same input versions is already there: nothing is written.
        return []
    observation = output.observation
    was_final = stored_obs is not None and stored_obs.get("status") in _FINAL_LIKE
    if was_final and output.derived.result.interpretation is InterpretationStatus.FINAL:
        corrected = any(n.resource.get("status") == "corrected" for n in output.derived.group.used)
        # A copy: the derivation's Bundle keeps the status the rules gave.
        observation = {**observation, "status": "corrected" if corrected else "amended"}
    obs_url = full_url("Observation", key)
    entries: list[Entry] = [
        {
            "fullUrl": obs_url,
            "resource": observation,
            "request": {
                "method": "PUT",
                "url": f"Observation?identifier={SID_STATUS}|{key}",
                **if_match(stored_obs),
            },
        }
    ]
    targets = [obs_url]
    listing = list_entry(key, output.listing, stored_list)
    if listing is not None:
        entries.append(listing)
        targets.append(listing["fullUrl"])
    activity = "UPDATE" if stored_obs is not None else "CREATE"
    coding = output.provenance["activity"]["coding"][0]
    prov = {
        **output.provenance,
        "target": [{"reference": t} for t in targets],
        "activity": {"coding": [{**coding, "code": activity}]},
    }
    entries.append(
        {
            "fullUrl": f"{base_url}/Provenance/{prov_id}",
            "resource": prov,
            "request": {"method": "PUT", "url": f"Provenance/{prov_id}"},
        }
    )
    return entries


def _withdrawal_entries(
    key: str, stored: dict[str, Any], stored_list: dict[str, Any] | None, now: dt.datetime
) -> list[Entry]:
    withdrawn = {k: v for k, v in stored.items() if k not in ("meta", "text")}
    withdrawn["status"] = "entered-in-error"
    withdrawn["issued"] = now.isoformat().replace("+00:00", "Z")
    entries: list[Entry] = [
        {
            "fullUrl": full_url("Observation", key),
            "resource": withdrawn,
            "request": {
                "method": "PUT",
                "url": f"Observation?identifier={SID_STATUS}|{key}",
                **if_match(stored),
            },
        }
    ]
    # No agent applies to a withdrawn result: its List is retired.
    retired = list_entry(key, None, stored_list)
    if retired is not None:
        entries.append(retired)
    return entries


def plan(
    outputs: Sequence[GroupOutput], snapshot: Snapshot, now: dt.datetime, base_url: str
) -> list[Entry]:
    """The transaction entries that bring the store up to date (without the Device).

    Args:
        outputs: the derived groups with their resources, built once.
        snapshot: what the store holds.
        now: the derivation time (``issued`` of a withdrawn result).
        base_url: the store's base, for the Provenance's absolute ``fullUrl``.

    Returns:
        The entries, in order: per key its Observation, List and Provenance, then the
        withdrawals.  Empty when everything stored is identical.
    """
    entries = [e for output in outputs for e in _group_entries(output, snapshot, base_url)]
    for key, stored in snapshot.withdrawals:
        entries += _withdrawal_entries(key, stored, snapshot.lists.get(key), now)
    return entries


def with_device(
    entries: list[Entry], device_stored: bool, base_url: str, ruleset: RuleSet
) -> list[Entry]:
    """The entries with the service's Device first when the store lacks it.

    Args:
        entries: the planned entries.
        device_stored: whether the store already holds the Device.
        base_url: the store's base URL.
        ruleset: the rule set of the results written (the Device's version).
    """
    if device_stored:
        return entries
    device_entry: Entry = {
        "fullUrl": f"{base_url}/Device/{DEVICE_ID}",
        "resource": device(ruleset),
        "request": {"method": "PUT", "url": f"Device/{DEVICE_ID}"},
    }
    return [device_entry, *entries]


def transaction(entries: list[Entry]) -> dict[str, Any]:
    """A transaction Bundle of the entries."""
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


__all__ = [
    "Snapshot",
    "comparable",
    "if_match",
    "list_entry",
    "may_be_unchanged",
    "plan",
    "to_withdraw",
    "transaction",
    "with_device",
]
