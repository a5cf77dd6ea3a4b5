"""Settings of the event-driven mode (``HER2_DATA_DIR`` and its companions).

Read by ``Settings.from_env`` with the other variables; kept apart so that the
settings module stays one screenful per concern.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from service.settings import AuthSettings, _Env, _http_url


@dataclass(frozen=True)
class EventSettings:
    """The event-driven mode (``HER2_DATA_DIR``; see the README's event-driven section).

    Attributes:
        data_dir: the private directory of the durable queue (one SQLite file).
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


def event_settings(env: _Env, base_url: str | None, auth: AuthSettings) -> EventSettings | None:
    """``HER2_DATA_DIR``, ``HER2_HOOK_SECRET``, ``HER2_PUBLIC_URL``, ``HER2_CATCHUP_INTERVAL``.

    The mode is on when ``HER2_DATA_DIR`` is set; it needs a FHIR server, and a
    secret unless inbound bearer tokens are checked (secure by default).  The secret
    travels in an HTTP header: printable ASCII without spaces, at least 16 characters.
    """
    data_dir = env.text("HER2_DATA_DIR")
    secret = env.text("HER2_HOOK_SECRET")
    public_url = _http_url(env, "HER2_PUBLIC_URL")
    interval = float(env.number("HER2_CATCHUP_INTERVAL", 300.0, float, 1.0))
    if secret is not None and (
        len(secret) < MIN_HOOK_SECRET or not all(33 <= ord(c) <= 126 for c in secret)
    ):
        env.problems.append(
            f"HER2_HOOK_SECRET must be at least {MIN_HOOK_SECRET} printable ASCII characters"
            " without spaces"
        )
    if data_dir is None:
        if secret is not None or public_url is not None:
            env.problems.append("HER2_HOOK_SECRET/HER2_PUBLIC_URL are set but HER2_DATA_DIR is not")
        return None
    if not Path(data_dir).is_absolute():
        env.problems.append("HER2_DATA_DIR must be an absolute path")
    if base_url is None:
        env.problems.append("HER2_DATA_DIR needs HER2_FHIR_BASE_URL (the server to watch)")
    if secret is None and not auth.enabled:
        env.problems.append(
            "HER2_HOOK_SECRET is required with HER2_DATA_DIR unless bearer tokens are checked"
        )
    return EventSettings(
        Path(data_dir), secret, public_url.rstrip("/") if public_url else None, interval
    )


__all__ = ["MIN_HOOK_SECRET", "EventSettings", "event_settings"]
