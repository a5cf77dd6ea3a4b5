"""The one check of every private directory (locks, the event queue, the seen-jti store)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from service.app.locks import FileLocks
from service.app.sqlite_queue import SqliteQueue
from service.auth.replay import SqliteReplayGuard
from service.private_dir import PrivateDirError, ensure_private_dir


def test_a_new_directory_and_its_missing_parent_are_created_private(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "her2-status"
    ensure_private_dir(directory, "HER2_DATA_DIR")
    for path in (directory, directory.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    ensure_private_dir(directory, "HER2_DATA_DIR")  # an existing private one is accepted


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        (0o777, "writable by group or others"),
        (0o720, "writable by group or others"),
        (0o702, "writable by group or others"),
        (0o750, "readable by group or others"),
        (0o701, "readable by group or others"),
    ],
)
def test_a_directory_open_to_others_is_refused_naming_the_setting(
    tmp_path: Path, mode: int, problem: str
) -> None:
    directory = tmp_path / "data"
    directory.mkdir()
    directory.chmod(mode)
    with pytest.raises(PrivateDirError, match=problem) as refused:
        ensure_private_dir(directory, "HER2_DATA_DIR")
    assert str(refused.value).startswith(f"HER2_DATA_DIR {directory} ")


def test_a_symlink_is_refused_even_to_a_private_directory(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(PrivateDirError, match="symlink"):
        ensure_private_dir(tmp_path / "link", "HER2_LOCK_DIR")


@pytest.mark.parametrize(
    "opens",
    [FileLocks, SqliteQueue, SqliteReplayGuard],
    ids=["locks", "event-queue", "cds-jti-store"],
)
def test_every_store_applies_the_same_check(
    tmp_path: Path, opens: Callable[[Path], object]
) -> None:
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o755)  # readable by everyone: refused by every store alike
    with pytest.raises(PrivateDirError, match="readable by group or others"):
        opens(directory)
