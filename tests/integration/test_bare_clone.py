"""A fresh clone with nothing beside it passes the tests (nothing reads outside the repo).

CI runs on a clone that has the project's reference folder beside it; a person who
clones the public repository has nothing there.  This rehearsal clones the committed
HEAD into an empty temporary directory and runs the unit tests there, so any test or
module that reads outside the repository fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_unit_tests_pass_on_a_bare_clone(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("the bare-clone rehearsal needs git and a git checkout")
    clone = tmp_path / "lonely" / "her2-status"
    cloned = subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert cloned.returncode == 0, cloned.stderr
    assert not (clone.parent / "shared").exists()
    env = dict(os.environ)
    # The clone's own code: the working directory comes first on sys.path.
    env["PYTHONPATH"] = str(clone)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", "tests/unit"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
