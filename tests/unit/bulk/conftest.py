"""A small synthetic export, written once per module, and the bulk run's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.builders.bulk import write_export


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("export")
    write_export(directory, 60, seed=7)
    return directory
