"""/openapi.json: a valid OpenAPI 3.1 document naming exactly the app's routes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from service.api import create_app
from service.api.openapi import document
from service.settings import AuthSettings, Settings
from service.settings.events import EventSettings
from tests.builders import NOW

_IMPLICIT = {"HEAD", "OPTIONS"}  # added by Flask to every rule


def _rules(app: Flask) -> set[tuple[str, str]]:
    return {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - _IMPLICIT
    }


def _documented(spec: dict[str, object]) -> set[tuple[str, str]]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return {(path, method) for path, item in paths.items() for method in item}


@pytest.mark.parametrize("base_path", ["/fhir", "/api/r4", ""])
def test_every_route_is_documented_and_nothing_else(base_path: str) -> None:
    app = create_app(Settings(base_path=base_path), clock=lambda: NOW)
    spec = app.test_client().get("/openapi.json").json
    assert isinstance(spec, dict)
    assert _documented(spec) == _rules(app)
    validate(spec)


def test_the_event_driven_mode_documents_its_hook(tmp_path: Path) -> None:
    settings = Settings(
        fhir_base_url="http://127.0.0.1:1/fhir",
        auth=AuthSettings.off(),
        events=EventSettings(tmp_path / "data", "a-hook-secret-0123456789"),
        lock_dir=tmp_path / "locks",
    )
    app = create_app(settings, clock=lambda: NOW)
    spec = app.test_client().get("/openapi.json").json
    assert isinstance(spec, dict)
    assert _documented(spec) == _rules(app)
    assert {("/fhir-hook", "post"), ("/fhir-hook/{resource_type}/{resource_id}", "delete")} <= (
        _documented(spec)
    )
    validate(spec)


def test_document_is_openapi_31_with_the_outcome_shape(app: Flask) -> None:
    spec = app.test_client().get("/openapi.json").json
    assert isinstance(spec, dict)
    assert spec["openapi"] == "3.1.0"
    post = spec["paths"]["/fhir/$her2-status"]["post"]
    assert set(post["requestBody"]["content"]) == {
        "application/fhir+json",
        "application/json",
        "application/json+fhir",
    }
    outcome = post["responses"]["422"]["content"]["application/fhir+json"]["schema"]
    assert outcome == {"$ref": "#/components/schemas/OperationOutcome"}
    assert spec["components"]["schemas"]["OperationOutcome"]["required"] == [
        "resourceType",
        "issue",
    ]


def test_the_validator_rejects_a_broken_document() -> None:
    spec = document("/fhir")
    spec["paths"]["/healthz"]["get"]["responses"] = {"200": {"content": {}}}  # no description
    with pytest.raises(OpenAPIValidationError):
        validate(spec)
