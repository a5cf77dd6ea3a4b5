"""Settings of the trial-candidate endpoints (``HER2_TRIALS_*``, issue 14).

``HER2_TRIALS_DIR`` names a directory of ClinicalTrials.gov API v2 study records
(``*.json``) a site downloaded; the service never calls ClinicalTrials.gov.  It is
checked at start: a directory that is missing or cannot be read stops the start
with one line naming the variable.  Unset: no directory source (the endpoints then
answer 400 not-supported unless another trial source is wired in
``service.bootstrap.trial_sources``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from service.settings.env import Env


@dataclass(frozen=True)
class TrialSettings:
    """Where the trials come from.

    Attributes:
        directory: the ClinicalTrials.gov v2 records directory (None: not configured).
    """

    directory: Path | None = None


def trial_settings(env: Env) -> TrialSettings:
    """``HER2_TRIALS_DIR``: a readable directory (a problem is recorded otherwise)."""
    value = env.text("HER2_TRIALS_DIR")
    if value is None:
        return TrialSettings()
    directory = Path(value)
    # Listing needs read and search permission on the directory itself.
    if not directory.is_dir() or not os.access(directory, os.R_OK | os.X_OK):
        env.problems.append("HER2_TRIALS_DIR must be a readable directory")
        return TrialSettings()
    return TrialSettings(directory)


__all__ = ["TrialSettings", "trial_settings"]
