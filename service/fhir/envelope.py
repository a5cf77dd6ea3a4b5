"""The request envelope: collect every resource with its location and resolve references.

Handles Parameters, Bundles of any type (nested), single resources, contained
resources and every reference form of contract section 2 (relative, absolute,
``urn:uuid:``, ``#contained``, versioned ``_history/n``, identifier-only).
Each resource of a type the service reads is checked with the
``fhir.resources.R4B`` model on its own, so one malformed entry becomes located
issues instead of sinking the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from service.fhir.issues import Issue, Severity
from service.fhir.r4b_check import r4b_issues
from service.fhir.references import (
    is_grammatical,
    is_relative,
    is_resource_type,
    parse_reference,
)


class EnvelopeError(ValueError):
    """The request is not something the operation can read at all (HTTP 400)."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.issues = issues


class RequestTooLarge(EnvelopeError):
    """The request is over one of the configured caps (HTTP 413); nothing was validated."""


@dataclass(frozen=True)
class ReadLimits:
    """Caps on the work one request may cause, checked before any model validation.

    Attributes:
        max_resources: resources per request (contained ones included); None: no cap.
        max_elements: JSON values (object members and array items) per resource.
        max_depth: nesting of objects and arrays inside one resource.
        max_total_elements: JSON values of all resources of the request together
            (validation costs about 10 µs per value: this bounds a request's CPU).
    """

    max_resources: int | None = None
    max_elements: int | None = None
    max_depth: int | None = None
    max_total_elements: int | None = None


# Bundles in Bundles in Parameters: deeper than this is no request the service reads
# (and the reader must never run out of stack on one).
MAX_BUNDLE_NESTING = 8


@dataclass(eq=False)
class Node:
    """One resource of the request, where it stands, and whether it is well-formed."""

    resource: dict[str, Any]
    path: str
    full_url: str | None = None
    container: Node | None = None
    problems: list[Issue] = field(default_factory=list)

    # The type and id are read many times per resource (indexing, grouping, keys) and
    # a node's resource dict is never changed once collected: computed once.
    @cached_property
    def type(self) -> str:
        """The resourceType ('' when absent)."""
        value = self.resource.get("resourceType")
        return value if isinstance(value, str) else ""

    @cached_property
    def id(self) -> str | None:
        """The logical id, when it is a string."""
        value = self.resource.get("id")
        return value if isinstance(value, str) else None

    @cached_property
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
        """How other resources refer to this one (None for contained resources).

        Only a grammatical ``Type/id`` of a real FHIR resource type is ever built: the
        type and id come from the request, and an output must never carry request text
        (a name sent as an id or a resourceType) as a reference.
        """
        return self._references[1 if versioned else 0]

    @cached_property
    def _references(self) -> tuple[str | None, str | None]:
        # Asked for many times per resource (subject and specimen keys, outputs); a
        # node's place and resource never change once collected: built once.
        return self._reference(False), self._reference(True)

    def _reference(self, versioned: bool) -> str | None:
        if self.container is not None:
            return None
        if self.id and is_resource_type(self.type):
            ref = f"{self.type}/{self.id}"
            if versioned and self.version:
                ref += f"/_history/{self.version}"
            if is_relative(ref):
                return ref
            if is_relative(f"{self.type}/{self.id}"):
                return f"{self.type}/{self.id}"
            return None
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
    reference_issues: list[Issue] = field(default_factory=list)
    _reported: set[int] = field(default_factory=set)

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
            if not is_grammatical(ref):
                self._ungrammatical(origin)
                return None, None
            if ref.startswith("#"):
                return self._contained.get(id(_root(origin)), {}).get(ref), None
            if ref in self._by_url:
                return self._by_url[ref], None
            parsed = parse_reference(ref)
            if parsed is not None:
                node = self._by_type_id.get(parsed.relative)
                if node is not None and (expected is None or node.type == expected):
                    return node, parsed.version
                return None, parsed.version
            return None, None
        ident = reference.get("identifier")
        if isinstance(ident, dict):
            rtype = reference.get("type") or expected or ""
            key = (str(rtype), str(ident.get("system", "")), str(ident.get("value", "")))
            return self._by_identifier.get(key), None
        return None, None

    def _ungrammatical(self, origin: Node) -> None:
        # One issue per resource, however often its references are looked at; the
        # reference itself is not quoted (it is request content).
        if id(origin) in self._reported:
            return
        self._reported.add(id(origin))
        self.reference_issues.append(
            Issue(
                Severity.WARNING,
                "invalid",
                "A reference does not follow the FHIR reference grammar (Type/id); "
                "it was not followed.",
                origin.path,
            )
        )


def reference_key(reference: object) -> str | None:
    """A stable text key for a Reference (type/id without base or version), if any."""
    if not isinstance(reference, dict):
        return None
    ref = reference.get("reference")
    if isinstance(ref, str):
        parsed = parse_reference(ref)
        if parsed is not None:
            return parsed.relative
        # An ungrammatical reference is no key: it would travel into the outputs.
        return ref if is_grammatical(ref) else None
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


def _too_large(diagnostics: str, where: str | None) -> RequestTooLarge:
    return RequestTooLarge([Issue(Severity.ERROR, "too-costly", diagnostics, where)])


def _measure(resource: dict[str, Any], limits: ReadLimits, where: str) -> int:
    """Count a resource's JSON values and check its depth; stop at the first cap exceeded.

    Returns:
        The number of values counted (0 when no cap asks for counting).
    """
    max_elements, max_depth = limits.max_elements, limits.max_depth
    if max_elements is None and max_depth is None and limits.max_total_elements is None:
        return 0
    count = 0
    stack: list[tuple[Any, int]] = [(resource, 1)]
    while stack:
        value, depth = stack.pop()
        if max_depth is not None and depth > max_depth:
            raise _too_large("A resource is nested deeper than the configured limit.", where)
        children = value.values() if type(value) is dict else value
        count += len(children)
        if max_elements is not None and count > max_elements:
            raise _too_large("A resource has more elements than the configured limit.", where)
        # A plain loop: this runs once per object and array of every resource.
        for child in children:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return count


@dataclass
class _Collector:
    limits: ReadLimits
    nodes: list[Node] = field(default_factory=list)
    counted: int = 0
    elements: int = 0

    def count(self, resources: int) -> None:
        """Count resources (or parameters) against the cap, before any is validated."""
        self.counted += resources
        cap = self.limits.max_resources
        if cap is not None and self.counted > cap:
            raise _too_large("The request holds more resources than the configured limit.", None)

    def add(self, node: Node) -> None:
        self.count(1)
        self.nodes.append(node)

    def collect(self, resource: object, path: str, full_url: str | None, nesting: int = 0) -> None:
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            self.add(Node({}, path, full_url))
            self.nodes[-1].problems.append(
                Issue(Severity.ERROR, "structure", "The entry is not a FHIR resource.", path)
            )
            return
        if resource["resourceType"] == "Bundle":
            if nesting >= MAX_BUNDLE_NESTING:
                raise _too_large("Bundles are nested deeper than the service reads.", path)
            for index, entry in enumerate(_list(resource.get("entry"))):
                entry_path = f"{path}.entry[{index}]"
                if not isinstance(entry, dict) or "resource" not in entry:
                    # e.g. a transaction-response entry without a resource; counted all
                    # the same, or millions of empty entries would be free.
                    self.count(1)
                    continue
                url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
                self.collect(entry["resource"], f"{entry_path}.resource", url, nesting + 1)
            return
        node = Node(resource, path, full_url)
        self.add(node)
        # Counted before the container is validated: its model validates them too.
        self.count(sum(isinstance(c, dict) for c in _list(resource.get("contained"))))
        self.elements += _measure(resource, self.limits, path)
        total = self.limits.max_total_elements
        if total is not None and self.elements > total:
            raise _too_large("The request has more elements than the configured limit.", path)
        for index, inner in enumerate(_list(resource.get("contained"))):
            if isinstance(inner, dict):
                self.nodes.append(Node(inner, f"{path}.contained[{index}]", None, container=node))

    def validate(self) -> None:
        """Validate every resource, once the whole request is known to be within the caps."""
        for node in self.nodes:
            if node.container is None and node.resource:
                node.problems.extend(r4b_issues(node.type, node.resource, node.path))
        for node in self.nodes:
            if node.container is not None:
                # The container's model validated the contained resources too.
                node.problems = [
                    p for p in node.container.problems if (p.expression or "").startswith(node.path)
                ]


def read_envelope(payload: object, limits: ReadLimits | None = None) -> Envelope:
    """Collect the resources of a Parameters, a Bundle or a single resource.

    Args:
        payload: the parsed request body.
        limits: caps on resources and elements, checked before any validation.

    Raises:
        EnvelopeError: when the payload is not a FHIR resource, is of a type the
            operation does not take, or carries an invalid ``tumorSite``;
            ``RequestTooLarge`` when it is over a cap.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("resourceType"), str):
        raise EnvelopeError(
            [Issue(Severity.ERROR, "structure", "The body is not a FHIR resource.")]
        )
    collector = _Collector(limits or ReadLimits())
    issues: list[Issue] = []
    tumor_site: str | None = None
    rtype = payload["resourceType"]
    if rtype == "Parameters":
        parameters = _list(payload.get("parameter"))
        collector.count(len(parameters))
        for index, param in enumerate(parameters):
            where = f"Parameters.parameter[{index}]"
            name = param.get("name") if isinstance(param, dict) else None
            if name in ("observation", "bundle") and "resource" in param:
                collector.collect(param["resource"], f"{where}.resource", None)
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
        collector.collect(payload, rtype, None)
    else:
        # The location names the element, not its value (the request's own text).
        raise EnvelopeError(
            [
                Issue(
                    Severity.ERROR,
                    "not-supported",
                    "The operation takes a Parameters, a Bundle, an Observation or a "
                    "DiagnosticReport.",
                    "resourceType",
                )
            ]
        )
    collector.validate()
    return Envelope(collector.nodes, tumor_site, issues)
