"""Structured JSON logs with a request id; never patient data.

A log line names the route template (not the raw path), the status, the timing
and counts.  Patient names, identifiers other than resource ids, birth dates and
free text are never logged; exception messages are not logged either (they may
carry request content), only exception types.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._\-]{1,128}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line: time, level, logger, event and extra fields."""
        line: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        return json.dumps(line, default=str)


def configure(level: str) -> None:
    """Send the service's logs to stderr as JSON."""
    root = logging.getLogger("her2")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


def install(app: Flask) -> None:
    """Request ids (accepted from X-Request-ID, echoed) and one log line per request."""
    log = logging.getLogger("her2.request")

    @app.before_request
    def _start() -> None:
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if _REQUEST_ID.fullmatch(supplied) else uuid.uuid4().hex
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("started")
        fields = {
            "request_id": g.get("request_id"),
            "method": request.method,
            "route": request.url_rule.rule if request.url_rule else "unmatched",
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started else None,
            **g.get("log_fields", {}),
        }
        log.info("request", extra={"fields": fields})
        return response


def note(**fields: Any) -> None:
    """Add fields (counts, outcome codes, resource ids) to this request's log line."""
    if hasattr(g, "log_fields"):
        g.log_fields.update(fields)
