"""The EHR's FHIR server as a client sees it: ``HER2_FHIR_*`` and SMART Backend Services."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from service.settings.env import Env, http_url

# What write-back reads and writes (service/app/fhir_store.py): it also searches Lists,
# reads Provenances and the Device, so each written type needs ``.rs`` besides ``.cu``
# (a server enforcing scopes refuses the call otherwise: tests/integration).
DEFAULT_SMART_SCOPES = (
    "system/Observation.rs system/Observation.cu system/DiagnosticReport.rs "
    "system/Specimen.rs system/Condition.rs system/List.rs system/List.cu "
    "system/Provenance.rs system/Provenance.cu system/Device.rs system/Device.cu"
)
# Added to the default scopes with HER2_TRIALS_FHIR=on (the trial sources read them).
TRIAL_SMART_SCOPES = "system/ResearchStudy.rs system/Group.rs"
FHIR_AUTH_MODES = ("none", "static", "smart-backend")


@dataclass(frozen=True)
class SmartBackendSettings:
    """Outbound SMART Backend Services (``HER2_FHIR_AUTH=smart-backend``).

    Attributes:
        client_id: the service's client id at the EHR's authorization server.
        private_key: the PEM or JWK file of its signing key (RSA → RS384, EC P-384 →
            ES384); checked at start, read again when the client is built.
        key_id: the ``kid`` of that key in the JWKS registered with the EHR.
        scopes: the scopes asked for (space separated).
        token_url: the token endpoint (None: discovered from
            ``[base]/.well-known/smart-configuration``).
    """

    client_id: str
    private_key: Path
    key_id: str
    scopes: str = DEFAULT_SMART_SCOPES
    token_url: str | None = None


@dataclass(frozen=True)
class FhirClientSettings:
    """How to reach the EHR's FHIR server (see ``Settings`` for the attributes)."""

    base_url: str
    token: str | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 30.0
    retries: int = 2
    page_size: int = 100
    smart: SmartBackendSettings | None = None


_SMART_VARIABLES = (
    "HER2_FHIR_CLIENT_ID",
    "HER2_FHIR_PRIVATE_KEY",
    "HER2_FHIR_KEY_ID",
    "HER2_FHIR_SCOPES",
    "HER2_FHIR_TOKEN_URL",
)


def fhir_auth(env: Env, base_url: str | None, token: str | None) -> SmartBackendSettings | None:
    """``HER2_FHIR_AUTH`` (none, static, smart-backend) and its variables.

    Unset, it is ``static`` with ``HER2_FHIR_TOKEN`` and ``none`` without (as before).
    """
    mode = (env.text("HER2_FHIR_AUTH") or ("static" if token else "none")).lower()
    if mode not in FHIR_AUTH_MODES:
        env.problems.append("HER2_FHIR_AUTH must be none, static or smart-backend")
        return None
    if mode == "static" and token is None:
        env.problems.append("HER2_FHIR_AUTH=static needs HER2_FHIR_TOKEN")
    if mode != "static" and token is not None:
        env.problems.append(f"HER2_FHIR_TOKEN is set but HER2_FHIR_AUTH is {mode}")
    if mode != "smart-backend":
        stray = [name for name in _SMART_VARIABLES if env.text(name) is not None]
        if stray:
            env.problems.append(f"{stray[0]} is set but HER2_FHIR_AUTH is not smart-backend")
        return None
    return smart_backend_from(env, base_url)


def smart_backend_settings(environ: Mapping[str, str] | None = None) -> SmartBackendSettings:
    """Only the ``smart-backend`` variables (for ``her2-status jwks``).

    Raises:
        SettingsError: naming every missing or invalid variable.
    """
    env = Env(environ)
    base_url = env.text("HER2_FHIR_BASE_URL") or "https://fhir.invalid"
    smart = smart_backend_from(env, base_url)
    env.check()
    assert smart is not None  # every problem was reported above
    return smart


def smart_backend_from(env: Env, base_url: str | None) -> SmartBackendSettings | None:
    """The ``smart-backend`` variables; the key file is read and checked (never logged)."""
    if base_url is None:
        env.problems.append("HER2_FHIR_AUTH=smart-backend needs HER2_FHIR_BASE_URL")
    client_id = env.text("HER2_FHIR_CLIENT_ID")
    key_path = env.text("HER2_FHIR_PRIVATE_KEY")
    key_id = env.text("HER2_FHIR_KEY_ID")
    default_scopes = DEFAULT_SMART_SCOPES
    if (env.text("HER2_TRIALS_FHIR") or "").lower() == "on":
        default_scopes += " " + TRIAL_SMART_SCOPES
    scopes = " ".join((env.text("HER2_FHIR_SCOPES") or default_scopes).split())
    token_url = http_url(env, "HER2_FHIR_TOKEN_URL")
    for name, value in (
        ("HER2_FHIR_CLIENT_ID", client_id),
        ("HER2_FHIR_PRIVATE_KEY", key_path),
        ("HER2_FHIR_KEY_ID", key_id),
    ):
        if value is None:
            env.problems.append(f"{name} is required with HER2_FHIR_AUTH=smart-backend")
    if not scopes:
        env.problems.append("HER2_FHIR_SCOPES must name at least one scope")
    if key_path is not None:
        # Imported here: only this mode pays for cryptography at start.
        from service.clients.keys import KeyFileError, load_signing_key  # noqa: PLC0415

        try:
            load_signing_key(Path(key_path), key_id or "")
        except KeyFileError as exc:
            env.problems.append(f"HER2_FHIR_PRIVATE_KEY: {exc}")
    if client_id is None or key_path is None or key_id is None or not scopes:
        return None
    return SmartBackendSettings(client_id, Path(key_path), key_id, scopes, token_url)
