"""HER2_HOOK_SECRET and its companions: on only when asked, secure by default, never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.settings import Settings, SettingsError
from service.settings.events import EventSettings

SECRET = "s3cret-hook-value-0123456789"
BASE = {"HER2_FHIR_BASE_URL": "http://ehr.test/fhir", "HER2_AUTH": "off"}


def test_off_unless_a_secret_or_public_url_is_set(tmp_path: Path) -> None:
    assert Settings.from_env(BASE).events is None
    assert Settings.from_env({**BASE, "HER2_DATA_DIR": str(tmp_path)}).events is None
    assert Settings.from_env({}).events is None


def test_all_variables_are_read(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "HER2_DATA_DIR": str(tmp_path),
            "HER2_HOOK_SECRET": SECRET,
            "HER2_PUBLIC_URL": "https://her2.hospital.test/",
            "HER2_CATCHUP_INTERVAL": "60",
        }
    )
    assert settings.events == EventSettings(tmp_path, SECRET, "https://her2.hospital.test", 60.0)
    assert settings.events.data_dir == settings.cds.data_dir  # one data directory


def test_defaults_five_minutes_and_the_state_directory(tmp_path: Path) -> None:
    env = {**BASE, "HER2_HOOK_SECRET": SECRET, "XDG_STATE_HOME": str(tmp_path)}
    events = Settings.from_env(env).events
    assert events is not None
    assert events.catchup_interval == 300.0
    assert events.data_dir == tmp_path / "her2-status"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"HER2_HOOK_SECRET": SECRET}, "need HER2_FHIR_BASE_URL"),
        ({**BASE, "HER2_PUBLIC_URL": "https://x.test"}, "HER2_HOOK_SECRET is required"),
        ({**BASE, "HER2_HOOK_SECRET": SECRET, "HER2_DATA_DIR": "relative"}, "absolute path"),
        ({**BASE, "HER2_HOOK_SECRET": SECRET, "HER2_PUBLIC_URL": "x"}, r"must be an http\(s\) URL"),
        (
            {**BASE, "HER2_HOOK_SECRET": SECRET, "HER2_CATCHUP_INTERVAL": "0"},
            "HER2_CATCHUP_INTERVAL must be at least",
        ),
    ],
)
def test_invalid_combinations_stop_the_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "secret", ["short-secret", "has a space in it 0123456789", "tab\there0123456789"]
)
def test_a_weak_or_unsendable_secret_is_refused_and_never_echoed(secret: str) -> None:
    env = {**BASE, "HER2_HOOK_SECRET": secret}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert "HER2_HOOK_SECRET must be at least 16" in str(caught.value)
    assert secret not in str(caught.value)


def test_bearer_tokens_can_replace_the_secret() -> None:
    env = {
        "HER2_FHIR_BASE_URL": "http://ehr.test/fhir",
        "HER2_AUTH_ISSUER": "https://idp.test/realms/ehr",
        "HER2_AUTH_JWKS_URL": "https://idp.test/certs",
        "HER2_AUTH_AUDIENCE": "her2-status",
        "HER2_PUBLIC_URL": "https://her2.hospital.test",
    }
    events = Settings.from_env(env).events
    assert events is not None
    assert events.hook_secret is None
