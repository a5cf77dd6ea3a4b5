"""What the endpoints share: settings, the FHIR client, the writer, the clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from service.clients.fhir import FhirClient
from service.settings import Settings
from service.writeback import Writer


@dataclass
class Context:
    """The composition root's products, one per application."""

    settings: Settings
    client: FhirClient | None
    writer: Writer | None
    clock: Callable[[], dt.datetime]

    def now(self) -> dt.datetime:
        """The derivation time (whole seconds, UTC)."""
        return self.clock().astimezone(dt.UTC).replace(microsecond=0)
