"""``--write-back``: the run's results sent to the FHIR server in bounded transactions.

Per patient, exactly what the Patient-level operation does with ``persist``: the
same derivation (``derive_patient`` on the same Bundle), the same snapshot of
what is stored (``load_snapshot``) and the same plan (``plan``), so a result
identical to the stored one (value, status, inputs, rule-set version) is not
written again, and a second run writes nothing.  Several patients' entries share
one transaction up to ``max_entries`` (a patient is never split); the keys'
write locks are held from reading what is stored until that transaction is
committed.  A failed transaction writes nothing (FHIR transactions are atomic);
it is counted, reported in the errors file, and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.app.derivation import Derivation
from service.app.locks import Locks, WriteBusy
from service.app.patient import derive_patient, patient_bundle
from service.app.planning import plan, transaction
from service.app.rederive import load_snapshot
from service.app.store import Store
from service.bulk.outputs import replacing
from service.bulk.partition import partition_files
from service.bulk.patient import BulkContext
from service.bulk.results import grouped
from service.clients.errors import FhirClientError, FhirConflict
from service.fhir.codes import DEVICE_ID
from service.fhir.outbound import device
from service.her2 import default_ruleset

LOG = logging.getLogger("her2.bulk")


@dataclass
class _Batch:
    patients: list[tuple[str, dict[str, Any], Derivation]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [o.key for _, _, d in self.patients for o in d.outputs]


def _patients(
    work: Path, partitions: int, ctx: BulkContext
) -> Iterator[tuple[str, dict[str, Any], Derivation]]:
    codes = ctx.settings.code_map.kinds.keys()
    for partition in range(partitions):
        lines: list[str] = []
        for path in partition_files(work, partition):
            with open(path, encoding="utf-8") as handle:
                lines.extend(handle)
        patients = grouped(lines)
        for patient in sorted(patients):
            bundle = patient_bundle(patients[patient], codes, ctx.base_url)
            if not bundle["entry"]:
                continue
            yield patient, bundle, derive_patient(bundle, ctx.now, ctx.settings, ctx.max_issues)


class WriteBack:
    """Writes a run's results through the store port, in bounded transactions."""

    def __init__(self, store: Store, locks: Locks, max_entries: int = 200) -> None:
        self.store = store
        self.locks = locks
        self.max_entries = max_entries
        self.counts: Counter[str] = Counter()
        self.errors: list[dict[str, Any]] = []
        self._device_checked = False

    def _ensure_device(self) -> None:
        # As the operation does: its own idempotent PUT, outside every transaction.
        if self._device_checked:
            return
        reference = f"Device/{DEVICE_ID}"
        if not self.store.exists(reference):
            try:
                self.store.update(device(default_ruleset()))
                self.counts["entries_written"] += 1
            except FhirConflict:
                if not self.store.exists(reference):
                    raise
        self._device_checked = True

    def _commit(self, batch: _Batch, now: dt.datetime) -> None:
        if not batch.patients:
            return
        names = [patient for patient, _, _ in batch.patients]
        try:
            with self.locks.hold(batch.keys):
                entries = []
                for patient, bundle, derivation in batch.patients:
                    snapshot = load_snapshot(self.store, derivation.outputs, patient, bundle)
                    planned = plan(derivation.outputs, snapshot, now, self.store.base_url)
                    self.counts["patients_unchanged" if not planned else "patients_changed"] += 1
                    entries.extend(planned)
                if entries:
                    self._ensure_device()
                    self.store.commit(transaction(entries))
                    self.counts["transactions"] += 1
                    self.counts["entries_written"] += len(entries)
        except (FhirClientError, WriteBusy) as exc:
            self.counts["failed_batches"] += 1
            self.errors.append(
                {"kind": "write-back", "patients": names, "error": type(exc).__name__}
            )
            LOG.warning("write-back: a transaction of %d patients failed", len(names))

    def run(self, work: Path, partitions: int, ctx: BulkContext, out: Path) -> dict[str, int]:
        """Write back every patient of a finished run; return the counts.

        The failures are added to ``write-back-errors.ndjson`` in ``out``.
        """
        batch = _Batch()
        size = 0
        for patient, bundle, derivation in _patients(work, partitions, ctx):
            self.counts["patients"] += 1
            # Each output is at most Observation + List + Provenance (withdrawals too).
            weight = 3 * max(1, len(derivation.outputs))
            if batch.patients and size + weight > self.max_entries:
                self._commit(batch, ctx.now)
                batch, size = _Batch(), 0
            batch.patients.append((patient, bundle, derivation))
            size += weight
        self._commit(batch, ctx.now)
        with replacing(out / "write-back-errors.ndjson") as handle:
            for error in self.errors:
                handle.write(json.dumps(error) + "\n")
        return {k: self.counts[k] for k in sorted(self.counts)}


__all__ = ["WriteBack"]
