"""Write a synthetic FHIR Bulk Data export (NDJSON per resource type) with realistic noise.

Usage: python bench/bulk_generate.py OUT_DIR [--patients 100000] [--seed 11] [--gzip]
       [--files-per-type 1]

Per patient (``tests/builders/bulk.py``): a Patient, a Condition (breast, gastric or
none), one to three Specimens with a pathology DiagnosticReport, a HER2 IHC and for an
IHC 2+ a dual-probe ISH, ER/PR/Ki-67, a few unrelated labs, sometimes an amended IHC or
an entered-in-error result, and often the recorded interpretation (LOINC 48676-1).
100k patients are about 1.4 M lines.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from tests.builders.bulk import write_export


def main() -> None:
    """Generate the export and print its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--files-per-type", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    lines = write_export(args.out, args.patients, args.seed, args.gzip, args.files_per_type)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(
        f"{args.patients} patients, {lines} lines, {size / 1e6:.1f} MB "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
