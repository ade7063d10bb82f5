"""Train/validation split by MIDI file.

Every rendering of one piece goes to the same split, so validation measures how well
the model plays music it has never seen (not just a known piece with another timbre).
The assignment depends only on the seed and the file keys, not on the order the files
were given in: files are ranked by a hash of ``seed:key`` and the lowest-ranked ones
become validation files.
"""

from __future__ import annotations

import hashlib
import math

from neuralsynth.errors import UsageError

TRAIN = "train"
VAL = "val"
SPLITS = (TRAIN, VAL)


def n_validation(n_files: int, val_fraction: float) -> int:
    """How many of ``n_files`` go to validation.

    ``round(val_fraction * n)``, but at least one when there are two or more files and
    the fraction is positive, and never all of them (training needs data).
    """
    if not 0.0 <= val_fraction < 1.0:
        raise UsageError(f"validation fraction must be in [0, 1), got {val_fraction}")
    if n_files < 2 or val_fraction == 0.0:
        return 0
    n_val = max(1, int(math.floor(val_fraction * n_files + 0.5)))
    return min(n_val, n_files - 1)


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode("utf-8")).hexdigest()


def split_files(keys: list[str], val_fraction: float, seed: int = 0) -> dict[str, str]:
    """Map each file key to ``"train"`` or ``"val"`` (deterministic for a seed)."""
    if len(set(keys)) != len(keys):
        raise ValueError("split keys must be unique")
    n_val = n_validation(len(keys), val_fraction)
    ranked = sorted(keys, key=lambda k: (_rank(seed, k), k))
    val = set(ranked[:n_val])
    return {k: (VAL if k in val else TRAIN) for k in keys}
