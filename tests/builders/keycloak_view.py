"""The decision view's login at a real Keycloak: its client and a user, made at test time.

The test realm holds only SMART Backend Services clients; a browser login needs a
public client with the standard flow and PKCE S256, the scopes the view asks for, an
audience mapper (``aud`` = the service's audience) and the launch patient as a
``patient`` claim, and a user with a password.  ``add_view_login`` creates them with
Keycloak's admin REST API (an admin session of the master realm), so the realm file
and its cached database stay as they are.  ``log_in`` fills Keycloak's login form in
a Selenium-driven browser.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

VIEW_SCOPES = "openid launch/patient patient/Observation.rs"


@dataclass(frozen=True)
class ViewLogin:
    """What the view and the browser need: the client id and the user's credentials."""

    client_id: str
    username: str
    password: str


def _mapper(name: str, kind: str, **config: str) -> dict[str, Any]:
    return {"name": name, "protocol": "openid-connect", "protocolMapper": kind, "config": config}


def _ok(answer: requests.Response) -> requests.Response:
    if answer.status_code >= 400:
        raise AssertionError(f"Keycloak admin API: {answer.status_code} {answer.text[:300]}")
    return answer


def add_view_login(
    admin: requests.Session,
    base_url: str,
    realm: str,
    redirect_uri: str,
    audience: str,
    patient: str,
    client_id: str = "her2-view",
) -> ViewLogin:
    """Create the view's public client, its ``launch/patient`` scope and a user.

    Args:
        admin: a session with an admin token of the master realm.
        base_url: Keycloak's base URL (``http://127.0.0.1:port``).
        realm: the realm of the service's issuer.
        redirect_uri: the view's ``HER2_VIEW_REDIRECT_URL``.
        audience: the service's ``HER2_AUTH_AUDIENCE`` (put into ``aud``).
        patient: the launch patient (a hard-coded ``patient`` claim).
        client_id: the client id to create.
    """
    api = f"{base_url}/admin/realms/{realm}"
    scopes = {s["name"]: s["id"] for s in _ok(admin.get(f"{api}/client-scopes")).json()}
    if "launch/patient" not in scopes:
        _ok(
            admin.post(
                f"{api}/client-scopes",
                json={
                    "name": "launch/patient",
                    "protocol": "openid-connect",
                    "attributes": {"include.in.token.scope": "true"},
                },
            )
        )
        scopes = {s["name"]: s["id"] for s in _ok(admin.get(f"{api}/client-scopes")).json()}
    client = {
        "clientId": client_id,
        "publicClient": True,
        "standardFlowEnabled": True,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "implicitFlowEnabled": False,
        "fullScopeAllowed": False,
        "redirectUris": [redirect_uri],
        "attributes": {"pkce.code.challenge.method": "S256"},
        "protocolMappers": [
            _mapper(
                "service-audience",
                "oidc-audience-mapper",
                **{
                    "included.custom.audience": audience,
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                },
            ),
            _mapper(
                "launch-patient",
                "oidc-hardcoded-claim-mapper",
                **{
                    "claim.name": "patient",
                    "claim.value": patient,
                    "jsonType.label": "String",
                    "access.token.claim": "true",
                    "id.token.claim": "false",
                    "userinfo.token.claim": "false",
                },
            ),
        ],
    }
    _ok(admin.post(f"{api}/clients", json=client))
    (created,) = _ok(admin.get(f"{api}/clients", params={"clientId": client_id})).json()
    attach = {"launch/patient": "optional", "patient/Observation.rs": "optional"}
    if "her2-basic" in scopes:
        attach["her2-basic"] = "default"  # sub and the token's basics, as the realm's clients
    for name, kind in attach.items():
        _ok(admin.put(f"{api}/clients/{created['id']}/{kind}-client-scopes/{scopes[name]}"))
    username, password = f"dr-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    _ok(
        admin.post(
            f"{api}/users",
            json={
                "username": username,
                "enabled": True,
                "email": f"{username}@example.org",
                "emailVerified": True,
                "firstName": "Dana",
                "lastName": "Test",
                "requiredActions": [],
                "credentials": [{"type": "password", "value": password, "temporary": False}],
            },
        )
    )
    return ViewLogin(client_id, username, password)


def log_in(driver: WebDriver, login: ViewLogin) -> None:
    """Fill Keycloak's login form (its own page) and submit it."""
    driver.find_element(By.ID, "username").send_keys(login.username)
    driver.find_element(By.ID, "password").send_keys(login.password)
    driver.find_element(By.ID, "kc-login").click()
