"""Fixtures shared by the data and grading tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttscale.data import find_data_dir

SHARED_SETS = ("math500", "aime24", "amc23", "gsm8k", "minerva_math", "olympiadbench")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared data directory, found as the library finds it; skips the test without it."""
    root = find_data_dir()
    if root is None or not all((root / name / "test.jsonl").is_file() for name in SHARED_SETS):
        pytest.skip(
            "shared/data with the six benchmark sets is not available (set TTSCALE_DATA_DIR)"
        )
    return root
