"""Hostile request bodies: no request value in any answer or log line, strict JSON, caps."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.settings import Limits, Settings

# A canary patient: none of these may ever appear in an answer or a log line.
NAME, BIRTH, MRN = "Canaryname Zebulonia", "1937-04-05", "MRN-CANARY-0077"
CANARIES = (NAME, "Canaryname", "Zebulonia", BIRTH, MRN)
PATIENT = {
    "resourceType": "Patient",
    "id": "canary",
    "name": [{"text": NAME}],
    "birthDate": BIRTH,
    "identifier": [{"system": "urn:mrn", "value": MRN}],
}
IHC = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "18474-7"}]},
    "subject": {"reference": "Patient/canary"},
    "valueString": "3+",
}
JSON = "application/fhir+json"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        self.lines.append(text + json.dumps(getattr(record, "fields", None), default=str))


@pytest.fixture
def logs() -> Iterator[_Capture]:
    capture = _Capture()
    loggers = [logging.getLogger(), logging.getLogger("her2"), logging.getLogger("her2-status")]
    for logger in loggers:
        logger.addHandler(capture)
    try:
        yield capture
    finally:
        for logger in loggers:
            logger.removeHandler(capture)


@pytest.fixture
def client() -> FlaskClient:
    app = create_app(Settings(max_body_bytes=256 * 1024, limits=Limits(max_resources=50)))
    app.config["TESTING"] = True
    return app.test_client()


def _with_canary(**changes: Any) -> dict[str, Any]:
    return {**PATIENT, **changes}


def _bundle(*resources: object) -> bytes:
    entries = [{"resource": r} for r in resources]
    return json.dumps({"resourceType": "Bundle", "type": "collection", "entry": entries}).encode()


def _contained(inner: object) -> bytes:
    return json.dumps({**IHC, "contained": [inner]}).encode()


HOSTILE: dict[str, bytes] = {
    # fhir.resources quotes a resourceType where none belongs: here a whole Patient.
    "element whose resourceType is a Patient": json.dumps(
        {**IHC, "code": {"resourceType": PATIENT}}
    ).encode(),
    "element whose resourceType is the name": _bundle(
        IHC, {**PATIENT, "maritalStatus": {"resourceType": NAME}}
    ),
    "contained resourceType": _contained({"resourceType": f"{NAME} {BIRTH} {MRN}"}),
    "contained Patient of wrong shape": _contained(_with_canary(gender=NAME, birthDate=MRN)),
    "unknown element named by the canary": _bundle(IHC, {**PATIENT, MRN.replace("-", ""): 1}),
    "unknown element in an input": json.dumps({**IHC, NAME.replace(" ", ""): BIRTH}).encode(),
    "Patient with values of the wrong type": _bundle(IHC, _with_canary(name=NAME, gender=[MRN])),
    "Patient with an illegal id": _bundle(IHC, _with_canary(id=f"{MRN} {BIRTH}")),
    "wrong resourceType at the top": json.dumps({"resourceType": NAME}).encode(),
    "invalid JSON after the canary": f'{{"resourceType": "Patient", "name": "{NAME}", }}'.encode(),
    "a lone surrogate beside the canary": (
        f'{{"resourceType": "Observation", "note": [{{"text": "{NAME}\\ud800"}}]}}'.encode()
    ),
    "not UTF-8": f'{{"resourceType": "Patient", "name": "{NAME}\xe9"}}'.encode("latin-1"),
    "a repeated key": f'{{"resourceType": "Patient", "id": "{MRN}", "id": "{BIRTH}"}}'.encode(),
    "deep nesting": ("[" * 100_000 + f'"{NAME}"' + "]" * 100_000).encode(),
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_no_request_value_in_any_answer_or_log(
    client: FlaskClient, logs: _Capture, body: bytes
) -> None:
    response = client.post("/fhir/$her2-status", data=body, content_type=JSON)
    text = response.get_data(as_text=True)
    assert response.status_code in (200, 400, 413, 422), text
    assert response.json is not None
    assert response.json["resourceType"] in (
        "OperationOutcome",
        "Bundle",
    )
    for canary in CANARIES:
        assert canary not in text
        assert not any(canary in line for line in logs.lines), logs.lines
        # The same text as it appears in JSON escapes or pieces of it.
        assert canary.replace("-", "") not in text


def test_lone_surrogate_is_400_not_500(client: FlaskClient) -> None:
    body = b'{"resourceType":"\\ud800"}'
    response = client.post("/fhir/$her2-status", data=body, content_type=JSON)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["resourceType"] == "OperationOutcome"


def test_invalid_utf8_is_400(client: FlaskClient) -> None:
    response = client.post("/fhir/$her2-status", data=b'{"resourceType":"\xff"}', content_type=JSON)
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)


def test_repeated_key_is_400_whatever_the_order(client: FlaskClient) -> None:
    # The standard library keeps the last value: "3+" then "0" would derive negative.
    body = json.dumps(IHC).replace('"valueString": "3+"', '"valueString": "3+", "valueString": "0"')
    response = client.post("/fhir/$her2-status", data=body, content_type=JSON)
    assert response.status_code == 400
    assert "repeats a key" in response.get_data(as_text=True)


def test_repeated_key_deep_inside_a_bundle_is_400(client: FlaskClient) -> None:
    body = _bundle(IHC).replace(b'"code": "18474-7"', b'"code": "18474-7", "code": "x"')
    response = client.post("/fhir/$her2-status", data=body, content_type=JSON)
    assert response.status_code == 400


def test_more_resources_than_the_cap_is_413(client: FlaskClient) -> None:
    response = client.post("/fhir/$her2-status", data=_bundle(*[IHC] * 51), content_type=JSON)
    assert response.status_code == 413
    assert response.json is not None
    assert response.json["issue"][0]["code"] == "too-costly"


def test_resources_up_to_the_cap_are_read(client: FlaskClient) -> None:
    response = client.post("/fhir/$her2-status", data=_bundle(*[IHC] * 50), content_type=JSON)
    assert response.status_code == 200


def test_more_elements_in_one_resource_than_the_cap_is_413() -> None:
    app = create_app(Settings(limits=Limits(max_elements=500)))
    many = {**IHC, **{f"unknown{i}": i for i in range(600)}}
    response = app.test_client().post("/fhir/$her2-status", json=many, content_type=JSON)
    assert response.status_code == 413
    assert len(response.get_data()) < 2000


def test_nesting_deeper_than_the_cap_is_413(client: FlaskClient) -> None:
    nested: dict[str, Any] = {"url": "x"}
    for _ in range(40):
        nested = {"url": "x", "extension": [nested]}
    response = client.post("/fhir/$her2-status", json={**IHC, "extension": [nested]})
    assert response.status_code == 413


def test_issues_are_truncated_with_a_count_of_the_rest() -> None:
    app = create_app(Settings(limits=Limits(max_issues=5)))
    # Twenty entries that are not resources: one issue each.
    body = json.dumps({"resourceType": "Bundle", "entry": [{"resource": 1}] * 20})
    response = app.test_client().post("/fhir/$her2-status", data=body, content_type=JSON)
    assert response.status_code == 422
    assert response.json is not None
    issues = response.json["issue"]
    assert len(issues) == 6
    assert issues[-1]["code"] == "too-costly"
    assert "more issues were omitted" in issues[-1]["diagnostics"]


def test_an_answer_over_the_size_cap_is_413() -> None:
    app = create_app(Settings(limits=Limits(max_answer_bytes=64 * 1024)))
    specimens = [
        {**IHC, "subject": {"reference": f"Patient/p{i}"}, "valueString": "3+"} for i in range(40)
    ]
    response = app.test_client().post(
        "/fhir/$her2-status", data=_bundle(*specimens), content_type=JSON
    )
    assert response.status_code == 413


def test_more_elements_in_the_whole_request_than_the_cap_is_413() -> None:
    # Each resource is within its own cap; together they are not.
    app = create_app(Settings(limits=Limits(max_elements=1000, max_request_elements=2000)))
    component = {"code": {"text": "c"}, "valueString": "v"}
    resources = [{**IHC, "component": [component] * 200} for _ in range(5)]
    response = app.test_client().post(
        "/fhir/$her2-status", data=_bundle(*resources), content_type=JSON
    )
    assert response.status_code == 413


def test_entries_without_a_resource_count_against_the_resource_cap(client: FlaskClient) -> None:
    body = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": [{}] * 51})
    response = client.post("/fhir/$her2-status", data=body, content_type=JSON)
    assert response.status_code == 413
