"""The project's own CDS Hooks client: an EHR that signs its calls, and what it sends.

``Issuer`` (``tests.builders.tokens``) holds the EHR's keys and ``JwksServer`` serves
its JWK Set on a free loopback port; ``ehr_jwt`` signs the CDS Hooks JWT for one
endpoint (ES384 or RS384, ``typ`` JWT, a fresh ``jti``); ``CdsClient`` sends
discovery, hook and feedback calls through a transport (the Flask test client, or
``requests`` against a real server).  The builders make hook bodies, prefetch
objects and draft orders.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from flask.testing import FlaskClient

from service.cds.cards import GroupResult
from service.fhir import jsonio
from service.her2 import Site, SpecimenInput, evaluate, therapies_for
from service.settings.cds import CdsIssuer, CdsSettings
from tests.builders.cds_schema import RESPONSE, schema_errors
from tests.builders.fhir import PATIENT, searchset
from tests.builders.rules import dual, single, spec
from tests.builders.smart import Loopback, Reply, Seen
from tests.builders.tokens import Issuer

EHR_ISSUER = "https://ehr.test/cds-client"
PUBLIC_URL = "https://her2.test"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"


def ehr_issuer(**algs_by_kid: str) -> Issuer:
    """An EHR with one new key per ``kid=alg`` (default: one ES384 and one RS384 key)."""
    issuer = Issuer(issuer=EHR_ISSUER, audience=PUBLIC_URL)
    for kid, alg in (algs_by_kid or {"ec-1": "ES384", "rsa-1": "RS384"}).items():
        issuer.add_key(kid, alg)
    return issuer


def ehr_jwt(
    issuer: Issuer,
    audience: str | list[str],
    *,
    kid: str | None = None,
    lifetime: int = 60,
    iat: int | None = None,
    headers: dict[str, Any] | None = None,
    omit: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A CDS Hooks JWT for ``audience``; the claims named in ``omit`` are left out."""
    kid = kid or next(iter(issuer.keys))
    alg, key = issuer.keys[kid]
    issued = int(time.time()) if iat is None else iat
    payload: dict[str, Any] = {
        "iss": issuer.issuer,
        "sub": "ehr-client",
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": str(uuid.uuid4()),
        "tenant": "tenant-1",
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if k not in omit}
    header = {"kid": kid, "typ": "JWT", **(headers or {})}
    return jwt.encode(payload, key, algorithm=alg, headers=header)


def cds_settings(
    jwks_url: str,
    data_dir: Path,
    *,
    issuer: str = EHR_ISSUER,
    jku: Iterable[str] = (),
    fhir_servers: Iterable[str] = (),
    **overrides: Any,
) -> CdsSettings:
    """CDS settings allowing one EHR (its JWK Set at ``jwks_url``)."""
    allowed = CdsIssuer(issuer, jwks_url, tuple(jku), tuple(fhir_servers))
    values: dict[str, Any] = {"public_url": PUBLIC_URL, "issuers": {issuer: allowed}}
    values.update(overrides)
    return CdsSettings(data_dir=data_dir, **values)


def patient_id_of(subject: str = PATIENT) -> str:
    """``p1`` of ``Patient/p1``."""
    return subject.split("/", 1)[1]


def prefetch_of(resources: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The four prefetch keys filled from ``resources`` (as an EHR would)."""
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    return {
        "her2Observations": searchset(*by_type.get("Observation", [])),
        "her2Reports": searchset(*by_type.get("DiagnosticReport", [])),
        "her2Specimens": searchset(*by_type.get("Specimen", [])),
        "cancerConditions": searchset(*by_type.get("Condition", [])),
    }


def medication_request(
    *codings: tuple[str, str], resource_type: str = "MedicationRequest", **extra: Any
) -> dict[str, Any]:
    """A draft order coded with ``(system, code)`` pairs (ServiceRequest: in ``code``)."""
    concept = {"coding": [{"system": s, "code": c} for s, c in codings]}
    resource: dict[str, Any] = {
        "resourceType": resource_type,
        "id": f"draft-{resource_type.lower()}",
        "status": "draft",
        "subject": {"reference": PATIENT},
    }
    if resource_type == "ServiceRequest":
        resource |= {"intent": "order", "code": concept}
    elif codings:
        resource["medicationCodeableConcept"] = concept
    if resource_type == "MedicationRequest":
        resource["intent"] = "order"
    resource.update(extra)
    return resource


def draft_orders(*resources: dict[str, Any]) -> dict[str, Any]:
    """The ``draftOrders`` Bundle of an order hook."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def hook_body(
    hook: str = "patient-view",
    *,
    patient_id: str = "p1",
    prefetch: dict[str, Any] | None = None,
    orders: dict[str, Any] | None = None,
    fhir_server: str | None = None,
    access_token: str | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """A hook request body; ``prefetch`` None leaves the key out."""
    context: dict[str, Any] = {"userId": "Practitioner/u1", "patientId": patient_id}
    if orders is not None:
        context["draftOrders"] = orders
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": instance or str(uuid.uuid4()),
        "context": context,
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if access_token is not None:
        body["fhirAuthorization"] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/Observation.rs patient/Condition.rs",
            "subject": "her2-status",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


@dataclass
class Answer:
    """A response as the tests read it."""

    status: int
    headers: dict[str, str]
    json: Any


Transport = Callable[[str, str, dict[str, str], Any], Answer]


def flask_transport(client: FlaskClient) -> Transport:
    """Send through the Flask test client."""

    def send(method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        data = None if body is None else jsonio.dumps(body)
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        response = client.open(path, method=method, headers=headers, data=data)
        return Answer(response.status_code, dict(response.headers), response.get_json(silent=True))

    return send


def http_transport(base_url: str, timeout: float = 30.0) -> Transport:
    """Send to a real server (a new connection per call)."""

    def send(method: str, path: str, headers: dict[str, str], body: Any) -> Answer:
        with requests.Session() as session:
            data = None if body is None else jsonio.dumps(body).encode()
            if data is not None:
                headers = {**headers, "Content-Type": "application/json"}
            response = session.request(
                method, base_url + path, headers=headers, data=data, timeout=timeout
            )
        try:
            data = response.json()
        except ValueError:
            data = None
        return Answer(response.status_code, dict(response.headers), data)

    return send


@dataclass
class CdsClient:
    """An EHR calling the CDS service: every call signed for the endpoint it calls."""

    issuer: Issuer
    transport: Transport
    public_url: str = PUBLIC_URL
    kid: str | None = None
    sent: list[str] = field(default_factory=list)

    def token(self, path: str, **claims: Any) -> str:
        """A fresh JWT for ``path`` (remembered in ``sent``, for replays)."""
        token = ehr_jwt(self.issuer, self.public_url + path, kid=self.kid, **claims)
        self.sent.append(token)
        return token

    def send(self, method: str, path: str, body: Any = None, token: str | None = None) -> Answer:
        """One call, with ``token`` or a fresh one."""
        headers = {"Authorization": f"Bearer {token or self.token(path)}"}
        return self.transport(method, path, headers, body)

    def discovery(self) -> Answer:
        """``GET /cds-services``."""
        return self.send("GET", "/cds-services")

    def call(self, service_id: str, body: dict[str, Any]) -> Answer:
        """``POST /cds-services/{id}``."""
        return self.send("POST", f"/cds-services/{service_id}", body)

    def feedback(self, service_id: str, items: list[dict[str, Any]]) -> Answer:
        """``POST /cds-services/{id}/feedback``."""
        return self.send("POST", f"/cds-services/{service_id}/feedback", {"feedback": items})


# Representative results (engine inputs) for the card tests, by name.
SCENARIOS: dict[str, SpecimenInput] = {
    "positive": spec(ihc="3+"),
    "her2-low": spec(ihc="1+"),
    "ultralow": spec(ihc="0-ultralow"),
    "her2-0": spec(ihc="0"),
    "ihc0-unassessed": spec(ihc="0", ihc0_ultralow_assessed=False),
    "equivocal-reflex-ish": spec(ihc="2+"),
    "equivocal-recount": spec(ihc="2+", ish=dual("1.8", "4.5", "2.5")),
    "equivocal-adjudication": spec(
        ihc="2+", ish=dual("1.8", "4.5", "2.5"), ish_recount=dual("2.2", "4.6", "2.1")
    ),
    "equivocal-concurrent-ihc": spec(ihc=None, ish=dual("1.8", "4.5", "2.5")),
    "equivocal-dual-probe": spec(ihc="2+", ish=single("4.5")),
    "equivocal-ihc-and-or-dual": spec(ihc=None, ish=single("4.5")),
    "indeterminate": spec(ihc=None, assay_failed=True),
    "discordance": spec(ihc="3+", ish=dual("1.2", "2.0", "1.7")),
    "group2-comment": spec(ihc="1+", ish=dual("2.2", "3.5", "1.6")),
    "heterogeneity": spec(ihc="1+", prior_results=[{"status": "positive", "date": "2025-01-01"}]),
    "gastro-positive": spec(site="gastroesophageal", ihc="3+"),
    "gastro-negative": spec(site="gastroesophageal", ihc="1+"),
    "gastro-equivocal": spec(site="gastroesophageal", ihc="2+"),
    "other-ihc3": spec(site="other", ihc="3+"),
    "other-ihc2": spec(site="other", ihc="2+"),
    "site-unknown-ihc3": spec(site=None, ihc="3+"),
}


def group_result(
    name: str, *, key: str | None = None, date: str | None = "2026-01-10"
) -> GroupResult:
    """The card input of a named scenario (specimen ``Specimen/s1``)."""
    spec_input = SCENARIOS[name]
    result = evaluate(spec_input)
    site = spec_input.site if isinstance(spec_input.site, Site) else None
    return GroupResult(
        key or f"p1:{name}", result, therapies_for(result), "Specimen/s1", date, site
    )


class FhirStub:
    """A loopback FHIR server answering prefetch searches (by ``patient``) and reads.

    ``delay`` seconds before each answer; a ``status`` other than 200 answers every
    request with it.  A read of an unknown id answers a Bundle (a wrong answer the
    service must not take in).  ``loopback.seen`` records every request.
    """

    def __init__(self, resources: list[dict[str, Any]], delay: float = 0.0, status: int = 200):
        self.resources = resources
        self.delay = delay
        self.status = status
        self.loopback = Loopback(self.handle, "/fhir")

    def handle(self, request: Seen) -> Reply:
        """Answer one request (see the class)."""
        time.sleep(self.delay)
        if self.status != 200:
            return self.status, {"Content-Type": "application/fhir+json"}, b"{}"
        parts = urlsplit(request.path)
        segments = parts.path.split("/")
        if len(segments) == 4:  # a read: /fhir/Type/id
            read = [r for r in self.resources if r.get("id") == segments[3]]
            body = jsonio.dumps(read[0] if read else {"resourceType": "Bundle"}).encode()
            return 200, {"Content-Type": "application/fhir+json"}, body
        patient = parse_qs(parts.query).get("patient", [""])[0]
        found = [
            r
            for r in self.resources
            if r["resourceType"] == segments[-1]
            and r.get("subject", {}).get("reference", "").endswith(patient)
        ]
        return (
            200,
            {"Content-Type": "application/fhir+json"},
            jsonio.dumps(searchset(*found)).encode(),
        )

    @property
    def url(self) -> str:
        """The stub's FHIR base URL."""
        return self.loopback.url


def cards_of(answer: Answer) -> list[dict[str, Any]]:
    """The cards of a 200 answer, checked against the CDS Hooks response schema."""
    assert answer.status == 200, answer.json
    assert answer.headers["Content-Type"].startswith("application/json")
    assert schema_errors(answer.json, RESPONSE) == []
    cards: list[dict[str, Any]] = answer.json["cards"]
    return cards


def refused(answer: Answer, status: int) -> dict[str, Any]:
    """The OperationOutcome of a refusal with ``status``."""
    assert answer.status == status, answer.json
    assert answer.json["resourceType"] == "OperationOutcome"
    outcome: dict[str, Any] = answer.json
    return outcome
