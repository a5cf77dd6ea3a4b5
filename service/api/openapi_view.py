"""The decision view in the OpenAPI document: its pages, and HTML on the two operations.

Kept apart from ``openapi`` (the FHIR and operations endpoints) so that each file
has one job; ``openapi.document`` merges these paths in.
"""

from __future__ import annotations

from typing import Any, Final

_HTML: Final = {"text/html": {"schema": {"type": "string"}}}
_PATIENT_ID: Final = {
    "name": "patient_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9\\-.]{1,64}$"},
}


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": _HTML}


def _see_other(description: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": {"schema": {"type": "string"}}}}


VIEW_PATHS: Final[dict[str, Any]] = {
    "/view": {
        "get": {
            "operationId": "viewForm",
            "summary": "The decision view's form: paste or upload a FHIR JSON request.",
            "responses": {"200": _page("The form.")},
        },
        "post": {
            "operationId": "viewSubmit",
            "summary": "Derive the pasted or uploaded request (stateless) and show the result.",
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "request": {"type": "string"},
                                "file": {"type": "string", "format": "binary"},
                            },
                        }
                    },
                    "application/x-www-form-urlencoded": {
                        "schema": {"type": "object", "properties": {"request": {"type": "string"}}}
                    },
                },
            },
            "responses": {
                "200": _page("The decision view of the request."),
                "400": _page("Not a request the operation can read (the form again)."),
                "403": _page("A cross-site post."),
                "413": _page("Larger than the configured limit."),
                "422": _page("Nothing could be derived (the form again, with the issues)."),
            },
        },
    },
    "/view/Patient/{patient_id}": {
        "get": {
            "operationId": "viewPatient",
            "summary": "The decision view of a patient on the configured FHIR server "
            "(SMART on FHIR app: a login when authentication is on).",
            "parameters": [_PATIENT_ID],
            "responses": {
                "200": _page("The patient's specimens and results."),
                "303": _see_other("Not logged in: to /view/login."),
                "400": _page("An invalid patient id, or no FHIR server configured."),
                "401": _page("Authentication is on and the view's login is not configured."),
                "403": _page("The login does not cover this patient."),
                "422": _page("Nothing could be derived for this patient."),
                "502": _page("The FHIR server failed."),
                "503": _page("The FHIR server or the issuer's keys are unavailable."),
                "504": _page("The FHIR server is too slow."),
            },
        }
    },
    "/view/patient": {
        "get": {
            "operationId": "viewLaunchPatient",
            "summary": "The patient of the login's launch context.",
            "responses": {
                "303": _see_other("To /view/Patient/{id}, or to the login."),
                "400": _page("The login carries no patient."),
            },
        }
    },
    "/view/login": {
        "get": {
            "operationId": "viewLogin",
            "summary": "Start the SMART standalone launch (authorization code with PKCE S256).",
            "responses": {
                "302": _see_other("To the issuer's authorization endpoint."),
                "404": _page("The view's login is not configured."),
                "502": _page("The issuer's configuration names no endpoints."),
                "503": _page("The issuer cannot be reached."),
            },
        }
    },
    "/view/callback": {
        "get": {
            "operationId": "viewCallback",
            "summary": "The issuer's redirect back: state checked, code exchanged, token checked.",
            "parameters": [
                {"name": "code", "in": "query", "schema": {"type": "string"}},
                {"name": "state", "in": "query", "schema": {"type": "string"}},
            ],
            "responses": {
                "303": _see_other("Logged in: to the page asked for."),
                "400": _page("No login under way, or a state that does not match."),
                "403": _page("The login was refused, or its token is not valid here."),
                "503": _page("The issuer or its keys cannot be reached."),
            },
        }
    },
    "/view/logout": {
        "post": {
            "operationId": "viewLogout",
            "summary": "End the view's session.",
            "responses": {
                "200": _page("Logged out."),
                "403": _page("A cross-site post."),
            },
        }
    },
}


def with_html_answers(paths: dict[str, Any], base: str) -> dict[str, Any]:
    """The two operations' 200 answers also in HTML (the decision view, ``Accept``)."""
    for path in (f"{base}/$her2-status", f"{base}/Patient/{{patient_id}}/$her2-status"):
        paths[path]["post"]["responses"]["200"]["content"].update(_HTML)
    return paths


__all__ = ["VIEW_PATHS", "with_html_answers"]
