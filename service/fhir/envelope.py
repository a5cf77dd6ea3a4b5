"""The request envelope: collect every resource with its location and resolve references.

Handles Parameters, Bundles of any type (nested), single resources, contained
resources and every reference form of contract section 2 (relative, absolute,
``urn:uuid:``, ``#contained``, versioned ``_history/n``, identifier-only).
Each resource of a type the service reads is checked with the
``fhir.resources.R4B`` model on its own, so one malformed entry becomes located
issues instead of sinking the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.specimen import Specimen
from pydantic import ValidationError

from service.fhir.issues import Issue, Severity

_MODELS: dict[str, Any] = {
    "Observation": Observation,
    "DiagnosticReport": DiagnosticReport,
    "Specimen": Specimen,
    "Condition": Condition,
    "Patient": Patient,
}
_REF = re.compile(
    r"(?:(?P<base>.*)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/(?P<version>[A-Za-z0-9\-.]{1,64}))?$"
)


class EnvelopeError(ValueError):
    """The request is not something the operation can read at all (HTTP 400)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.issues = issues


@dataclass(eq=False)
class Node:
    """One resource of the request, where it stands, and whether it is well-formed."""

    resource: dict[str, Any]
    path: str
    full_url: str | None = None
    container: Node | None = None
    problems: list[Issue] = field(default_factory=list)

    @property
    def type(self) -> str:
        """The resourceType ('' when absent)."""
        value = self.resource.get("resourceType")
        return value if isinstance(value, str) else ""

    @property
    def id(self) -> str | None:
        """The logical id, when it is a string."""
        value = self.resource.get("id")
        return value if isinstance(value, str) else None

    @property
    def version(self) -> str | None:
        """meta.versionId, when present."""
        meta = self.resource.get("meta")
        value = meta.get("versionId") if isinstance(meta, dict) else None
        return value if isinstance(value, str) else None

    @property
    def valid(self) -> bool:
        """Whether the R4B model accepted the resource."""
        return not self.problems

    def reference(self, versioned: bool = False) -> str | None:
        """How other resources refer to this one (None for contained resources)."""
        if self.container is not None:
            return None
        if self.id:
            ref = f"{self.type}/{self.id}"
            if versioned and self.version:
                ref += f"/_history/{self.version}"
            return ref
        if self.full_url and self.full_url.startswith("urn:uuid:"):
            return self.full_url
        return None


@dataclass
class Envelope:
    """Every resource of a request, indexed for reference resolution."""

    nodes: list[Node]
    tumor_site: str | None
    issues: list[Issue]
    _by_url: dict[str, Node] = field(default_factory=dict)
    _by_type_id: dict[str, Node] = field(default_factory=dict)
    _by_identifier: dict[tuple[str, str, str], Node] = field(default_factory=dict)
    _contained: dict[int, dict[str, Node]] = field(default_factory=dict)
    _by_type: dict[str, list[Node]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for node in self.nodes:
            self._by_type.setdefault(node.type, []).append(node)
            if node.container is not None:
                root = _root(node)
                if node.id:
                    self._contained.setdefault(id(root), {})[f"#{node.id}"] = node
                continue
            if node.full_url:
                self._by_url.setdefault(node.full_url, node)
            if node.id and node.type:
                self._by_type_id.setdefault(f"{node.type}/{node.id}", node)
            for ident in _list(node.resource.get("identifier")):
                if isinstance(ident, dict):
                    key = (node.type, str(ident.get("system", "")), str(ident.get("value", "")))
                    self._by_identifier.setdefault(key, node)

    def of_type(self, resource_type: str) -> Iterator[Node]:
        """The resources of one type, in request order (indexed: no scan per call)."""
        return iter(self._by_type.get(resource_type, ()))

    def resolve(
        self, reference: object, origin: Node, expected: str | None = None
    ) -> tuple[Node | None, str | None]:
        """Find the resource a Reference points to, inside the request.

        Returns:
            The node (or None when it is not in the request) and the version the
            reference names (``_history/n``), if any.
        """
        if not isinstance(reference, dict):
            return None, None
        ref = reference.get("reference")
        if isinstance(ref, str):
            if ref.startswith("#"):
                return self._contained.get(id(_root(origin)), {}).get(ref), None
            if ref in self._by_url:
                return self._by_url[ref], None
            match = _REF.match(ref)
            if match:
                node = self._by_type_id.get(f"{match['type']}/{match['id']}")
                if node is not None and (expected is None or node.type == expected):
                    return node, match["version"]
            return None, match["version"] if match else None
        ident = reference.get("identifier")
        if isinstance(ident, dict):
            rtype = reference.get("type") or expected or ""
            key = (str(rtype), str(ident.get("system", "")), str(ident.get("value", "")))
            return self._by_identifier.get(key), None
        return None, None


def reference_key(reference: object) -> str | None:
    """A stable text key for a Reference (type/id without base or version), if any."""
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if isinstance(ref, str):
        match = _REF.match(ref)
        if match:
            return f"{match['type']}/{match['id']}"
        return ref
    ident = reference.get("identifier")
    if isinstance(ident, dict) and ident.get("value") is not None:
        return f"identifier:{ident.get('system', '')}|{ident.get('value')}"
    return None


def _root(node: Node) -> Node:
    while node.container is not None:
        node = node.container
    return node


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _location(base: str, loc: tuple[int | str, ...]) -> str:
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _check(node: Node) -> None:
    model = _MODELS.get(node.type)
    if model is None:
        return
    try:
        model.model_validate(node.resource)
    except (KeyError, TypeError, AttributeError, IndexError):
        # fhir.resources itself crashes on some hostile shapes instead of raising a
        # ValidationError (found by tests/unit/test_reader_fuzz.py): still just invalid.
        node.problems.append(
            Issue(Severity.ERROR, "structure", f"{node.type} is not valid FHIR R4.", node.path)
        )
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            node.problems.append(
                Issue(
                    Severity.ERROR,
                    "structure",
                    # pydantic's message names the rule broken, never the value.
                    f"{node.type} is not valid FHIR R4: {error['msg']}",
                    _location(node.path, tuple(error["loc"])),
                )
            )


def _collect(resource: object, path: str, full_url: str | None, out: list[Node]) -> None:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        out.append(Node({}, path, full_url))
        out[-1].problems.append(
            Issue(Severity.ERROR, "structure", "The entry is not a FHIR resource.", path)
        )
        return
    if resource["resourceType"] == "Bundle":
        for index, entry in enumerate(_list(resource.get("entry"))):
            entry_path = f"{path}.entry[{index}]"
            if not isinstance(entry, dict) or "resource" not in entry:
                continue  # e.g. a transaction-response entry without a resource
            url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
            _collect(entry["resource"], f"{entry_path}.resource", url, out)
        return
    node = Node(resource, path, full_url)
    out.append(node)
    _check(node)
    for index, inner in enumerate(_list(resource.get("contained"))):
        if isinstance(inner, dict):
            child = Node(inner, f"{path}.contained[{index}]", None, container=node)
            # The container's model validated the contained resources too.
            child.problems = [
                p for p in node.problems if (p.expression or "").startswith(child.path)
            ]
            out.append(child)


def read_envelope(payload: object) -> Envelope:
    """Collect the resources of a Parameters, a Bundle or a single resource.

    Raises:
        EnvelopeError: when the payload is not a FHIR resource, is of a type the
            operation does not take, or carries an invalid ``tumorSite``.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("resourceType"), str):
        raise EnvelopeError(
            [Issue(Severity.ERROR, "structure", "The body is not a FHIR resource.")]
        )
    nodes: list[Node] = []
    issues: list[Issue] = []
    tumor_site: str | None = None
    rtype = payload["resourceType"]
    if rtype == "Parameters":
        for index, param in enumerate(_list(payload.get("parameter"))):
            where = f"Parameters.parameter[{index}]"
            name = param.get("name") if isinstance(param, dict) else None
            if name in ("observation", "bundle") and "resource" in param:
                _collect(param["resource"], f"{where}.resource", None, nodes)
            elif name == "tumorSite":
                value = param.get("valueCode")
                if value not in ("breast", "gastroesophageal", "other"):
                    raise EnvelopeError(
                        [
                            Issue(
                                Severity.ERROR,
                                "value",
                                "tumorSite must be breast, gastroesophageal or other.",
                                f"{where}.valueCode",
                            )
                        ]
                    )
                tumor_site = value
            elif name == "persist":
                continue  # the Patient-level operation's flag; nothing to read here
            else:
                issues.append(
                    Issue(
                        Severity.WARNING,
                        "not-supported",
                        "Unknown or empty parameter ignored.",
                        where,
                    )
                )
    elif rtype in ("Bundle", "Observation", "DiagnosticReport"):
        _collect(payload, rtype, None, nodes)
    else:
        raise EnvelopeError(
            [
                Issue(
                    Severity.ERROR,
                    "not-supported",
                    "The operation takes a Parameters, a Bundle, an Observation or a "
                    "DiagnosticReport.",
                    rtype,
                )
            ]
        )
    return Envelope(nodes, tumor_site, issues)
