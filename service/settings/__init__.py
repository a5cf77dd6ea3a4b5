"""Typed settings, read once from the environment and validated at start.

Every variable is documented in the README's configuration table.  A command
reads only what it uses: ``derive`` reads nothing (its options say it all);
the HTTP service reads ``Settings`` (FHIR client, derivation and HTTP sections;
``fhir_client`` and ``derivation`` give the sections to the parts that need
them); ``serve`` also reads ``ServerSettings`` (``HER2_WORKERS``,
``HER2_THREADS``).  An invalid value stops the start with one line naming every
invalid variable; nothing is read from the environment after
start.  The canonical base of the project's definitions
(``https://her2-status.org/fhir``) is fixed, not configurable.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from service.fhir.codes import CodeMap, CodeMapError
from service.settings.auth import AuthSettings, auth_settings
from service.settings.cds import CdsSettings, cds_settings
from service.settings.env import Env, SettingsError
from service.settings.fhir import (
    DEFAULT_SMART_SCOPES,
    FHIR_AUTH_MODES,
    FhirClientSettings,
    SmartBackendSettings,
    fhir_auth,
    smart_backend_settings,
)
from service.settings.trials import TrialSettings, trial_settings
from service.settings.view import ViewSettings, view_settings_from

if TYPE_CHECKING:
    from service.settings.events import EventSettings

# timedelta's own limit: a larger window cannot be represented at all.
MAX_WINDOW_DAYS = dt.timedelta.max.days


def default_lock_dir(environ: Mapping[str, str]) -> Path:
    """Where the write locks live unless ``HER2_LOCK_DIR`` says otherwise.

    Under the service user's own runtime directory (``$XDG_RUNTIME_DIR``, private to
    that user by the XDG specification), else its state directory
    (``$XDG_STATE_HOME``, default ``~/.local/state``): never a shared directory such
    as ``/tmp``, where another local user could plant a symlink or hold a lock.
    """
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_absolute():
        return Path(runtime) / "her2-status" / "locks"
    state = environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "her2-status" / "locks"


@dataclass(frozen=True)
class DerivationSettings:
    """What the derivation needs: recognised codes and the grouping window."""

    code_map: CodeMap = field(default_factory=CodeMap)
    grouping_window: dt.timedelta = dt.timedelta(days=30)


@dataclass(frozen=True)
class ServerSettings:
    """The server process of ``serve`` (gunicorn): worker processes and threads, both ≥ 1."""

    workers: int = 2
    threads: int = 4

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        workers: int | None = None,
        threads: int | None = None,
    ) -> ServerSettings:
        """Read ``HER2_WORKERS`` and ``HER2_THREADS``; command-line values take precedence.

        Raises:
            SettingsError: naming every invalid variable or option.
        """
        env = Env(environ)
        counts = []
        for option, given, name, default in (
            ("--workers", workers, "HER2_WORKERS", 2),
            ("--threads", threads, "HER2_THREADS", 4),
        ):
            if given is None:
                counts.append(int(env.number(name, default, int, 1)))
            elif given < 1:
                env.problems.append(f"{option} must be at least 1")
            else:
                counts.append(given)
        env.check()
        return cls(*counts)


@dataclass(frozen=True)
class Limits:
    """Caps on the work and the answer of one request (see ``Settings``)."""

    max_resources: int = 1000
    max_elements: int = 10_000
    max_request_elements: int = 100_000
    max_depth: int = 32
    max_issues: int = 100
    max_answer_bytes: int = 16 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The HTTP service's configuration.

    Attributes:
        fhir_base_url: the EHR's FHIR server (None: only the stateless operation).
        fhir_token: a static bearer token for that server only (None: no auth).
        fhir_smart: SMART Backend Services credentials for that server instead
            (``HER2_FHIR_AUTH=smart-backend``).
        connect_timeout: seconds to wait for a connection to the FHIR server.
        read_timeout: seconds to wait for each answer of the FHIR server.
        retries: retries of idempotent requests on transient answers.
        page_size: ``_count`` of searches on the FHIR server.
        max_body_bytes: the largest request body accepted (larger: 413).
        grouping_window: contract section 3's window for inputs without a specimen.
        base_path: where the FHIR endpoints are mounted (``/fhir``).
        code_map: recognised codes with the site's local table.
        lock_dir: where per-key write locks live (shared by all workers, private
            to the service's user: see ``service.app.locks``).
        log_level: the level of the JSON logs.
        limits: caps on resources, elements, issues and answer size per request.
        auth: inbound bearer tokens. Secure by default: with a FHIR server
            configured, either an issuer or ``AuthSettings.off()`` is required
            (``insecure_problem``).
        audit: ``log`` (the audit JSON line only) or ``fhir`` (also a FHIR
            AuditEvent per Patient-level call in the FHIR server; ``HER2_AUDIT``).
        cds: the CDS Hooks service (``service.settings.cds``).
        events: the event-driven mode (None: off; ``service.settings.events``).
        view: the decision view's SMART login (``service.settings.view``).
        trials: where the trial candidates come from (``service.settings.trials``).
    """

    fhir_base_url: str | None = None
    fhir_token: str | None = None
    fhir_smart: SmartBackendSettings | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    retries: int = 2
    page_size: int = 100
    max_body_bytes: int = 5 * 1024 * 1024
    grouping_window: dt.timedelta = dt.timedelta(days=30)
    base_path: str = "/fhir"
    code_map: CodeMap = field(default_factory=CodeMap)
    lock_dir: Path = field(default_factory=lambda: default_lock_dir(os.environ))
    log_level: str = "INFO"
    limits: Limits = field(default_factory=Limits)
    auth: AuthSettings = field(default_factory=AuthSettings)
    audit: str = "log"
    events: EventSettings | None = None
    cds: CdsSettings = field(default_factory=CdsSettings)
    view: ViewSettings = field(default_factory=ViewSettings)
    trials: TrialSettings = field(default_factory=TrialSettings)

    def insecure_problem(self) -> str | None:
        """Why this configuration must not start (secure by default), or None.

        A service that reads and writes the EHR with its own credentials must not
        serve unauthenticated callers unless the operator said so (``HER2_AUTH=off``).
        """
        if self.fhir_base_url is not None and self.auth.issuer is None and not self.auth.disabled:
            return (
                "HER2_AUTH_ISSUER is required when HER2_FHIR_BASE_URL is set"
                " (or set HER2_AUTH=off explicitly)"
            )
        view = self.view.problems(self.auth.issuer)
        if view:
            return "; ".join(view)
        return None

    @property
    def persist_default(self) -> bool:
        """Whether the Patient-level operation writes back unless told otherwise."""
        return self.fhir_base_url is not None

    @property
    def fhir_client(self) -> FhirClientSettings | None:
        """The FHIR client's section (None when no server is configured)."""
        if self.fhir_base_url is None:
            return None
        return FhirClientSettings(
            self.fhir_base_url,
            self.fhir_token,
            self.connect_timeout,
            self.read_timeout,
            self.retries,
            self.page_size,
            self.fhir_smart,
        )

    @property
    def derivation(self) -> DerivationSettings:
        """The derivation's section."""
        return DerivationSettings(self.code_map, self.grouping_window)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``HER2_*`` variables of the HTTP service (not the server process's).

        Raises:
            SettingsError: listing every invalid variable.
        """
        env = Env(environ)
        base_url = env.text("HER2_FHIR_BASE_URL")
        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                env.problems.append("HER2_FHIR_BASE_URL must be an http(s) URL")
            base_url = base_url.rstrip("/")
        token = env.text("HER2_FHIR_TOKEN")
        if token is not None and base_url is None:
            env.problems.append("HER2_FHIR_TOKEN is set but HER2_FHIR_BASE_URL is not")
        smart = fhir_auth(env, base_url, token)
        base_path = env.values.get("HER2_BASE_PATH", "/fhir").rstrip("/") or ""
        if base_path and not base_path.startswith("/"):
            env.problems.append("HER2_BASE_PATH must start with /")
        code_map = CodeMap()
        code_map_path = env.text("HER2_CODE_MAP")
        if code_map_path is not None:
            try:
                code_map = CodeMap.from_file(Path(code_map_path))
            except CodeMapError as exc:
                env.problems.append(f"HER2_CODE_MAP: {exc}")
        log_level = env.values.get("HER2_LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            env.problems.append("HER2_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        window = env.number("HER2_GROUPING_WINDOW_DAYS", 30, int, 0, MAX_WINDOW_DAYS)
        auth = auth_settings(env)
        settings = cls(
            fhir_base_url=base_url,
            fhir_token=token,
            fhir_smart=smart,
            connect_timeout=float(env.number("HER2_FHIR_CONNECT_TIMEOUT", 3.05, float, 0.1)),
            read_timeout=float(env.number("HER2_FHIR_READ_TIMEOUT", 30.0, float, 0.1)),
            retries=int(env.number("HER2_FHIR_RETRIES", 2, int, 0)),
            page_size=int(env.number("HER2_FHIR_PAGE_SIZE", 100, int, 1)),
            max_body_bytes=int(env.number("HER2_MAX_BODY_BYTES", 5 * 1024 * 1024, int, 1024)),
            grouping_window=dt.timedelta(days=window),
            base_path=base_path,
            code_map=code_map,
            lock_dir=Path(env.text("HER2_LOCK_DIR") or default_lock_dir(env.values)),
            log_level=log_level,
            limits=Limits(
                max_resources=int(env.number("HER2_MAX_RESOURCES", 1000, int, 1)),
                max_elements=int(env.number("HER2_MAX_ELEMENTS", 10_000, int, 100)),
                max_request_elements=int(
                    env.number("HER2_MAX_REQUEST_ELEMENTS", 100_000, int, 100)
                ),
                max_depth=Limits.max_depth,
                max_issues=int(env.number("HER2_MAX_ISSUES", 100, int, 1)),
                max_answer_bytes=int(
                    env.number("HER2_MAX_ANSWER_BYTES", 16 * 1024 * 1024, int, 64 * 1024)
                ),
            ),
            auth=auth,
            audit=_audit_mode(env, base_url),
            events=_events(env, base_url, auth),
            cds=cds_settings(env.values, env.problems),
            view=view_settings_from(env.text),
            trials=trial_settings(env),
        )
        problem = settings.insecure_problem()
        if problem is not None:
            env.problems.append(problem)
        env.check()
        return settings


AUDIT_MODES = ("log", "fhir")


def _audit_mode(env: Env, base_url: str | None) -> str:
    """``HER2_AUDIT``: ``log`` (default) or ``fhir`` (needs a FHIR server to write to)."""
    mode = (env.text("HER2_AUDIT") or "log").lower()
    if mode not in AUDIT_MODES:
        env.problems.append("HER2_AUDIT must be log or fhir")
        return "log"
    if mode == "fhir" and base_url is None:
        env.problems.append("HER2_AUDIT=fhir needs HER2_FHIR_BASE_URL")
    return mode


def _events(env: Env, base_url: str | None, auth: AuthSettings) -> EventSettings | None:
    from service.settings.events import event_settings  # noqa: PLC0415 (it imports this package)

    return event_settings(env, base_url, auth)


__all__ = [
    "DEFAULT_SMART_SCOPES",
    "FHIR_AUTH_MODES",
    "MAX_WINDOW_DAYS",
    "AuthSettings",
    "CdsSettings",
    "DerivationSettings",
    "Env",
    "FhirClientSettings",
    "Limits",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SmartBackendSettings",
    "TrialSettings",
    "ViewSettings",
    "default_lock_dir",
    "smart_backend_settings",
]
