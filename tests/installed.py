"""The installed ``neuralsynth`` console script, for tests that run it as users do."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def neuralsynth_command() -> str:
    """The path of the ``neuralsynth`` script next to this Python (or on PATH); the
    test is skipped where it is not installed."""
    exe = Path(sys.executable).parent / "neuralsynth"
    found = str(exe) if exe.exists() else shutil.which("neuralsynth")
    if found is None:
        pytest.skip("the neuralsynth console script is not installed")
    return found
