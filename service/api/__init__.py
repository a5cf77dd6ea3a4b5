"""The HTTP service: ``create_app(settings)`` builds the Flask application.

The application core comes from ``service.bootstrap``; this adds the clock, the
logs, the metrics, the one error handler and the routes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import Flask

from service.api import errors, logs, metrics, routes
from service.api.context import Context
from service.app.locks import Locks
from service.app.store import Store
from service.bootstrap import bootstrap
from service.fhir import jsonio
from service.settings import Settings

_WARM_UP = (
    '{"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/w"},'
    ' "code": {"coding": [{"system": "http://loinc.org", "code": "18474-7"}]},'
    ' "valueString": "3+"}'
)


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    store: Store | None = None,
    locks: Locks | None = None,
    started: dt.datetime | None = None,
) -> Flask:
    """Build the application.

    Args:
        settings: the configuration (default: read from the environment).
        clock: the time source (default: the system clock).
        store: a store to use instead of the configured FHIR server (tests).
        locks: write locks to use instead of lock files (tests).
        started: when the service started (default: now); ``serve`` passes the
            master's start so that every worker gives the same ``Last-Modified``.

    Returns:
        The Flask application; nothing is started.
    """
    settings = settings or Settings.from_env()
    application = bootstrap(
        settings.derivation, settings.fhir_client, settings.lock_dir, store, locks, settings.limits
    )
    if application.client is not None:
        # The same client object serves the store, so every upstream call is counted.
        application.client.observe = metrics.fhir_call
    # No static files: a ./static folder in the working directory must not become a route.
    app = Flask("her2-status", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["her2"] = Context(
        settings,
        application,
        clock or (lambda: dt.datetime.now(dt.UTC)),
        (started or dt.datetime.now(dt.UTC)).replace(microsecond=0),
    )
    logs.configure(settings.log_level)
    logs.install(app)
    metrics.install(app)
    errors.register(app)
    app.register_blueprint(routes.fhir_blueprint(settings.base_path))
    app.register_blueprint(routes.ops_blueprint(settings.base_path))
    # The first fhir.resources validation builds its models lazily (~120 ms):
    # pay that at start, not on the first request.
    application.derive(jsonio.loads(_WARM_UP), dt.datetime.now(dt.UTC))
    return app
