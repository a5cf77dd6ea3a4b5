"""Property tests: the reader and the derivation never raise on garbled FHIR."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.app.derivation import derive
from service.fhir import jsonio
from service.fhir.envelope import EnvelopeError
from service.fhir.issues import Issue
from tests.builders import FIXTURES, NOW, bundle, observation

INPUTS = sorted((FIXTURES / "inputs").glob("*.json"))
PAYLOADS = [jsonio.loads(p.read_text()) for p in INPUTS]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-10, 10)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-100, max_value=100)
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "Observation",
            "Patient/p",
            "#x",
            "urn:uuid:x",
            "final",
            "LA6111-4",
            "http://loinc.org",
            "49683-6",
            "85319-2",
            Decimal("0"),
            "2 +",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=10,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def _mutate(payload: Any, path: tuple[Any, ...], value: Any, delete: bool) -> Any:
    if not path:
        return value
    mutated = copy.deepcopy(payload)
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return mutated


def _derive_never_raises(payload: Any) -> None:
    envelope_issues: list[Issue] | None
    try:
        derivation = derive(payload, NOW)
    except EnvelopeError as exc:
        envelope_issues = exc.issues
    else:
        envelope_issues = None
    if envelope_issues is not None:
        assert envelope_issues  # an unreadable envelope always says why
        return
    assert derivation.bundle["type"] == "collection"
    if not derivation.usable:
        assert derivation.outcome()["issue"]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), json_values, st.booleans())
def test_mutated_fixtures_never_raise(data: st.DataObject, value: Any, delete: bool) -> None:
    payload = data.draw(st.sampled_from(PAYLOADS))
    path = data.draw(st.sampled_from(_paths(payload)))
    _derive_never_raises(_mutate(payload, path, value, delete))


@settings(max_examples=200)
@given(json_values)
def test_arbitrary_json_never_raises(value: Any) -> None:
    _derive_never_raises(value)
    _derive_never_raises(bundle(value))


def test_library_crash_on_unknown_contained_type_is_just_invalid() -> None:
    # fhir.resources raises KeyError / TypeError here instead of a ValidationError.
    for contained in ({"resourceType": "Type"}, {"resourceType": None}):
        resource = observation(
            "i", "18474-7", subject=None, effective=None, valueString="3+", contained=[contained]
        )
        derivation = derive(resource, NOW)
        assert not derivation.usable
        assert [i.input_error for i in derivation.issues if i.input_error] == ["invalid_type"]
