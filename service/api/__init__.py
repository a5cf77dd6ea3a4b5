"""The HTTP service: ``create_app(settings)`` is the composition root.

It wires the settings, the FHIR client (when a server is configured), the
write-back, the clock, the logs and the one error handler.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

from service.api import errors, logs, routes
from service.api.context import Context
from service.clients.fhir import FhirClient
from service.fhir import jsonio
from service.operation import derive
from service.settings import Settings
from service.writeback import Writer

_WARM_UP = (
    '{"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/w"},'
    ' "code": {"coding": [{"system": "http://loinc.org", "code": "18474-7"}]},'
    ' "valueString": "3+"}'
)


def create_app(
    settings: Settings | None = None,
    client: FhirClient | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> Flask:
    """Build the application.

    Args:
        settings: the configuration (default: read from the environment).
        client: a FHIR client to use instead of one built from the settings.
        clock: the time source (default: the system clock).

    Returns:
        The Flask application; nothing is started.
    """
    settings = settings or Settings.from_env()
    if client is None and settings.fhir_base_url:
        client = FhirClient(
            settings.fhir_base_url,
            settings.fhir_token,
            settings.connect_timeout,
            settings.read_timeout,
            settings.retries,
            settings.page_size,
        )
    writer = Writer(client, settings) if client is not None else None
    app = Flask("her2-status")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["her2"] = Context(
        settings, client, writer, clock or (lambda: dt.datetime.now(dt.UTC))
    )
    logs.configure(settings.log_level)
    logs.install(app)
    errors.register(app)
    app.register_blueprint(routes.blueprint(settings.base_path))
    # The first fhir.resources validation builds its models lazily (~120 ms):
    # pay that at start, not on the first request.
    derive(jsonio.loads(_WARM_UP), dt.datetime.now(dt.UTC))
    return app
