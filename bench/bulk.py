"""Measure ``her2-status bulk`` end to end (NDJSON in → NDJSON, table and report out).

Usage:
    python bench/bulk.py run EXPORT [--engine embedded|spark] [--workers N] [--master M]
    python bench/bulk.py profile EXPORT [--top 25]

``run`` starts the command in a child process on a fresh output directory and prints
one Markdown table row: wall time, CPU time (user + system) and peak resident memory of
the whole process tree (``TreeSampler``), lines and specimens (status results) per
second, and microseconds per input line (wall and CPU).  ``profile`` runs the embedded
engine in this process with one worker under cProfile and prints where the time goes.
CPU time is the figure to compare on a shared machine; wall time depends on what else
runs.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


class TreeSampler(threading.Thread):
    """Samples the CPU time and resident memory of a process and all its descendants.

    ``getrusage(RUSAGE_CHILDREN)`` misses processes that are not waited for (Spark's
    JVM and its Python workers), so the whole tree is read from ``/proc`` every
    ``interval`` seconds: CPU is the sum of each process's last seen user + system
    time (a process that ends between two samples loses at most one interval), memory
    the largest sum of resident sets seen at one sample.
    """

    def __init__(self, root: int, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.stopping = threading.Event()

    def _tree(self) -> dict[int, list[str]]:
        stats: dict[int, list[str]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    text = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                stats[int(entry)] = text.rsplit(")", 1)[1].split()
        members, frontier = {self.root}, [self.root]
        while frontier:
            parent = frontier.pop()
            for pid, fields in stats.items():
                if int(fields[1]) == parent and pid not in members:
                    members.add(pid)
                    frontier.append(pid)
        return {pid: stats[pid] for pid in members if pid in stats}

    def run(self) -> None:
        """Sample until told to stop."""
        while not self.stopping.is_set():
            rss = 0
            for pid, fields in self._tree().items():
                # Fields after the command: state is [0]; utime [11], stime [12], rss [21].
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK
                rss += int(fields[21]) * PAGE
            self.peak_rss = max(self.peak_rss, rss)
            self.stopping.wait(self.interval)


def _run(args: argparse.Namespace) -> None:
    out = Path(tempfile.mkdtemp(prefix="bulk-bench-"))
    command = [sys.executable, "-m", "service.cli", "bulk", str(args.export), "--out", str(out)]
    command += ["--engine", args.engine]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.master:
        command += ["--master", args.master]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(child.pid)
    sampler.start()
    _, stderr = child.communicate()
    wall = time.perf_counter() - started
    sampler.stopping.set()
    sampler.join()
    if child.returncode not in (0, 2):
        sys.exit(stderr[-2000:])
    summary = json.loads((out / "summary.json").read_text())
    cpu = sum(sampler.cpu.values())
    lines = summary["input"]["lines"]
    specimens = summary["specimens"]["derived"] + summary["specimens"]["not_derived"]
    label = f"{args.engine} {args.master or f'{args.workers or os.cpu_count()} workers'}"
    print(
        f"| {label} | {lines:,} | {summary['patients']['total']:,} | {specimens:,} | "
        f"{wall:.1f} s | {cpu:.1f} s | {sampler.peak_rss / 2**20:.0f} MiB | "
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
