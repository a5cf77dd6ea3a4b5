"""Command line: ``her2-status derive [FILE|-]`` (batch jobs, integration-engine file channels).

``jwks`` prints the public JWK Set of the SMART Backend Services key
(``HER2_FHIR_PRIVATE_KEY``), for the service's client registration at the EHR.

``derive`` reads a Parameters, a Bundle or an Observation (as for the stateless
operation) from a file or standard input and prints the result Bundle (type
collection).  Exit codes: 0 when at least one status was derived; 2 when
nothing could be derived (an OperationOutcome is printed instead); 1 for a
usage or configuration problem.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from service import cli_events
from service.app.tumor_markers import tumor_markers
from service.bootstrap import bootstrap
from service.bulk import cli as bulk_cli
from service.fhir import jsonio
from service.fhir.codes import CodeMap, CodeMapError
from service.fhir.envelope import EnvelopeError
from service.fhir.issues import Issue, Severity, outcome_resource
from service.private_dir import PrivateDirError, ensure_private_dir
from service.settings import MAX_WINDOW_DAYS, DerivationSettings

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_NOTHING_DERIVED = 2


def dump(resource: dict[str, Any], out: TextIO, pretty: bool = False) -> None:
    """Write a resource as FHIR JSON, one document per call.

    Compact by default: an indented dump uses the json module's pure-Python
    encoder, which dominates the run time of large batches.
    """
    out.write(jsonio.dumps(resource, indent=2 if pretty else None) + "\n")


def _read(source: str) -> object:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return jsonio.loads(text)


def _derive_command(args: argparse.Namespace, out: TextIO) -> int:
    # Only the options: a server setting in the environment is none of derive's business.
    try:
        code_map = CodeMap.from_file(Path(args.code_map)) if args.code_map else CodeMap()
    except CodeMapError as exc:
        print(f"her2-status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 <= args.window_days <= MAX_WINDOW_DAYS:
        print(f"her2-status: --window-days must be 0 to {MAX_WINDOW_DAYS}", file=sys.stderr)
        return EXIT_USAGE
    application = bootstrap(DerivationSettings(code_map, dt.timedelta(days=args.window_days)))
    try:
        payload = _read(args.file)
    except OSError as exc:
        print(f"her2-status: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError:
        dump(
            outcome_resource([Issue(Severity.ERROR, "structure", "The input is not valid JSON.")]),
            out,
        )
        return EXIT_NOTHING_DERIVED
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        derivation = application.derive(payload, now)
    except EnvelopeError as exc:
        dump(outcome_resource(exc.issues), out, args.pretty)
        return EXIT_NOTHING_DERIVED
    if not derivation.usable:
        dump(derivation.outcome(), out, args.pretty)
        return EXIT_NOTHING_DERIVED
    if args.shape == "mcode":
        # As $her2-tumor-marker answers (README, "mCODE tumour-marker export").
        markers = tumor_markers(derivation, now)
        if not markers.count:
            dump(outcome_resource(markers.issues), out, args.pretty)
            return EXIT_NOTHING_DERIVED
        dump(markers.bundle, out, args.pretty)
        return EXIT_OK
    dump(derivation.bundle, out, args.pretty)
    return EXIT_OK


def _metrics_dir() -> str:
    """A fresh ``PROMETHEUS_MULTIPROC_DIR`` for this start.

    prometheus-client adds up every file in that directory, so files of an earlier
    run would be counted again: the directory is new at each start (an inherited
    value is replaced) and removed when the master exits.  It must be set before
    prometheus-client is first imported, which is when it picks its storage.
    """
    path = tempfile.mkdtemp(prefix="her2-status-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path


def _serve_command(args: argparse.Namespace) -> int:
    from service.settings import ServerSettings, Settings, SettingsError  # noqa: PLC0415

    problems: list[str] = []
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        problems += exc.problems
    try:
        server = ServerSettings.from_env(workers=args.workers, threads=args.threads)
    except SettingsError as exc:
        problems += exc.problems
    if not problems:
        # Checked here, once, before any worker starts: a directory another local user
        # could read or write must stop the start with one line, not a worker crash.
        private: list[tuple[Path, str]] = []
        if settings.fhir_base_url is not None:
            private.append((settings.lock_dir, "HER2_LOCK_DIR"))
        if settings.cds.issuers:  # the CDS Hooks seen-jti store
            private.append((settings.cds.data_dir, "HER2_DATA_DIR"))
        if settings.events is not None:  # the event queue
            private.append((settings.events.data_dir, "HER2_DATA_DIR"))
        for directory, variable in dict.fromkeys(private):
            try:
                ensure_private_dir(directory, variable)
            except PrivateDirError as exc:
                problems.append(str(exc))
    if problems:
        # One line naming every invalid variable; a traceback would bury it.
        print(f"her2-status: {SettingsError(problems)}", file=sys.stderr)
        return EXIT_USAGE

    metrics_dir = _metrics_dir()
    # Imported here: `derive` must not pay for Flask and gunicorn, and prometheus-client
    # (imported by service.api) must see PROMETHEUS_MULTIPROC_DIR first.
    from gunicorn.app.base import BaseApplication  # noqa: PLC0415
    from prometheus_client import multiprocess  # noqa: PLC0415

    from service.api import create_app  # noqa: PLC0415
    from service.api.server_logs import JsonLogger  # noqa: PLC0415

    started = dt.datetime.now(dt.UTC)

    def child_exit(_server: object, worker: Any) -> None:
        # A dead worker's counters stay; only its live-gauge files go.
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]

    def on_exit(_server: object) -> None:
        shutil.rmtree(metrics_dir, ignore_errors=True)

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{args.host}:{args.port}",
                "workers": server.workers,
                "threads": server.threads,
                "worker_class": "gthread",
                "timeout": int(settings.read_timeout * 4) + 30,
                "graceful_timeout": 20,
                "keepalive": 5,
                # JSON lines on stderr; access lines name the route, never the raw path.
                "logger_class": JsonLogger,
                "accesslog": "-",
                "errorlog": "-",
                "loglevel": settings.log_level.lower(),
                "child_exit": child_exit,
                "on_exit": on_exit,
                "control_socket_disable": True,  # gunicorn 27 would want a socket in $HOME
            }
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> object:
            return create_app(settings, started=started)

    # The event-driven mode's one worker: a child of the master, not of every HTTP worker.
    worker = cli_events.worker_process(settings)
    try:
        _Server().run()
    finally:
        if worker is not None:
            worker.stop()
        # gunicorn's on_exit does not run when the master stops with an error.
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return EXIT_OK


def _jwks_command(out: TextIO) -> int:
    """Print the public JWK Set of ``HER2_FHIR_PRIVATE_KEY`` (to register the service)."""
    from service.clients.keys import KeyFileError, load_signing_key  # noqa: PLC0415
    from service.settings import SettingsError, smart_backend_settings  # noqa: PLC0415

    try:
        smart = smart_backend_settings()
        key = load_signing_key(smart.private_key, smart.key_id)
    except SettingsError as exc:
        print(f"her2-status: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyFileError as exc:
        # The file changed since the settings' check: the same one line, no traceback.
        print(f"her2-status: HER2_FHIR_PRIVATE_KEY: {exc}", file=sys.stderr)
        return EXIT_USAGE
    dump(key.public_jwks(), out, pretty=True)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The ``her2-status`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="her2-status",
        description="Guideline-exact HER2 status from FHIR R4 pathology results.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    derive_parser = commands.add_parser(
        "derive",
        help="derive HER2 status from a Parameters, Bundle or Observation file",
        description="Print the result Bundle (collection); exit 2 with an "
        "OperationOutcome when nothing could be derived.",
    )
    derive_parser.add_argument("file", nargs="?", default="-", help="input file, or - for stdin")
    derive_parser.add_argument(
        "--code-map", help="JSON table of local codes (see README, 'Local codes')"
    )
    derive_parser.add_argument(
        "--pretty", action="store_true", help="indent the JSON output (slower on large input)"
    )
    derive_parser.add_argument(
        "--shape",
        choices=("status", "mcode"),
        default="status",
        help="status: the status Observations, Lists and Provenances (default); mcode: the "
        "statuses as mCODE tumour-marker Observations (as $her2-tumor-marker)",
    )
    derive_parser.add_argument(
        "--window-days",
        type=int,
        default=30,
        help="grouping window for inputs without a specimen or report (default 30)",
    )
    serve_parser = commands.add_parser(
        "serve",
        help="serve the HTTP API with gunicorn",
        description="Serve $her2-status, metadata and health endpoints (settings from HER2_* "
        "environment variables; see the README).",
    )
    serve_parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    # No default here: building the parser must not read (or choke on) the environment.
    serve_parser.add_argument(
        "--workers", type=int, help="worker processes, at least 1 (default: HER2_WORKERS, else 2)"
    )
    serve_parser.add_argument(
        "--threads", type=int, help="threads per worker, at least 1 (default: HER2_THREADS, else 4)"
    )
    cli_events.add_commands(commands)
    commands.add_parser(
        "jwks",
        help="print the public JWK Set of the SMART Backend Services key",
        description="Print the public JWK Set of HER2_FHIR_PRIVATE_KEY (with HER2_FHIR_KEY_ID) "
        "for registering the service as a backend client at the EHR; never the private key.",
    )
    bulk_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Entry point of the ``her2-status`` command."""
    args = build_parser().parse_args(argv)
    stream = out or sys.stdout
    if args.command == "serve":
        return _serve_command(args)
    if args.command == "jwks":
        return _jwks_command(stream)
    if args.command == "bulk":
        return bulk_cli.command(args, stream)
    if args.command in cli_events.COMMANDS:
        return cli_events.run(args, stream)
    if args.command == "derive":
        try:
            return _derive_command(args, stream)
        except BrokenPipeError:
            # The reader went away (e.g. `| head`): nothing left to report.
            sys.stderr.close()
            return EXIT_OK
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
