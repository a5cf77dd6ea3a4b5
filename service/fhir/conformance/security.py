"""What the CapabilityStatement says about inbound security (``rest.security``).

Without inbound authentication the service says so instead of leaving the element
out, so that a client or reviewer reading ``/metadata`` is not left to guess.  With
it (``smart_security``), the element names SMART-on-FHIR and, when the issuer's token
endpoint is configured, the ``oauth-uris`` extension; nothing is fetched to say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final


@dataclass(frozen=True)
class InboundSecurity:
    """The ``rest.security`` element of the served CapabilityStatement.

    Attributes:
        description: what protects the endpoints, in plain words (markdown).
        cors: whether the service adds CORS headers itself.
        services: ``CapabilityStatement.rest.security.service`` CodeableConcepts
            (e.g. SMART-on-FHIR), empty while no scheme is implemented.
        extensions: extensions of the element (e.g. the SMART ``oauth-uris``).
    """

    description: str
    cors: bool = False
    services: tuple[dict[str, Any], ...] = field(default=())
    extensions: tuple[dict[str, Any], ...] = field(default=())

    def to_fhir(self) -> dict[str, Any]:
        """The element as FHIR JSON."""
        element: dict[str, Any] = {}
        if self.extensions:
            element["extension"] = list(self.extensions)
        element["cors"] = self.cors
        if self.services:
            element["service"] = list(self.services)
        element["description"] = self.description
        return element


NO_INBOUND_SECURITY: Final = InboundSecurity(
    description=(
        "None. The service does not authenticate or authorise its callers and sends no "
        "CORS headers: every client that can reach it may call every operation, "
        "including the Patient-level one that reads from and writes to the configured "
        "FHIR server with the service's own credentials. Deploy it only behind a gateway "
        "or network boundary that authenticates callers."
    )
)


SECURITY_SERVICE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS: Final = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"


def smart_security(issuer: str, audience: str, token_url: str | None = None) -> InboundSecurity:
    """``rest.security`` when bearer tokens of ``issuer`` for ``audience`` are required."""
    extensions: tuple[dict[str, Any], ...] = ()
    if token_url is not None:
        # The extension requires its token endpoint: without one, the issuer is named
        # in the description only.
        extensions = ({"url": OAUTH_URIS, "extension": [{"url": "token", "valueUri": token_url}]},)
    return InboundSecurity(
        description=(
            f"OAuth 2.0 bearer tokens (SMART on FHIR): JWT access tokens issued by {issuer}"
            f" for the audience {audience}, signed with RS256, RS384, ES256 or ES384. "
            "`$her2-status` (stateless) needs any valid token; "
            "`Patient/[id]/$her2-status` needs `system/Observation.rs` (or "
            "`patient/Observation.rs` with the token's `patient` equal to [id]) and, "
            "with persist, `system/Observation.cu` (or `patient/Observation.cu`). "
            "`$her2-tumor-marker` needs the same as `$her2-status` at each level, and "
            "never a write scope (it writes nothing). "
            "SMART v1 `.read`/`.write` scopes are accepted. The conformance resources "
            "are open. No CORS headers are sent."
        ),
        services=(
            {
                "coding": [{"system": SECURITY_SERVICE_SYSTEM, "code": "SMART-on-FHIR"}],
                "text": "OAuth 2.0 bearer tokens (SMART on FHIR)",
            },
        ),
        extensions=extensions,
    )
