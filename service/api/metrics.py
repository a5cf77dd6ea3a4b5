"""Prometheus metrics: requests, latencies, derivations and FHIR-server calls.

Every label value comes from a small fixed set: the route is the URL rule (never the
raw path, which would carry patient ids), a status is an HTTP status or a HER2 status
code, a site a tumour-site code and an outcome an error class.  No request value ever
becomes a label.

Under ``her2-status serve`` every gunicorn worker is a process of its own, so the
counters live in ``PROMETHEUS_MULTIPROC_DIR`` (set by ``serve`` before this module is
imported, which is when prometheus-client chooses its storage) and ``/metrics``
adds up the files of all workers.  Without that variable (the Flask test client, one
process) the default registry is served as it is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Final

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.her2 import Her2Result

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
ROUTE_ENVIRON: Final = "her2.route"
"""WSGI environ key holding the matched URL rule, for gunicorn's access log."""
UNMATCHED: Final = "unmatched"

REQUESTS = Counter(
    "her2_http_requests",
    "HTTP requests answered, by method, route (URL rule) and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "her2_http_request_duration_seconds",
    "Time from the start of a request to its response, by method and route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DERIVATIONS = Counter(
    "her2_derivations",
    "HER2 statuses derived (one per specimen group), by status and tumour site.",
    ["status", "site"],
)
FHIR_CALLS = Counter(
    "her2_fhir_requests",
    "Calls to the configured FHIR server (after retries), by method and outcome.",
    ["method", "outcome"],
)
FHIR_LATENCY = Histogram(
    "her2_fhir_request_duration_seconds",
    "Duration of calls to the configured FHIR server (including retries), by method.",
    ["method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


def route() -> str:
    """The matched URL rule of this request, or ``unmatched`` (404, 405)."""
    return request.url_rule.rule if request.url_rule else UNMATCHED


def install(app: Flask) -> None:
    """Count and time every request; leave the route in the WSGI environ."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        rule = route()
        # gunicorn's access log only knows the raw path; the route travels in the environ.
        request.environ[ROUTE_ENVIRON] = rule
        REQUESTS.labels(request.method, rule, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            LATENCY.labels(request.method, rule).observe(time.perf_counter() - started)
        return response


def fhir_call(method: str, outcome: str, seconds: float) -> None:
    """The FHIR client's observer (``FhirClient.observe``)."""
    FHIR_CALLS.labels(method, outcome).inc()
    FHIR_LATENCY.labels(method).observe(seconds)


def count_derivations(results: Iterable[Her2Result]) -> None:
    """Count derived statuses by status and tumour site (codes only, never request values)."""
    for result in results:
        site = result.site.value if result.site is not None else "unknown"
        DERIVATIONS.labels(result.status.value, site).inc()


def exposition() -> Response:
    """The metrics in Prometheus text format: all workers' under gunicorn, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        # prometheus-client leaves this constructor unannotated.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, content_type=CONTENT_TYPE_LATEST)
