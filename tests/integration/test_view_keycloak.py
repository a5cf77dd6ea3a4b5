"""The decision view's SMART login at the real Keycloak, in a real headless Chromium.

Keycloak (the realm of the integration tests, with the view's public client and a
user added through its admin REST API), the HAPI test server that requires its tokens,
the service under gunicorn reading HAPI with its SMART Backend Services client, and
Chromium: the browser opens /view/Patient/{id}, lands on Keycloak's login page, logs
in, is redirected back through /view/callback, and the page shows the status with the
highlighted path equal to the rule ids of the operation's JSON answer for the same
patient, without console errors.  Screenshots are saved in the test's directory.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.builders import bundle_rule_ids, ihc_score, ish_observations
from tests.builders.browser import chromium, console_errors, screenshot, serving
from tests.builders.keycloak_view import add_view_login, log_in
from tests.builders.ports import free_port
from tests.integration.fhir_server import Fhir
from tests.integration.keycloak import READ_ONLY_ENGINE, REALM, SERVICE_AUDIENCE, Keycloak


def test_keycloak_login_shows_the_patient(
    keycloak_server: Keycloak, fhir_base_url: str, fhir: Fhir, patient_id: str, tmp_path: Path
) -> None:
    # IHC 2+ with ISH group 2 and no recount yet: equivocal, blinded recount pending.
    subject, specimen = f"Patient/{patient_id}", f"Specimen/{patient_id}-s1"
    fhir.put(ihc_score(f"{patient_id}-ihc", "2+", subject=subject, specimen=specimen))
    ish = {
        "her2_cep17_ratio": Decimal("2.4"),
        "avg_her2_copies": Decimal("3.6"),
        "avg_cep17_copies": Decimal("1.5"),
    }
    for resource in ish_observations(f"{patient_id}-ish", ish, subject=subject, specimen=specimen):
        fhir.put(resource)
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/view/callback"
    login = add_view_login(
        keycloak_server.admin_session(),
        keycloak_server.base_url,
        REALM,
        redirect,
        SERVICE_AUDIENCE,
        patient_id,
        client_id=f"her2-view-{patient_id}",
    )
    smart = keycloak_server.service_smart()
    settings = {
        "HER2_FHIR_BASE_URL": fhir_base_url,
        "HER2_FHIR_AUTH": "smart-backend",
        "HER2_FHIR_CLIENT_ID": smart.client_id,
        "HER2_FHIR_PRIVATE_KEY": str(smart.private_key),
        "HER2_FHIR_KEY_ID": smart.key_id,
        "HER2_FHIR_TOKEN_URL": keycloak_server.token_url,
        "HER2_AUTH_ISSUER": keycloak_server.issuer,
        "HER2_AUTH_JWKS_URL": keycloak_server.jwks_url,
        "HER2_AUTH_AUDIENCE": SERVICE_AUDIENCE,
        "HER2_VIEW_CLIENT_ID": login.client_id,
        "HER2_VIEW_SESSION_SECRET": "a-keycloak-test-session-secret-012345678",
        "HER2_VIEW_REDIRECT_URL": redirect,
        "HER2_LOCK_DIR": str(tmp_path / "locks"),
    }
    with serving(tmp_path / "serve.log", settings, port=port) as url, chromium() as browser:
        token = keycloak_server.token(*READ_ONLY_ENGINE)
        answer = requests.post(
            f"{url}/fhir/Patient/{patient_id}/$her2-status",
            json={
                "resourceType": "Parameters",
                "parameter": [{"name": "persist", "valueBoolean": False}],
            },
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        expected = bundle_rule_ids(answer.json())
        assert {"F3", "B11"} <= expected

        browser.get(f"{url}/view/Patient/{patient_id}")
        WebDriverWait(browser, 60).until(
            expected_conditions.presence_of_element_located((By.ID, "username"))
        )
        assert browser.current_url.startswith(f"{keycloak_server.issuer}/protocol/")
        screenshot(browser, tmp_path / "keycloak-login.png")
        log_in(browser, login)
        WebDriverWait(browser, 60).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[data-status]"))
        )
        assert browser.current_url == f"{url}/view/Patient/{patient_id}"
        screenshot(browser, tmp_path / "view-after-keycloak-login.png")
        shown = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "h2 [data-status]")]
        assert shown == ["equivocal"]
        taken = browser.find_elements(By.CSS_SELECTOR, "svg g.node.taken[data-rules]")
        highlighted = {r for e in taken for r in (e.get_attribute("data-rules") or "").split()}
        assert highlighted == expected
        assert "ISH recount by a blinded second observer" in browser.page_source
        assert console_errors(browser) == []
        # The same login opens the form (authentication is on: it needs one).
        browser.get(f"{url}/view")
        assert browser.find_element(By.ID, "request").tag_name == "textarea"
        # Another patient than the login's: the same 403 as the operation's.
        browser.get(f"{url}/view/Patient/{patient_id}-other")
        assert "The token does not allow this" in browser.page_source
        browser.get(f"{url}/view/Patient/{patient_id}")
        browser.find_element(By.CSS_SELECTOR, "form[action='/view/logout'] button").click()
        WebDriverWait(browser, 30).until(
            expected_conditions.presence_of_element_located((By.ID, "out-h"))
        )
        assert browser.get_cookie("her2_view") is None
