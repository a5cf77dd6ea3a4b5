"""gunicorn's own log records: JSON, with no raw URI, exception message or traceback."""

from __future__ import annotations

import json
import logging
import sys

from service.api.server_logs import ServerJsonFormatter


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("body had MRN-12345")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("gunicorn.error", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_request_content_in_arguments_is_left_out() -> None:
    line = ServerJsonFormatter().format(
        _record("Error handling request %s", "/fhir/Patient/pat-secret/$her2-status", exc=True)
    )
    record = json.loads(line)
    assert record["event"] == "Error handling request %s"
    assert record["error_type"] == "ValueError"
    assert "pat-secret" not in line
    assert "MRN-12345" not in line
    assert "Traceback" not in line


def test_server_messages_keep_their_arguments() -> None:
    line = ServerJsonFormatter().format(_record("Booting worker with pid: %s", 4242))
    assert json.loads(line)["event"] == "Booting worker with pid: 4242"
