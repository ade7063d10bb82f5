"""Run under torchrun by ``test_distributed.py``: ``neuralsynth`` with one rank made to fail.

The rank named by ``FAIL_RANK`` raises a :class:`DataError` when drawing its crops of
step ``FAIL_STEP``, as a rank with an unreadable file would; the arguments are those of
the ``neuralsynth`` command.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from neuralsynth.cli.main import main as neuralsynth
    from neuralsynth.data.batches import SegmentSampler
    from neuralsynth.errors import DataError

    fail_step = int(os.environ["FAIL_STEP"])
    if os.environ["RANK"] == os.environ["FAIL_RANK"]:
        real = SegmentSampler.sample_shard
        calls = {"n": 0}

        def failing(self, lo, hi):
            calls["n"] += 1
            if calls["n"] == fail_step:
                raise DataError(f"cannot read crop (injected failure at step {fail_step})")
            return real(self, lo, hi)

        SegmentSampler.sample_shard = failing
    sys.argv = ["neuralsynth", *sys.argv[1:]]
    neuralsynth()


if __name__ == "__main__":
    main()
