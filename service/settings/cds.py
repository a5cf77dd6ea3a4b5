"""Settings of the CDS Hooks service (``HER2_CDS_*`` and ``HER2_DATA_DIR``).

Read by ``Settings.from_env`` and validated at start with the other settings; an
invalid value is reported with them on one line.  Secure by default: with no
allow-listed issuer every CDS Hooks call, discovery included, is refused (401), and
an issuer list without the public URL (the ``aud`` every token must carry) is an
error at start.

``HER2_CDS_ISSUERS`` is a JSON object, given inline or as the path of a file::

    {"https://ehr.example.org": {
        "jwks_url": "https://ehr.example.org/jwks.json",
        "jku": ["https://ehr.example.org/other-jwks.json"],
        "fhir_servers": ["https://ehr.example.org/fhir"]}}

``jwks_url`` is where the issuer's keys are read when a token names no ``jku``; a
token's ``jku`` must be ``jwks_url`` or one of ``jku`` (any other is refused and
never fetched).  ``fhir_servers`` are the only ``fhirServer`` values the service
will call with the EHR's access token when prefetch data are missing (none listed:
it never calls, and a hook with missing prefetch is answered 412).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_MAX_TOKEN_LIFETIME = 300
DEFAULT_FHIR_TIMEOUT = 3.0
MAX_ISSUERS_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CdsIssuer:
    """One EHR allowed to call the CDS services.

    Attributes:
        issuer: the ``iss`` of its JWTs.
        jwks_url: its JWK Set (used when a token names no ``jku``).
        jku: further JWK Set URLs a token's ``jku`` may name.
        fhir_servers: the ``fhirServer`` base URLs the service may call for it.
    """

    issuer: str
    jwks_url: str
    jku: tuple[str, ...] = ()
    fhir_servers: tuple[str, ...] = ()

    @property
    def key_urls(self) -> tuple[str, ...]:
        """Every JWK Set URL that may be fetched for this issuer."""
        return (self.jwks_url, *(url for url in self.jku if url != self.jwks_url))

    def allows_fhir_server(self, url: str) -> bool:
        """Whether ``url`` is one of this issuer's FHIR servers (trailing slash ignored)."""
        return url.rstrip("/") in {server.rstrip("/") for server in self.fhir_servers}


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Where the service keeps its data unless ``HER2_DATA_DIR`` says otherwise.

    The service user's state directory (``$XDG_STATE_HOME``, default
    ``~/.local/state``): it must survive restarts, so never a runtime directory.
    """
    state = environ.get("XDG_STATE_HOME")
    base = Path(state) if state and Path(state).is_absolute() else Path.home() / ".local" / "state"
    return base / "her2-status"


@dataclass(frozen=True)
class CdsSettings:
    """The CDS Hooks service's configuration.

    Attributes:
        public_url: the public base URL the EHR calls (``aud`` of every token is
            this plus the endpoint's path); None: not configured.
        issuers: the allow-listed EHRs by ``iss``.
        max_token_lifetime: the largest ``exp - iat`` accepted, in seconds.
        fhir_timeout: the longest a hook waits for the EHR's FHIR server, in seconds.
        data_dir: where the seen-``jti`` store lives (shared by every worker).
        cors_origins: the browser origins allowed (``*``: any; calls carry no cookies).
    """

    public_url: str | None = None
    issuers: dict[str, CdsIssuer] = field(default_factory=dict)
    max_token_lifetime: int = DEFAULT_MAX_TOKEN_LIFETIME
    fhir_timeout: float = DEFAULT_FHIR_TIMEOUT
    data_dir: Path = field(default_factory=lambda: default_data_dir({}))
    cors_origins: tuple[str, ...] = ("*",)

    def endpoint_url(self, path: str) -> str | None:
        """The public URL of an endpoint (the ``aud`` a token must carry), or None."""
        if self.public_url is None:
            return None
        return f"{self.public_url}{path}"


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _url_list(value: object) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(_is_http_url(v) for v in value):
        return None
    return tuple(value)


def parse_issuers(data: Any) -> tuple[dict[str, CdsIssuer], list[str]]:
    """The issuer allow-list from its JSON form, and the problems found (never values)."""
    if not isinstance(data, dict):
        return {}, ["HER2_CDS_ISSUERS must be a JSON object keyed by issuer"]
    issuers: dict[str, CdsIssuer] = {}
    problems: list[str] = []
    for number, (issuer, entry) in enumerate(data.items(), start=1):
        where = f"HER2_CDS_ISSUERS entry {number}"
        if not isinstance(entry, dict) or not issuer:
            problems.append(f"{where} must be an object under a non-empty issuer")
            continue
        unknown = set(entry) - {"jwks_url", "jku", "fhir_servers"}
        if unknown:
            problems.append(f"{where} has unknown fields (jwks_url, jku, fhir_servers allowed)")
        jwks_url = entry.get("jwks_url")
        jku = _url_list(entry.get("jku"))
        servers = _url_list(entry.get("fhir_servers"))
        if not _is_http_url(jwks_url):
            problems.append(f"{where}: jwks_url must be an http(s) URL")
        if jku is None:
            problems.append(f"{where}: jku must be a list of http(s) URLs")
        if servers is None:
            problems.append(f"{where}: fhir_servers must be a list of http(s) URLs")
        if isinstance(jwks_url, str) and jku is not None and servers is not None:
            issuers[issuer] = CdsIssuer(issuer, jwks_url, jku, servers)
    return issuers, problems


def _issuers_text(raw: str, problems: list[str]) -> str | None:
    if raw.lstrip().startswith("{"):
        return raw
    try:
        with Path(raw).open("rb") as handle:
            data = handle.read(MAX_ISSUERS_FILE_BYTES + 1)
    except OSError as exc:
        problems.append(f"HER2_CDS_ISSUERS: cannot read the file ({exc.strerror})")
        return None
    if len(data) > MAX_ISSUERS_FILE_BYTES:
        problems.append("HER2_CDS_ISSUERS: the file is too large")
        return None
    return data.decode("utf-8", "replace")


def _number(
    values: Mapping[str, str], problems: list[str], name: str, default: float, low: float
) -> float:
    raw = values.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number")
        return default
    if not math.isfinite(value) or value < low:
        problems.append(f"{name} must be a finite number of at least {low}")
        return default
    return value


def cds_settings(values: Mapping[str, str], problems: list[str]) -> CdsSettings:
    """Read the CDS Hooks variables; append every problem to ``problems``."""
    public_url = values.get("HER2_CDS_PUBLIC_URL") or None
    if public_url is not None:
        if not _is_http_url(public_url):
            problems.append("HER2_CDS_PUBLIC_URL must be an http(s) URL")
        public_url = public_url.rstrip("/")
    issuers: dict[str, CdsIssuer] = {}
    raw = values.get("HER2_CDS_ISSUERS") or None
    if raw is not None:
        text = _issuers_text(raw, problems)
        if text is not None:
            try:
                found, issuer_problems = parse_issuers(json.loads(text))
            except ValueError:
                problems.append("HER2_CDS_ISSUERS is not valid JSON")
            else:
                issuers = found
                problems.extend(issuer_problems)
        if public_url is None:
            problems.append("HER2_CDS_PUBLIC_URL is required with HER2_CDS_ISSUERS")
    lifetime = _number(
        values, problems, "HER2_CDS_MAX_TOKEN_LIFETIME", DEFAULT_MAX_TOKEN_LIFETIME, 1
    )
    origins = tuple((values.get("HER2_CDS_CORS_ORIGINS") or "*").split())
    if not all(o == "*" or _is_http_url(o) for o in origins):
        problems.append("HER2_CDS_CORS_ORIGINS must be * or space-separated http(s) origins")
    data_dir = values.get("HER2_DATA_DIR") or None
    if data_dir is not None and not Path(data_dir).is_absolute():
        problems.append("HER2_DATA_DIR must be an absolute path")
    return CdsSettings(
        public_url=public_url,
        issuers=issuers,
        max_token_lifetime=int(lifetime),
        fhir_timeout=_number(values, problems, "HER2_CDS_FHIR_TIMEOUT", DEFAULT_FHIR_TIMEOUT, 0.1),
        data_dir=Path(data_dir) if data_dir else default_data_dir(values),
        cors_origins=origins,
    )


__all__ = ["CdsIssuer", "CdsSettings", "cds_settings", "default_data_dir", "parse_issuers"]
