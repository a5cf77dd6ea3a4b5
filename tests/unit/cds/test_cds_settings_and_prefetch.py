"""HER2_CDS_* settings, and prefetch data sorted into resources and keys to fetch."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.cds.prefetch import PrefetchError, gather, render
from service.cds.services import prefetch_templates
from service.cli import EXIT_USAGE, main
from service.settings import Settings, SettingsError
from tests.builders import searchset

ISSUERS = {
    "https://ehr.test/": {
        "jwks_url": "https://ehr.test/jwks",
        "jku": ["https://ehr.test/jwks-2"],
        "fhir_servers": ["https://ehr.test/fhir/"],
    }
}
BASE = {"HER2_CDS_PUBLIC_URL": "https://her2.test/", "HER2_DATA_DIR": "/var/lib/her2"}


def test_issuers_inline() -> None:
    settings = Settings.from_env({**BASE, "HER2_CDS_ISSUERS": json.dumps(ISSUERS)}).cds
    issuer = settings.issuers["https://ehr.test/"]
    assert issuer.key_urls == ("https://ehr.test/jwks", "https://ehr.test/jwks-2")
    assert issuer.allows_fhir_server("https://ehr.test/fhir")
    assert not issuer.allows_fhir_server("https://ehr.test/fhir/other")
    assert settings.public_url == "https://her2.test"
    assert settings.endpoint_url("/cds-services") == "https://her2.test/cds-services"
    assert settings.data_dir == Path("/var/lib/her2")
    assert (settings.max_token_lifetime, settings.fhir_timeout) == (300, 3.0)
    assert settings.cors_origins == ("*",)


def test_issuers_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps(ISSUERS))
    settings = Settings.from_env({**BASE, "HER2_CDS_ISSUERS": str(path)}).cds
    assert list(settings.issuers) == ["https://ehr.test/"]


def test_defaults_allow_no_caller() -> None:
    settings = Settings.from_env({}).cds
    assert settings.issuers == {}
    assert settings.public_url is None
    assert settings.data_dir.name == "her2-status"


@pytest.mark.parametrize(
    ("environ", "problem"),
    [
        ({"HER2_CDS_ISSUERS": json.dumps(ISSUERS)}, "HER2_CDS_PUBLIC_URL is required"),
        ({**BASE, "HER2_CDS_ISSUERS": "{not json"}, "HER2_CDS_ISSUERS is not valid JSON"),
        ({**BASE, "HER2_CDS_ISSUERS": "/no/such/file"}, "cannot read the file"),
        ({**BASE, "HER2_CDS_ISSUERS": "[1]"}, "cannot read the file"),
        (
            {**BASE, "HER2_CDS_ISSUERS": '{"https://e/": {"jwks_url": "ftp://x"}}'},
            "jwks_url must be an http(s) URL",
        ),
        (
            {**BASE, "HER2_CDS_ISSUERS": '{"https://e/": {"jwks_url": "https://e/j", "jku": "x"}}'},
            "jku must be a list",
        ),
        (
            {**BASE, "HER2_CDS_ISSUERS": '{"https://e/": {"jwks_url": "https://e/j", "x": 1}}'},
            "unknown fields",
        ),
        ({"HER2_CDS_PUBLIC_URL": "her2.test"}, "HER2_CDS_PUBLIC_URL must be an http(s) URL"),
        ({"HER2_CDS_MAX_TOKEN_LIFETIME": "0"}, "HER2_CDS_MAX_TOKEN_LIFETIME must be"),
        ({"HER2_CDS_FHIR_TIMEOUT": "soon"}, "HER2_CDS_FHIR_TIMEOUT must be a number"),
        ({"HER2_CDS_CORS_ORIGINS": "ehr.test"}, "HER2_CDS_CORS_ORIGINS must be"),
        ({"HER2_DATA_DIR": "relative/dir"}, "HER2_DATA_DIR must be an absolute path"),
    ],
)
def test_invalid_settings_stop_the_start(environ: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(environ)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_a_secret_in_the_issuer_file_is_never_echoed() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**BASE, "HER2_CDS_ISSUERS": '{"https://e/": "secret-canary"}'})
    assert "secret-canary" not in str(info.value)


# --- prefetch -----------------------------------------------------------------------------

TEMPLATES = prefetch_templates([("http://loinc.org", "18474-7")])
OBS = {"resourceType": "Observation", "id": "o1"}
SPECIMEN = {"resourceType": "Specimen", "id": "s1"}


def test_render_fills_and_encodes_context_tokens() -> None:
    assert render("Condition?patient={{context.patientId}}", {"patientId": "p1"}) == (
        "Condition?patient=p1"
    )
    assert (
        render("X?patient={{context.patientId}}", {"patientId": "a&b=c"}) == "X?patient=a%26b%3Dc"
    )
    assert render("X?patient={{context.patientId}}", {}) is None
    assert render("X?patient={{context.patientId}}", {"patientId": {"id": "p"}}) is None


def test_gather_sorts_keys() -> None:
    prefetch = {
        "her2Observations": searchset(OBS, OBS),
        "her2Specimens": {"resourceType": "OperationOutcome", "issue": []},
        "cancerConditions": None,
    }
    gathered = gather(prefetch, TEMPLATES, {"patientId": "p1"})
    assert [e["resource"] for e in gathered.entries] == [OBS]
    assert gathered.missing == {
        "her2Reports": "DiagnosticReport?patient=p1",
        "her2Specimens": "Specimen?patient=p1",
    }
    assert gathered.bundle()["type"] == "searchset"


def test_a_single_resource_value_is_taken_as_it_is() -> None:
    gathered = gather({"her2Specimens": SPECIMEN}, TEMPLATES, {"patientId": "p1"})
    assert gathered.entries == [{"resource": SPECIMEN}]


def test_no_prefetch_at_all_means_everything_is_missing() -> None:
    assert len(gather(None, TEMPLATES, {"patientId": "p1"}).missing) == 4


@pytest.mark.parametrize("prefetch", ["x", [], {"her2Reports": "x"}, {"her2Reports": {"a": 1}}])
def test_malformed_prefetch(prefetch: object) -> None:
    with pytest.raises(PrefetchError):
        gather(prefetch, TEMPLATES, {"patientId": "p1"})


def test_serve_refuses_a_shared_data_dir_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("HER2_")]:
        monkeypatch.delenv(name)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("HER2_CDS_ISSUERS", json.dumps(ISSUERS))
    monkeypatch.setenv("HER2_CDS_PUBLIC_URL", "https://her2.test")
    monkeypatch.setenv("HER2_DATA_DIR", str(shared))
    # An address no interface has: should the check ever be missed, gunicorn fails to bind.
    assert main(["serve", "--host", "203.0.113.1", "--port", "9"]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"HER2_DATA_DIR {shared} is writable by group or others" in error
    assert len(error.strip().splitlines()) == 1
