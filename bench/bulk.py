"""Measure ``her2-status bulk`` end to end (NDJSON in → NDJSON, table and report out).

Usage:
    python bench/bulk.py run EXPORT [--engine embedded|spark] [--workers N] [--master M]
    python bench/bulk.py profile EXPORT [--top 25]

``run`` starts the command in a child process on a fresh output directory and prints
one Markdown table row: wall time, CPU time of the children (user + system), peak
resident memory of the largest child process, lines and specimens (status results) per
second, and microseconds per input line.  ``profile`` runs the embedded engine in this
process with one worker under cProfile and prints where the time goes.  CPU time is
the figure to compare on a shared machine; wall time depends on what else runs.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args: argparse.Namespace) -> None:
    out = Path(tempfile.mkdtemp(prefix="bulk-bench-"))
    command = [sys.executable, "-m", "service.cli", "bulk", str(args.export), "--out", str(out)]
    command += ["--engine", args.engine]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.master:
        command += ["--master", args.master]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 2):
        sys.exit(done.stderr[-2000:])
    summary = json.loads((out / "summary.json").read_text())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = summary["input"]["lines"]
    specimens = summary["specimens"]["derived"] + summary["specimens"]["not_derived"]
    label = f"{args.engine} {args.master or f'{args.workers or os.cpu_count()} workers'}"
    print(
        f"| {label} | {lines:,} | {summary['patients']['total']:,} | {specimens:,} | "
        f"{wall:.1f} s | {cpu:.1f} s | {after.ru_maxrss / 1024:.0f} MiB | "
        f"{specimens / wall:,.0f} | {lines / wall:,.0f} | {1e6 * wall / lines:.1f} µs | "
        f"{1e6 * cpu / lines:.1f} µs |"
    )
    shutil.rmtree(out, ignore_errors=True)


def _profile(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from service.bulk.run import BulkOptions, run  # noqa: PLC0415
    from service.settings import DerivationSettings  # noqa: PLC0415

    out = Path(tempfile.mkdtemp(prefix="bulk-profile-"))
    options = BulkOptions(args.export, out, workers=1, now=dt.datetime.now(dt.UTC))
    profile = cProfile.Profile()
    profile.enable()
    run(options, DerivationSettings())
    profile.disable()
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(args.top)
    shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    """Parse the arguments and run one measurement."""
    parser = argparse.ArgumentParser(description="bulk benchmark")
    commands = parser.add_subparsers(dest="what", required=True)
    run_parser = commands.add_parser("run")
    run_parser.add_argument("export", type=Path)
    run_parser.add_argument("--engine", default="embedded", choices=("embedded", "spark"))
    run_parser.add_argument("--workers", type=int)
    run_parser.add_argument("--master")
    profile_parser = commands.add_parser("profile")
    profile_parser.add_argument("export", type=Path)
    profile_parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    _run(args) if args.what == "run" else _profile(args)


if __name__ == "__main__":
    main()
