"""Trials from ``ResearchStudy`` resources on the configured FHIR server (issue 14).

One search, ``GET [base]/ResearchStudy`` (``link[next]`` followed by the FHIR client),
bounded: at most ``max_studies`` studies are read, and at most ``max_requests`` requests
(pages and Group searches together) are made per call; what is left is not read, and
``truncated`` says so (logged with the counts).  The enrollment Groups the studies
reference on the server (at most ``max_studies`` distinct ones) are then read in a
second search, ``GET [base]/Group?_id=a,b,c`` (``group_batch`` ids a request).
``_include=ResearchStudy:enrollment`` is not used: R4 defines no ``enrollment`` search
parameter for ResearchStudy, and HAPI 6.6.1 refuses it (400, HAPI-2015).  Contained
Groups (``#id``) need no request.

A ResearchStudy that is not valid R4 (or whose referenced Group is not) is skipped and
counted in ``skipped``; the log line carries the count only, never a value.  Both
``skipped`` and ``truncated`` are kept for the caller (``service.app.trial_sources``
passes them on as a warning).  A server that refuses or fails raises the FHIR client's
errors (``service.clients.errors``); so does one that spent the whole request budget
without giving a single ResearchStudy (e.g. empty pages with a new ``next`` link each
time): that is a failed read, never an empty trial list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from service.clients.errors import FhirServerError
from service.clients.fhir import FhirClient
from service.fhir.research_study_in import (
    NotAResearchStudy,
    enrollment_groups,
    study_from_research_study,
)
from service.trials.model import SourceRead, Study

MAX_STUDIES: Final = 1000
GROUP_BATCH: Final = 50
# Requests one call may make in all (ResearchStudy pages and Group searches): a server
# that answers page after page with few or no studies (only `include` entries, or a new
# `next` link each time) must not keep the service paging.
MAX_REQUESTS: Final = 200
_LOG = logging.getLogger("her2.trials")


class _OutOfRequests(Exception):
    """The call's request budget is spent."""


class FhirResearchStudies:
    """The trials of the FHIR server: a trial source (``studies()``)."""

    def __init__(
        self,
        client: FhirClient,
        max_studies: int = MAX_STUDIES,
        group_batch: int = GROUP_BATCH,
        max_requests: int = MAX_REQUESTS,
    ) -> None:
        """Read through ``client``.

        Args:
            client: the FHIR client of the configured server.
            max_studies: the most ResearchStudy resources read per call.
            group_batch: the most Group ids asked for in one request.
            max_requests: the most search requests (pages) one call makes in all.
        """
        self.client = client
        self.max_studies = max_studies
        self.group_batch = group_batch
        self.max_requests = max_requests
        self._requests = 0

    def _search(self, resource_type: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """The matches of a search, page by page, while the call's request budget lasts.

        Raises:
            _OutOfRequests: when another page would pass ``max_requests``.
        """
        pages = self.client.search_pages(resource_type, params)
        while True:
            if self._requests >= self.max_requests:
                raise _OutOfRequests
            # The first page, or the one the last page's `next` link names (None: the
            # client stopped, e.g. on a `next` link it had already followed).
            page = next(pages, None)
            if page is None:
                return
            self._requests += 1
            entries = page.get("entry")
            for entry in entries if isinstance(entries, list) else []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                search = entry.get("search") if isinstance(entry, dict) else None
                mode = search.get("mode", "match") if isinstance(search, dict) else "match"
                if isinstance(resource, dict) and mode == "match":
                    yield resource
            links = page.get("link")
            if not any(
                isinstance(link, dict) and link.get("relation") == "next"
                for link in (links if isinstance(links, list) else [])
            ):
                return

    def _research_studies(self) -> tuple[list[dict[str, Any]], bool]:
        """The first ``max_studies`` ResearchStudy resources, and whether there were more."""
        found: list[dict[str, Any]] = []
        try:
            for resource in self._search("ResearchStudy", {}):
                if len(found) == self.max_studies:
                    return found, True
                found.append(resource)
        except _OutOfRequests:
            return found, True
        return found, False

    def _groups(self, references: Sequence[str]) -> tuple[dict[str, dict[str, Any]], bool]:
        """The Groups named, read ``group_batch`` ids a search, and whether some were not.

        Absent Groups are left out (their studies are not understood).
        """
        ids = sorted({reference.split("/", 1)[1] for reference in references})
        groups: dict[str, dict[str, Any]] = {}
        try:
            for start in range(0, len(ids), self.group_batch):
                batch = ids[start : start + self.group_batch]
                for group in self._search("Group", {"_id": ",".join(batch)}):
                    if group.get("resourceType") == "Group" and group.get("id") in batch:
                        groups[f"Group/{group['id']}"] = group
        except _OutOfRequests:
            return groups, True
        return groups, False

    def studies(self) -> Sequence[Study]:
        """The studies of :meth:`read`."""
        return self.read().studies

    def read(self) -> SourceRead:
        """Every readable study on the server (at most ``max_studies``), in search order.

        Each study's enrollment Groups on the server are read (at most ``max_studies``
        distinct Groups; a study whose Group is not read has a not-understood criterion).

        Raises:
            FhirClientError: the server refused or failed (its subclasses say how);
                ``FhirServerError`` when the request budget was spent without a study.
        """
        self._requests = 0
        resources, truncated = self._research_studies()
        if truncated and not resources:
            _LOG.warning(
                "research studies not read: request budget spent on no study",
                extra={"fields": {"requests": self._requests}},
            )
            raise FhirServerError("the ResearchStudy search gave no study within its budget")
        base = self.client.base_url
        wanted = sorted({ref for r in resources for ref in enrollment_groups(r, base)})
        if len(wanted) > self.max_studies:
            wanted, truncated = wanted[: self.max_studies], True
        groups: Mapping[str, dict[str, Any]] = {}
        if wanted:
            groups, cut = self._groups(wanted)
            truncated = truncated or cut
        studies: list[Study] = []
        skipped = 0
        for resource in resources:
            try:
                studies.append(study_from_research_study(resource, groups, base))
            except NotAResearchStudy:
                skipped += 1
        if skipped or truncated:
            _LOG.warning(
                "research studies not read",
                extra={
                    "fields": {"skipped": skipped, "truncated": truncated, "read": len(studies)}
                },
            )
        return SourceRead(studies, skipped, truncated)


__all__ = ["GROUP_BATCH", "MAX_STUDIES", "FhirResearchStudies"]
