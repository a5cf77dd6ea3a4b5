"""POST /getClinicalTrial (mCODE matching-service API) and Patient/{id}/$her2-trial-candidates.

The /getClinicalTrial bodies have the exact shape of the mCODE library's fixtures
(``tests/fixtures/trials/mcode/README.md``); the trials are the ClinicalTrials.gov
fixtures (``HER2_TRIALS_DIR``); the Patient-level operation reads the in-memory store,
which counts its reads so that "refused before anything is read" is tested.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.settings import AuthSettings, Settings, TrialSettings
from tests.builders import BREAST, NOW, case_ihc, specimen
from tests.builders.tokens import AUDIENCE, ISSUER, Issuer, bearer, jwks_server
from tests.builders.trials import CTGOV, mcode_request, with_parameters

MATCH = "/getClinicalTrial"
OPERATION = "/fhir/Patient/{}/$her2-trial-candidates"
KNOWN = "case-patient"
SECRET = "Jane-Doe-19680412"  # request text that must never come back or be logged
TRIALS = TrialSettings(CTGOV)


class _Store(MemoryStore):
    """The in-memory store, counting the reads of patient data."""

    reads = 0

    def patient_inputs(self, patient_id: str, codes: Collection[tuple[str, str]]) -> dict[str, Any]:
        self.reads += 1
        return super().patient_inputs(patient_id, codes)


def _store(score: str = "1+") -> _Store:
    store = _Store()
    store.put(specimen("current", subject=f"Patient/{KNOWN}", body_site=BREAST))
    store.put(case_ihc("ihc", score))
    return store


def _client(settings: Settings, store: MemoryStore | None = None, tmp: Path | None = None) -> Any:
    locks = FileLocks(tmp) if tmp is not None else None
    return create_app(settings, clock=lambda: NOW, store=store, locks=locks).test_client()


@pytest.fixture
def client() -> FlaskClient:
    client: FlaskClient = _client(Settings(trials=TRIALS))
    return client


def _post(client: FlaskClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(MATCH, data=data, content_type="application/json", headers=headers or {})


def _studies(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.json
    Bundle.model_validate(response.json)
    assert response.json["type"] == "searchset"
    return {
        e["resource"]["id"]: e["search"]["score"]
        for e in response.json["entry"]
        if e["search"]["mode"] == "match"
    }


def test_a_her2_low_breast_patient_gets_the_her2_low_trial(client: FlaskClient) -> None:
    # Filters of the request: phase-3, active (recruiting).
    response = _post(client, mcode_request("breast-her2-low"))
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert _studies(response) == {"NCT03734029": 1}  # DESTINY-Breast04
    (entry,) = response.json["entry"]
    study = entry["resource"]
    assert (study["status"], study["phase"]["coding"][0]["code"]) == ("active", "phase-3")
    assert "HER2-low (HER2 IHC 1+ or IHC 2+/ISH\u2013) breast cancer" in study["description"]
    assert response.json["total"] == 1


def test_a_her2_positive_breast_patient_gets_positive_trials_not_her2_low(
    client: FlaskClient,
) -> None:
    found = _studies(_post(client, mcode_request("breast-her2-positive")))
    assert found["NCT02614794"] == 1  # HER2CLIMB
    assert "NCT03734029" not in found  # HER2-low only: excluded, not answered
    assert "FIXTURE-GASTRIC-POS" not in found  # another site
    assert found["NCT03505710"] == 0.5  # a criterion not understood: to review


def test_a_her2_positive_gastric_patient_gets_the_gastric_trial(client: FlaskClient) -> None:
    found = _studies(_post(client, mcode_request("gastric-her2-positive")))
    assert found == {"FIXTURE-GASTRIC-POS": 1}  # breast trials are for another site


def test_a_patient_without_her2_result_gets_no_candidate(client: FlaskClient) -> None:
    body = mcode_request("breast-her2-low")
    body["entry"] = [e for e in body["entry"] if "18474-7" not in json.dumps(e)]
    found = _studies(_post(client, with_parameters(body)))
    assert found
    assert set(found.values()) == {0.5}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (f"{{not json {SECRET}", 400),
        ({"resourceType": "Patient", "id": SECRET}, 400),
        ({"patientData": {"name": SECRET}}, 400),
        ({"resourceType": "Bundle", "type": "collection", "entry": []}, 400),
        (with_parameters(mcode_request("breast-her2-low"), phase=SECRET), 400),
        (with_parameters(mcode_request("breast-her2-low"), recruitmentStatus=SECRET), 400),
    ],
)
def test_a_body_that_is_no_patient_bundle_is_400_without_its_text(
    client: FlaskClient, caplog: pytest.LogCaptureFixture, body: Any, status: int
) -> None:
    logging.getLogger("her2").addHandler(caplog.handler)
    try:
        response = _post(client, body)
    finally:
        logging.getLogger("her2").removeHandler(caplog.handler)
    assert response.status_code == status
    assert response.json["resourceType"] == "OperationOutcome"
    assert SECRET not in response.get_data(as_text=True)
    assert SECRET not in caplog.text
    assert caplog.records  # the request and audit lines were captured


def test_a_her2_result_of_another_subject_is_400(client: FlaskClient) -> None:
    body = mcode_request("breast-her2-low")
    for entry in body["entry"]:
        if entry["resource"]["resourceType"] == "Observation":
            entry["resource"]["subject"] = {"reference": "Patient/someone-else"}
    response = _post(client, body)
    assert response.status_code == 400
    assert [i["code"] for i in response.json["issue"]] == ["invariant"]
    assert "someone-else" not in response.get_data(as_text=True)


def test_a_bundle_without_subjects_is_the_patients_record(client: FlaskClient) -> None:
    # As the mCODE app builds its Bundle: no subject anywhere, a Patient id that is no
    # valid FHIR id.  The Bundle is one patient's record: its Condition gives the HER2
    # result its site, and the answer is the same as with subjects.
    with_subjects = _studies(_post(client, mcode_request("breast-her2-low")))
    body = mcode_request("breast-her2-low")
    for entry in body["entry"]:
        entry["resource"].pop("subject", None)
        entry.pop("fullUrl", None)
        if entry["resource"]["resourceType"] == "Patient":
            entry["resource"]["id"] = "search_patient"
    assert _studies(_post(client, body)) == with_subjects == {"NCT03734029": 1}


def test_a_body_that_is_not_json_by_type_is_415(client: FlaskClient) -> None:
    response = client.post(MATCH, data="x", content_type="text/plain")
    assert response.status_code == 415


def test_no_trial_source_is_400_not_supported() -> None:
    client = _client(Settings())
    response = _post(client, mcode_request("breast-her2-low"))
    assert response.status_code == 400
    assert [i["code"] for i in response.json["issue"]] == ["not-supported"]


@pytest.fixture
def issuer() -> Issuer:
    return Issuer.with_keys(**{"rsa-1": "RS256"})


@pytest.fixture
def store() -> _Store:
    return _store()


@pytest.fixture
def secured(issuer: Issuer, store: _Store, tmp_path: Path) -> Iterator[Any]:
    """The service with inbound authentication, the issuer's JWKS served on loopback."""
    with jwks_server(issuer) as jwks:
        auth = AuthSettings(ISSUER, jwks.url, AUDIENCE)
        yield _client(Settings(auth=auth, trials=TRIALS), store, tmp_path)


def test_get_clinical_trial_needs_a_valid_token(secured: Any, issuer: Issuer) -> None:
    body = mcode_request("breast-her2-low")
    response = _post(secured, body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _post(secured, body, bearer("garbage")).status_code == 401
    assert _post(secured, body, bearer(issuer.token("openid"))).status_code == 200


def _operation(client: Any, patient: str = KNOWN, query: str = "", **kw: Any) -> Any:
    return client.get(OPERATION.format(patient) + query, **kw)


def test_the_operation_needs_read_for_this_patient_before_any_read(
    secured: Any, issuer: Issuer, store: _Store
) -> None:
    assert _operation(secured).status_code == 401
    other = issuer.token("patient/Observation.rs", patient="someone-else")
    response = _operation(secured, headers=bearer(other))
    assert response.status_code == 403
    assert [i["code"] for i in response.json["issue"]] == ["forbidden"]
    assert store.reads == 0
    mine = issuer.token("patient/Observation.rs", patient=KNOWN)
    assert _operation(secured, headers=bearer(mine)).status_code == 200
    assert store.reads == 1


@pytest.fixture
def patient_client(tmp_path: Path) -> Any:
    return _client(Settings(trials=TRIALS), _store(), tmp_path)


def test_the_operation_lists_every_trial_with_its_outcome(patient_client: Any) -> None:
    response = _operation(patient_client)
    found = _studies(response)
    assert found["NCT03734029"] == 1  # HER2-low patient, HER2-low trial
    assert found["NCT02614794"] == 0  # HER2-positive trial: excluded, with score 0
    assert found["FIXTURE-GASTRIC-POS"] == 0  # another site
    excluded = next(e for e in response.json["entry"] if e["resource"]["id"] == "NCT02614794")
    assert "excluded" in excluded["resource"]["description"]
    assert all(e["search"]["mode"] == "match" for e in response.json["entry"])


def test_the_operation_filters_by_query_or_parameters(patient_client: Any) -> None:
    found = _studies(_operation(patient_client, query="?recruitmentStatus=active&phase=phase-3"))
    assert set(found) == {"NCT03734029", "FIXTURE-GASTRIC-POS"}
    found = _studies(_operation(patient_client, query="?phase=phase-2&phase=phase-3"))
    assert "NCT02614794" in found
    assert "FIXTURE-GASTRIC-POS" in found
    body = {
        "resourceType": "Parameters",
        "parameter": [{"name": "recruitmentStatus", "valueCode": "approved"}],
    }
    response = patient_client.post(
        OPERATION.format(KNOWN), data=json.dumps(body), content_type="application/fhir+json"
    )
    assert set(_studies(response)) == {"FIXTURE-GASTRIC-NEG"}  # not yet recruiting
    assert set(_studies(patient_client.post(OPERATION.format(KNOWN)))) >= {"NCT03734029"}


@pytest.mark.parametrize(
    ("query", "body"),
    [
        (f"?phase={SECRET}", None),
        (f"?recruitmentStatus={SECRET}", None),
        ("", {"resourceType": "Bundle", "id": SECRET}),
        ("", {"resourceType": "Parameters", "parameter": [{"name": "phase", "valueCode": SECRET}]}),
        (
            "",
            {"resourceType": "Parameters", "parameter": [{"name": "phase", "valueBoolean": True}]},
        ),
        ("", {"resourceType": "Parameters", "parameter": [{"name": ["phase"], "valueCode": "x"}]}),
        ("", {"resourceType": "Parameters", "parameter": [SECRET]}),
    ],
)
def test_a_bad_filter_is_400_without_its_value(patient_client: Any, query: str, body: Any) -> None:
    if body is None:
        response = _operation(patient_client, query=query)
    else:
        response = patient_client.post(
            OPERATION.format(KNOWN) + query, data=json.dumps(body), content_type="application/json"
        )
    assert response.status_code == 400
    assert SECRET not in response.get_data(as_text=True)


def test_an_invalid_patient_id_is_400(patient_client: Any) -> None:
    assert _operation(patient_client, patient="bad id!").status_code in (400, 404)
    assert _operation(patient_client, patient="a" * 65).status_code == 400


def test_a_patient_without_result_gets_an_outcome_entry(tmp_path: Path) -> None:
    client = _client(Settings(trials=TRIALS), MemoryStore(), tmp_path)
    response = _operation(client)
    assert response.status_code == 200
    last = response.json["entry"][-1]
    assert last["search"] == {"mode": "outcome"}
    assert last["resource"]["issue"][0]["severity"] == "information"
    assert 1 not in _studies(response).values()


def test_without_fhir_server_or_trial_source_the_operation_is_not_supported(
    tmp_path: Path,
) -> None:
    for client in (_client(Settings(trials=TRIALS)), _client(Settings(), _store(), tmp_path)):
        response = _operation(client)
        assert response.status_code == 400
        assert [i["code"] for i in response.json["issue"]] == ["not-supported"]


def test_the_operation_is_listed_and_defined_only_when_it_works(tmp_path: Path) -> None:
    def listed(client: Any) -> set[str]:
        resources = client.get("/fhir/metadata").json["rest"][0]["resource"]
        return {o["name"] for r in resources if r["type"] == "Patient" for o in r["operation"]}

    assert listed(_client(Settings(trials=TRIALS), _store(), tmp_path)) == {
        "her2-status",
        "her2-tumor-marker",
        "her2-trial-candidates",
    }
    assert listed(_client(Settings(), _store(), tmp_path)) == {"her2-status", "her2-tumor-marker"}
    definition = _client(Settings()).get("/fhir/OperationDefinition/her2-trial-candidates-patient")
    assert definition.json["code"] == "her2-trial-candidates"


def test_both_endpoints_leave_an_audit_line(
    patient_client: Any, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    logging.getLogger("her2").addHandler(caplog.handler)
    try:
        _operation(patient_client)
        _post(client, mcode_request("breast-her2-low"))
    finally:
        logging.getLogger("her2").removeHandler(caplog.handler)
    lines = [r.fields for r in caplog.records if r.name == "her2.audit"]  # type: ignore[attr-defined]
    assert [(f["operation"], f["patient_id"], f["status"]) for f in lines] == [
        ("$her2-trial-candidates", KNOWN, 200),
        ("getClinicalTrial", None, 200),
    ]


def test_the_audit_event_names_the_method_the_operation_was_called_with(tmp_path: Path) -> None:
    store = _store()
    audited = _client(
        Settings(
            fhir_base_url="http://memory.test/fhir",
            auth=AuthSettings.off(),
            trials=TRIALS,
            audit="fhir",
        ),
        store,
        tmp_path,
    )
    assert _operation(audited, headers={"X-Request-ID": "by-get"}).status_code == 200
    posted = audited.post(OPERATION.format(KNOWN), headers={"X-Request-ID": "by-post"})
    assert posted.status_code == 200
    queries = {}
    for reference, event in store.resources.items():
        if reference.startswith("AuditEvent/"):
            entities = {e["type"]["code"]: e for e in event["entity"]}
            request_id = entities["XrequestId"]["what"]["identifier"]["value"]
            queries[request_id] = base64.b64decode(entities["2"]["query"]).decode()
    path = OPERATION.format(KNOWN)
    assert queries == {
        "by-get": f"GET {path}\npersist=false",
        "by-post": f"POST {path}\npersist=false",
    }
