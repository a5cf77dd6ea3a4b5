"""Typed settings, read once from the environment and validated at start.

Every variable is documented in the README's configuration table.  An invalid
value stops the service at start with a message naming the variable; nothing is
read from the environment after start.  The canonical base of the project's
definitions (``https://her2-status.org/fhir``) is fixed, not configurable.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from service.fhir.codes import CodeMap, CodeMapError


class SettingsError(ValueError):
    """One or more settings are invalid; the message lists them all."""


@dataclass(frozen=True)
class Settings:
    """The service's configuration.

    Attributes:
        fhir_base_url: the EHR's FHIR server (None: only the stateless operation).
        fhir_token: a static bearer token for that server only (None: no auth).
        connect_timeout: seconds to wait for a connection to the FHIR server.
        read_timeout: seconds to wait for each answer of the FHIR server.
        retries: retries of idempotent requests on transient answers.
        page_size: ``_count`` of searches on the FHIR server.
        max_body_bytes: the largest request body accepted (larger: 413).
        grouping_window: contract section 3's window for inputs without a specimen.
        base_path: where the FHIR endpoints are mounted (``/fhir``).
        code_map: recognised codes with the site's local table.
        lock_dir: where per-key write locks live (shared by all workers).
        log_level: the level of the JSON logs.
    """

    fhir_base_url: str | None = None
    fhir_token: str | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    retries: int = 2
    page_size: int = 100
    max_body_bytes: int = 5 * 1024 * 1024
    grouping_window: dt.timedelta = dt.timedelta(days=30)
    base_path: str = "/fhir"
    code_map: CodeMap = field(default_factory=CodeMap)
    lock_dir: Path = Path("/tmp/her2-status-locks")
    log_level: str = "INFO"

    @property
    def persist_default(self) -> bool:
        """Whether the Patient-level operation writes back unless told otherwise."""
        return self.fhir_base_url is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``HER2_*`` variables.

        Raises:
            SettingsError: listing every invalid variable.
        """
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def number(name: str, default: float, kind: type[int] | type[float], low: float) -> float:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                problems.append(f"{name} must be a {kind.__name__}")
                return default
            if value < low:
                problems.append(f"{name} must be at least {low}")
            return value

        base_url = env.get("HER2_FHIR_BASE_URL") or None
        if base_url is not None:
            parts = urlsplit(base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                problems.append("HER2_FHIR_BASE_URL must be an http(s) URL")
            base_url = base_url.rstrip("/")
        token = env.get("HER2_FHIR_TOKEN") or None
        if token is not None and base_url is None:
            problems.append("HER2_FHIR_TOKEN is set but HER2_FHIR_BASE_URL is not")
        base_path = env.get("HER2_BASE_PATH", "/fhir").rstrip("/") or ""
        if base_path and not base_path.startswith("/"):
            problems.append("HER2_BASE_PATH must start with /")
        code_map = CodeMap()
        if env.get("HER2_CODE_MAP"):
            try:
                code_map = CodeMap.from_file(Path(env["HER2_CODE_MAP"]))
            except CodeMapError as exc:
                problems.append(f"HER2_CODE_MAP: {exc}")
        log_level = env.get("HER2_LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append("HER2_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        settings = cls(
            fhir_base_url=base_url,
            fhir_token=token,
            connect_timeout=float(number("HER2_FHIR_CONNECT_TIMEOUT", 3.05, float, 0.1)),
            read_timeout=float(number("HER2_FHIR_READ_TIMEOUT", 30.0, float, 0.1)),
            retries=int(number("HER2_FHIR_RETRIES", 2, int, 0)),
            page_size=int(number("HER2_FHIR_PAGE_SIZE", 100, int, 1)),
            max_body_bytes=int(number("HER2_MAX_BODY_BYTES", 5 * 1024 * 1024, int, 1024)),
            grouping_window=dt.timedelta(days=number("HER2_GROUPING_WINDOW_DAYS", 30, int, 0)),
            base_path=base_path,
            code_map=code_map,
            lock_dir=Path(env.get("HER2_LOCK_DIR") or "/tmp/her2-status-locks"),
            log_level=log_level,
        )
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return settings
