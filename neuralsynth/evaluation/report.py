"""A timbre-check result as a text report: distance matrix, verdicts, pass count, mixes."""

from __future__ import annotations

import numpy as np

from neuralsynth.evaluation.timbre_check import TimbreCheckResult


def format_result(result: TimbreCheckResult, *, target: int | None = None) -> str:
    """The matrix, per-instrument verdicts, the pass count and the mix table, as text."""
    names = result.instruments
    width = max(12, *(len(s) for s in names)) + 1
    lines = [f"timbre check on {result.n_pieces} {result.split} piece(s), "
             f"{result.n_frames} frames; distance: {result.metric} "
             f"(rows: render as, columns: FluidSynth truth; * = nearest truth)"]
    lines.append(" " * width + "".join(f"{s[:width - 1]:>{width}}" for s in names)
                 + f"{'pass':>7}{'margin':>10}")
    for i, name in enumerate(names):
        row = result.distance[i]
        best = int(np.argmin(row))
        cells = "".join(f"{v:>{width - 1}.4f}{'*' if j == best else ' '}"
                        for j, v in enumerate(row))
        lines.append(f"{name:<{width}}{cells}{'yes' if result.passed[i] else 'NO':>7}"
                     f"{result.margin[i]:>10.4f}")
    if result.n_pieces > 1:
        lines.append("pieces won (nearest truth per piece):")
        for i, name in enumerate(names):
            lines.append(f"  {name:<{width}}" + "".join(f"{int(v):>{width}}"
                                                        for v in result.wins[i]))
    diagonal = float(np.mean(np.diag(result.distance)))
    lines.append(f"mean of the diagonal (each instrument rendered as itself): {diagonal:.6f}"
                 + (" = the training loss on whole pieces"
                    if result.metric == "tanh_log_mse" else ""))
    goal = target if target is not None else result.n
    verdict = "OK" if result.n_pass >= goal else "BELOW TARGET"
    lines.append(f"n_pass: {result.n_pass}/{result.n} (target >= {goal} of {result.n}) "
                 f"{verdict}")
    if result.not_in_dataset:
        lines.append(f"not checked (no renderings in the dataset): "
                     f"{', '.join(result.not_in_dataset)}")
    if result.skipped_pieces:
        lines.append(f"skipped {result.skipped_pieces} piece(s) lacking a checked rendering")
    if result.mixes:
        lines.append("")
        lines.append("50/50 mixes M (between = closer to each than they are to each other):")
        lines.append(f"  {'a + b':<30}{'d(M,Ta)':>9}{'d(M,Tb)':>9}{'d(Ta,Tb)':>9}"
                     f"{'between':>9}{'d(M,Pa)':>10}{'d(M,Pb)':>9}{'d(Pa,Pb)':>9}{'between':>9}")
        for m in result.mixes:
            lines.append(f"  {m.a + ' + ' + m.b:<30}{m.mix_truth_a:>9.4f}{m.mix_truth_b:>9.4f}"
                         f"{m.truth_ab:>9.4f}{'yes' if m.between_truths else 'NO':>9}"
                         f"{m.mix_pred_a:>10.4f}{m.mix_pred_b:>9.4f}{m.pred_ab:>9.4f}"
                         f"{'yes' if m.between_preds else 'NO':>9}")
        n_mix = sum(m.between_truths for m in result.mixes)
        lines.append(f"mixes between their truths: {n_mix}/{len(result.mixes)}")
    return "\n".join(lines)
