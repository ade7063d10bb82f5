"""What the benchmark scripts share: the model to measure and how a run ends.

Each script is run as ``python benchmarks/NAME.py``, which puts this folder on
``sys.path``, so ``import bench_common`` works without installing anything.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Callable


def resolve_model(path: str | None) -> str:
    """``path``, else the bundled default model; a one-line error when there is none."""
    from neuralsynth.errors import UsageError
    from neuralsynth.render import default_model_path

    if path is not None:
        return path
    bundled = default_model_path()
    if bundled is None:
        raise UsageError("no --model given and no bundled default model is installed; "
                         "pass --model PATH (e.g. runs/<name>/best.pt)")
    return str(bundled)


def run_measurement(measure: Callable[[Path], dict], print_table: Callable[[dict], None],
                    *, as_json: bool, prefix: str) -> int:
    """Run ``measure(tmpdir)`` and print its figures; the exit code says whether the
    target was met (0), missed (1) or the input was bad (2); Ctrl-C gives 130."""
    from neuralsynth.errors import NeuralsynthError

    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            result = measure(Path(tmp))
    except NeuralsynthError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if as_json:
        print(json.dumps(result))
    else:
        print_table(result)
    return 0 if result["target_met"] else 1
