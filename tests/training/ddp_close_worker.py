"""Run under torchrun by ``test_distributed.py``: how long rank 1's ``World.close`` waits.

    python -m torch.distributed.run --standalone --nproc_per_node 2 \\
        tests/training/ddp_close_worker.py OUT_DIR

Rank 0 is busy for ``BUSY_S`` seconds (as when it writes the last checkpoint) before it
closes; rank 1 closes at once and writes the seconds its close took to ``OUT_DIR/rank1``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

BUSY_S = 1.5


def main(out_dir: str) -> None:
    from neuralsynth.training.distributed import from_environment

    world = from_environment(torch.device("cpu"))
    world.sum([1.0])                          # the connections are in use
    if world.is_main:
        time.sleep(BUSY_S)
    started = time.perf_counter()
    world.close(together=True)
    if world.rank == 1:
        Path(out_dir, "rank1").write_text(f"{time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
