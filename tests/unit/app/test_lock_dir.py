"""The write-lock directory is private to the service's user, and lock files are never links."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from service.app.locks import FileLocks, LockDirError, WriteBusy
from service.cli import main
from service.settings import Settings, default_lock_dir


def test_the_default_is_in_the_users_runtime_directory() -> None:
    assert default_lock_dir({"XDG_RUNTIME_DIR": "/run/user/10001"}) == Path(
        "/run/user/10001/her2-status/locks"
    )


def test_without_a_runtime_directory_the_default_is_the_users_state_directory() -> None:
    assert default_lock_dir({}) == Path.home() / ".local/state/her2-status/locks"
    assert default_lock_dir({"XDG_STATE_HOME": "/srv/state"}) == Path(
        "/srv/state/her2-status/locks"
    )


def test_the_default_is_never_in_a_shared_directory() -> None:
    lock_dir = Settings.from_env({}).lock_dir
    assert not str(lock_dir).startswith(("/tmp", "/var/tmp"))


def test_a_new_lock_directory_is_created_private(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "locks"
    FileLocks(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o770, 0o702])
def test_a_lock_directory_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    directory = tmp_path / "locks"
    directory.mkdir()
    directory.chmod(mode)
    with pytest.raises(LockDirError, match="writable by group or others"):
        FileLocks(directory)


def test_a_symlink_as_lock_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    (tmp_path / "locks").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LockDirError, match="symlink"):
        FileLocks(tmp_path / "locks")


def test_a_lock_file_replaced_by_a_symlink_is_never_followed(tmp_path: Path) -> None:
    locks = FileLocks(tmp_path / "locks")
    target = tmp_path / "victim"
    target.write_text("keep")
    locks.path("key").symlink_to(target)
    with pytest.raises(OSError, match=r"symbolic link|Too many levels"), locks.hold(["key"]):
        pass
    assert target.read_text() == "keep"


def test_a_held_lock_times_out_as_write_busy(tmp_path: Path) -> None:
    holder, waiter = FileLocks(tmp_path / "locks"), FileLocks(tmp_path / "locks", timeout=0.1)
    with holder.hold(["k"]), pytest.raises(WriteBusy), waiter.hold(["k"]):
        pass
    with waiter.hold(["k"]):  # released with the holder
        pass


def test_serve_refuses_to_start_on_a_shared_lock_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("HER2_FHIR_BASE_URL", "http://ehr.test/fhir")
    monkeypatch.setenv("HER2_LOCK_DIR", str(shared))
    monkeypatch.setenv("HER2_AUTH", "off")
    # An address no interface has: should the check ever be missed, gunicorn fails to
    # bind and gives up instead of serving.
    assert main(["serve", "--host", "203.0.113.1", "--port", "9"]) == 1
    error = capsys.readouterr().err
    assert "HER2_LOCK_DIR" in error
    assert "Traceback" not in error
    assert len(error.strip().splitlines()) == 1


def test_the_process_umask_does_not_widen_the_directory(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        FileLocks(tmp_path / "locks")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "locks").stat().st_mode) == 0o700
