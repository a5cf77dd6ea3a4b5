"""Settings of the trial-candidate endpoints (``HER2_TRIALS_*``, issue 14).

``HER2_TRIALS_DIR`` names a directory of ClinicalTrials.gov API v2 study records
(``*.json``) a site downloaded; the service never calls ClinicalTrials.gov.  It is
checked at start: a directory that is missing or cannot be read stops the start
with one line naming the variable.

``HER2_TRIALS_FHIR=on`` also reads the ``ResearchStudy`` resources of the configured
FHIR server (``HER2_FHIR_BASE_URL``; the service's token then needs
``system/ResearchStudy.rs`` and ``system/Group.rs``).  Off by default: an EHR that
holds no trials, or does not grant those scopes, must not turn every trial request
into an upstream error.  The server's studies are read again at most every
``HER2_TRIALS_REFRESH_SECONDS`` (default 300; 0 reads them on every request).

With no source configured the endpoints answer 400 not-supported.
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
        from_fhir: read the FHIR server's ResearchStudy resources too.
        refresh_seconds: how long the server's studies are reused before being read again.
    """

    directory: Path | None = None
    from_fhir: bool = False
    refresh_seconds: float = 300.0


def trial_settings(env: Env) -> TrialSettings:
    """``HER2_TRIALS_DIR``, ``HER2_TRIALS_FHIR`` and ``HER2_TRIALS_REFRESH_SECONDS``.

    A problem is recorded for a directory that cannot be listed, a switch that is not
    on/off, ``on`` without a FHIR server, and a refresh interval out of range.
    """
    switch = (env.text("HER2_TRIALS_FHIR") or "off").lower()
    if switch not in ("on", "off"):
        env.problems.append("HER2_TRIALS_FHIR must be on or off")
    elif switch == "on" and env.text("HER2_FHIR_BASE_URL") is None:
        env.problems.append("HER2_TRIALS_FHIR=on needs HER2_FHIR_BASE_URL")
    refresh = env.number("HER2_TRIALS_REFRESH_SECONDS", 300.0, float, 0, 86_400)
    value = env.text("HER2_TRIALS_DIR")
    directory = None if value is None else Path(value)
    # Listing needs read and search permission on the directory itself.
    if directory is not None and not (
        directory.is_dir() and os.access(directory, os.R_OK | os.X_OK)
    ):
        env.problems.append("HER2_TRIALS_DIR must be a readable directory")
        directory = None
    return TrialSettings(directory, switch == "on", refresh)


__all__ = ["TrialSettings", "trial_settings"]
