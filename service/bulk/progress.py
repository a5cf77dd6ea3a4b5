"""Progress of a bulk run: a tqdm bar on a terminal, plain periodic log lines otherwise.

Neither ever names a patient: counts, rates and the estimated time left only.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any, TextIO

LOG = logging.getLogger("her2.bulk")


class Progress:
    """Counts finished units (chunks, partitions) and what they held (lines, patients)."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str = "patients",
        stream: TextIO | None = None,
        interval: float = 10.0,
        tty: bool | None = None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total
        self.done = 0
        self.patients = 0
        self.started = time.monotonic()
        self.interval = interval
        self.last_log = self.started
        stream = stream or sys.stderr
        self.bar: Any = None
        if stream.isatty() if tty is None else tty:
            from tqdm import tqdm  # noqa: PLC0415 - only on a terminal

            self.bar = tqdm(total=total, desc=label, unit="part", file=stream, leave=True)

    def advance(self, patients: int = 0) -> None:
        """One unit finished, holding ``patients`` items (patients, or lines)."""
        self.done += 1
        self.patients += patients
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.patients / elapsed
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.patients} {self.unit}, {rate:,.0f} {self.unit}/s")
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last_log >= self.interval or self.done == self.total:
            self.last_log = now
            left = elapsed / self.done * (self.total - self.done)
            LOG.info(
                "%s: %d/%d done, %d %s, %.0f %s/s, about %.0f s left",
                self.label,
                self.done,
                self.total,
                self.patients,
                self.unit,
                rate,
                self.unit,
                left,
            )

    def close(self) -> None:
        """Close the bar (nothing to do for log lines)."""
        if self.bar is not None:
            self.bar.close()


__all__ = ["Progress"]
