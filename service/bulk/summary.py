"""The cohort's numbers: one JSON summary, from which the HTML report is drawn.

Every number in the report comes from this summary (``report.py`` reads nothing
else), so the two cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from service.bulk.patient import Row

STATUSES = ("positive", "negative", "equivocal", "indeterminate")


class Tally:
    """Counts gathered row by row while the results table is written."""

    def __init__(self) -> None:
        self.by_site: dict[str, Counter[str]] = {}
        self.next_steps: Counter[str] = Counter()
        self.pairs: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.newly_tdxd: set[str] = set()
        self.rulesets: set[str] = set()

    def add(self, row: Row) -> None:
        """Count one row of the results table."""
        if row.get("status") is None:
            self.counts["specimens_not_derived"] += 1
            self.errors[str(row.get("error"))] += 1
            return
        self.counts["specimens_derived"] += 1
        self.by_site.setdefault(str(row["site"]), Counter())[str(row["status"])] += 1
        self.counts["her2_low"] += row.get("her2_low") is True
        self.counts["ultralow"] += row.get("ultralow") is True
        self.counts["tdxd_listed"] += row.get("tdxd_listed") is True
        if row.get("next_step"):
            self.next_steps[str(row["next_step"])] += 1
        if row.get("interpretation") == "preliminary":
            self.counts["preliminary"] += 1
        recorded = row.get("recorded_interpretation")
        if recorded is not None:
            self.counts["compared_with_recorded"] += 1
            if row.get("differs_from_recorded"):
                self.counts["differs_from_recorded"] += 1
                self.pairs[f"{recorded} -> {row['status']}"] += 1
        if row.get("newly_tdxd"):
            self.newly_tdxd.add(str(row["patient"]))
        if row.get("ruleset"):
            self.rulesets.add(str(row["ruleset"]))

    def add_all(self, rows: Iterable[Row]) -> None:
        """Count rows."""
        for row in rows:
            self.add(row)


def _sorted(counter: Mapping[str, int]) -> dict[str, int]:
    return {k: counter[k] for k in sorted(counter)}


def build_summary(
    tally: Tally,
    inputs: Mapping[str, int],
    patients: Mapping[str, int],
    run: Mapping[str, Any],
    write_back: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The JSON summary of a run.

    Args:
        tally: the results table's counts.
        inputs: the first pass's counts (lines, records kept, dropped, malformed...).
        patients: the second pass's counts (patients, with HER2 data, failed).
        run: facts about the run (engine, derivation time, partitions).
        write_back: what write-back did, when asked for.
    """
    sites = sorted(tally.by_site)
    summary: dict[str, Any] = {
        "run": {**run, "rulesets": sorted(tally.rulesets)},
        "input": {
            "lines": inputs.get("lines", 0),
            "records_kept": inputs.get("record", 0),
            "records_dropped": inputs.get("dropped", 0),
            "records_without_patient": inputs.get("unkeyed", 0),
            "malformed_lines": inputs.get("malformed", 0),
        },
        "patients": {
            "total": patients.get("patients", 0),
            "with_her2_data": patients.get("patients_with_her2", 0),
            "failed": patients.get("patients_failed", 0),
            "newly_in_labelled_tdxd_setting": len(tally.newly_tdxd),
        },
        "specimens": {
            "derived": tally.counts["specimens_derived"],
            "not_derived": tally.counts["specimens_not_derived"],
            "preliminary": tally.counts["preliminary"],
            "her2_low": tally.counts["her2_low"],
            "her2_ultralow": tally.counts["ultralow"],
            "tdxd_listed": tally.counts["tdxd_listed"],
        },
        "status_by_site": {
            site: {status: tally.by_site[site][status] for status in STATUSES} for site in sites
        },
        "recorded_interpretation": {
            "compared": tally.counts["compared_with_recorded"],
            "differs": tally.counts["differs_from_recorded"],
            "changes": _sorted(tally.pairs),
        },
        "next_steps_pending": _sorted(tally.next_steps),
        "not_derived_by_error": _sorted(tally.errors),
    }
    if write_back is not None:
        summary["write_back"] = dict(write_back)
    failed = (
        summary["input"]["malformed_lines"] > 0
        or summary["patients"]["failed"] > 0
        or (write_back or {}).get("failed_batches", 0) > 0
    )
    summary["failed"] = failed
    return summary


__all__ = ["STATUSES", "Tally", "build_summary"]
