"""Cost of the decision view: rendering a derivation as HTML, against deriving it.

Usage: python bench/view_render.py   (from the checkout; prints a Markdown table)

The view draws every figure of a specimen's site with the path (inline SVG), so its
cost grows with the number of specimens; this measures how much it adds to the
stateless derivation of the same request.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_bulk import bundle

from service.app.derivation import derive
from service.fhir import jsonio
from service.view import render_derivation

NOW = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)


def best(runs: int, work: object) -> float:
    """Median milliseconds of ``runs`` calls."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Print one row per request size."""
    print("| specimens | derive ms | render ms | render ms/specimen | page KiB |")
    print("|---|---|---|---|---|")
    for count, runs in ((1, 30), (10, 10), (100, 3)):
        payload = jsonio.loads(jsonio.dumps(bundle(count)))
        derivation = derive(payload, NOW)
        derive_ms = best(runs, lambda p=payload: derive(p, NOW))
        render_ms = best(runs, lambda d=derivation: render_derivation(d, "n"))
        size = len(render_derivation(derivation, "n").encode()) / 1024
        per = render_ms / count
        print(f"| {count} | {derive_ms:.1f} | {render_ms:.1f} | {per:.2f} | {size:.0f} |")


if __name__ == "__main__":
    main()
