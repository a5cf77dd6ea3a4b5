"""HER2_FHIR_AUTH and the smart-backend variables: one line naming each problem; jwks."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from service.cli import main
from service.clients.keys import load_signing_key
from service.settings import DEFAULT_SMART_SCOPES, Settings, SettingsError
from tests.builders.smart import CLIENT_ID, KEY_ID
from tests.builders.tokens import PrivateKey, new_key, public_jwk

BASE = {"HER2_FHIR_BASE_URL": "https://ehr.test/fhir", "HER2_AUTH": "off"}


def pem(key: PrivateKey | ed25519.Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def smart_env(key_file: Path, **extra: str) -> dict[str, str]:
    env = BASE | {
        "HER2_FHIR_AUTH": "smart-backend",
        "HER2_FHIR_CLIENT_ID": CLIENT_ID,
        "HER2_FHIR_PRIVATE_KEY": str(key_file),
        "HER2_FHIR_KEY_ID": KEY_ID,
    }
    return {k: v for k, v in (env | extra).items() if v}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert "\n" not in str(caught.value)
    return caught.value.problems


def test_smart_backend_with_a_pem_rsa_key(tmp_path: Path) -> None:
    settings = Settings.from_env(smart_env(pem(new_key("RS384"), tmp_path / "k.pem")))
    assert settings.fhir_token is None
    smart = settings.fhir_client.smart if settings.fhir_client else None
    assert smart is not None
    assert (smart.client_id, smart.key_id, smart.token_url) == (CLIENT_ID, KEY_ID, None)
    assert smart.scopes == DEFAULT_SMART_SCOPES


def test_a_jwk_file_and_a_token_url(tmp_path: Path) -> None:
    key = new_key("ES384")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    jwk = public_jwk(key, KEY_ID, "ES384") | {"d": _b64(key.private_numbers().private_value, 48)}
    (tmp_path / "k.jwk").write_text(json.dumps(jwk))
    env = smart_env(tmp_path / "k.jwk", HER2_FHIR_TOKEN_URL="https://idp.test/token")
    smart = Settings.from_env(env).fhir_smart
    assert smart is not None
    assert smart.token_url == "https://idp.test/token"
    assert load_signing_key(smart.private_key, KEY_ID).alg == "ES384"


def _b64(value: int, size: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode()


def test_missing_client_id(tmp_path: Path) -> None:
    env = smart_env(pem(new_key("RS384"), tmp_path / "k.pem"), HER2_FHIR_CLIENT_ID="")
    assert problems(env) == ["HER2_FHIR_CLIENT_ID is required with HER2_FHIR_AUTH=smart-backend"]


def test_an_unreadable_key_file(tmp_path: Path) -> None:
    (problem,) = problems(smart_env(tmp_path / "absent.pem"))
    assert problem.startswith("HER2_FHIR_PRIVATE_KEY: cannot read")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "unsupported EC curve"),
        (ed25519.Ed25519PrivateKey.generate(), "unsupported key type"),
        (rsa.generate_private_key(public_exponent=65537, key_size=1024), "at least 2048 bits"),
    ],
)
def test_an_unsupported_key(
    key: PrivateKey | ed25519.Ed25519PrivateKey, reason: str, tmp_path: Path
) -> None:
    (problem,) = problems(smart_env(pem(key, tmp_path / "k.pem")))
    assert problem.startswith("HER2_FHIR_PRIVATE_KEY:")
    assert reason in problem


def test_a_broken_key_file_is_not_echoed(tmp_path: Path) -> None:
    path = pem(new_key("RS384"), tmp_path / "k.pem")
    text = path.read_text()
    path.write_text(text[:200] + "SECRET-MATERIAL" + text[220:])
    (problem,) = problems(smart_env(path))
    assert problem == "HER2_FHIR_PRIVATE_KEY: not a PEM private key or a JWK"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (BASE | {"HER2_FHIR_AUTH": "kerberos"}, "HER2_FHIR_AUTH must be"),
        (BASE | {"HER2_FHIR_AUTH": "static"}, "HER2_FHIR_AUTH=static needs HER2_FHIR_TOKEN"),
        (BASE | {"HER2_FHIR_AUTH": "none", "HER2_FHIR_TOKEN": "t"}, "HER2_FHIR_TOKEN is set"),
        (BASE | {"HER2_FHIR_CLIENT_ID": "c"}, "HER2_FHIR_CLIENT_ID is set but HER2_FHIR_AUTH"),
    ],
)
def test_mode_problems(env: dict[str, str], expected: str) -> None:
    (problem,) = problems(env)
    assert problem.startswith(expected)


def test_a_static_token_alone_is_still_static() -> None:
    settings = Settings.from_env(BASE | {"HER2_FHIR_TOKEN": "t"})
    assert settings.fhir_token == "t"
    assert settings.fhir_smart is None


def test_jwks_prints_the_public_key_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in smart_env(pem(new_key("RS384"), tmp_path / "k.pem")).items():
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    assert main(["jwks"], out=out) == 0
    (jwk,) = json.loads(out.getvalue())["keys"]
    assert (jwk["kty"], jwk["kid"], jwk["alg"], jwk["use"]) == ("RSA", KEY_ID, "RS384", "sig")
    assert "d" not in jwk
    monkeypatch.delenv("HER2_FHIR_KEY_ID")
    assert main(["jwks"], out=io.StringIO()) == 1
    assert "HER2_FHIR_KEY_ID is required" in capsys.readouterr().err


def test_the_fhir_trial_source_adds_its_read_scopes_to_the_default(tmp_path: Path) -> None:
    key = pem(new_key("ES384"), tmp_path / "key.pem")
    plain = Settings.from_env(smart_env(key)).fhir_smart
    with_trials = Settings.from_env(smart_env(key, HER2_TRIALS_FHIR="on")).fhir_smart
    assert plain is not None
    assert with_trials is not None
    assert plain.scopes == DEFAULT_SMART_SCOPES
    assert with_trials.scopes == DEFAULT_SMART_SCOPES + " system/ResearchStudy.rs system/Group.rs"
    # Scopes a site sets are its own: nothing is added to them.
    chosen = smart_env(key, HER2_TRIALS_FHIR="on", HER2_FHIR_SCOPES="system/Observation.rs")
    assert Settings.from_env(chosen).fhir_smart.scopes == "system/Observation.rs"  # type: ignore[union-attr]
