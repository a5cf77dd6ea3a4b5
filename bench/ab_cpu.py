"""CPU time of the shared derivation path in two checkouts, measured alternately.

On a shared machine one run against another says little: the load changes between
them.  This starts one long-lived worker per checkout (each imports ``service`` from its
own tree) and asks them in turn for a batch, so both are measured at the same moments;
it prints the median and the minimum of the batches.

Usage (from any directory):
    python bench/ab_cpu.py derive BEFORE_TREE AFTER_TREE [--rounds 40] [--batch 100]
    python bench/ab_cpu.py bulk BEFORE_TREE AFTER_TREE EXPORT_DIR [--rounds 6]

``derive``: ``service.app.derivation.derive`` on ``bench/payload.json``, CPU ms per call.
``bulk``: for an export directory of NDJSON files, pass 1 (``parse_line`` of every line)
and pass 2 (grouping the kept lines by patient and ``run_patient`` for each, without
writing files), CPU seconds per batch.  ``git worktree add /tmp/before <commit>`` gives
a "before" tree.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

# Run inside each worker: ``sys.argv[1]`` is the mode, ``[2]`` the export (bulk).
WORKER = r"""
import datetime as dt, glob, sys, time
from pathlib import Path
sys.path.insert(0, ".")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
if sys.argv[1] == "derive":
    from service.app.derivation import derive
    from service.fhir import jsonio
    payload = jsonio.loads(Path("bench/payload.json").read_bytes())
    for _ in range(200):
        derive(payload, NOW)
    for line in sys.stdin:
        n = int(line)
        start = time.process_time()
        for _ in range(n):
            derive(payload, NOW)
        print((time.process_time() - start) / n * 1000, flush=True)
else:
    from service.bulk.partition import SEP, parse_line
    from service.bulk.patient import BulkContext, run_patient
    from service.fhir import jsonio
    from service.settings import DerivationSettings
    settings = DerivationSettings()
    codes = settings.code_map.kinds.keys()
    ctx = BulkContext(settings, NOW, "https://fhir.example.org/fhir")
    files = sorted(glob.glob(sys.argv[2] + "/*.ndjson"))
    raw = [line for f in files for line in open(f, "rb") if line.strip()]
    parse = getattr(jsonio, "loads_written", jsonio.loads)
    for line in sys.stdin:
        start = time.process_time()
        lines = [p for p in (parse_line(r, codes) for r in raw) if p.line is not None]
        middle = time.process_time()
        patients = {}
        for p in lines:
            patients.setdefault(p.patient, []).append(parse(p.line))
        for patient in sorted(patients):
            run_patient(patient, patients[patient], ctx)
        print(middle - start, time.process_time() - middle, flush=True)
"""


def main() -> None:
    """Measure the two trees alternately and print one line per tree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("derive", "bulk"))
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("export", nargs="?", default="")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    rounds = args.rounds or (40 if args.mode == "derive" else 6)
    trees = [args.before, args.after]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, args.mode, str(Path(args.export).resolve())],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tree in trees
    ]
    samples: list[list[list[float]]] = [[], []]
    for index in range(rounds):
        for which in (0, 1) if index % 2 == 0 else (1, 0):
            worker = workers[which]
            assert worker.stdin is not None
            assert worker.stdout is not None
            worker.stdin.write(f"{args.batch}\n")
            worker.stdin.flush()
            samples[which].append([float(x) for x in worker.stdout.readline().split()])
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.close()
        worker.wait()
    labels = ["derive ms/call"] if args.mode == "derive" else ["pass 1 s", "pass 2 s"]
    for tree, rows in zip(trees, samples, strict=True):
        figures = ", ".join(
            f"{label}: median {statistics.median(col):.3f} min {min(col):.3f}"
            for label, col in zip(labels, zip(*rows, strict=True), strict=True)
        )
        print(f"{tree}: {figures} ({len(rows)} batches)")


if __name__ == "__main__":
    main()
