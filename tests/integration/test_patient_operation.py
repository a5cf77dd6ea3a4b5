"""The Patient-level $her2-status against a real HAPI FHIR server: read, derive, write back."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from service.fhir.codes import SID_STATUS, SID_THERAPY_LIST
from service.settings import DEFAULT_SMART_SCOPES
from tests.builders import LOINC, concept, observation, quantity, specimen
from tests.builders.ports import free_port
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import SERVICE_CLIENT, Keycloak

OP = "/fhir/Patient/{}/$her2-status"


def of_patient(pid: str, oid: str, code: str, **kw: Any) -> dict[str, Any]:
    """An Observation of the test's patient, on its breast specimen ``{pid}-s1``."""
    on = {"subject": f"Patient/{pid}", "specimen": f"Specimen/{pid}-s1", "effective": "2026-05-01"}
    return observation(f"{pid}-{oid}", code, **on, **kw)


def ihc(pid: str, answer: str, status: str = "final") -> dict[str, Any]:
    return of_patient(pid, "ihc", "85319-2", status=status, **concept(answer))


def ish(pid: str, ratio: str, her2: str, cep17: str) -> list[dict[str, Any]]:
    return [
        of_patient(pid, "ratio", "49683-6", **quantity(ratio)),
        of_patient(pid, "her2", "74860-8", **quantity(her2)),
        of_patient(pid, "cep17", "74861-6", **quantity(cep17)),
    ]


def run(service: FlaskClient, pid: str, persist: bool | None = None) -> dict[str, Any]:
    body = None
    if persist is not None:
        body = (
            '{"resourceType": "Parameters", "parameter": '
            f'[{{"name": "persist", "valueBoolean": {str(persist).lower()}}}]}}'
        )
    response = service.post(OP.format(pid), data=body, content_type="application/fhir+json")
    assert response.status_code == 200, response.data
    result: dict[str, Any] = response.json  # type: ignore[assignment]
    return result


def stored(fhir: Fhir, pid: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    key = f"{pid}:Specimen/{pid}-s1:breast"
    observations = fhir.search("Observation", identifier=f"{SID_STATUS}|{key}")
    lists = fhir.search("List", identifier=f"{SID_THERAPY_LIST}|{key}")
    return observations, lists


def status_code(observation: dict[str, Any]) -> str:
    codings = observation["valueCodeableConcept"]["coding"]
    return str(next(c["code"] for c in codings if c["system"].endswith("/her2-status")))


def test_writes_one_observation_list_and_provenance(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    for resource in [ihc(patient_id, "LA11842-4"), *ish(patient_id, "2.5", "5.0", "2.0")]:
        fhir.put(resource)
    result = run(service_factory(), patient_id)
    assert result["entry"][-1]["resource"]["type"] == "transaction-response"
    observations, lists = stored(fhir, patient_id)
    assert len(observations) == 1
    assert len(lists) == 1
    observation = observations[0]
    assert (observation["status"], status_code(observation)) == ("final", "positive")
    assert lists[0]["status"] == "current"
    assert len(lists[0]["entry"]) == 10
    derived = fhir.search("Observation", **{"derived-from": f"Observation/{patient_id}-ihc"})
    assert [o["id"] for o in derived] == [observation["id"]]
    provenance_id = next(
        e["resource"]["id"]
        for e in result["entry"]
        if e["resource"]["resourceType"] == "Provenance"
    )
    provenance = fhir.get(f"Provenance/{provenance_id}")
    assert {t["reference"].split("/")[0] for t in provenance["target"]} == {"Observation", "List"}
    assert fhir.get("Device/her2-status-service")["version"][0]["value"]


def test_second_run_writes_nothing(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    for resource in [ihc(patient_id, "LA11841-6"), *ish(patient_id, "1.2", "2.4", "2.0")]:
        fhir.put(resource)
    service = service_factory()
    run(service, patient_id)
    before = [r["meta"]["versionId"] for group in stored(fhir, patient_id) for r in group]
    result = run(service, patient_id)
    after = [r["meta"]["versionId"] for group in stored(fhir, patient_id) for r in group]
    assert before == after
    assert all(e["resource"]["resourceType"] != "Bundle" for e in result["entry"])


def test_persist_false_writes_nothing(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    fhir.put(ihc(patient_id, "LA11843-2"))
    result = run(service_factory(), patient_id, persist=False)
    assert result["entry"][0]["resource"]["resourceType"] == "Observation"
    assert stored(fhir, patient_id) == ([], [])


def test_reflex_ish_updates_the_same_observation(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    service = service_factory()
    fhir.put(ihc(patient_id, "LA11842-4"))
    run(service, patient_id)
    (first,), lists = stored(fhir, patient_id)
    assert (first["status"], status_code(first)) == ("preliminary", "equivocal")
    assert lists == []
    for resource in ish(patient_id, "1.2", "2.4", "2.0"):
        fhir.put(resource)
    run(service, patient_id)
    (second,), lists = stored(fhir, patient_id)
    assert second["id"] == first["id"]
    assert second["meta"]["versionId"] == "2"
    assert (second["status"], status_code(second)) == ("final", "negative")
    assert [e["item"]["display"] for e in lists[0]["entry"]] == [
        "fam-trastuzumab deruxtecan (T-DXd)"
    ]


def test_amended_input_amends_the_result(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    service = service_factory()
    fhir.put(ihc(patient_id, "LA11841-6"))
    run(service, patient_id)
    fhir.put(ihc(patient_id, "LA11843-2", status="amended"))
    run(service, patient_id)
    (observation,), _ = stored(fhir, patient_id)
    assert (observation["status"], status_code(observation)) == ("amended", "positive")


def test_withdrawn_input_withdraws_the_result_and_retires_the_list(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    service = service_factory()
    fhir.put(ihc(patient_id, "LA11843-2"))
    run(service, patient_id)
    fhir.put(ihc(patient_id, "LA11843-2", status="entered-in-error"))
    result = run(service, patient_id)  # nothing derivable, but the withdrawal is written
    assert result["entry"][-1]["resource"]["type"] == "transaction-response"
    (observation,), (listing,) = stored(fhir, patient_id)
    assert observation["status"] == "entered-in-error"
    assert listing["status"] == "retired"
    # Nothing is deleted, and a further run changes nothing.
    response = service.post(OP.format(patient_id))
    assert response.status_code == 422
    assert stored(fhir, patient_id)[0][0]["meta"] == observation["meta"]


def test_more_results_than_one_page_are_all_read(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    for resource in [ihc(patient_id, "LA11842-4"), *ish(patient_id, "2.5", "5.0", "2.0")]:
        fhir.put(resource)
    run(service_factory(page_size=1), patient_id)
    (observation,), _ = stored(fhir, patient_id)
    assert len(observation["derivedFrom"]) == 4
    assert status_code(observation) == "positive"


def test_concurrent_calls_leave_one_observation_and_one_list(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    for resource in [ihc(patient_id, "LA11843-2")]:
        fhir.put(resource)

    # Apps are built before the threads: building Flask apps concurrently trips a CPython
    # 3.11 race in ast.parse ("AST constructor recursion depth mismatch", cpython#106905).
    services = [service_factory() for _ in range(10)]

    def call(service: FlaskClient) -> int:
        return service.post(OP.format(patient_id)).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(call, services))
    assert codes == [200] * 10
    observations, lists = stored(fhir, patient_id)
    assert (len(observations), len(lists)) == (1, 1)


def test_list_is_retired_when_no_agent_applies_any_more(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    service = service_factory()
    fhir.put(ihc(patient_id, "LA11843-2"))  # 3+: positive, ten agents
    run(service, patient_id)
    zero = {
        "coding": [
            {"system": LOINC, "code": "LA6111-4"},
            {"system": "https://her2-status.org/fhir/CodeSystem/her2-ihc-score", "code": "0-null"},
        ]
    }
    amended = of_patient(
        patient_id, "ihc", "85319-2", status="corrected", valueCodeableConcept=zero
    )
    fhir.put(amended)  # corrected to IHC 0 (null): negative, HER2-0, no agent
    run(service, patient_id)
    (result,), (listing,) = stored(fhir, patient_id)
    assert (result["status"], status_code(result)) == ("corrected", "negative")
    assert listing["status"] == "retired"
    assert len(listing["entry"]) == 10  # retired as it was, never emptied


def test_one_result_per_specimen(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    second = f"{patient_id}-s2"
    fhir.put(specimen(second, subject=f"Patient/{patient_id}"))
    fhir.put(ihc(patient_id, "LA11843-2"))
    other = ihc(patient_id, "LA11841-6")
    other.update(
        id=f"{patient_id}-ihc2",
        specimen={"reference": f"Specimen/{second}"},
        effectiveDateTime="2026-09-01",
    )
    fhir.put(other)
    result = run(service_factory(), patient_id)
    written = [e["resource"]["resourceType"] for e in result["entry"][:-1]]
    assert written.count("Observation") == 2
    assert written.count("Provenance") == 2
    outputs = fhir.search("Observation", subject=f"Patient/{patient_id}", code=f"{LOINC}|48676-1")
    assert len(outputs) == 2
    # The later specimen differs from the earlier one: heterogeneity is flagged on it.
    later = next(o for o in outputs if second in o["identifier"][0]["value"])
    steps = [
        c["valueCodeableConcept"]["coding"][0]["code"]
        for c in later["component"]
        if "valueCodeableConcept" in c
    ]
    assert steps == ["clinician_review_heterogeneity"]


def test_unreachable_server_is_503_and_writes_nothing(
    fhir: Fhir, patient_id: str, service_factory: Callable[..., FlaskClient]
) -> None:
    fhir.put(ihc(patient_id, "LA11843-2"))
    service = service_factory(
        fhir_base_url=f"http://127.0.0.1:{free_port()}/fhir", connect_timeout=0.5, retries=0
    )
    response = service.post(OP.format(patient_id))
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json["resourceType"] == "OperationOutcome"  # type: ignore[index]
    assert stored(fhir, patient_id) == ([], [])


def test_timeout_is_504_and_writes_nothing(
    fhir: Fhir,
    patient_id: str,
    service_factory: Callable[..., FlaskClient],
    keycloak_server: Keycloak,
) -> None:
    fhir.put(ihc(patient_id, "LA11843-2"))
    # A token obtained beforehand (HER2_FHIR_AUTH=static): with smart-backend the
    # token request itself would time out first (503, the authorization server).
    token = keycloak_server.token(SERVICE_CLIENT, DEFAULT_SMART_SCOPES)
    service = service_factory(fhir_smart=None, fhir_token=token, read_timeout=0.000_001, retries=0)
    response = service.post(OP.format(patient_id))
    assert response.status_code == 504
    assert response.json["resourceType"] == "OperationOutcome"  # type: ignore[index]
    assert stored(fhir, patient_id) == ([], [])
