"""What the endpoints share: settings, the application, the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from service.auth import TokenVerifier
from service.bootstrap import Application
from service.fhir.conformance import NO_INBOUND_SECURITY, InboundSecurity
from service.settings import Settings


@dataclass
class Context:
    """The composition root's products, one per Flask application.

    Attributes:
        settings: the configuration.
        application: the application core.
        clock: the time source.
        started: when the service started (``Last-Modified`` of the conformance
            resources, which only change with a restart).
        security: what protects the endpoints, as ``/metadata`` states it.
        verifier: checks inbound bearer tokens (None: authentication is off).
    """

    settings: Settings
    application: Application
    clock: Callable[[], dt.datetime]
    started: dt.datetime
    security: InboundSecurity = NO_INBOUND_SECURITY
    verifier: TokenVerifier | None = None

    def now(self) -> dt.datetime:
        """The derivation time (whole seconds, UTC)."""
        return self.clock().astimezone(dt.UTC).replace(microsecond=0)
