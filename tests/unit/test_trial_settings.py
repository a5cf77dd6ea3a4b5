"""HER2_TRIALS_DIR: a readable directory, checked at start with one line naming it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.settings import Settings, SettingsError, TrialSettings


def test_unset_is_no_directory() -> None:
    assert Settings.from_env({}).trials == TrialSettings()


def test_a_readable_directory_is_kept(tmp_path: Path) -> None:
    assert Settings.from_env({"HER2_TRIALS_DIR": str(tmp_path)}).trials.directory == tmp_path


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_path_that_is_no_directory_stops_the_start(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "trials"
    if kind == "file":
        target.write_text("", encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"HER2_TRIALS_DIR": str(target)})
    assert str(info.value) == "invalid settings: HER2_TRIALS_DIR must be a readable directory"


def test_a_directory_the_service_cannot_list_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests run as root, which may list any directory: the permission answer is faked.
    asked: list[tuple[str, int]] = []

    def access(path: object, mode: int) -> bool:
        asked.append((str(path), mode))
        return False

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(SettingsError, match="HER2_TRIALS_DIR must be a readable directory"):
        Settings.from_env({"HER2_TRIALS_DIR": str(tmp_path)})
    assert asked == [(str(tmp_path), os.R_OK | os.X_OK)]


FHIR = {"HER2_FHIR_BASE_URL": "https://ehr.test/fhir", "HER2_AUTH": "off"}


def test_the_fhir_source_is_off_by_default_and_refreshes_every_five_minutes() -> None:
    trials = Settings.from_env(FHIR).trials
    assert (trials.from_fhir, trials.refresh_seconds) == (False, 300.0)


def test_the_fhir_source_is_switched_on_with_its_interval() -> None:
    env = FHIR | {"HER2_TRIALS_FHIR": "on", "HER2_TRIALS_REFRESH_SECONDS": "0"}
    trials = Settings.from_env(env).trials
    assert (trials.from_fhir, trials.refresh_seconds) == (True, 0.0)


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        (FHIR | {"HER2_TRIALS_FHIR": "yes"}, "HER2_TRIALS_FHIR must be on or off"),
        ({"HER2_TRIALS_FHIR": "on"}, "HER2_TRIALS_FHIR=on needs HER2_FHIR_BASE_URL"),
        (
            FHIR | {"HER2_TRIALS_REFRESH_SECONDS": "-1"},
            "HER2_TRIALS_REFRESH_SECONDS must be at least 0",
        ),
        (
            FHIR | {"HER2_TRIALS_REFRESH_SECONDS": "soon"},
            "HER2_TRIALS_REFRESH_SECONDS must be a float",
        ),
    ],
)
def test_a_bad_fhir_source_setting_stops_the_start(env: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert info.value.problems == [problem]
