"""gunicorn's error and access logs as JSON lines, in the shape of ``service.api.logs``.

Imported only by ``her2-status serve``.  gunicorn knows the raw request path, which
carries patient ids (``/fhir/Patient/<id>/$her2-status``), so an access line never
names it: it names the route (the URL rule the application left in the WSGI environ,
``unmatched`` for a request that reached no route), the method, the status, the
duration, the bytes sent and the request id.

gunicorn's own messages are written as their template (``"Error handling request
%s"``) unless the template is one of a few whose arguments are known to be safe
(addresses, pids, signal names): an argument may be a raw URI or an exception message.
Tracebacks are reduced to the exception type for the same reason.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any, Final

from gunicorn.glogging import Logger

from service.api.logs import JsonFormatter
from service.api.metrics import ROUTE_ENVIRON, UNMATCHED

# Messages of gunicorn 27 whose arguments name only the server, never a request.
_SAFE_TEMPLATES: Final = (
    "Starting gunicorn",
    "Listening at:",
    "Using worker:",
    "Booting worker with pid:",
    "Worker exiting (pid:",
    "Handling signal:",
    "Shutting down:",
    "Worker (pid:",
    "WORKER TIMEOUT (pid:",
    "Worker graceful timeout (pid:",
    "Waiting for %d connections",
    "Forcing close of %d connections",
)


class ServerJsonFormatter(JsonFormatter):
    """``JsonFormatter`` for gunicorn's own records: no request content, no traceback."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line; unsafe arguments and tracebacks left out."""
        template = str(record.msg)
        safe = record.args and template.startswith(_SAFE_TEMPLATES)
        clean = logging.makeLogRecord(record.__dict__)
        if not safe:
            clean.msg, clean.args = template, None
        fields = dict(getattr(record, "fields", None) or {})
        if record.exc_info and record.exc_info[0] is not None:
            fields["error_type"] = record.exc_info[0].__name__
        clean.exc_info = clean.exc_text = None
        clean.fields = fields
        return super().format(clean)


class JsonLogger(Logger):  # type: ignore[misc]
    """gunicorn's ``logger_class``: both logs on stderr, one JSON object per line."""

    def setup(self, cfg: Any) -> None:
        """Let gunicorn set its handlers up, then make them write JSON to stderr."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if isinstance(handler, logging.StreamHandler):
                    # gunicorn sends the access log to stdout; keep every log on stderr.
                    handler.setStream(sys.stderr)
                handler.setFormatter(ServerJsonFormatter())

    def access(self, resp: Any, _req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """One access line: method, route, status, duration, bytes, request id."""
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        pairs = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        headers = {str(k).lower(): v for k, v in pairs}
        elapsed = request_time if isinstance(request_time, dt.timedelta) else None
        fields = {
            "request_id": headers.get("x-request-id"),
            "method": environ.get("REQUEST_METHOD"),
            "route": environ.get(ROUTE_ENVIRON, UNMATCHED),
            "status": int(status),
            "duration_ms": round(elapsed.total_seconds() * 1000, 2) if elapsed else None,
            "bytes": getattr(resp, "sent", None),
        }
        self.access_log.info("access", extra={"fields": fields})
