"""Settings from the environment: defaults, parsing, and every invalid value named at start."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from gunicorn.app.base import BaseApplication

from service.cli import EXIT_OK, EXIT_USAGE, main
from service.settings import ServerSettings, Settings, SettingsError
from tests.builders import FIXTURES

INPUTS = FIXTURES / "inputs"


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.fhir_base_url is None
    assert settings.persist_default is False
    assert settings.max_body_bytes == 5 * 1024 * 1024
    assert settings.grouping_window == dt.timedelta(days=30)
    assert settings.base_path == "/fhir"


def test_values_are_read_and_typed(tmp_path: Path) -> None:
    table = tmp_path / "codes.json"
    table.write_text('{"observations": [{"system": "s", "code": "c", "kind": "ihc"}]}')
    settings = Settings.from_env(
        {
            "HER2_FHIR_BASE_URL": "https://ehr.example.org/fhir/",
            "HER2_FHIR_TOKEN": "t",
            "HER2_FHIR_READ_TIMEOUT": "12.5",
            "HER2_FHIR_RETRIES": "0",
            "HER2_MAX_BODY_BYTES": "2048",
            "HER2_GROUPING_WINDOW_DAYS": "7",
            "HER2_BASE_PATH": "/api/fhir/",
            "HER2_CODE_MAP": str(table),
            "HER2_LOG_LEVEL": "debug",
            "HER2_AUTH_ISSUER": "https://idp.example.org/realms/ehr",
            "HER2_AUTH_JWKS_URL": "https://idp.example.org/realms/ehr/certs",
            "HER2_AUTH_AUDIENCE": "her2-status",
        }
    )
    assert settings.auth.enabled
    assert settings.auth.audience == "her2-status"
    assert settings.fhir_base_url == "https://ehr.example.org/fhir"
    assert settings.persist_default is True
    assert (settings.read_timeout, settings.retries) == (12.5, 0)
    assert settings.grouping_window == dt.timedelta(days=7)
    assert settings.base_path == "/api/fhir"
    assert settings.code_map.kind_of("s", "c") == "ihc"
    assert settings.log_level == "DEBUG"


def test_every_invalid_value_is_reported_together() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(
            {
                "HER2_FHIR_BASE_URL": "ftp://nope",
                "HER2_FHIR_READ_TIMEOUT": "soon",
                "HER2_MAX_BODY_BYTES": "10",
                "HER2_BASE_PATH": "fhir",
                "HER2_LOG_LEVEL": "LOUD",
                "HER2_CODE_MAP": "/nonexistent.json",
            }
        )
    message = str(raised.value)
    for name in (
        "HER2_FHIR_BASE_URL",
        "HER2_FHIR_READ_TIMEOUT",
        "HER2_MAX_BODY_BYTES",
        "HER2_BASE_PATH",
        "HER2_LOG_LEVEL",
        "HER2_CODE_MAP",
    ):
        assert name in message


def test_token_without_server_is_refused() -> None:
    with pytest.raises(SettingsError, match="HER2_FHIR_TOKEN"):
        Settings.from_env({"HER2_FHIR_TOKEN": "t"})


def test_serve_refuses_invalid_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HER2_MAX_BODY_BYTES", "many")
    assert main(["serve", "--port", "1"], out=io.StringIO()) == EXIT_USAGE
    assert "HER2_MAX_BODY_BYTES" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HER2_GROUPING_WINDOW_DAYS", "10000000000"),
        ("HER2_FHIR_READ_TIMEOUT", "nan"),
        ("HER2_FHIR_CONNECT_TIMEOUT", "inf"),
    ],
)
def test_values_out_of_range_are_named_not_raised(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_server_settings_default_and_prefer_the_options() -> None:
    assert ServerSettings.from_env({}) == ServerSettings(workers=2, threads=4)
    env = {"HER2_WORKERS": "3", "HER2_THREADS": "8"}
    assert ServerSettings.from_env(env) == ServerSettings(3, 8)
    assert ServerSettings.from_env(env, workers=1, threads=2) == ServerSettings(1, 2)


def test_derive_does_not_read_server_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HER2_WORKERS", "two")
    monkeypatch.setenv("HER2_THREADS", "0")
    assert main(["derive", str(INPUTS / "unknown-site.json")], out=io.StringIO()) == EXIT_OK


@pytest.mark.parametrize(
    ("environ", "options", "named"),
    [
        ({"HER2_WORKERS": "two"}, [], "HER2_WORKERS"),
        ({"HER2_WORKERS": "0"}, [], "HER2_WORKERS"),
        ({"HER2_THREADS": "-1"}, [], "HER2_THREADS"),
        ({}, ["--workers", "0"], "--workers"),
        ({}, ["--threads", "0"], "--threads"),
    ],
)
def test_serve_refuses_invalid_server_settings_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environ: dict[str, str],
    options: list[str],
    named: str,
) -> None:
    def started(_self: object) -> None:
        raise AssertionError("a server was started")

    monkeypatch.setattr(BaseApplication, "run", started)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--port", "1", *options], out=io.StringIO()) == EXIT_USAGE
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert named in error
