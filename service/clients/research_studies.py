"""Trials from ``ResearchStudy`` resources on the configured FHIR server (issue 14).

One search, ``GET [base]/ResearchStudy`` (every page, ``link[next]`` followed by the
FHIR client), bounded: at most ``max_studies`` studies are read; more are not read, and
``truncated`` says so (logged with the counts).  The enrollment Groups the studies
reference on the server (at most ``max_studies`` distinct ones) are then read in a
second search, ``GET [base]/Group?_id=a,b,c`` (``group_batch`` ids a request).
``_include=ResearchStudy:enrollment`` is not used: R4 defines no ``enrollment`` search
parameter for ResearchStudy, and HAPI 6.6.1 refuses it (400, HAPI-2015).  Contained
Groups (``#id``) need no request.

A ResearchStudy that is not valid R4 (or whose referenced Group is not) is skipped and
counted in ``skipped``; the log line carries the count only, never a value.  A server
that refuses or fails raises the FHIR client's errors (``service.clients.errors``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from service.clients.fhir import FhirClient
from service.fhir.research_study_in import (
    NotAResearchStudy,
    enrollment_groups,
    study_from_research_study,
)
from service.trials.model import Study

MAX_STUDIES: Final = 1000
GROUP_BATCH: Final = 50
_LOG = logging.getLogger("her2.trials")


class FhirResearchStudies:
    """The trials of the FHIR server: a trial source (``studies()``)."""

    def __init__(
        self, client: FhirClient, max_studies: int = MAX_STUDIES, group_batch: int = GROUP_BATCH
    ) -> None:
        """Read through ``client``.

        Args:
            client: the FHIR client of the configured server.
            max_studies: the most ResearchStudy resources read per call.
            group_batch: the most Group ids asked for in one request.
        """
        self.client = client
        self.max_studies = max_studies
        self.group_batch = group_batch
        self.skipped = 0
        self.truncated = False

    def _research_studies(self) -> tuple[list[dict[str, Any]], bool]:
        """The first ``max_studies`` ResearchStudy resources, and whether there were more."""
        found: list[dict[str, Any]] = []
        for resource in self.client.search("ResearchStudy", {}):
            if len(found) == self.max_studies:
                return found, True
            found.append(resource)
        return found, False

    def _groups(self, references: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The Groups named, read ``group_batch`` ids a search; absent ones are left out."""
        ids = sorted({reference.split("/", 1)[1] for reference in references})
        groups: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), self.group_batch):
            batch = ids[start : start + self.group_batch]
            for group in self.client.search("Group", {"_id": ",".join(batch)}):
                if group.get("resourceType") == "Group" and group.get("id") in batch:
                    groups[f"Group/{group['id']}"] = group
        return groups

    def studies(self) -> Sequence[Study]:
        """Every readable study on the server (at most ``max_studies``), in search order.

        Each study's enrollment Groups on the server are read (at most ``max_studies``
        distinct Groups; a study whose Group is not read has a not-understood criterion).

        Raises:
            FhirClientError: the server refused or failed (its subclasses say how).
        """
        resources, truncated = self._research_studies()
        base = self.client.base_url
        wanted = sorted({ref for r in resources for ref in enrollment_groups(r, base)})
        if len(wanted) > self.max_studies:
            wanted, truncated = wanted[: self.max_studies], True
        groups: Mapping[str, dict[str, Any]] = self._groups(wanted) if wanted else {}
        studies: list[Study] = []
        skipped = 0
        for resource in resources:
            try:
                studies.append(study_from_research_study(resource, groups, base))
            except NotAResearchStudy:
                skipped += 1
        # Per call; a concurrent call may overwrite them (they are for reports, not logic).
        self.skipped, self.truncated = skipped, truncated
        if skipped or truncated:
            _LOG.warning(
                "research studies not read",
                extra={
                    "fields": {"skipped": skipped, "truncated": truncated, "read": len(studies)}
                },
            )
        return studies


__all__ = ["GROUP_BATCH", "MAX_STUDIES", "FhirResearchStudies"]
