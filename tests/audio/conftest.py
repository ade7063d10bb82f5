"""Fixtures for the audio tests: small real file systems (tmpfs mounts) that are full or
read-only, so write failures are the kernel's own, not simulated.

Mounting needs root (CAP_SYS_ADMIN); where it is refused the tests that need a mount
are skipped with the reason.
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest


def _sh(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30)


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Callable[..., Path]]:
    """``tmpfs(size="64k", ro=False) -> Path``: a fresh tmpfs mounted under tmp_path,
    unmounted after the test; skips the test when mounting is not allowed here."""
    mounted: list[Path] = []

    def mount(size: str = "64k", ro: bool = False) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if ro else "")
        proc = _sh("mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where))
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or 'mount failed'})")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        _sh("umount", "-l", str(where))


@pytest.fixture
def immutable() -> Iterator[Callable[[Path], Path]]:
    """``immutable(path) -> path``: ``chattr +i`` (undone after the test); skips where the
    file system or the user cannot set the flag."""
    flagged: list[Path] = []

    def flag(path: Path) -> Path:
        proc = _sh("chattr", "+i", str(path))
        if proc.returncode != 0:
            pytest.skip(f"chattr +i does not work here ({proc.stderr.strip()})")
        flagged.append(path)
        return path

    yield flag
    for path in flagged:
        with contextlib.suppress(Exception):
            _sh("chattr", "-i", str(path))
