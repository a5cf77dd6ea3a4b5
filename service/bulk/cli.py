"""``her2-status bulk EXPORT_DIR --out OUT_DIR``: the command's options and its run.

Exit codes: 0 when nothing failed; 2 when something did (a malformed line, a
patient whose data failed validation, a write-back transaction): the output
directory is complete all the same and ``errors.ndjson`` says what; 1 for a
usage or configuration problem (one line on stderr, no traceback).

``bulk`` serves no caller, so the inbound-authentication settings of ``serve``
do not apply to it: it reads the FHIR client's and the derivation's variables
only (``--export`` and ``--write-back`` need ``HER2_FHIR_BASE_URL``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from service.fhir.codes import CodeMap, CodeMapError
from service.settings import MAX_WINDOW_DAYS, DerivationSettings

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_FAILED = 2


def add_parser(commands: Any) -> None:
    """Add the ``bulk`` sub-command to the ``her2-status`` parser."""
    parser = commands.add_parser(
        "bulk",
        help="re-derive a population from a FHIR Bulk Data export",
        description="Read a Bulk Data export (a directory of NDJSON files per resource "
        "type, gzip accepted, or an $export manifest), derive every patient as the "
        "Patient-level operation would, and write NDJSON results, a results table (CSV, "
        "Parquet), errors, a JSON summary and an HTML cohort report into OUT_DIR. "
        "Exit 2 when anything failed.",
    )
    parser.add_argument("export", nargs="?", help="export directory or manifest")
    parser.add_argument("--out", required=True, help="output directory (re-run to resume)")
    parser.add_argument(
        "--engine", choices=("embedded", "spark"), default="embedded", help="default embedded"
    )
    parser.add_argument("--master", help="Spark master (default local[*])")
    parser.add_argument("--workers", type=int, help="processes (default: every core)")
    parser.add_argument("--partitions", type=int, help="patient partitions (default: by size)")
    parser.add_argument("--code-map", help="JSON table of local codes (see README)")
    parser.add_argument("--window-days", type=int, default=30, help="grouping window (30)")
    parser.add_argument(
        "--base-url", help="the server the export came from (default: HER2_FHIR_BASE_URL)"
    )
    parser.add_argument(
        "--export",
        dest="run_export",
        action="store_true",
        help="run $export on HER2_FHIR_BASE_URL first (into OUT_DIR/export)",
    )
    parser.add_argument(
        "--write-back",
        action="store_true",
        help="write the results to HER2_FHIR_BASE_URL (identical results are not rewritten)",
    )
    parser.add_argument(
        "--batch-entries", type=int, default=200, help="entries per write-back transaction"
    )


def _fail(message: str) -> int:
    print(f"her2-status: {message}", file=sys.stderr)
    return EXIT_USAGE


def _client_settings() -> Any:
    """The FHIR client's settings from the environment (inbound auth does not apply)."""
    from service.settings import Settings  # noqa: PLC0415

    environ = {k: v for k, v in os.environ.items() if not k.startswith("HER2_AUTH")}
    environ["HER2_AUTH"] = "off"
    return Settings.from_env(environ)


def command(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``bulk``; return the exit code."""
    from service.bulk.run import DEFAULT_BASE_URL, BulkError, BulkOptions, run  # noqa: PLC0415
    from service.bulk.source import SourceError  # noqa: PLC0415
    from service.settings import SettingsError  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        code_map = CodeMap.from_file(Path(args.code_map)) if args.code_map else CodeMap()
    except CodeMapError as exc:
        return _fail(str(exc))
    if not 0 <= args.window_days <= MAX_WINDOW_DAYS:
        return _fail(f"--window-days must be 0 to {MAX_WINDOW_DAYS}")
    if min(args.workers or 1, args.partitions or 1) < 1:
        return _fail("--workers and --partitions must be at least 1")
    if args.export is None and not args.run_export:
        return _fail("name an export directory or manifest, or use --export")
    settings = DerivationSettings(code_map, dt.timedelta(days=args.window_days))
    server = None
    if args.run_export or args.write_back:
        try:
            server = _client_settings()
        except SettingsError as exc:
            return _fail(str(exc))
        if server.fhir_client is None:
            return _fail("--export and --write-back need HER2_FHIR_BASE_URL")
    out_dir = Path(args.out)
    source = Path(args.export) if args.export else out_dir / "export"
    base_url = args.base_url or (server.fhir_base_url if server else None) or DEFAULT_BASE_URL
    try:
        if args.run_export:
            source = _export(server, settings, out_dir)
        options = BulkOptions(
            source,
            out_dir,
            args.engine,
            args.workers,
            args.partitions,
            args.master,
            base_url,
        )
        result = run(options, settings)
    except (BulkError, SourceError) as exc:
        return _fail(str(exc))
    summary = result.summary
    if args.write_back:
        from service.app.locks import LockDirError  # noqa: PLC0415

        try:
            summary = _write_back(server, settings, result, out_dir, args.batch_entries)
        except LockDirError as exc:
            return _fail(str(exc))
    out.write(
        f"her2-status bulk: {summary['patients']['total']} patients, "
        f"{summary['specimens']['derived']} specimens derived; see {out_dir}/report.html\n"
    )
    return EXIT_FAILED if summary["failed"] else EXIT_OK


def _export(server: Any, settings: DerivationSettings, out_dir: Path) -> Path:
    from service.bootstrap import fhir_client  # noqa: PLC0415
    from service.bulk.export import BulkExport  # noqa: PLC0415
    from service.bulk.run import BulkError  # noqa: PLC0415
    from service.clients.errors import FhirClientError  # noqa: PLC0415

    target = out_dir / "export"
    if (target / "manifest.json").is_file():
        return target / "manifest.json"  # downloaded by an earlier run: resume from it
    try:
        return BulkExport(fhir_client(server.fhir_client)).run(settings.code_map.kinds, target)
    except FhirClientError as exc:
        raise BulkError(f"the export failed: {exc.public_message}") from None


def _write_back(
    server: Any, settings: DerivationSettings, result: Any, out_dir: Path, batch_entries: int
) -> Any:
    from service.bootstrap import bootstrap  # noqa: PLC0415
    from service.bulk.outputs import write_summary  # noqa: PLC0415
    from service.bulk.writeback import WriteBack  # noqa: PLC0415

    application = bootstrap(settings, server.fhir_client, server.lock_dir)
    assert application.patients is not None
    writer = WriteBack(application.patients.store, application.patients.locks, batch_entries)
    counts = writer.run(result.work, result.partitions, result.context, out_dir)
    summary = dict(result.summary)
    summary["write_back"] = counts
    summary["failed"] = bool(summary["failed"] or counts.get("failed_batches", 0))
    write_summary(out_dir, summary)
    return summary


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "add_parser", "command"]
