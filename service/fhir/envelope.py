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
from functools import cache, cached_property, lru_cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
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
# The FHIR R4 reference grammar (3.1.3.4.1 Literal references): ``Type/id`` or
# ``Type/id/_history/vid``, relative or after an absolute service base.  An id made
# of dots only is legal by the id pattern but means "this/parent directory" in a URL,
# so it is refused: ``Specimen/..`` must never become a request for another path.
_ID = r"(?!\.{1,64}(?:/|$))[A-Za-z0-9\-.]{1,64}"
_RELATIVE = re.compile(
    rf"(?P<type>[A-Z][A-Za-z]{{0,63}})/(?P<id>{_ID})(?:/_history/(?P<version>{_ID}))?"
)
_BASE = re.compile(r"https?://[A-Za-z0-9\-.:\[\]@]+(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@]+)*")
_URN = re.compile(r"urn:(?:uuid:[0-9a-fA-F\-]{36}|oid:[0-2](?:\.(?:0|[1-9][0-9]*))+)")


@dataclass(frozen=True)
class Reference:
    """A literal reference that follows the FHIR grammar.

    Attributes:
        type: the resource type.
        id: the logical id.
        version: the ``_history`` version, if named.
        base: the absolute service base it names, or None when relative.
    """

    type: str
    id: str
    version: str | None = None
    base: str | None = None

    @property
    def relative(self) -> str:
        """``Type/id`` (without base or version): what may be read from a server."""
        return f"{self.type}/{self.id}"


@cache
def is_resource_type(name: str) -> bool:
    """Whether ``name`` is an R4 resource type (not a data type, not anything else)."""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Z][A-Za-z]{0,63}", name):
        return False
    try:
        model = get_fhir_model_class(name)
    except (KeyError, ValueError):
        return False
    return issubclass(model, Resource)


def parse_reference(text: object) -> Reference | None:
    """Parse a literal reference; None unless it follows the FHIR reference grammar.

    Accepted: ``Type/id``, ``Type/id/_history/vid``, and either after an absolute
    ``http(s)`` base whose path has no ``.`` or ``..`` segment.  Anything else (a
    path with dot segments, a query, a fragment, spaces) is never followed.
    """
    if not isinstance(text, str):
        return None
    if len(text) <= _CACHED_LENGTH:
        return _parse_cached(text)
    return _parse(text)


# Every reference of a request is parsed several times (indexing, grouping, subject
# keys) and the same few recur across requests: parsing is a pure function of the
# text, so ordinary-length references are parsed once.  The bounds keep a hostile
# request from filling memory (longer text is parsed each time, not kept).
_CACHED_LENGTH = 256


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Reference | None:
    return _parse(text)


def _parse(text: str) -> Reference | None:
    match = _RELATIVE.fullmatch(text)
    if match:
        return Reference(match["type"], match["id"], match["version"])
    if not text.startswith(("http://", "https://")):
        return None
    # The type/id tail is at most four segments; try the ones that can hold it.
    parts = text.split("/")
    for tail in (4, 2):
        if len(parts) <= tail + 2:
            continue
        base, rest = "/".join(parts[:-tail]), "/".join(parts[-tail:])
        match = _RELATIVE.fullmatch(rest)
        if match and _BASE.fullmatch(base) and not {".", ".."} & set(base.split("/")[3:]):
            return Reference(match["type"], match["id"], match["version"], base)
    return None


def is_grammatical(text: str) -> bool:
    """Whether a reference string is a literal reference, a ``urn`` or a ``#local`` one."""
    if len(text) <= _CACHED_LENGTH:
        return _grammatical_cached(text)
    return _grammatical(text)


@lru_cache(maxsize=8192)
def _grammatical_cached(text: str) -> bool:
    return _grammatical(text)


def _grammatical(text: str) -> bool:
    return (
        parse_reference(text) is not None
        or _URN.fullmatch(text) is not None
        or (text.startswith("#") and (text == "#" or _RELATIVE_ID.fullmatch(text[1:]) is not None))
    )


_RELATIVE_ID = re.compile(_ID)


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
            if _RELATIVE.fullmatch(ref):
                return ref
            if _RELATIVE.fullmatch(f"{self.type}/{self.id}"):
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


_LOC_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# pydantic error types → our fixed wording.  Never pydantic's or fhir.resources' own
# message: some quote the input (a wrong resourceType, a value error's text, and in
# the worst case a whole contained resource with a patient's name and birth date).
_PROBLEMS: dict[str, str] = {
    "extra_forbidden": "an element unknown to FHIR R4",
    "missing": "a required element is missing",
    "model_field_validation.missing": "a required element is missing",
    "list_type": "an element must be a list (or holds an empty item)",
    "dict_type": "an element must be an object",
    "model_type": "an element must be an object",
    "model_attributes_type": "an element must be an object",
    "string_type": "an element must be a string",
    "bool_type": "an element must be a boolean",
    "int_type": "an element must be an integer",
    "int_parsing": "an element must be an integer",
    "decimal_type": "an element must be a decimal",
    "string_pattern_mismatch": "a value does not match its FHIR data type",
    "fhir-validation-wrong-resource-type": "a resource has an unexpected resourceType",
    "model_validation_format": "a resource or element has an unexpected type",
}
_PROBLEM_DEFAULT = "a value does not meet the FHIR R4 rules for its element"
_ONE_OF_MANY = "Any of one field value is expected from this list"


def _problem(error_type: str, message: str) -> str:
    """Our wording for a pydantic error; the library's message only selects it."""
    if error_type == "value_error" and _ONE_OF_MANY in message:
        return "more than one element of a choice type (such as two value[x])"
    return _PROBLEMS.get(error_type, _PROBLEM_DEFAULT)


def _location(base: str, loc: tuple[int | str, ...], error_type: str) -> str:
    path = base
    # An unknown element's name is the request's own text: the location stops at
    # the object that holds it.
    parts = loc[:-1] if error_type == "extra_forbidden" else loc
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _LOC_PART.fullmatch(part):
            path += f".{part}"
        else:
            # Not an element name (a union tag, a dict key): nothing more to locate.
            break
    return path


def _check(node: Node) -> None:
    model = _MODELS.get(node.type)
    if model is None:
        return
    try:
        model.model_validate(node.resource)
    except ValidationError as exc:
        seen: set[tuple[str, str]] = set()
        for error in exc.errors(include_input=False, include_url=False, include_context=False):
            problem = _problem(str(error["type"]), str(error["msg"]))
            where = _location(node.path, tuple(error["loc"]), str(error["type"]))
            if (problem, where) in seen:
                continue
            seen.add((problem, where))
            node.problems.append(
                Issue(
                    Severity.ERROR,
                    "structure",
                    f"{node.type} is not valid FHIR R4: {problem}",
                    where,
                )
            )
    except (KeyError, TypeError, AttributeError, IndexError, ValueError, RecursionError):
        # fhir.resources itself crashes on some hostile shapes instead of raising a
        # ValidationError (found by tests/unit/test_reader_fuzz.py): still just invalid.
        node.problems.append(
            Issue(Severity.ERROR, "structure", f"{node.type} is not valid FHIR R4.", node.path)
        )


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
                _check(node)
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
