"""Every endpoint, error status and content type of the HTTP API (Flask test client)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.api.logs import JsonFormatter
from service.fhir.codes import CS_INPUT_ERROR
from service.settings import Settings
from tests.builders import FIXTURES, NOW, observation

INPUTS = FIXTURES / "inputs"
EXPECTED = FIXTURES / "expected"
OP = "/fhir/$her2-status"
FHIR_JSON = "application/fhir+json; charset=utf-8"


def post(
    client: FlaskClient,
    body: bytes | str,
    content_type: str = "application/fhir+json",
    path: str = OP,
    **headers: str,
) -> Any:
    return client.post(path, data=body, content_type=content_type, headers=headers)


def fixture(name: str) -> bytes:
    return (INPUTS / name).read_bytes()


def outcome_of(response: Any) -> dict[str, Any]:
    assert response.headers["Content-Type"] == FHIR_JSON
    body: dict[str, Any] = json.loads(response.data)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"]
    return body


@pytest.mark.parametrize(
    "content_type",
    [
        "application/fhir+json",
        "application/fhir+json; charset=utf-8",
        "application/json",
        "application/json+fhir",
    ],
)
def test_stateless_operation_returns_the_golden_bundle(
    client: FlaskClient, content_type: str
) -> None:
    response = post(client, fixture("breast-ihc2-dual-separate.json"), content_type)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FHIR_JSON
    expected = json.loads((EXPECTED / "breast-ihc2-dual-separate.json").read_text())
    assert json.loads(response.data) == expected


def test_decimals_in_parameters_are_exact(client: FlaskClient) -> None:
    response = post(client, fixture("gastro-valueratio-tumorsite.json"))
    assert response.status_code == 200
    assert b"ratio 2.4 (reported)" in response.data


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", ""])
def test_unsupported_content_type_is_415(client: FlaskClient, content_type: str) -> None:
    response = post(client, fixture("unknown-site.json"), content_type)
    assert response.status_code == 415
    outcome_of(response)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe\x00", b"[" * 60_000, b""],
    ids=["syntax", "utf8", "deep", "empty"],
)
def test_malformed_json_is_400(client: FlaskClient, body: bytes) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert outcome_of(response)["issue"][0]["code"] == "structure"


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient", "id": "p"},
        [1, 2],
        {"no": "type"},
        {"resourceType": "Parameters", "parameter": [{"name": "tumorSite", "valueCode": "lung"}]},
    ],
)
def test_not_a_request_is_400(client: FlaskClient, body: object) -> None:
    response = post(client, json.dumps(body))
    assert response.status_code == 400
    outcome_of(response)


def test_body_over_the_limit_is_413(client: FlaskClient) -> None:
    response = post(client, b" " * (65 * 1024))
    assert response.status_code == 413
    assert outcome_of(response)["issue"][0]["code"] == "too-costly"


def test_no_usable_her2_data_is_422_with_input_error_codes(client: FlaskClient) -> None:
    response = post(client, fixture("no-her2.json"))
    assert response.status_code == 422
    codings = [
        c for i in outcome_of(response)["issue"] for c in i.get("details", {}).get("coding", [])
    ]
    assert {"system": CS_INPUT_ERROR, "code": "missing_data"} in codings


def test_every_group_invalid_is_422_with_locations(client: FlaskClient) -> None:
    body = observation(
        None, "49683-6", subject="Patient/x", effective=None, valueQuantity={"value": -1.5}
    )
    response = post(client, json.dumps(body))
    assert response.status_code == 422
    issue = next(i for i in outcome_of(response)["issue"] if "details" in i)
    assert issue["details"]["coding"][0]["code"] == "invalid_value"
    assert issue["expression"] == ["Observation.valueQuantity"]
    assert "1.5" not in json.dumps(outcome_of(response))  # no values in error messages


def test_partly_invalid_request_is_200_with_an_outcome_entry(client: FlaskClient) -> None:
    response = post(client, fixture("broken-entries.json"))
    assert response.status_code == 200
    types = [e["resource"]["resourceType"] for e in json.loads(response.data)["entry"]]
    assert types[-1] == "OperationOutcome"


def test_metadata_names_the_operation(client: FlaskClient) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == FHIR_JSON
    body = json.loads(response.data)
    assert body["resourceType"] == "CapabilityStatement"
    assert body["rest"][0]["operation"][0]["name"] == "her2-status"
    assert body["implementation"]["url"] == "http://localhost/fhir"


def test_operation_definition(client: FlaskClient) -> None:
    body = json.loads(client.get("/fhir/OperationDefinition/her2-status").data)
    assert (body["resourceType"], body["code"]) == ("OperationDefinition", "her2-status")


def test_health_endpoints(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ready", "fhir_server": "not configured"}


def test_readyz_is_503_when_the_fhir_server_is_unreachable(unreachable_client: FlaskClient) -> None:
    client = unreachable_client
    response = client.get("/readyz")
    assert response.status_code == 503
    # Authentication is off in this fixture, and readiness says so.
    assert response.json == {"status": "not ready", "fhir_server": "unreachable", "auth": "off"}


def test_patient_operation_without_a_server_is_400(client: FlaskClient) -> None:
    response = client.post("/fhir/Patient/p1/$her2-status")
    assert response.status_code == 400
    assert outcome_of(response)["issue"][0]["code"] == "not-supported"


def test_patient_operation_with_an_unreachable_server_is_503(
    unreachable_client: FlaskClient,
) -> None:
    client = unreachable_client
    response = client.post("/fhir/Patient/p1/$her2-status")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    outcome_of(response)


@pytest.mark.parametrize("patient_id", ["a b", "x" * 65, "ü"])
def test_patient_operation_rejects_invalid_ids(client: FlaskClient, patient_id: str) -> None:
    response = client.post(f"/fhir/Patient/{patient_id}/$her2-status")
    assert response.status_code in (400, 404)
    outcome_of(response)


def test_unknown_path_is_404_and_wrong_method_405(client: FlaskClient) -> None:
    assert client.get("/fhir/Nothing").status_code == 404
    outcome_of(client.get("/fhir/Nothing"))
    response = client.get(OP)
    assert response.status_code == 405
    outcome_of(response)


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    assert (
        client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"]
        == "abc-123"
    )
    made = client.get("/healthz", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert made != "bad id!"
    assert len(made) == 32


def test_defect_is_500_without_a_trace() -> None:
    application = create_app(Settings(), clock=lambda: NOW)

    def boom() -> str:
        raise RuntimeError("secret patient detail")

    application.add_url_rule("/boom", view_func=boom)
    response = application.test_client().get("/boom")
    assert response.status_code == 500
    text = json.dumps(outcome_of(response))
    assert "secret" not in text
    assert "Traceback" not in text


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(JsonFormatter().format(record))


def test_logs_carry_no_patient_data(client: FlaskClient) -> None:
    collector = _Collect()
    logging.getLogger("her2").addHandler(collector)
    try:
        body = json.loads(fixture("breast-ihc2-dual-separate.json"))
        body["entry"][0]["resource"].update(
            {
                "name": [{"family": "Doe-Secret"}],
                "birthDate": "1960-02-29",
                "identifier": [{"system": "urn:mrn", "value": "MRN-99999"}],
            }
        )
        post(client, json.dumps(body))
        client.post("/fhir/Patient/p1/$her2-status")
        application = create_app(Settings(), clock=lambda: NOW)
        application.add_url_rule("/boom", view_func=lambda: str(1 / 0))
        application.test_client().get("/boom")
    finally:
        logging.getLogger("her2").removeHandler(collector)
    text = "\n".join(collector.lines)
    assert collector.lines
    for secret in ("Doe-Secret", "1960-02-29", "MRN-99999", "2.4", "1.20"):
        assert secret not in text
    for line in collector.lines:
        json.loads(line)
