"""The SMART on FHIR view (/view/Patient/{id}) against a fake issuer on loopback.

Standalone launch with the authorization code and PKCE S256, the token checked by
the service's own verifier, the patient from the token's ``patient`` claim (or any
patient with a system read scope), a signed HttpOnly SameSite session cookie
without the token, logout, and refusal to start without a session secret.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from service.api import create_app
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.settings import AuthSettings, Settings, SettingsError
from service.settings.view import ViewSettings
from tests.builders import NOW, case_ihc, parse_view
from tests.builders.oidc import FakeOidc, fake_oidc
from tests.builders.tokens import AUDIENCE

SECRET = "a-test-session-secret-of-40-characters!!"
REDIRECT = "http://localhost/view/callback"
PAGE = "/view/Patient/case-patient"


@pytest.fixture
def oidc() -> Iterator[FakeOidc]:
    with fake_oidc() as issuer:
        yield issuer


def _client(oidc: FakeOidc, tmp_path: Path, audience: str = AUDIENCE, **view: Any) -> FlaskClient:
    store = MemoryStore()
    store.put(case_ihc("ihc", "1+"))
    settings = Settings(
        auth=AuthSettings(
            issuer=oidc.url,
            jwks_url=f"{oidc.url}/protocol/openid-connect/certs",
            audience=audience,
        ),
        view=ViewSettings(
            **(
                {"client_id": "her2-view", "session_secret": SECRET, "redirect_url": REDIRECT}
                | view
            )
        ),
    )
    app = create_app(settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp_path))
    return app.test_client()


def _login(client: FlaskClient, path: str = PAGE) -> Any:
    """Follow the whole standalone launch; the last answer (the page, or a refusal)."""
    first = client.get(path)
    assert first.status_code == 303
    assert first.headers["Location"] == "/view/login"
    start = client.get("/view/login")
    assert start.status_code == 302
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert approved.status_code == 302
    back = urlsplit(approved.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    done = client.get(f"/view/callback?{back.query}")
    if done.status_code != 303:
        return done
    return client.get(done.headers["Location"])


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("her2_view", path="/view")
    assert cookie is not None
    return cookie.value


def test_the_launch_shows_the_tokens_patient(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path)
    page = _login(client)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "HER2 status of Patient/case-patient" in text
    assert parse_view(text).statuses == ["negative"]
    assert "Signed in as dr-test" in text
    assert 'action="/view/logout"' in text
    # PKCE S256 and state were sent; the code came back with the verifier.
    (auth,) = [q for what, q in oidc.seen if what.endswith("/auth")]
    assert auth["code_challenge_method"] == "S256"
    assert len(auth["code_challenge"]) == 43
    assert auth["scope"] == "openid launch/patient patient/Observation.rs"
    (token,) = [q for what, q in oidc.seen if what.startswith("POST")]
    assert 43 <= len(token["code_verifier"]) <= 128
    assert token["code_verifier"] not in auth.values()


def test_the_session_cookie_is_httponly_lax_and_holds_no_token(
    oidc: FakeOidc, tmp_path: Path
) -> None:
    client = _client(oidc, tmp_path)
    client.get(PAGE)
    client.get("/view/login")
    start = client.get("/view/login")
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    done = client.get(f"/view/callback?{urlsplit(approved.headers['Location']).query}")
    assert done.status_code == 303
    set_cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie
    assert "SameSite=Lax" in set_cookie
    assert "Path=/view" in set_cookie
    value = _session_cookie(client)
    compressed = value.startswith(".")  # itsdangerous: "." marks a zlib payload
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = json.loads(zlib.decompress(raw) if compressed else raw)
    assert set(data) == {"grant", "_permanent"}
    assert "token" not in json.dumps(data)
    assert data["grant"]["patient_id"] == "case-patient"


def test_another_patient_than_the_tokens_is_refused(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path)
    assert _login(client).status_code == 200
    other = client.get("/view/Patient/someone-else")
    assert other.status_code == 403
    assert "text/html" in other.headers["Content-Type"]
    assert "The token does not allow this" in other.get_data(as_text=True)


def test_a_system_scope_opens_the_patient_of_the_path(oidc: FakeOidc, tmp_path: Path) -> None:
    oidc.patient = None
    oidc.scope = "openid system/Observation.rs"
    client = _client(oidc, tmp_path)
    page = _login(client)
    assert page.status_code == 200
    assert parse_view(page.get_data(as_text=True)).statuses == ["negative"]


def test_the_patient_beside_the_token_is_used(oidc: FakeOidc, tmp_path: Path) -> None:
    # SMART returns the launch patient in the token response; no claim in the JWT.
    oidc.patient_in_token = False
    client = _client(oidc, tmp_path)
    assert _login(client).status_code == 200
    assert client.get("/view/patient").headers["Location"] == PAGE


def test_a_token_for_another_audience_is_refused(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path, audience="another-service")
    refused = _login(client)
    assert refused.status_code == 403
    assert "not valid here" in refused.get_data(as_text=True)
    assert client.get(PAGE).status_code == 303  # nothing was kept


def test_a_wrong_state_or_code_is_refused(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path)
    assert client.get("/view/callback?code=x&state=y").status_code == 400  # no login
    client.get(PAGE)
    start = client.get("/view/login")
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(approved.headers["Location"]).query)
    forged = client.get(f"/view/callback?code={query['code'][0]}&state=forged")
    assert forged.status_code == 400
    client.get("/view/login")
    start = client.get("/view/login")
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    state = parse_qs(urlsplit(approved.headers["Location"]).query)["state"][0]
    wrong_code = client.get(f"/view/callback?code=not-issued&state={state}")
    assert wrong_code.status_code == 403
    assert "refused the login" in wrong_code.get_data(as_text=True)


def test_logout_ends_the_session(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path)
    assert _login(client).status_code == 200
    cross = client.post("/view/logout", headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert client.get(PAGE).status_code == 200
    out = client.post("/view/logout", headers={"Origin": "http://localhost"})
    assert out.status_code == 200
    assert "You are logged out" in out.get_data(as_text=True)
    assert "her2_view=;" in out.headers["Set-Cookie"]  # the cookie is deleted
    assert client.get(PAGE).status_code == 303


def test_an_expired_session_logs_in_again(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path, session_minutes=0)
    again = _login(client)
    assert again.status_code == 303
    assert again.headers["Location"] == "/view/login"


def test_without_the_views_login_a_page_needs_a_token(oidc: FakeOidc, tmp_path: Path) -> None:
    client = _client(oidc, tmp_path, client_id=None)
    refused = client.get(PAGE, headers={"Accept": "text/html"})
    assert refused.status_code == 401
    assert "HER2_VIEW_CLIENT_ID" in refused.get_data(as_text=True)
    assert client.get("/view/login").status_code == 404


def test_with_authentication_off_no_login_is_needed(tmp_path: Path) -> None:
    store = MemoryStore()
    store.put(case_ihc("ihc", "3+"))
    settings = Settings(auth=AuthSettings.off())
    client = create_app(
        settings, clock=lambda: NOW, store=store, locks=FileLocks(tmp_path)
    ).test_client()
    page = client.get(PAGE)
    assert page.status_code == 200
    assert parse_view(page.get_data(as_text=True)).statuses == ["positive"]
    assert client.get("/view/Patient/bad$id").status_code == 400


@pytest.mark.parametrize(
    ("view", "problem"),
    [
        ({"session_secret": None}, "HER2_VIEW_SESSION_SECRET"),
        ({"session_secret": "short"}, "HER2_VIEW_SESSION_SECRET"),
        ({"redirect_url": None}, "HER2_VIEW_REDIRECT_URL"),
        ({"redirect_url": "http://her2.example/view/callback"}, "must be https"),
    ],
)
def test_an_insecure_login_refuses_to_start(
    oidc: FakeOidc, tmp_path: Path, view: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        _client(oidc, tmp_path, **view)


def test_the_login_settings_from_the_environment() -> None:
    env = {
        "HER2_AUTH_ISSUER": "https://idp.example/realms/ehr",
        "HER2_AUTH_JWKS_URL": "https://idp.example/realms/ehr/certs",
        "HER2_AUTH_AUDIENCE": "her2-status",
        "HER2_VIEW_CLIENT_ID": "her2-view",
        "HER2_VIEW_REDIRECT_URL": "https://her2.example/view/callback",
    }
    with pytest.raises(SettingsError, match="HER2_VIEW_SESSION_SECRET"):
        Settings.from_env(env)
    view = Settings.from_env(env | {"HER2_VIEW_SESSION_SECRET": SECRET}).view
    assert view.login
    assert view.secure_cookie
    assert view.scopes == "openid launch/patient patient/Observation.rs"
    without_issuer = {k: v for k, v in env.items() if not k.startswith("HER2_AUTH")}
    with pytest.raises(SettingsError, match="HER2_AUTH_ISSUER"):
        Settings.from_env(without_issuer | {"HER2_VIEW_SESSION_SECRET": SECRET})


def test_an_unreachable_fhir_server_is_the_apis_error_as_a_page(
    unreachable_client: FlaskClient,
) -> None:
    page = unreachable_client.get(PAGE)
    answer = unreachable_client.post("/fhir/Patient/case-patient/$her2-status")
    assert page.status_code == answer.status_code
    assert page.status_code >= 502
    assert "text/html" in page.headers["Content-Type"]
    text = page.get_data(as_text=True)
    for issue in json.loads(answer.data)["issue"]:
        assert issue["diagnostics"].replace("'", "&#39;") in text


def test_each_page_view_leaves_the_audit_record(
    oidc: FakeOidc, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(oidc, tmp_path)
    with caplog.at_level(logging.INFO, logger="her2.audit"):
        assert _login(client).status_code == 200
        assert client.get("/view/Patient/someone-else").status_code == 403
    audits = [r.__dict__["fields"] for r in caplog.records if r.name == "her2.audit"]
    summary = [(a["status"], a["outcome"], a["patient_id"], a["client_id"]) for a in audits]
    # The redirect to the login is no access: only the two page views are recorded.
    assert summary == [
        (200, "read-only", "case-patient", "her2-view"),
        (403, "forbidden", "someone-else", "her2-view"),
    ]
    assert {a["subject"] for a in audits} == {"dr-test"}


def test_with_authentication_on_the_form_needs_the_login(oidc: FakeOidc, tmp_path: Path) -> None:
    # As the stateless operation needs a token, the form needs the view's login.
    client = _client(oidc, tmp_path)
    assert client.get("/view").headers["Location"] == "/view/login"
    refused = client.post("/view", data={"request": "{}"})
    assert refused.status_code == 303
    page = _login(client, "/view")
    assert page.status_code == 200
    assert '<label for="request">' in page.get_data(as_text=True)
    assert client.post("/view", data={"request": "{}"}).status_code == 400  # now derived
    without_login = _client(oidc, tmp_path, client_id=None)
    assert without_login.get("/view").status_code == 401
