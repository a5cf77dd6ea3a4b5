"""gunicorn's own log records: JSON, with no raw URI, exception message or traceback."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from service.api import create_app
from service.api.logs import JsonFormatter
from service.api.server_logs import ServerJsonFormatter
from service.app.locks import FileLocks
from service.app.memory_store import MemoryStore
from service.settings import Settings
from tests.builders import CASE_PATIENT, NOW, case_ihc

PATIENT_ID = CASE_PATIENT.removeprefix("Patient/")


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


def test_the_request_line_names_no_patient_id(tmp_path: Path) -> None:
    store = MemoryStore()
    store.put(case_ihc("ihc", "3+", specimen="Specimen/s"))
    app = create_app(Settings(), clock=lambda: NOW, store=store, locks=FileLocks(tmp_path))
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(JsonFormatter().format(record))

    handler = _Collect()
    logging.getLogger("her2").addHandler(handler)
    try:
        assert app.test_client().post(f"/fhir/Patient/{PATIENT_ID}/$her2-status").status_code == 200
    finally:
        logging.getLogger("her2").removeHandler(handler)
    records = [json.loads(x) for x in lines]
    (line,) = [r for r in records if r["logger"] == "her2.request"]
    assert line["route"] == "/fhir/Patient/<patient_id>/$her2-status"
    # Only the audit record names the patient (the issue asks it to, by id only).
    (audit,) = [r for r in records if r["logger"] == "her2.audit"]
    assert audit["patient_id"] == PATIENT_ID
    others = [x for x, r in zip(lines, records, strict=True) if r["logger"] != "her2.audit"]
    assert PATIENT_ID not in "\n".join(others)
