"""Directories private to the service's user: the write locks and the data directory.

One check for every place the service keeps files another local user must not read or
plant (lock files, the event queue, the CDS Hooks seen-``jti`` store): created 0700,
else refused when a symlink, not a directory, another user's, or open to group or
others.  The message names the setting and the problem, never a file's content.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


class PrivateDirError(ValueError):
    """The directory cannot be used safely; the message names the setting and the problem."""


def ensure_private_dir(directory: Path, variable: str) -> None:
    """Create ``directory`` (and missing parents) with mode 0700, or check an existing one.

    Args:
        directory: the directory.
        variable: the setting that names it (``HER2_LOCK_DIR``, ``HER2_DATA_DIR``), for
            the message.

    Raises:
        PrivateDirError: it is a symlink or not a directory, is not owned by the
            service's user, is open to group or others, or cannot be created.
    """
    try:
        directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0)
        raise PrivateDirError(f"{variable} {directory} cannot be created ({code})") from None
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise PrivateDirError(f"{variable} {directory} is not a directory (or is a symlink)")
    if info.st_uid != os.geteuid():
        raise PrivateDirError(f"{variable} {directory} is not owned by the service's user")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PrivateDirError(
            f"{variable} {directory} is writable by group or others; make it private (chmod 700)"
        )
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PrivateDirError(
            f"{variable} {directory} is readable by group or others; make it private (chmod 700)"
        )


__all__ = ["PrivateDirError", "ensure_private_dir"]
