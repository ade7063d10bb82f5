"""PNG plots of evaluation results (matplotlib, imported only when a plot is drawn).

Figures are built with matplotlib's object API (``Figure`` on the Agg canvas), never
``pyplot``: no display is needed, and no global backend state is changed for a program
that embeds neuralsynth. Each function writes one PNG to ``path`` (the caller makes the
write atomic).
"""

from __future__ import annotations

import math
import os
from typing import Any, Sequence

import numpy as np

from neuralsynth.evaluation.stages import STAGES

_STAGE_STYLE = {"mu_law": ("µ-law round trip", "tab:gray"),
                "ground_truth_mel": ("ground-truth mel → vocoder", "tab:blue"),
                "predicted_mel": ("predicted mel → vocoder", "tab:orange")}
DPI = 100


def _figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> None:
    fig.savefig(os.fspath(path), format="png", dpi=DPI)


def _values(seq: Sequence[Any]) -> np.ndarray:
    """Numbers with None (a JSON null) as NaN, which matplotlib leaves out."""
    return np.array([np.nan if v is None else float(v) for v in seq], np.float64)


def plot_octaves(correlation: dict[str, dict[str, Any]], path: str | os.PathLike, *,
                 title: str = "") -> None:
    """Correlation against octave, one line per stage (the paper's Figure 15): 800×500 px."""
    fig = _figure(8, 5)
    ax = fig.add_subplot()
    labels = [f"C{o}" for o in range(1, 8)]
    for stage in STAGES:
        if stage not in correlation:
            continue
        name, colour = _STAGE_STYLE[stage]
        ys = _values(correlation[stage]["per_octave"])
        ax.plot(range(len(ys)), ys, marker="o", color=colour,
                label=f"{name} (mean {correlation[stage]['mean']:.3f})")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_xlabel("octave (12 CQT bins from the C named)")
    ax.set_ylabel("Pearson correlation of log-CQT with the original")
    ax.set_ylim(top=1.0)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    ax.set_title(f"Correlation per octave{': ' + title if title else ''}")
    fig.tight_layout()
    _save(fig, path)


def plot_instruments(correlation: dict[str, dict[str, Any]], path: str | os.PathLike, *,
                     title: str = "") -> None:
    """Mean correlation per instrument, grouped bars per stage: (≥ 800)×500 px."""
    stages = [s for s in STAGES if s in correlation]
    names = sorted(correlation[stages[0]]["per_instrument"])
    fig = _figure(max(8.0, 0.9 * len(names) + 2), 5)
    ax = fig.add_subplot()
    width = 0.8 / len(stages)
    x = np.arange(len(names))
    for k, stage in enumerate(stages):
        label, colour = _STAGE_STYLE[stage]
        ys = _values([correlation[stage]["per_instrument"][n] for n in names])
        ax.bar(x + (k - (len(stages) - 1) / 2) * width, ys, width, label=label, color=colour)
    ax.set_xticks(x, [n.replace("_", "\n") for n in names], fontsize=8)
    ax.set_ylabel("Pearson correlation of log-CQT with the original")
    # Correlations of usable models sit between 0.8 and 1: an axis from 0 would flatten
    # every difference, so it starts a little below the lowest bar.
    lowest = np.nanmin([np.nanmin(_values(list(correlation[s]["per_instrument"].values())))
                        for s in stages])
    ax.set_ylim(max(0.0, math.floor(10 * lowest - 0.5) / 10) if np.isfinite(lowest) else 0.0,
                1.0)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(stages), fontsize=8,
              frameon=False)
    fig.suptitle(f"Correlation per instrument{': ' + title if title else ''}")
    fig.tight_layout()
    _save(fig, path)


def plot_embedding_map(emap, path: str | os.PathLike) -> None:
    """The paper's Figure 16: centroid and energy over the 2-D timbre plane, two panels
    with colour bars, each instrument marked and named at its embedding: 1300×560 px."""
    fig = _figure(13, 5.6)
    extent = (emap.xs[0], emap.xs[-1], emap.ys[0], emap.ys[-1])
    panels = ((emap.centroid_hz, "spectral centroid (Hz)", "viridis"),
              (emap.energy_db, "mean energy (dB)", "magma"))
    for k, (values, label, cmap) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        im = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, aspect="auto",
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, label=label)
        _annotate(ax, emap.coords, emap.instruments)
        ax.set_xlabel("embedding dimension 1")
        ax.set_ylabel("embedding dimension 2")
        ax.set_title(label)
    fig.suptitle(f"Timbre space of {emap.model_name}: {emap.grid}×{emap.grid} grid, "
                 f"probe {emap.probe}")
    fig.tight_layout()
    _save(fig, path)


def plot_projection(proj, path: str | os.PathLike) -> None:
    """The paper's Figure 17: sampled timbres of a > 2-D space on its first two principal
    axes, coloured by centroid and by energy, instruments named: 1300×560 px. With a
    t-SNE placement, a second row shows the same points by t-SNE: 1300×1120 px."""
    views = [(proj.points, proj.coords,
              f"principal axis 1 ({100 * proj.explained[0]:.0f} % of variance)",
              f"principal axis 2 ({100 * proj.explained[1]:.0f} % of variance)", "PCA")]
    if proj.tsne_points is not None:
        views.append((proj.tsne_points, proj.tsne_coords, "t-SNE 1", "t-SNE 2", "t-SNE"))
    fig = _figure(13, 5.6 * len(views))
    panels = ((proj.centroid_hz, "spectral centroid (Hz)", "viridis"),
              (proj.energy_db, "mean energy (dB)", "magma"))
    for row, (points, coords, xlabel, ylabel, how) in enumerate(views):
        for k, (values, label, cmap) in enumerate(panels):
            ax = fig.add_subplot(len(views), 2, 2 * row + k + 1)
            sc = ax.scatter(points[:, 0], points[:, 1], c=values, s=4, cmap=cmap,
                            linewidths=0)
            fig.colorbar(sc, ax=ax, label=label)
            _annotate(ax, coords, proj.instruments)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_title(f"{how}: {label}")
    fig.suptitle(f"{proj.dim}-D timbre space of {proj.model_name} in 2-D: "
                 f"{len(proj.points)} instrument mixes, probe {proj.probe}")
    fig.tight_layout()
    _save(fig, path)


def _annotate(ax, coords: np.ndarray, names: Sequence[str]) -> None:
    """A white dot at each instrument's embedding, its name beside it (to the left in
    the right half of the plot, so names stay inside the axes)."""
    crowded = len(names) > 20              # 100 names: smaller, lighter labels
    ax.scatter(coords[:, 0], coords[:, 1], s=12 if crowded else 30, c="white",
               edgecolors="black", zorder=3, linewidths=0.6 if crowded else 1.0)
    middle = float(np.mean(ax.get_xlim()))
    for (x, y), name in zip(coords, names):
        left = x > middle
        ax.annotate(name, (x, y), xytext=(-3 if left else 3, 3), textcoords="offset points",
                    ha="right" if left else "left", fontsize=5 if crowded else 8,
                    color="black", zorder=4,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white",
                          "alpha": 0.5 if crowded else 0.7, "lw": 0})
