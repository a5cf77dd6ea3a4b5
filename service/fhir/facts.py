"""One HER2 input Observation as the reader sees it (:class:`Fact`), and input statuses.

A fact knows what grouping needs (subject, specimen, report, time) and what the
rules need to know about its standing (final or preliminary).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from service.fhir.codes import EXT_ISH_COUNT_ROLE, Kind
from service.fhir.elements import EPOCH, as_list
from service.fhir.envelope import Node

# Observation.status (contract section 2).
USABLE_FINAL: Final = frozenset({"final", "amended", "corrected"})
USABLE_PRELIMINARY: Final = frozenset({"preliminary", "unknown"})
IGNORED_STATUSES: Final = frozenset({"registered", "cancelled"})
WITHDRAWN: Final = "entered-in-error"


class _Malformed:
    """A value that cannot be trusted; the rules turn it into ``invalid_type``."""

    def __repr__(self) -> str:
        return "MALFORMED"


MALFORMED: Final = _Malformed()


@dataclass
class Fact:
    """One HER2 input Observation, with what grouping needs to know about it."""

    node: Node
    kind: Kind
    order: int
    subject: str | None = None
    specimen: str | None = None  # the grouping specimen: the top parent when known
    tissue: str | None = None  # the Observation's own specimen
    report: str | None = None
    effective: dt.datetime | None = None
    effective_text: str | None = None
    final: bool = True
    members: list[Fact] = field(default_factory=list)

    @property
    def recount(self) -> bool:
        """Whether the count-role extension marks a blinded recount."""
        for ext in as_list(self.node.resource.get("extension")):
            if isinstance(ext, dict) and ext.get("url") == EXT_ISH_COUNT_ROLE:
                return ext.get("valueCode") == "blinded-recount"
        return False

    @property
    def sort_key(self) -> tuple[dt.datetime, int]:
        """Order by effective time, then by position in the request."""
        return (self.effective or EPOCH, self.order)
