"""What the CapabilityStatement says about inbound security (``rest.security``).

Today the service authenticates no caller: it says so instead of leaving the element
out, so that a client or reviewer reading ``/metadata`` is not left to guess.  When
SMART on FHIR / OAuth arrives, it adds ``services`` codings and the ``oauth-uris``
extension here, and the CapabilityStatement builder needs no change.
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
