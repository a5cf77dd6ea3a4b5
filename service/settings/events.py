"""Settings of the event-driven mode (``HER2_HOOK_SECRET`` and its companions).

Read by ``Settings.from_env`` with the other variables; kept apart so that the
settings module stays one screenful per concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.settings.auth import AuthSettings
from service.settings.cds import default_data_dir
from service.settings.env import Env, http_url


@dataclass(frozen=True)
class EventSettings:
    """The event-driven mode (see the README's event-driven section).

    Attributes:
        data_dir: the service's private data directory (``HER2_DATA_DIR``), where the
            durable queue is one SQLite file.
        hook_secret: the shared secret the FHIR server sends in the Subscription's
            header (None: only bearer tokens, when inbound authentication is on).
        public_url: the service's URL as the FHIR server reaches it (for ``subscribe``).
        catchup_interval: seconds between catch-up searches.
    """

    data_dir: Path
    hook_secret: str | None = None
    public_url: str | None = None
    catchup_interval: float = 300.0


MIN_HOOK_SECRET = 16


def event_settings(env: Env, base_url: str | None, auth: AuthSettings) -> EventSettings | None:
    """``HER2_HOOK_SECRET``, ``HER2_PUBLIC_URL``, ``HER2_CATCHUP_INTERVAL`` (+ ``HER2_DATA_DIR``).

    The mode is on when ``HER2_HOOK_SECRET`` or ``HER2_PUBLIC_URL`` is set (the
    operator's choice to receive notifications); it needs a FHIR server, and a secret
    unless inbound bearer tokens are checked (secure by default).  The queue lives in
    the service's data directory (``HER2_DATA_DIR``, shared with the CDS Hooks store;
    its range is checked there).  The secret travels in an HTTP header: printable
    ASCII without spaces, at least 16 characters.
    """
    secret = env.text("HER2_HOOK_SECRET")
    public_url = http_url(env, "HER2_PUBLIC_URL")
    interval = float(env.number("HER2_CATCHUP_INTERVAL", 300.0, float, 1.0))
    if secret is not None and (
        len(secret) < MIN_HOOK_SECRET or not all(33 <= ord(c) <= 126 for c in secret)
    ):
        env.problems.append(
            f"HER2_HOOK_SECRET must be at least {MIN_HOOK_SECRET} printable ASCII characters"
            " without spaces"
        )
    if secret is None and public_url is None:
        return None
    if base_url is None:
        env.problems.append(
            "HER2_HOOK_SECRET/HER2_PUBLIC_URL need HER2_FHIR_BASE_URL (the server to watch)"
        )
    if secret is None and not auth.enabled:
        env.problems.append(
            "HER2_HOOK_SECRET is required for notifications unless bearer tokens are checked"
        )
    data_dir = env.text("HER2_DATA_DIR")
    return EventSettings(
        Path(data_dir) if data_dir else default_data_dir(env.values),
        secret,
        public_url.rstrip("/") if public_url else None,
        interval,
    )


__all__ = ["MIN_HOOK_SECRET", "EventSettings", "event_settings"]
