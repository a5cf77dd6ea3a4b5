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


@pytest.mark.parametrize("kind", ["missing", "file", "unreadable"])
def test_a_directory_that_cannot_be_listed_stops_the_start(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "trials"
    if kind == "file":
        target.write_text("", encoding="utf-8")
    elif kind == "unreadable":
        target.mkdir(mode=0o000)
        if os.access(target, os.R_OK):  # root reads everything: nothing to refuse
            target.chmod(0o700)
            target = tmp_path / "absent"
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"HER2_TRIALS_DIR": str(target)})
    assert str(info.value) == "invalid settings: HER2_TRIALS_DIR must be a readable directory"
