"""``her2-status bulk --export`` against the project's HAPI server, and ``--write-back``.

A HAPI server of this module's own (system-level ``$export`` returns everything a
server holds, and ``--write-back`` writes for every exported patient), requiring the
session Keycloak's tokens: seeded with synthetic patients, exported with
``_type``/``_typeFilter``, derived; every status equals the Patient-level operation's
answer for that patient without ``persist`` (nothing written); ``--write-back`` stores
them; a second run writes nothing.  The commands get their token with
``HER2_FHIR_AUTH=smart-backend``: ``.rs`` on every exported type (what the server's
export rules require) and write-back's scopes; without them the export fails cleanly.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.api import create_app
from service.bulk.export import EXPORT_TYPES
from service.cli import main
from service.fhir import jsonio
from service.settings import DEFAULT_SMART_SCOPES, AuthSettings, Settings
from tests.builders.bulk import patient_records
from tests.integration.fhir_server import RUN, Fhir
from tests.integration.hapi import HapiServer
from tests.integration.keycloak import SEEDER_CLIENT, SEEDER_SCOPES, Keycloak

SID_STATUS = "https://her2-status.org/fhir/sid/her2-status"
ORDER = ("Patient", "Condition", "Specimen", "Observation", "DiagnosticReport")
PATIENTS = 6
ROOT = Path(__file__).resolve().parents[2]
# Write-back's scopes, and read/search on every exported type (the export rules' need).
EXPORT_SCOPES = " ".join(
    dict.fromkeys([*DEFAULT_SMART_SCOPES.split(), *(f"system/{t}.rs" for t in EXPORT_TYPES)])
)


@pytest.fixture(scope="module")
def hapi_url(keycloak_server: Keycloak, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("hapi-bulk") / "hapi.log"
    server = HapiServer(log, keycloak_server.hapi_auth()).start()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeder(hapi_url: str, keycloak_server: Keycloak) -> Fhir:
    return Fhir(hapi_url, keycloak_server.tokens(SEEDER_CLIENT, SEEDER_SCOPES))


def _seed(fhir: Fhir) -> list[str]:
    """Synthetic patients (ids unique to the run), written in reference order."""
    rng = random.Random(21)
    records: list[dict[str, Any]] = []
    patients = []
    for number in range(PATIENTS):
        text = jsonio.dumps(list(patient_records(rng, number)))
        pid = f"h2-{RUN}-b{number}"
        records += jsonio.loads(text.replace(f"pt{number:07d}", pid))
        patients.append(pid)
    for kind in ORDER:
        for record in records:
            if record["resourceType"] == kind:
                record.pop("meta", None)
                fhir.put(record)
    return patients


def _comparable(observation: dict[str, Any]) -> tuple[Any, ...]:
    return (
        observation["status"],
        observation["valueCodeableConcept"],
        observation.get("component"),
        observation.get("derivedFrom"),
        observation["note"],
        observation["method"],
    )


def _bulk(out: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["bulk", "--export", "--out", str(out), "--workers", "1", *extra], io.StringIO())
    return code, json.loads((out / "summary.json").read_text(encoding="utf-8"))


def test_bulk_export_answers_as_the_operation_and_write_back_is_idempotent(
    hapi_url: str,
    seeder: Fhir,
    keycloak_server: Keycloak,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patients = _seed(seeder)
    for name in [n for n in os.environ if n.startswith("HER2_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HER2_FHIR_BASE_URL", hapi_url)
    monkeypatch.setenv("HER2_LOCK_DIR", str(tmp_path / "locks"))
    for name, value in keycloak_server.service_fhir_env(EXPORT_SCOPES).items():
        monkeypatch.setenv(name, value)

    code, summary = _bulk(tmp_path / "first")
    assert code == 0
    assert summary["patients"]["total"] == PATIENTS
    assert (tmp_path / "first" / "export" / "manifest.json").is_file()
    found: dict[str, tuple[Any, ...]] = {}
    for line in (tmp_path / "first" / "Observation.ndjson").read_text().splitlines():
        observation = json.loads(line)
        found[observation["identifier"][0]["value"]] = _comparable(observation)

    settings = Settings(
        fhir_base_url=hapi_url,
        fhir_smart=keycloak_server.service_smart(),
        auth=AuthSettings.off(),
        lock_dir=tmp_path / "locks",
    )
    client = create_app(settings).test_client()
    expected: dict[str, tuple[Any, ...]] = {}
    for pid in patients:
        answer = client.post(
            f"/fhir/Patient/{pid}/$her2-status",
            data=jsonio.dumps(
                {
                    "resourceType": "Parameters",
                    "parameter": [{"name": "persist", "valueBoolean": False}],
                }
            ),
            headers={"Content-Type": "application/fhir+json"},
        )
        assert answer.status_code in (200, 422)
        for entry in jsonio.loads(answer.data).get("entry", []):
            if entry["resource"]["resourceType"] == "Observation":
                resource = entry["resource"]
                expected[resource["identifier"][0]["value"]] = _comparable(resource)
    assert len(found) >= PATIENTS
    assert found == expected

    code, written = _bulk(tmp_path / "second", "--write-back")
    assert code == 0
    assert written["write_back"]["entries_written"] > 0
    assert written["write_back"].get("failed_batches", 0) == 0
    stored = seeder.search("Observation", identifier=f"{SID_STATUS}|")
    assert {o["identifier"][0]["value"] for o in stored} == set(found)

    code, again = _bulk(tmp_path / "third", "--write-back")
    assert code == 0
    assert again["write_back"].get("entries_written", 0) == 0
    assert again["write_back"]["patients_unchanged"] == again["write_back"]["patients"]


def test_bulk_export_without_the_export_scopes_fails_cleanly(
    hapi_url: str, keycloak_server: Keycloak, tmp_path: Path
) -> None:
    # Write-back's scopes only: no ``system/Patient.rs``, so the kick-off is refused (403).
    env = {k: v for k, v in os.environ.items() if not k.startswith("HER2_")}
    env |= keycloak_server.service_fhir_env(DEFAULT_SMART_SCOPES)
    env |= {"HER2_FHIR_BASE_URL": hapi_url, "HER2_LOCK_DIR": str(tmp_path / "locks")}
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "bulk", "--export", "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("her2-status: the export failed:"), line
    assert "403" in line
    assert "Traceback" not in done.stderr
    assert "eyJ" not in done.stderr  # no JWT (every one starts so) in the output
    assert not (tmp_path / "out" / "export" / "manifest.json").exists()
