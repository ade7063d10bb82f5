"""An :class:`~.evaluate.EvalResult` as a text table, and a JSON file plus its plots."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

from neuralsynth.evaluation.evaluate import LOSS_NAMES, OCTAVES, EvalResult
from neuralsynth.evaluation.stages import STAGES
from neuralsynth.fileio import atomic_path


def _num(v: float | None, fmt: str) -> str:
    return "n/a" if v is None or not math.isfinite(v) else format(v, fmt)


def format_eval(result: EvalResult) -> str:
    """Losses ×10³ (overall and per instrument) and correlations per stage, octave and
    instrument, as lines of text."""
    c = result.correlation
    width = max(20, *(len(n) + 2 for n in result.instruments))
    vname = result.vocoder.get("name", "?")
    lines = [f"model {result.model} (step {result.step}) on {len(result.pieces)} "
             f"{result.split} piece(s) of {result.dataset}: {len(result.items)} items, "
             f"{result.n_frames} frames ({result.n_frames * 128 / 16000:.0f} s)",
             "", "losses x10^3 (whole items):",
             f"  {'instrument':<{width}}" + "".join(f"{n:>18}" for n in LOSS_NAMES)]
    for name in result.instruments:
        row = result.losses_per_instrument[name]
        lines.append(f"  {name:<{width}}" + "".join(f"{row[n]:>18.3f}" for n in LOSS_NAMES))
    lines.append(f"  {'all':<{width}}" + "".join(f"{result.losses[n]:>18.3f}"
                                                 for n in LOSS_NAMES))
    lines += ["", f"log-CQT correlation with the original (loudest {result.seconds:g} s of "
                  f"each item; vocoder {vname}):",
              f"  {'instrument':<{width}}" + "".join(f"{s:>18}" for s in STAGES)]
    for name in sorted(c[STAGES[0]]["per_instrument"]):
        lines.append(f"  {name:<{width}}" + "".join(
            f"{_num(c[s]['per_instrument'][name], '.3f'):>18}" for s in STAGES))
    lines.append(f"  {'mean':<{width}}" + "".join(f"{_num(c[s]['mean'], '.3f'):>18}"
                                                  for s in STAGES))
    lines += ["", "  per octave:" + " " * (width - 10)
              + "".join(f"{o:>8}" for o in OCTAVES)]
    for s in STAGES:
        lines.append(f"  {s:<{width}}" + "".join(f"{_num(v, '.3f'):>8}"
                                                 for v in c[s]["per_octave"]))
    if all("lsd_db" in c[s] for s in STAGES):
        lines += ["", "log-spectral distance, dB (2048-point STFT; lower is better):",
                  f"  {'instrument':<{width}}" + "".join(f"{s:>18}" for s in STAGES)]
        for name in sorted(c[STAGES[0]]["lsd_db_per_instrument"]):
            lines.append(f"  {name:<{width}}" + "".join(
                f"{_num(c[s]['lsd_db_per_instrument'][name], '.2f'):>18}" for s in STAGES))
        lines.append(f"  {'mean':<{width}}" + "".join(f"{_num(c[s]['lsd_db'], '.2f'):>18}"
                                                      for s in STAGES))
    t = result.timings
    lines += ["", f"took {t['total']:.1f} s: model {t['model']:.1f} s, losses "
                  f"{t['losses']:.1f} s, audio stages {t['audio_stages']:.1f} s"]
    return "\n".join(lines)


def plot_paths(json_path: str | Path) -> dict[str, Path]:
    """The PNGs written next to ``json_path``: ``{"octaves": …, "instruments": …}``."""
    p = Path(json_path)
    return {"octaves": p.with_name(f"{p.stem}-octaves.png"),
            "instruments": p.with_name(f"{p.stem}-instruments.png")}


def write_eval(result: EvalResult, json_path: str | Path) -> list[Path]:
    """Write the JSON and its two plots; all or nothing (every file goes to a temporary
    name first and is renamed only once all three are complete)."""
    from neuralsynth.evaluation.plots import plot_instruments, plot_octaves

    pngs = plot_paths(json_path)
    data = result.to_dict()
    text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    title = f"{Path(result.model).name}, {len(result.pieces)} {result.split} piece(s)"
    with contextlib.ExitStack() as stack:
        tmp_oct = stack.enter_context(atomic_path(pngs["octaves"]))
        tmp_inst = stack.enter_context(atomic_path(pngs["instruments"]))
        tmp_json = stack.enter_context(atomic_path(json_path))
        plot_octaves(result.correlation, tmp_oct, title=title)
        plot_instruments(result.correlation, tmp_inst, title=title)
        tmp_json.write_text(text, encoding="utf-8")
    return [Path(json_path), pngs["octaves"], pngs["instruments"]]
