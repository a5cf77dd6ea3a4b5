"""A bounded, reproducible fuzz of both operations with a canary patient planted in the inputs.

Every request must be answered below 500, and no canary string may appear in any answer
or in any log record (the ``her2`` loggers, ``her2.audit`` included, and the root logger).

The canary: a Patient named "Zyxwvut Canaryson", born "1911-11-11", with the MRN
"MRN-CANARY-4242", added to the golden inputs (``tests/fixtures/inputs``); the same
strings are planted in every Observation's ``note``, ``code.text`` (where there is none),
an extension value and a performer display (still valid FHIR, still derived), then
hypothesis mutates
the result: keys dropped, duplicated, replaced, values of other types (huge numbers,
nesting, null, booleans), canary strings at random places and as keys, references and
resource types changed, arrays made long (within the body limit), and at the byte
level invalid UTF-8, lone surrogates and NUL as JSON escapes, RTL marks, repeated keys,
truncation and wrong content types.

The rule of what may be echoed: a successful answer legitimately carries references
(``Patient/<id>``, ``Specimen/<id>``, ``Observation/<id>``) and ids, so a canary never
appears as a *valid* FHIR id or a resolvable reference.  Every canary string planted
where an id or a reference goes is an illegal one (a space, ``..``, a query, too long);
the patient ids of the path that are valid ("pat-3", "canary-patient") contain no canary
string, and the path ids that carry a canary are invalid, so the audit record has no
reason to name them.  Anything else (name, birth date, MRN, free text, codes, unknown
elements and their keys, invalid ids and references) would be a leak wherever it is
echoed.

The store of the Patient-level operation is ``MemoryStore``, a test double that trusts
what it holds as a FHIR server does after validating it: seeded resources keep a known
``resourceType``, a valid ``id`` and the shapes the double itself reads (``subject``,
``code.coding``, ``identifier``, ``meta``); everything else is mutated.

Hypothesis runs derandomized (no example database), so CI runs the same requests every
time: about 3,000 requests in all.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from service.api import create_app
from service.api.logs import JsonFormatter
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.settings import Settings
from tests.builders import FIXTURES, NOW, parameters

GIVEN, FAMILY = "Zyxwvut", "Canaryson"
NAME = f"{GIVEN} {FAMILY}"
BIRTH = "1911-11-11"
MRN = "MRN-CANARY-4242"
# What must never be seen (pieces included: a given name alone is still a leak).
CANARIES = (NAME, GIVEN, FAMILY, BIRTH, MRN, "CANARY-4242", "19111111", "MRNCANARY4242")

PATIENT_ID = "canary-patient"
JSON = "application/fhir+json"
STATELESS = "/fhir/$her2-status"
BODY_LIMIT = 256 * 1024

# Canary text for anywhere: each one is illegal as a FHIR id (a space or another
# character an id cannot hold), so that no valid answer has a reason to echo it.
CANARY_TEXT = [
    NAME,
    f"{MRN} ",
    f"DOB {BIRTH}",
    f"{FAMILY}, {GIVEN} ({BIRTH}) {MRN}",
    f"{GIVEN}\u202e{FAMILY}",  # an RTL override in the middle
    f"{MRN}\x00",
    f"{NAME}\ufeff",
    f" {BIRTH}",
    f"{MRN}!",
]
CANARY_KEYS = [FAMILY, f"_{GIVEN}", MRN.replace("-", ""), f"{BIRTH}x", NAME, f"{MRN}:x"]
CANARY_REFERENCES = [
    f"Patient/{NAME}",
    f"Specimen/../{MRN}",
    "Specimen/../x",
    f"Specimen/{MRN}?birthdate={BIRTH}",
    f"#{NAME}",
    f"urn:uuid:{MRN}",
    f"http://evil.example/fhir/Patient/{quote(NAME)}/{BIRTH}",
    f"Observation/{MRN}/{'x' * 70}",
    f"Patient?identifier={MRN}",
    f"Specimen/{MRN}" + "x" * 64,
]
RESOURCE_TYPES = [
    "Patient",
    "Observation",
    "Bundle",
    "Parameters",
    "DiagnosticReport",
    "Specimen",
    "Condition",
    "OperationOutcome",
    "",
    NAME,
    f"Observation {MRN}",
]
CONTENT_TYPES = [
    JSON,
    "application/json",
    f"{JSON}; charset=utf-8",
    f"{JSON}; charset=latin-1",
    "application/json; charset=utf-16",
    "text/plain",
    "application/fhir+xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
]

CANARY_PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": PATIENT_ID,
    "identifier": [
        {"type": {"text": "MRN"}, "system": "urn:oid:1.2.36.146.595.217.0.1", "value": MRN}
    ],
    "name": [{"text": NAME, "family": FAMILY, "given": [GIVEN]}],
    "birthDate": BIRTH,
    "extension": [{"url": "http://example.org/fhir/canary", "valueString": NAME}],
    "text": {"status": "generated", "div": f"<div>{NAME}, {BIRTH}, {MRN}</div>"},
}


# --- the planted golden inputs -----------------------------------------------------------


def _plant(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with the canary in free text, an extension and a display (valid FHIR).

    Unknown elements make a resource invalid (and unused): mutations add those.
    """
    planted = copy.deepcopy(resource)
    if planted.get("resourceType") != "Observation":
        return planted
    planted["note"] = [*planted.get("note", []), {"text": f"{NAME} born {BIRTH}, {MRN}"}]
    if isinstance(planted.get("code"), dict) and "text" not in planted["code"]:
        planted["code"]["text"] = f"HER2 of {NAME}"
    planted["extension"] = [
        *planted.get("extension", []),
        {"url": "http://example.org/fhir/canary", "valueString": f"{MRN} {BIRTH}"},
    ]
    planted["performer"] = [{"display": f"Dr {FAMILY}"}]
    return planted


def _resources(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources a golden input carries (Bundle entries, Parameters, or itself)."""
    if payload["resourceType"] == "Bundle":
        return [e["resource"] for e in payload.get("entry", []) if isinstance(e, dict)]
    if payload["resourceType"] == "Parameters":
        found: list[dict[str, Any]] = []
        for param in payload["parameter"]:
            resource = param.get("resource")
            if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
                found += _resources(resource)
            elif isinstance(resource, dict):
                found.append(resource)
        return found
    return [payload]


def _with_canary(payload: dict[str, Any]) -> dict[str, Any]:
    """The golden input with every resource planted and the canary Patient added."""
    if payload["resourceType"] == "Bundle":
        entries = [
            {**e, "resource": _plant(e["resource"])}
            if isinstance(e, dict) and "resource" in e
            else e
            for e in payload.get("entry", [])
        ]
        return {**payload, "entry": [*entries, {"resource": CANARY_PATIENT}]}
    if payload["resourceType"] == "Parameters":
        params = []
        for param in payload["parameter"]:
            resource = param.get("resource")
            if isinstance(resource, dict):
                params.append({**param, "resource": _with_canary(resource)})
            else:
                params.append(param)
        return {**payload, "parameter": [*params, {"name": "patient", "resource": CANARY_PATIENT}]}
    entries = [{"resource": _plant(payload)}, {"resource": CANARY_PATIENT}]
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


GOLDEN = {
    p.stem: json.loads(p.read_text(encoding="utf-8"))
    for p in sorted((FIXTURES / "inputs").glob("*.json"))
}
PLANTED = {name: _with_canary(payload) for name, payload in GOLDEN.items()}
# The bare Observation too, as the stateless operation takes it.
PLANTED.update(
    {
        f"{name} (bare)": _plant(payload)
        for name, payload in GOLDEN.items()
        if payload["resourceType"] == "Observation"
    }
)


# --- mutations ---------------------------------------------------------------------------


def _nested(depth: int, leaf: Any) -> Any:
    for index in range(depth):
        leaf = [leaf] if index % 2 else {"extension": leaf}
    return leaf


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**40), 10**40)
    | st.sampled_from([0, -1, 2**63, 10**400, 1.5, 1e308, -0.0, 3])
    | st.text(max_size=6)
    | st.sampled_from(CANARY_TEXT)
    | st.sampled_from(CANARY_REFERENCES)
    | st.sampled_from(["3+", "2+", "0", "final", "amended", "Patient/pat-3", "#x", ""]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(CANARY_KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)

OPS = st.sampled_from(
    [
        "delete",
        "duplicate",
        "replace",
        "canary",
        "canary-key",
        "resource-type",
        "reference",
        "illegal-id",
        "wrap-list",
        "nest",
        "long-array",
        "swap-type",
    ]
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


def _swap_type(value: Any) -> Any:
    """Numbers to strings, strings to lists, lists to objects, objects to null..."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return {"value": value}
    if isinstance(value, dict):
        return None
    return True


def _mutate(node: Any, op: str, pick: int, data: st.DataObject) -> Any:
    """``node`` after one mutation at the ``pick``-th path (mod the number of paths)."""
    paths = _paths(node)
    path = paths[pick % len(paths)]
    if not path:
        return data.draw(json_values) if op == "replace" else node
    parent = node
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    value = parent[key]
    event(f"mutation: {op}")
    if op == "delete":
        if isinstance(parent, dict):
            del parent[key]
        else:
            parent.pop(key)
    elif op == "duplicate":
        if isinstance(parent, list):
            parent.insert(key, copy.deepcopy(value))
        else:
            parent[key] = [value, copy.deepcopy(value)]
    elif op == "replace":
        parent[key] = data.draw(json_values)
    elif op == "canary":
        parent[key] = data.draw(st.sampled_from(CANARY_TEXT))
    elif op == "canary-key":
        target = value if isinstance(value, dict) else parent
        if isinstance(target, dict):
            target[data.draw(st.sampled_from(CANARY_KEYS))] = data.draw(json_values)
    elif op == "resource-type":
        target = value if isinstance(value, dict) else parent
        if isinstance(target, dict):
            target["resourceType"] = data.draw(st.sampled_from(RESOURCE_TYPES))
    elif op == "reference":
        target = value if isinstance(value, dict) else parent
        if isinstance(target, dict):
            target["reference"] = data.draw(st.sampled_from(CANARY_REFERENCES))
    elif op == "illegal-id":
        target = value if isinstance(value, dict) else parent
        if isinstance(target, dict):
            target["id"] = data.draw(st.sampled_from(CANARY_TEXT))
    elif op == "wrap-list":
        parent[key] = [value]
    elif op == "nest":
        parent[key] = _nested(data.draw(st.integers(1, 40)), value)
    elif op == "long-array":
        parent[key] = [copy.deepcopy(value) for _ in range(data.draw(st.integers(50, 1500)))]
    elif op == "swap-type":
        parent[key] = _swap_type(value)
    return node


def _mutated(base: Any, data: st.DataObject, most: int = 4) -> Any:
    node = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, most), label="mutations")):
        node = _mutate(node, data.draw(OPS), data.draw(st.integers(0, 10**6)), data)
    return node


def _raw(body: bytes, data: st.DataObject) -> bytes:
    """The JSON text broken at the byte level."""
    op = data.draw(
        st.sampled_from(
            [
                "invalid-utf8",
                "lone-surrogate",
                "nul-escape",
                "rtl",
                "repeat-key",
                "repeat-canary-key",
                "truncate",
                "bom",
                "latin-1",
                "none",
            ]
        )
    )
    event(f"raw: {op}")
    at = data.draw(st.integers(0, len(body)))
    name = NAME.encode()
    if op == "invalid-utf8":
        junk = data.draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        return body.replace(name, name + junk, 1) if name in body else body[:at] + junk + body[at:]
    if op == "lone-surrogate":
        escape = data.draw(st.sampled_from([b"\\ud800", b"\\udfff", b"\\ud83d"]))
        return body.replace(name, name + escape, 1)
    if op == "nul-escape":
        return body.replace(name, name + b"\\u0000", 1)
    if op == "rtl":
        return body.replace(name, b"\\u202e" + name + "\u200f".encode(), 1)
    if op == "repeat-key":
        return body.replace(b'"resourceType": ', b'"resourceType": "Patient", "resourceType": ', 1)
    if op == "repeat-canary-key":
        return body.replace(b'"birthDate": ', f'"birthDate": "{BIRTH}", "birthDate": '.encode(), 1)
    if op == "truncate":
        return body[:at]
    if op == "bom":
        return b"\xef\xbb\xbf" + body
    if op == "latin-1":
        return body.replace(name, f"{GIVEN}\xe9 {FAMILY}".encode("latin-1"), 1)
    return body


def _dumps(value: Any) -> bytes:
    """JSON text of any mutated value (huge numbers and NaN-free floats included)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


# --- the observation of every request --------------------------------------------------


class _Capture(logging.Handler):
    """Every record of the loggers it is attached to, as the JSON line the service writes."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._formatter = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        line = self._formatter.format(record)
        if record.exc_info:
            line += self._formatter.formatException(record.exc_info)
        self.lines.append(line)


@pytest.fixture(scope="module")
def capture() -> Iterator[_Capture]:
    handler = _Capture()
    loggers = [logging.getLogger("her2"), logging.getLogger()]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


class _Tally:
    """The requests sent by one test and the statuses seen."""

    def __init__(self) -> None:
        self.sent = 0
        self.statuses: dict[int, int] = {}


def _check(response: Any, capture: _Capture, tally: _Tally, what: Callable[[], str]) -> None:
    """Below 500, and no canary in the answer or in a log record since the last check."""
    tally.sent += 1
    tally.statuses[response.status_code] = tally.statuses.get(response.status_code, 0) + 1
    if currently_in_test_context():
        event(f"status {response.status_code}")
    text: str = response.get_data(as_text=True)
    lines, capture.lines = capture.lines, []
    assert response.status_code < 500, f"{what()}: {response.status_code} {text}"
    for canary in CANARIES:
        assert canary not in text, f"{what()}: canary {canary!r} in the answer: {text}"
        leaked = [line for line in lines if canary in line]
        assert not leaked, f"{what()}: canary {canary!r} in a log record: {leaked}"


def _report(name: str, tally: _Tally, least: int) -> None:
    statuses = dict(sorted(tally.statuses.items()))
    print(f"\n{name}: {tally.sent} requests, statuses {statuses}")
    assert tally.sent >= least


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the stateless operation ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stateless_client() -> FlaskClient:
    app = create_app(Settings(max_body_bytes=BODY_LIMIT), clock=lambda: NOW)
    app.config["TESTING"] = True
    return app.test_client()


def test_the_planted_inputs_are_read_and_echo_no_canary(
    stateless_client: FlaskClient, capture: _Capture
) -> None:
    """The unmutated planted inputs: the base every mutation starts from, all answered."""
    tally = _Tally()
    for name, payload in PLANTED.items():
        response = stateless_client.post(STATELESS, data=_dumps(payload), content_type=JSON)
        _check(response, capture, tally, functools.partial(str, name))
    # The plant leaves the golden inputs usable: most answers are derivations.
    assert tally.statuses.get(200, 0) >= len(PLANTED) - 2, tally.statuses
    _report("planted inputs", tally, len(PLANTED))


def test_stateless_structural_mutations(stateless_client: FlaskClient, capture: _Capture) -> None:
    tally = _Tally()

    @_settings(1200)
    @given(name=st.sampled_from(sorted(PLANTED)), data=st.data())
    def fuzz(name: str, data: st.DataObject) -> None:
        body = _dumps(_mutated(PLANTED[name], data))
        if len(body) > BODY_LIMIT:
            event("body over the limit")
        response = stateless_client.post(STATELESS, data=body, content_type=JSON)
        _check(response, capture, tally, lambda: f"{name}: {body[:2000]!r}")

    fuzz()
    _report("stateless, structural", tally, 1200)


def test_stateless_raw_bytes_and_content_types(
    stateless_client: FlaskClient, capture: _Capture
) -> None:
    tally = _Tally()

    @_settings(700)
    @given(name=st.sampled_from(sorted(PLANTED)), data=st.data())
    def fuzz(name: str, data: st.DataObject) -> None:
        payload = (
            _mutated(PLANTED[name], data, most=2) if data.draw(st.booleans()) else PLANTED[name]
        )
        body = _raw(_dumps(payload).replace(b'":', b'": '), data)
        content_type = data.draw(st.sampled_from(CONTENT_TYPES))
        response = stateless_client.post(STATELESS, data=body, content_type=content_type)
        _check(response, capture, tally, lambda: f"{name} as {content_type!r}: {body[:2000]!r}")

    fuzz()
    _report("stateless, raw bytes", tally, 700)


# --- the Patient-level operation -------------------------------------------------------------

# A FHIR server returns only resources it could parse: these types, and the shapes
# MemoryStore itself reads.
STORED_TYPES = {"Observation", "DiagnosticReport", "Condition", "Specimen", "Patient"}
PATIENT_IDS = ["pat-3", PATIENT_ID]
# Invalid path ids that carry a canary: refused, and named "invalid" by the audit record.
INVALID_PATH_IDS = [quote(NAME), quote(f"{MRN} {BIRTH}"), f"{MRN}.{'x' * 60}", f"{BIRTH}_{GIVEN}"]
PERSIST_BODIES: list[bytes | None] = [
    None,
    json.dumps(parameters({"name": "persist", "valueBoolean": True})).encode(),
    json.dumps(parameters({"name": "persist", "valueBoolean": False})).encode(),
    json.dumps(parameters({"name": "persist", "valueString": NAME})).encode(),
    json.dumps({**CANARY_PATIENT, "parameter": [{"name": "persist"}]}).encode(),
    json.dumps(parameters({"name": "persist", "valueBoolean": True}, {"name": MRN})).encode(),
]


def _patient_resources() -> list[dict[str, Any]]:
    """Every distinct resource of the golden inputs, planted, for the store."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for payload in GOLDEN.values():
        for resource in _resources(payload):
            if resource.get("resourceType") in STORED_TYPES and isinstance(resource.get("id"), str):
                found.setdefault((resource["resourceType"], resource["id"]), _plant(resource))
    return list(found.values())


PATIENT_RESOURCES = _patient_resources()


def _storable(resource: Any, original: dict[str, Any]) -> dict[str, Any]:
    """The mutated resource as a FHIR server would hold it (see the module docstring)."""
    stored: dict[str, Any] = resource if isinstance(resource, dict) else {}
    stored["resourceType"] = original["resourceType"]
    stored["id"] = original["id"]
    for key, shape in (("subject", dict), ("code", dict), ("meta", dict), ("identifier", list)):
        if key in stored and not isinstance(stored[key], shape):
            del stored[key]
    code = stored.get("code")
    if isinstance(code, dict) and not (
        isinstance(code.get("coding", []), list)
        and all(isinstance(c, dict) for c in code.get("coding", []))
    ):
        del code["coding"]
    for coding in (code or {}).get("coding", []):
        # The store matches (system, code) pairs in a set: strings, as a server holds them.
        for key in ("system", "code"):
            if key in coding and not isinstance(coding[key], str):
                del coding[key]
    if not all(isinstance(i, dict) for i in stored.get("identifier", [])):
        del stored["identifier"]
    if isinstance(stored.get("meta"), dict):
        stored["meta"].pop("versionId", None)
    return stored


def _seeded(store: MemoryStore, request: str) -> str:
    """The request, and what the store held (for a failure's message)."""
    return f"{request} over {json.dumps([store.resources[k] for k in sorted(store.resources)])}"


@pytest.fixture(scope="module")
def patient_service(tmp_path_factory: pytest.TempPathFactory) -> tuple[FlaskClient, MemoryStore]:
    store = MemoryStore()
    locks = FileLocks(Path(tmp_path_factory.mktemp("locks")), timeout=1)
    app = create_app(
        Settings(max_body_bytes=BODY_LIMIT), clock=lambda: NOW, store=store, locks=locks
    )
    app.config["TESTING"] = True
    return app.test_client(), store


def test_patient_operation_over_mutated_stored_results(
    patient_service: tuple[FlaskClient, MemoryStore], capture: _Capture
) -> None:
    client, store = patient_service
    tally = _Tally()

    @_settings(250)
    @given(
        patient_id=st.sampled_from(PATIENT_IDS),
        mutated=st.sets(st.sampled_from(range(len(PATIENT_RESOURCES))), max_size=3),
        dropped=st.sets(st.sampled_from(range(len(PATIENT_RESOURCES))), max_size=4),
        data=st.data(),
    )
    def fuzz(patient_id: str, mutated: set[int], dropped: set[int], data: st.DataObject) -> None:
        store.resources.clear()
        store.put({**CANARY_PATIENT, "id": patient_id})
        for index, original in enumerate(PATIENT_RESOURCES):
            if index in dropped - mutated:
                continue
            resource = copy.deepcopy(original)
            if "subject" in resource:
                resource["subject"] = {"reference": f"Patient/{patient_id}"}
            if index in mutated:
                resource = _mutated(resource, data, most=3)
            store.put(_storable(resource, original))
        op = f"/fhir/Patient/{patient_id}/$her2-status"
        for body in (None, data.draw(st.sampled_from(PERSIST_BODIES[1:]))):
            response = client.post(op, data=body, content_type=JSON)
            _check(
                response,
                capture,
                tally,
                functools.partial(_seeded, store, f"{op} with {body!r}"),
            )

    fuzz()
    _report("Patient operation, mutated store", tally, 500)


def test_patient_operation_with_canary_path_ids_and_bodies(
    patient_service: tuple[FlaskClient, MemoryStore], capture: _Capture
) -> None:
    client, store = patient_service
    store.resources.clear()
    store.put({**CANARY_PATIENT, "id": "pat-3"})
    for resource in PATIENT_RESOURCES:
        stored = copy.deepcopy(resource)
        if "subject" in stored:
            stored["subject"] = {"reference": "Patient/pat-3"}
        store.put(_storable(stored, resource))
    tally = _Tally()
    for patient_id in [*INVALID_PATH_IDS, *PATIENT_IDS]:
        for body in PERSIST_BODIES:
            for content_type in (JSON, "text/plain"):
                op = f"/fhir/Patient/{patient_id}/$her2-status"
                response = client.post(op, data=body, content_type=content_type)
                _check(
                    response,
                    capture,
                    tally,
                    functools.partial(str, f"{op} with {body!r} as {content_type}"),
                )
    _report("Patient operation, path ids and bodies", tally, 70)


# --- a leak the fuzz found, fixed: references are built only from valid type and id ------------


def test_an_invalid_container_id_is_never_answered_as_a_reference(
    stateless_client: FlaskClient,
) -> None:
    """A DiagnosticReport with an invalid id, holding a contained IHC: the id is answered."""
    report = copy.deepcopy(GOLDEN["contained-condition-references"])
    report["entry"][2]["resource"]["id"] = NAME  # an invalid id: a space
    response = stateless_client.post(STATELESS, data=_dumps(report), content_type=JSON)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    # It was answered as Provenance.entity[0].what.reference "DiagnosticReport/<the id>".
    assert NAME not in text


def test_a_subject_entry_with_request_text_as_its_type_is_never_answered(
    stateless_client: FlaskClient,
) -> None:
    """A subject given as urn:uuid whose entry has request text as its resourceType."""
    inputs = copy.deepcopy(GOLDEN["gastro-snomed-legacy-text"])
    assert inputs["entry"][1]["fullUrl"].endswith("00a0")  # the Patient the subjects name
    inputs["entry"][1]["resource"]["resourceType"] = NAME
    response = stateless_client.post(STATELESS, data=_dumps(inputs), content_type=JSON)
    assert response.status_code == 200
    # It was answered as the status Observation's subject.reference "<the type>/pat-9".
    assert NAME not in response.get_data(as_text=True)
