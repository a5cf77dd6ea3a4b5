"""The HTTP service: ``create_app(settings)`` builds the Flask application.

The application core comes from ``service.bootstrap``; this adds the clock, the
logs, the metrics, the one error handler and the routes.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from flask import Flask

from service.api import audit, errors, hook, logs, metrics, routes, trials, view, view_smart
from service.api.cds_hooks import blueprint as cds_hooks_blueprint
from service.api.context import Context
from service.api.tumor_marker import tumor_marker_blueprint
from service.app.locks import Locks
from service.app.queue import Queue
from service.app.store import Store
from service.auth import JwksKeys, KeySource, TokenVerifier
from service.bootstrap import bootstrap, event_queue
from service.fhir import jsonio
from service.fhir.conformance import NO_INBOUND_SECURITY, smart_security
from service.settings import Settings, SettingsError

log = logging.getLogger("her2.auth")

_WARM_UP = (
    '{"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/w"},'
    ' "code": {"coding": [{"system": "http://loinc.org", "code": "18474-7"}]},'
    ' "valueString": "3+"}'
)


def _verifier(settings: Settings, keys: KeySource | None) -> TokenVerifier:
    auth = settings.auth
    problems = []
    if auth.audience is None:
        problems.append("HER2_AUTH_AUDIENCE is required with HER2_AUTH_ISSUER")
    if keys is None and auth.jwks_url is None:
        problems.append("HER2_AUTH_JWKS_URL is required with HER2_AUTH_ISSUER")
    if problems or auth.issuer is None or auth.audience is None:
        raise SettingsError(problems)
    return TokenVerifier(auth.issuer, auth.audience, keys or JwksKeys(str(auth.jwks_url)))


def create_app(
    settings: Settings | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    store: Store | None = None,
    locks: Locks | None = None,
    started: dt.datetime | None = None,
    keys: KeySource | None = None,
    queue: Queue | None = None,
) -> Flask:
    """Build the application.

    Args:
        settings: the configuration (default: read from the environment).
        clock: the time source (default: the system clock).
        store: a store to use instead of the configured FHIR server (tests).
        locks: write locks to use instead of lock files (tests).
        started: when the service started (default: now); ``serve`` passes the
            master's start so that every worker gives the same ``Last-Modified``.
        keys: the token issuer's keys instead of its JWKS URL (tests).
        queue: the event-driven mode's queue instead of the one in HER2_DATA_DIR (tests).

    Returns:
        The Flask application; nothing is started (the JWKS is read on first use).

    Raises:
        SettingsError: a FHIR server without authentication (and no explicit off).
    """
    settings = settings or Settings.from_env()
    problem = settings.insecure_problem()
    if problem is not None:
        raise SettingsError([problem])
    application = bootstrap(
        settings.derivation,
        settings.fhir_client,
        settings.lock_dir,
        store,
        locks,
        settings.limits,
        queue if queue is not None else event_queue(settings.events),
        settings.trials,
    )
    if application.client is not None:
        # The same client object serves the store, so every upstream call is counted.
        application.client.observe = metrics.fhir_call
    # No static files: a ./static folder in the working directory must not become a route.
    app = Flask("her2-status", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    context = Context(
        settings,
        application,
        clock or (lambda: dt.datetime.now(dt.UTC)),
        (started or dt.datetime.now(dt.UTC)).replace(microsecond=0),
    )
    auth = settings.auth
    if auth.enabled:
        context.verifier = _verifier(settings, keys)
        context.security = smart_security(
            context.verifier.issuer, context.verifier.audience, auth.token_url
        )
    else:
        context.security = NO_INBOUND_SECURITY
    app.extensions["her2"] = context
    logs.configure(settings.log_level)
    if auth.disabled:
        log.warning(
            "AUTHENTICATION IS OFF (HER2_AUTH=off): every caller that can reach this "
            "service may read and write patient results through it"
        )
    logs.install(app)
    metrics.install(app)
    audit.install(app)
    errors.register(app)
    app.register_blueprint(routes.fhir_blueprint(settings.base_path))
    app.register_blueprint(tumor_marker_blueprint(settings.base_path))
    app.register_blueprint(routes.ops_blueprint(settings.base_path))
    app.register_blueprint(trials.trials_blueprint(settings.base_path))
    if application.queue is not None:
        app.register_blueprint(hook.hook_blueprint())
    app.register_blueprint(cds_hooks_blueprint(settings.cds))
    app.register_blueprint(view.view_blueprint())
    view_smart.configure(app, settings)
    app.register_blueprint(view_smart.view_smart_blueprint())
    # The first fhir.resources validation builds its models lazily (~120 ms):
    # pay that at start, not on the first request.
    application.derive(jsonio.loads(_WARM_UP), dt.datetime.now(dt.UTC))
    return app
