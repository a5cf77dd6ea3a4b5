"""The /view form in a real headless Chromium against the service under gunicorn.

Debian's ``chromium`` and ``chromium-driver`` (scripts/system-deps installs them),
driven by Selenium; the service runs as a real gunicorn process on a free loopback
port with no FHIR server.  The browser pastes a request, submits it, and the page
shows the right status with the highlighted path equal to the result's rule ids
(as the JSON answer of the same request gives them), without console errors.
Screenshots are saved under the test's temporary directory as artefacts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.builders import FIXTURES, bundle_rule_ids, case_ihc
from tests.builders.browser import chromium, console_errors, screenshot, serving
from tests.builders.oidc import FakeOidc, fake_oidc
from tests.builders.tokens import AUDIENCE


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with no FHIR server (the /view form's setting)."""
    with serving(tmp_path_factory.mktemp("view-serve") / "serve.log") as url:
        yield url


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with its console log kept."""
    with chromium() as driver:
        yield driver


def _submit(driver: WebDriver, url: str, text: str) -> None:
    driver.get(f"{url}/view")
    area = driver.find_element(By.ID, "request")
    label = driver.find_element(By.CSS_SELECTOR, "label[for=request]")
    assert label.text == "FHIR JSON request"
    area.send_keys(text)
    page = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, "submit").click()
    WebDriverWait(driver, 30).until(expected_conditions.staleness_of(page))
    WebDriverWait(driver, 30).until(
        expected_conditions.presence_of_element_located((By.TAG_NAME, "footer"))
    )


@pytest.mark.parametrize(
    ("fixture", "status"),
    [("breast-recount-cycle.json", "negative"), ("gastro-valueratio-tumorsite.json", None)],
)
def test_the_form_flow_in_chromium(
    service_url: str, browser: WebDriver, tmp_path: Path, fixture: str, status: str | None
) -> None:
    payload = (FIXTURES / "inputs" / fixture).read_bytes()
    answer = requests.post(
        f"{service_url}/fhir/$her2-status",
        data=payload,
        headers={"Content-Type": "application/fhir+json"},
        timeout=30,
    )
    assert answer.status_code == 200
    bundle = answer.json()
    observations = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    expected = [o["valueCodeableConcept"]["text"].split()[-1] for o in observations]
    if status is not None:
        assert expected == [status]

    _submit(browser, service_url, json.dumps(json.loads(payload)))
    screenshot(browser, tmp_path / f"view-{fixture}.png")

    shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "h2 [data-status]")]
    assert shown == expected
    taken = browser.find_elements(By.CSS_SELECTOR, "svg g.node.taken[data-rules]")
    highlighted = {r for e in taken for r in (e.get_attribute("data-rules") or "").split()}
    assert highlighted == bundle_rule_ids(bundle)
    listed = {e.text for e in browser.find_elements(By.CSS_SELECTOR, ".rule-ids .rule")}
    assert listed == highlighted
    # The diagrams are drawn (not just present): the first figure has a real size.
    first = browser.find_element(By.CSS_SELECTOR, "figure svg.flow")
    assert first.size["width"] > 300
    assert first.get_attribute("aria-labelledby")
    assert console_errors(browser) == []


def test_a_bad_request_is_refused_without_echo(
    service_url: str, browser: WebDriver, tmp_path: Path
) -> None:
    _submit(browser, service_url, '{"resourceType": <img src=x onerror=alert(1)>')
    screenshot(browser, tmp_path / "view-refused.png")
    heading = browser.find_element(By.ID, "refused-h")
    assert heading.text == "The request was refused (400)"
    assert "onerror" not in browser.page_source
    assert browser.find_element(By.ID, "request").get_attribute("value") == ""
    # The one console entry is the network log of the refused post itself (a 4xx).
    errors = console_errors(browser)
    assert [(e["source"], "status of 400" in e["message"]) for e in errors] == [("network", True)]


def test_print_layout_hides_the_controls(
    service_url: str, browser: WebDriver, tmp_path: Path
) -> None:
    payload = (FIXTURES / "inputs" / "breast-recount-cycle.json").read_text()
    _submit(browser, service_url, json.dumps(json.loads(payload)))
    assert browser.find_element(By.TAG_NAME, "nav").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.TAG_NAME, "nav").is_displayed()
    assert browser.find_element(By.CSS_SELECTOR, "figure svg.flow").is_displayed()
    pdf: dict[str, Any] = browser.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})
    (tmp_path / "view-print.pdf").write_bytes(base64.b64decode(pdf["data"]))
    assert (tmp_path / "view-print.pdf").stat().st_size > 10_000


def test_smart_login_in_chromium(browser: WebDriver, tmp_path: Path) -> None:
    """The SMART standalone launch in a real browser against a fake issuer on loopback.

    The issuer approves at once (no login page): the Keycloak login page is the
    end-to-end run with the realm's user client.
    """
    oidc = FakeOidc(resources=[case_ihc("ihc", "1+")])
    with fake_oidc(oidc):
        settings = {
            "HER2_FHIR_BASE_URL": f"{oidc.base}/fhir",
            "HER2_AUTH_ISSUER": oidc.url,
            "HER2_AUTH_JWKS_URL": f"{oidc.url}/protocol/openid-connect/certs",
            "HER2_AUTH_AUDIENCE": AUDIENCE,
            "HER2_VIEW_CLIENT_ID": oidc.client_id,
            "HER2_VIEW_SESSION_SECRET": "a-browser-test-session-secret-0123456789",
            "HER2_VIEW_REDIRECT_URL": "http://127.0.0.1:{port}/view/callback",
            "HER2_LOCK_DIR": str(tmp_path / "locks"),
        }
        with serving(tmp_path / "serve.log", settings) as url:
            token = oidc.issuer.token("system/Observation.rs")
            answer = requests.post(
                f"{url}/fhir/Patient/case-patient/$her2-status",
                json={
                    "resourceType": "Parameters",
                    "parameter": [{"name": "persist", "valueBoolean": False}],
                },
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert answer.status_code == 200
            browser.get(f"{url}/view/Patient/case-patient")
            WebDriverWait(browser, 30).until(
                expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[data-status]"))
            )
            assert browser.current_url == f"{url}/view/Patient/case-patient"
            screenshot(browser, tmp_path / "view-smart-patient.png")
            shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "h2 [data-status]")]
            assert shown == ["negative"]
            taken = browser.find_elements(By.CSS_SELECTOR, "svg g.node.taken[data-rules]")
            highlighted = {r for e in taken for r in (e.get_attribute("data-rules") or "").split()}
            assert highlighted == bundle_rule_ids(answer.json())
            cookie = browser.get_cookie("her2_view")
            assert cookie is not None
            assert cookie["httpOnly"] is True
            assert cookie["sameSite"] == "Lax"
            assert console_errors(browser) == []
            # The PKCE login happened in the browser's redirects.
            asked = [q for what, q in oidc.seen if what.endswith("/auth")]
            assert [q["code_challenge_method"] for q in asked] == ["S256"]

            page = browser.find_element(By.TAG_NAME, "html")
            browser.find_element(By.CSS_SELECTOR, "form[action='/view/logout'] button").click()
            WebDriverWait(browser, 30).until(expected_conditions.staleness_of(page))
            assert browser.find_element(By.ID, "out-h").text.startswith("You are logged out")
            assert browser.get_cookie("her2_view") is None
