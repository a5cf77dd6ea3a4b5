"""Commands of the event-driven mode: ``worker``, ``subscribe``, ``queue``; the worker of ``serve``.

- ``her2-status worker [--threads N]`` processes the durable queue in
  ``HER2_DATA_DIR`` and runs the catch-up.  One worker per data directory: a second
  one waits on the directory's ``worker.lock`` and takes over when the first stops
  (a standby).  SIGTERM/SIGINT stop it after the item in hand.
- ``her2-status subscribe`` creates or updates the service's rest-hook Subscription
  on the FHIR server (``--remove`` deletes it, ``--status`` shows it, never the secret).
- ``her2-status queue`` shows the queue and its parked items; ``--retry ID`` and
  ``--retry-all`` put parked items back; ``--catch-up-since INSTANT`` sets the
  catch-up watermark (to back-fill results older than the first start).
- ``serve`` runs the worker as a child process of gunicorn's master
  (``WorkerProcess``), restarted when it dies: one worker, however many HTTP
  worker processes gunicorn runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from service.fhir import jsonio

EXIT_OK = 0
EXIT_USAGE = 1
COMMANDS = ("worker", "subscribe", "queue")
LOCK_NAME = "worker.lock"
log = logging.getLogger("her2.worker")


def add_commands(commands: Any) -> None:
    """Add the three commands to ``her2-status``'s subparsers."""
    worker = commands.add_parser(
        "worker",
        help="process the event queue and catch up with the FHIR server",
        description="Take queued notifications, re-derive each patient and write back; "
        "catch up every HER2_CATCHUP_INTERVAL seconds.",
    )
    worker.add_argument("--threads", type=int, default=2, help="items at a time (default 2)")
    subscribe = commands.add_parser(
        "subscribe",
        help="create or update the rest-hook Subscription on the FHIR server",
        description="Idempotent: the Subscription is found by the project's tag and id. "
        "Needs HER2_PUBLIC_URL (the URL the FHIR server reaches the service at).",
    )
    mode = subscribe.add_mutually_exclusive_group()
    mode.add_argument("--remove", action="store_true", help="delete the Subscription")
    mode.add_argument("--status", action="store_true", help="show the Subscription")
    queue = commands.add_parser(
        "queue",
        help="show the event queue and its parked items; retry them",
        description="Without options: the queue's figures and every parked item.",
    )
    action = queue.add_mutually_exclusive_group()
    action.add_argument("--retry", type=int, metavar="ID", help="retry one parked item")
    action.add_argument("--retry-all", action="store_true", help="retry every parked item")
    action.add_argument(
        "--catch-up-since",
        metavar="INSTANT",
        help="set the catch-up watermark (e.g. 2026-01-01T00:00:00Z) to back-fill older results",
    )


def _settings() -> Any:
    """The settings, or None after printing why not (event mode and a FHIR server needed)."""
    from service.settings import Settings, SettingsError  # noqa: PLC0415

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"her2-status: {exc}", file=sys.stderr)
        return None
    if settings.events is None or settings.fhir_base_url is None:
        print(
            "her2-status: the event-driven mode is off: set HER2_HOOK_SECRET (or HER2_PUBLIC_URL)"
            " and HER2_FHIR_BASE_URL",
            file=sys.stderr,
        )
        return None
    return settings


def _queue(settings: Any) -> Any:
    from service.app.sqlite_queue import DataDirError, SqliteQueue  # noqa: PLC0415

    try:
        return SqliteQueue(settings.events.data_dir)
    except DataDirError as exc:
        print(f"her2-status: {exc}", file=sys.stderr)
        return None


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Run one of ``COMMANDS``."""
    settings = _settings()
    if settings is None:
        return EXIT_USAGE
    if args.command == "subscribe":
        return _subscribe(args, settings, out)
    queue = _queue(settings)
    if queue is None:
        return EXIT_USAGE
    if args.command == "queue":
        return _queue_command(args, queue, out)
    return _worker(args, settings, queue)


def _hold_worker_lock(directory: Path, stop: threading.Event) -> int | None:
    """Take the data directory's worker lock, waiting while another worker holds it.

    Returns:
        The locked descriptor, or None when ``stop`` was set while waiting.
    """
    fd = os.open(
        directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
    )
    waiting = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if not waiting:
                log.info("another worker holds the data directory; waiting as a standby")
                waiting = True
            if stop.wait(1.0):
                os.close(fd)
                return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _worker(args: argparse.Namespace, settings: Any, queue: Any) -> int:
    from service.api import logs  # noqa: PLC0415
    from service.bootstrap import event_worker  # noqa: PLC0415

    if args.threads < 1:
        print("her2-status: --threads must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    logs.configure(settings.log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    worker = event_worker(settings, queue)
    fd = _hold_worker_lock(settings.events.data_dir, stop)
    if fd is None:
        return EXIT_OK
    try:
        worker.run(stop, args.threads)
    finally:
        os.close(fd)
    log.info("worker stopped")
    return EXIT_OK


def _subscribe(args: argparse.Namespace, settings: Any, out: TextIO) -> int:
    from service.app.catchup import input_codes  # noqa: PLC0415
    from service.app.fhir_events import Subscriptions  # noqa: PLC0415
    from service.bootstrap import fhir_client  # noqa: PLC0415
    from service.clients.errors import FhirClientError  # noqa: PLC0415
    from service.fhir.subscription import HOOK_PATH, SECRET_HEADER  # noqa: PLC0415

    subscriptions = Subscriptions(fhir_client(settings.fhir_client))
    events = settings.events
    try:
        if args.status:
            found = subscriptions.status()
            out.write(jsonio.dumps({"subscriptions": found}, indent=2) + "\n")
            return EXIT_OK if found else 2
        if args.remove:
            removed = subscriptions.remove()
            out.write(jsonio.dumps({"removed": removed}) + "\n")
            return EXIT_OK
        if events.public_url is None:
            print("her2-status: subscribe needs HER2_PUBLIC_URL", file=sys.stderr)
            return EXIT_USAGE
        headers = [f"{SECRET_HEADER}: {events.hook_secret}"] if events.hook_secret else []
        described = subscriptions.put(
            input_codes(settings.code_map), events.public_url + HOOK_PATH, headers
        )
    except FhirClientError as exc:
        print(f"her2-status: {exc.public_message}", file=sys.stderr)
        return EXIT_USAGE
    out.write(jsonio.dumps({"subscription": described}, indent=2) + "\n")
    return EXIT_OK


def _queue_command(args: argparse.Namespace, queue: Any, out: TextIO) -> int:
    from service.app.catchup import instant  # noqa: PLC0415

    now = time.time()
    if args.retry is not None or args.retry_all:
        count = queue.unpark(None if args.retry_all else args.retry, now)
        out.write(jsonio.dumps({"retried": count}) + "\n")
        return EXIT_OK if count or args.retry_all else 2
    if args.catch_up_since is not None:
        try:
            since = dt.datetime.fromisoformat(args.catch_up_since)
        except ValueError:
            print("her2-status: --catch-up-since must be an ISO 8601 instant", file=sys.stderr)
            return EXIT_USAGE
        if since.tzinfo is None:
            print("her2-status: --catch-up-since needs a time zone (Z)", file=sys.stderr)
            return EXIT_USAGE
        queue.set_watermark(instant(since))
        queue.request_catchup()
        out.write(jsonio.dumps({"watermark": queue.watermark()}) + "\n")
        return EXIT_OK
    stats = queue.stats(now)
    document = {
        "depth": stats.depth,
        "oldest_pending_seconds": stats.oldest_pending_seconds,
        "parked": [
            {
                "id": item.item_id,
                "resource": item.notice.reference,
                "version": item.notice.version,
                "attempts": item.attempts,
                "reason": item.reason,
            }
            for item in queue.parked()
        ],
        "watermark": stats.watermark,
        "worker_seen_seconds": stats.worker_seen_seconds,
    }
    out.write(jsonio.dumps(document, indent=2) + "\n")
    return EXIT_OK


class WorkerProcess:
    """``her2-status worker`` as a child of ``serve``, restarted after it dies."""

    def __init__(
        self,
        command: list[str] | None = None,
        restart_delay: float = 1.0,
        max_restart_delay: float = 30.0,
    ) -> None:
        self.command = command or [sys.executable, "-m", "service.cli", "worker"]
        self.restart_delay = restart_delay
        self.max_restart_delay = max_restart_delay
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._spawning = threading.Lock()  # no new worker once stop() has begun
        self._thread = threading.Thread(target=self._watch, name="her2-worker", daemon=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the worker exports no metrics
        return subprocess.Popen(self.command, env=env)

    def start(self) -> WorkerProcess:
        """Start the worker and watch it."""
        self.process = self._spawn()
        self._thread.start()
        return self

    def _watch(self) -> None:
        delay = self.restart_delay
        started = time.monotonic()
        while not self._stop.wait(0.5):
            process = self.process
            # gunicorn's master reaps every child: poll() then reports 0, still "ended".
            if process is not None and process.poll() is not None and not self._stop.is_set():
                # A worker that ran a minute earns a quick restart; one that keeps
                # failing at start is restarted less and less often.
                if time.monotonic() - started > 60:
                    delay = self.restart_delay
                log.warning(
                    "worker ended; restarting",
                    extra={"fields": {"pid": process.pid, "delay_s": delay}},
                )
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, self.max_restart_delay)
                started = time.monotonic()
                with self._spawning:
                    if self._stop.is_set():
                        return
                    self.process = self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop watching; SIGTERM the worker (SIGKILL after ``timeout``)."""
        self._stop.set()
        with self._spawning:
            process = self.process
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def worker_process(settings: Any) -> WorkerProcess | None:
    """The worker ``serve`` starts: only in the event-driven mode (with a FHIR server)."""
    if settings.events is None or settings.fhir_base_url is None:
        return None
    from service.api import logs  # noqa: PLC0415

    logs.configure(settings.log_level)  # the master's lines about its worker, as JSON
    return WorkerProcess().start()


__all__ = ["COMMANDS", "WorkerProcess", "add_commands", "run", "worker_process"]
