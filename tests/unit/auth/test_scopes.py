"""SMART scopes: v2 letters, v1 words, contexts, the patient claim."""

from __future__ import annotations

import pytest

from service.auth import Access, Grant


def grant(scope: object, patient: object = None) -> Grant:
    return Grant.from_claims({"scope": scope, "patient": patient})


@pytest.mark.parametrize(
    ("scope", "read", "write"),
    [
        ("system/Observation.rs", True, False),
        ("system/Observation.cruds", True, True),
        ("system/Observation.rs system/Observation.cu", True, True),
        ("system/Observation.r system/Observation.s", True, False),
        ("system/*.rs", True, False),
        ("system/Observation.read", True, False),  # v1
        ("system/Observation.write", False, True),  # v1
        ("system/Observation.*", True, True),  # v1
        ("system/Observation.r", False, False),  # search missing
        ("system/Observation.c", False, False),
        ("system/Observation.sr", False, False),  # v2 letters are ordered
        ("system/Observation.rs?category=laboratory", False, False),  # a subset only
        ("system/Patient.rs", False, False),
        ("user/Observation.rs", False, False),
        ("patient/Observation.rs", False, False),  # no patient claim
        ("openid fhirUser launch", False, False),
        ("", False, False),
    ],
)
def test_system_scopes(scope: str, read: bool, write: bool) -> None:
    g = grant(scope)
    assert g.allows(Access.READ, "p1") is read
    assert g.allows(Access.WRITE, "p1") is write


def test_patient_scopes_need_the_same_patient() -> None:
    g = grant("patient/Observation.rs patient/Observation.cu", patient="p1")
    assert g.allows(Access.READ, "p1")
    assert g.allows(Access.WRITE, "p1")
    assert not g.allows(Access.READ, "p2")
    assert not g.allows(Access.WRITE, "p2")
    v1 = grant("patient/Observation.read", patient="p1")
    assert v1.allows(Access.READ, "p1")
    assert not v1.allows(Access.WRITE, "p1")


def test_scope_as_a_list_and_odd_claims() -> None:
    assert grant(["system/Observation.rs"]).allows(Access.READ, "p")
    assert not grant(42).allows(Access.READ, "p")
    assert grant("patient/Observation.rs", patient=7).patient_id is None
