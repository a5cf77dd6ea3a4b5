"""The command "re-derive this patient": fetch, derive once, plan, lock, commit once.

What the Patient-level ``$her2-status`` calls (and a queue worker or bulk job
would).  Reading and deriving need no lock; with ``persist`` the keys' locks are
held from reading what is stored until the one transaction is committed, so that
two requests for one key never plan from the same stored state.  A 412
"matched several" is reported, never retried.  The service's Device is written on
its own first, when missing (see ``RederivePatient._ensure_device``).  With an
``AuditedCall`` (``HER2_AUDIT=fhir``) the call's AuditEvent is one more entry of
that transaction; when nothing is written it is recorded alone
(``RederivePatient.audit_alone``, see ``service.app.auditing``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from service.app.auditing import audit_entry
from service.app.derivation import Derivation, GroupOutput, derive
from service.app.locks import Locks
from service.app.planning import (
    Snapshot,
    may_be_unchanged,
    plan,
    to_withdraw,
    transaction,
)
from service.app.store import Store
from service.clients.errors import FhirConflict
from service.fhir.audit_event import SUCCESS, AuditedCall
from service.fhir.codes import DEVICE_ID, SID_STATUS, SID_THERAPY_LIST
from service.fhir.issues import Issue
from service.fhir.outbound import device, full_url
from service.her2 import Her2Result, RuleSet, default_ruleset
from service.settings import DerivationSettings


@dataclass
class WriteOutcome:
    """The Patient-level operation's result."""

    bundle: dict[str, Any]
    issues: list[Issue]
    usable: bool
    groups: int
    written: int = 0
    results: tuple[Her2Result, ...] = ()
    audited: bool = False
    """Whether the call's AuditEvent was committed with the write-back."""


def load_snapshot(
    store: Store, outputs: list[GroupOutput], patient_id: str, payload: dict[str, Any]
) -> Snapshot:
    """Read what planning needs, and no more (Provenances only where they decide)."""
    observations: dict[str, dict[str, Any] | None] = {}
    lists: dict[str, dict[str, Any] | None] = {}
    provenances: set[str] = set()
    for output in outputs:
        observations[output.key] = store.find("Observation", SID_STATUS, output.key)
        lists[output.key] = store.find("List", SID_THERAPY_LIST, output.key)
        prov_id = output.provenance["id"]
        if may_be_unchanged(output, observations[output.key], lists[output.key]) and (
            store.exists(f"Provenance/{prov_id}")
        ):
            provenances.add(prov_id)
    statuses = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}": e["resource"].get("status")
        for e in payload["entry"]
    }
    withdrawals = to_withdraw(
        store.status_observations(patient_id, SID_STATUS), statuses, set(observations)
    )
    for key, _ in withdrawals:
        lists[key] = store.find("List", SID_THERAPY_LIST, key)
    return Snapshot(observations, lists, frozenset(provenances), withdrawals)


class RederivePatient:
    """Re-derive one patient's HER2 results from a store and write back what changed."""

    def __init__(
        self,
        store: Store,
        locks: Locks,
        settings: DerivationSettings,
        max_issues: int | None = None,
    ) -> None:
        self.store = store
        self.locks = locks
        self.settings = settings
        self.max_issues = max_issues

    def derive(self, patient_id: str, now: dt.datetime) -> tuple[dict[str, Any], Derivation]:
        """Fetch a patient's inputs and derive (nothing is written)."""
        payload = self.store.patient_inputs(patient_id, self.settings.code_map.kinds.keys())
        # The patient's data comes from the EHR, not from the caller: no request caps,
        # but the answer's issues are capped like any other answer.
        derivation = derive(
            payload,
            now,
            self.settings.code_map,
            self.settings.grouping_window,
            max_issues=self.max_issues,
        )
        return payload, derivation

    def _ensure_device(self, ruleset: RuleSet) -> int:
        """Write the service's Device when the store lacks it; return how many writes (0/1).

        Its own idempotent ``PUT Device/[id]``, before and outside the transaction:
        in a transaction, concurrent first calls for different patients all create
        the same Device, and on HAPI all but one fail with 409 (HAPI-0825, a
        client-assigned id constraint) and write nothing.  Here a lost race means
        the Device now exists, which is all that is needed.

        Raises:
            FhirConflict: when the write lost a race and the Device is still absent.
        """
        reference = f"Device/{DEVICE_ID}"
        if self.store.exists(reference):
            return 0
        try:
            self.store.update(device(ruleset))
        except FhirConflict:
            if not self.store.exists(reference):
                raise
            return 0
        return 1

    def __call__(
        self,
        patient_id: str,
        persist: bool,
        now: dt.datetime,
        audit: AuditedCall | None = None,
    ) -> WriteOutcome:
        """Derive for one patient and, with ``persist``, write what changed in one transaction.

        Args:
            patient_id: the Patient's id.
            persist: whether to write back.
            now: the derivation time.
            audit: the call, when its AuditEvent goes with the write-back (then
                ``WriteOutcome.audited`` says whether it did).

        Raises:
            WriteBusy: when another request holds a key's write lock too long.
            FhirClientError: when the store fails; ``FhirPreconditionFailed`` when a
                stored result changed between read and write.
        """
        payload, derivation = self.derive(patient_id, now)
        outcome = WriteOutcome(
            derivation.bundle,
            derivation.issues,
            derivation.usable,
            len(derivation.outputs),
            results=tuple(o.derived.result for o in derivation.outputs),
        )
        if not persist:
            return outcome
        # Even when nothing is derivable (every input withdrawn), earlier results of
        # this patient may have to become entered-in-error: always go on.
        with self.locks.hold([o.key for o in derivation.outputs]):
            snapshot = load_snapshot(self.store, derivation.outputs, patient_id, payload)
            entries = plan(derivation.outputs, snapshot, now, self.store.base_url)
            if not entries:
                return outcome
            rulesets = [o.derived.result.ruleset for o in derivation.outputs]
            device_written = self._ensure_device(rulesets[0] if rulesets else default_ruleset())
            # The AuditEvent is not counted as written: it records the call.
            audited = [audit_entry(audit, SUCCESS, now, entries)] if audit is not None else []
            response = self.store.commit(transaction([*entries, *audited]))
        outcome.written = len(entries) + device_written
        outcome.audited = bool(audited)
        outcome.bundle = {
            **derivation.bundle,
            "entry": [
                *derivation.bundle["entry"],
                {"fullUrl": full_url("transaction-response", str(now)), "resource": response},
            ],
        }
        return outcome

    def audit_alone(self, call: AuditedCall, outcome: str, now: dt.datetime) -> None:
        """Create the AuditEvent of a call that wrote nothing, on its own.

        Raises:
            FhirClientError: when the store refuses or cannot be reached (the caller
                logs it: the call's answer is already decided).
        """
        self._ensure_device(default_ruleset())
        self.store.commit(transaction([audit_entry(call, outcome, now)]))


__all__ = ["RederivePatient", "WriteOutcome", "load_snapshot"]
