"""One request's reading state: the envelope, the code map, the issues found so far.

Also the reference keys every other reader uses (``Type/id`` of a subject or a
specimen), so that grouping, site resolution and withdrawal agree on them.
"""

from __future__ import annotations

import datetime as dt

from service.fhir.codes import CodeMap
from service.fhir.elements import as_list
from service.fhir.envelope import Envelope, Node, reference_key
from service.fhir.issues import Issue, Severity


class ReadContext:
    """What every step of reading one request shares.

    Attributes:
        env: the request's resources, indexed for reference resolution.
        codes: the recognised codes (defaults plus a site's local table).
        window: the grouping window of contract section 3.
        issues: every issue found, in the order found (envelope issues first).
    """

    def __init__(self, envelope: Envelope, code_map: CodeMap, window: dt.timedelta) -> None:
        self.env = envelope
        self.codes = code_map
        self.window = window
        self.issues: list[Issue] = list(envelope.issues)

    def warn(self, diagnostics: str, where: str | None, code: str = "informational") -> None:
        """Record a warning issue."""
        self.issues.append(Issue(Severity.WARNING, code, diagnostics, where))

    def inform(self, diagnostics: str, where: str | None) -> None:
        """Record an informational issue."""
        self.issues.append(Issue(Severity.INFORMATION, "informational", diagnostics, where))

    def subject_key(
        self, reference: object, origin: Node, expected: str | None = None
    ) -> str | None:
        """A stable key for a referenced subject or specimen: ``Type/id`` when known.

        Args:
            reference: the Reference element (any shape; None when not a Reference).
            origin: the resource holding it (for ``#contained`` references).
            expected: the resource type the reference should point to, if known.
        """
        target, _ = self.env.resolve(reference, origin, expected)
        if target is not None and target.id:
            # Only a grammatical Type/id of a real resource type: never request text.
            return target.reference() or reference_key(reference)
        return reference_key(reference)

    def case_specimen(self, reference: object, origin: Node) -> str | None:
        """The specimen that defines the group: the top ``Specimen.parent`` in the request.

        Blocks or portions of one specimen (children of one parent) form one group,
        so that the rules can see that an IHC was not done on the ISH tissue.
        """
        key = self.subject_key(reference, origin, "Specimen")
        node, _ = self.env.resolve(reference, origin, "Specimen")
        seen: set[int] = set()
        while node is not None and node.valid and id(node) not in seen:
            seen.add(id(node))
            parents = as_list(node.resource.get("parent"))
            if len(parents) != 1:
                break
            key = self.subject_key(parents[0], node, "Specimen") or key
            node, _ = self.env.resolve(parents[0], node, "Specimen")
        return key
