"""What the benchmark scripts share: the model to measure and how a run ends.

Each script is run as ``python benchmarks/NAME.py``, which puts this folder on
``sys.path``, so ``import bench_common`` works without installing anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Callable


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the script docstring's first paragraph, the rest
    its epilog (the usage examples)."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   epilog=doc.split("\n\n", 1)[1],
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def target_line(r: dict, width: int) -> str:
    """``target  40 x real time   ratio 2.33 OK`` for a result with the usual keys."""
    return (f"  target           {r['target_x']:{width}.0f} x real time   ratio "
            f"{r['ratio_to_target']:.2f} {'OK' if r['target_met'] else 'BELOW TARGET'}")


def script_main(parse_args: Callable, measure: Callable, print_table: Callable[[dict], None],
                prefix: str, argv: list[str] | None = None) -> int:
    """Parse the arguments, ``measure(args, tmpdir)``, print, and return the exit code."""
    args = parse_args(argv)
    return run_measurement(lambda tmp: measure(args, tmp), print_table, as_json=args.json,
                           prefix=prefix)


def resolve_model(path: str | None) -> str:
    """``path``, else the bundled default model; a one-line error when there is none."""
    from neuralsynth.errors import UsageError
    from neuralsynth.inference.load import default_model_path

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
