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
