"""The decision view over HTTP: negotiation on both operations, and the /view form.

HTML only when the request prefers it (JSON stays the default), the same
derivation as the JSON answer (the highlighted rules are the Observation's rule
ids), the API's errors as pages, security headers, and no request value ever
echoed (a script-injection canary in every string a request can carry).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.settings import Settings
from tests.builders import FIXTURES, NOW, bundle_rule_ids, case_ihc, parse_view

OP = "/fhir/$her2-status"
PAYLOAD = (FIXTURES / "inputs" / "breast-recount-cycle.json").read_bytes()
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
CANARY = '<script>alert("h2canary")</script>'


def _post(client: FlaskClient, accept: str | None, data: bytes = PAYLOAD, query: str = "") -> Any:
    headers = {"Accept": accept} if accept is not None else {}
    return client.post(OP + query, data=data, content_type="application/fhir+json", headers=headers)


def _page(response: Any) -> str:
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    text: str = response.get_data(as_text=True)
    return text


def _assert_safe_page(response: Any) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src" not in csp  # no script at all: default-src 'none' refuses it
    nonce = csp.split("'nonce-", 1)[1].split("'", 1)[0]
    page = _page(response)
    assert f'<style nonce="{nonce}">' in page
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    tags = parse_view(page).tags
    # Nothing is loaded from anywhere: no script, no stylesheet link, no src; the one
    # link is an empty data: icon (so that the browser asks for no /favicon.ico).
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object")]
    assert [a for t, a in tags if t == "link"] == [{"rel": "icon", "href": "data:,"}]
    assert not [a for _, a in tags if "src" in a or "style" in a]


@pytest.mark.parametrize("accept", [BROWSER, "text/html", "text/html;q=1, application/json;q=0.5"])
def test_an_operation_answers_html_when_preferred(client: FlaskClient, accept: str) -> None:
    json_answer = _post(client, None).json
    response = _post(client, accept)
    assert response.status_code == 200
    _assert_safe_page(response)
    assert response.headers["Vary"] == "Accept"
    view = parse_view(_page(response))
    assert view.statuses == ["negative"]
    # The page renders the same derivation: its highlighted rules are the answer's.
    assert view.rules == bundle_rule_ids(json_answer)
    assert view.rules >= {"F3", "R1", "B14", "RC", "S11"}


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/fhir+json",
        "application/fhir+json, text/html",
        "application/json, text/html;q=0.5",
    ],
)
def test_json_stays_the_default(client: FlaskClient, accept: str | None) -> None:
    response = _post(client, accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    assert response.headers["Vary"] == "Accept"
    assert response.json["resourceType"] == "Bundle"


def test_format_html_overrides_accept(client: FlaskClient) -> None:
    response = _post(client, "application/fhir+json", query="?_format=html")
    assert response.status_code == 200
    assert "<svg" in _page(response)


def test_the_conformance_endpoints_stay_json_only(client: FlaskClient) -> None:
    response = client.get("/fhir/metadata", headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert json.loads(response.data)["resourceType"] == "OperationOutcome"


def test_errors_of_an_html_request_are_pages_with_the_apis_status(client: FlaskClient) -> None:
    bad = _post(client, BROWSER, data=b'{"resourceType": "' + CANARY.encode())
    assert bad.status_code == 400
    _assert_safe_page(bad)
    page = _page(bad)
    assert "h2canary" not in page
    assert "not valid JSON" in page or "JSON" in page
    nothing = _post(client, BROWSER, data=json.dumps({"resourceType": "Bundle"}).encode())
    json_nothing = _post(client, None, data=json.dumps({"resourceType": "Bundle"}).encode())
    assert nothing.status_code == json_nothing.status_code
    for issue in json_nothing.json["issue"]:
        assert issue["diagnostics"] in _page(nothing).replace("&#39;", "'")


def test_the_patient_operation_answers_html(tmp_path: Path) -> None:
    store = MemoryStore()
    store.put(case_ihc("ihc", "1+"))
    client = create_app(
        Settings(), clock=lambda: NOW, store=store, locks=FileLocks(tmp_path)
    ).test_client()
    op = "/fhir/Patient/case-patient/$her2-status"
    response = client.post(op, headers={"Accept": BROWSER})
    assert response.status_code == 200
    _assert_safe_page(response)
    page = _page(response)
    assert "HER2 status of Patient/case-patient" in page
    assert parse_view(page).statuses == ["negative"]
    assert "HER2-low" in page
    assert parse_view(page).rules == bundle_rule_ids(json.loads(client.post(op).data))


# --- /view -------------------------------------------------------------------


def test_the_form(client: FlaskClient) -> None:
    response = client.get("/view")
    assert response.status_code == 200
    _assert_safe_page(response)
    page = _page(response)
    assert '<label for="request">' in page
    assert '<label for="file">' in page
    assert 'method="post" action="/view"' in page


def test_the_form_shows_the_result(client: FlaskClient) -> None:
    json_answer = _post(client, None).json
    response = client.post("/view", data={"request": PAYLOAD.decode()})
    assert response.status_code == 200
    _assert_safe_page(response)
    view = parse_view(_page(response))
    assert view.statuses == ["negative"]
    assert view.rules == bundle_rule_ids(json_answer)


def test_an_uploaded_file_is_read(client: FlaskClient) -> None:
    response = client.post(
        "/view",
        data={"request": "", "file": (io.BytesIO(PAYLOAD), "request.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert parse_view(_page(response)).statuses == ["negative"]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("", 400),
        ("   ", 400),
        ("{" + CANARY, 400),
        (json.dumps({"resourceType": CANARY}), 400),
        (json.dumps({"resourceType": "Bundle", "type": "collection"}), 422),
    ],
)
def test_a_refused_request_is_a_4xx_page_without_echo(
    client: FlaskClient, text: str, status: int
) -> None:
    response = client.post("/view", data={"request": text})
    assert response.status_code == status
    _assert_safe_page(response)
    page = _page(response)
    assert "h2canary" not in page
    assert "<textarea" in page  # the form again, empty
    assert "></textarea>" in page
    assert "The request was refused" in page


def _canary_everywhere(value: Any) -> Any:
    """The request with the canary appended to every string that is not structural."""
    if isinstance(value, dict):
        return {
            k: v
            if k in ("resourceType", "reference", "system", "code", "fullUrl", "id")
            else _canary_everywhere(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_canary_everywhere(v) for v in value]
    if isinstance(value, str):
        return value + CANARY
    return value


def test_a_canary_in_the_request_is_never_echoed_unescaped(client: FlaskClient) -> None:
    poisoned = _canary_everywhere(json.loads(PAYLOAD))
    poisoned["entry"].append(
        {
            "fullUrl": "urn:uuid:6f1f7c6e-0000-4000-8000-000000000001",
            "resource": {
                "resourceType": "Observation",
                "id": "x",
                "status": "final",
                "code": {"text": CANARY},
                "valueString": CANARY,
                "note": [{"text": CANARY}],
            },
        }
    )
    for response in (
        client.post("/view", data={"request": json.dumps(poisoned)}),
        _post(client, BROWSER, data=json.dumps(poisoned).encode()),
    ):
        assert response.status_code < 500
        page = _page(response)
        assert "<script" not in page
        assert "h2canary" not in page or "&lt;script&gt;" in page


def test_a_cross_site_post_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/view", data={"request": PAYLOAD.decode()}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    _assert_safe_page(response)
    same = client.post(
        "/view", data={"request": PAYLOAD.decode()}, headers={"Origin": "http://localhost"}
    )
    assert same.status_code == 200


def test_a_request_over_the_limit_is_413(client: FlaskClient) -> None:
    response = client.post("/view", data={"request": " " * (70 * 1024)})
    assert response.status_code == 413
    _assert_safe_page(response)
