"""The training command keeps large freed blocks for the next step (no page-fault storm)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Rounds of allocating, touching and freeing 64 MB, as a training step does with its
# activations; prints whether the tuning took effect and the page faults of rounds 21-40
# (the first rounds grow the heap to its working size).
_SCRIPT = """
import resource, torch
from neuralsynth.training.allocator import keep_freed_memory
kept = keep_freed_memory()
def rounds(n):
    for _ in range(n):
        t = torch.empty(16 << 20, dtype=torch.float32)
        t.fill_(1.0)
        del t
rounds(20)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
rounds(20)
print(kept, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
PAGES = (64 << 20) // 4096


def _faults(env: dict[str, str]) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                         text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    kept, faults = out.stdout.split()
    return kept == "True", int(faults)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")
def test_freed_blocks_are_reused_not_faulted_in_again():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    kept, faults = _faults(env)
    assert kept
    assert faults < PAGES                         # the blocks are reused: no new pages
    # The user's own setting wins, and then every round faults its pages in again.
    kept, faults = _faults(dict(env, MALLOC_MMAP_THRESHOLD_="131072"))
    assert not kept
    assert faults > 10 * PAGES
