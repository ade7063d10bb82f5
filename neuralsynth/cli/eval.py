"""``neuralsynth eval``: losses, audio correlations and embedding maps of a trained model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import click

from neuralsynth.cli.options import QUIET, VERBOSE, device_option, say, verbosity_options


def _check_outputs(json_out: Path | None, map_out: Path | None) -> None:
    """Refuse outputs that cannot be written, before any work is done."""
    from neuralsynth.errors import UsageError, require_extra
    from neuralsynth.evaluation.eval_report import plot_paths

    if json_out is not None or map_out is not None:
        require_extra("matplotlib", "eval", "drawing the evaluation plots")

    if json_out is not None:
        if json_out.suffix.lower() != ".json":
            raise UsageError(f"--json {json_out}: the file name must end in .json (the "
                             f"plots are written next to it)")
        for p in (json_out, *plot_paths(json_out).values()):
            if p.is_dir():
                raise UsageError(f"--json {json_out}: {p} is a directory")
    if map_out is not None:
        if map_out.suffix.lower() != ".png":
            raise UsageError(f"--embedding-map {map_out}: the file name must end in .png")
        if map_out.is_dir():
            raise UsageError(f"--embedding-map {map_out} is a directory")


def _map_summary(result, path: Path) -> str:
    from neuralsynth.evaluation.embedding_map import EmbeddingMap

    if isinstance(result, EmbeddingMap):
        what = f"{result.grid}x{result.grid} grid over the 2-D timbre space"
    else:
        what = (f"{len(result.points)} instrument mixes of the {result.dim}-D timbre space "
                f"on its first two principal axes"
                + (" and by t-SNE" if result.tsne_points is not None else ""))
    lines = [f"wrote {path}: {what}; probe {result.probe} ({result.probe_frames} frames); "
             f"took {result.seconds:.1f} s",
             f"  spectral centroid {result.centroid_hz.min():.0f} to "
             f"{result.centroid_hz.max():.0f} Hz, mean energy {result.energy_db.min():.1f} "
             f"to {result.energy_db.max():.1f} dB",
             f"  {'instrument':<20}{'coordinates':>22}{'centroid Hz':>13}{'energy dB':>11}"]
    for name, xy, c, e in zip(result.instruments, result.coords,
                              result.instrument_centroid_hz, result.instrument_energy_db):
        coords = ",".join(f"{v:.3f}" for v in xy)
        lines.append(f"  {name:<20}{coords:>22}{c:>13.0f}{e:>11.1f}")
    return "\n".join(lines)


@click.command("eval", short_help="Evaluate a model: losses, correlations, embedding map.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("ckpt", metavar="CKPT")
@click.option("--data", "data", type=click.Path(path_type=Path), default=None,
              metavar="DATASET", help="Dataset directory (with manifest.json) to evaluate on.")
@click.option("--split", "split", default="val", show_default=True, metavar="val|train|all",
              help="Which pieces of the dataset.")
@click.option("--pieces", "pieces", type=int, default=None, metavar="N",
              help="Evaluate N pieces of the split, spread over it (default: all).")
@click.option("--seconds", "seconds", type=float, default=4.0, show_default=True,
              metavar="S", help="Excerpt of each recording for the audio correlations "
                                "(its loudest S seconds). Losses use whole recordings.")
@click.option("--vocoder", "vocoder", default=None, metavar="NAME",
              help="Vocoder for the mel stages (default: the checkpoint recipe's, else "
                   "griffin_lim).")
@click.option("--vocoder-opt", "vocoder_opts", multiple=True, metavar="KEY=VALUE",
              help="A vocoder parameter, repeatable (e.g. --vocoder-opt n_iter=64).")
@click.option("--vocoder-model", "vocoder_model", default=None, metavar="CKPT",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Trained wavenet vocoder checkpoint; implies --vocoder wavenet.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              metavar="OUT.json",
              help="Write the numbers here and plots next to it (OUT-octaves.png, "
                   "OUT-instruments.png).")
@click.option("--embedding-map", "map_out", type=click.Path(path_type=Path), default=None,
              metavar="MAP.png", help="Draw the timbre space (spectral centroid and energy "
                                      "of a probe at each point) here. Needs no dataset.")
@click.option("--grid", "grid", type=int, default=320, show_default=True, metavar="N",
              help="Embedding map: N x N points (a > 2-D space: N x N sampled mixes, at "
                   "most 4096).")
@click.option("--probe", "probe", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="MIDI",
              help="Embedding map: the MIDI file rendered at each point (default: a "
                   "built-in 0.5 s C-major arpeggio over C3-C6; longer probes cost "
                   "proportionally more).")
@device_option(help="Where to run the model: auto (cuda when available), cpu, cuda or "
                    "cuda:N.")
@click.option("--progress/--no-progress", default=True,
              help="Show progress bars (never with -q).")
@verbosity_options
def eval_command(ckpt: str, data: Path | None, split: str, pieces: int | None,
                 seconds: float, vocoder: str | None, vocoder_opts: tuple[str, ...],
                 vocoder_model: Path | None, json_out: Path | None, map_out: Path | None,
                 grid: int, probe: Path | None, device: str, progress: bool,
                 verbosity: int) -> None:
    """Evaluate the model CKPT (a checkpoint, an exported model, or the name of a model
    shipped with neuralsynth: `default`, `gm100`).

    With --data: the three training losses (x10^3) on whole recordings, and the
    Pearson correlation of log-CQTs between the original audio and three stages (µ-law
    round trip, ground-truth mel -> vocoder, predicted mel -> vocoder), per octave and
    per instrument. With --embedding-map: spectral centroid and energy of a probe
    rendered all over the timbre space (a 2-D space as a grid; a larger one as sampled
    mixes on its principal axes and, next to them, by t-SNE). See docs/evaluation.md.
    With -v: the resolved model, device, vocoder and outputs first, and the time of
    each stage; with -q: only the files (nothing printed but errors).

    \b
    Examples:
      neuralsynth eval default --data data/10inst --pieces 4 --json out/eval/default.json
      neuralsynth eval runs/small/best.pt --data data/small --split all
      neuralsynth eval default --data data/10inst --vocoder-model runs/wavenet/best.pt
      neuralsynth eval default --embedding-map out/eval/map.png
      neuralsynth eval best.pt --embedding-map map.png --grid 64 --probe song.mid
    """
    from neuralsynth.cli.render import parse_vocoder_opts
    from neuralsynth.device import resolve_device
    from neuralsynth.errors import UsageError
    from neuralsynth.evaluation.evaluate import check_settings
    from neuralsynth.evaluation.pieces import SPLIT_CHOICES
    from neuralsynth.inference.load import (
        default_model_path,
        load_trained_model,
        resolve_model,
    )
    from neuralsynth.vocoders.select import vocoder_choice

    # -- every option checked before anything is loaded or computed ----------------------
    if data is None and map_out is None:
        raise UsageError("nothing to do: give --data DATASET (losses and correlations) "
                         "and/or --embedding-map MAP.png")
    if data is None and json_out is not None:
        raise UsageError("--json needs --data (it holds the dataset evaluation)")
    if split not in SPLIT_CHOICES:
        raise UsageError(f"unknown split '{split}'; choose from {', '.join(SPLIT_CHOICES)}")
    if pieces is not None and pieces < 1:
        raise UsageError(f"--pieces must be >= 1, got {pieces}")
    if grid < 2:
        raise UsageError(f"--grid must be >= 2, got {grid}")
    check_settings(seconds, 1)
    _check_outputs(json_out, map_out)
    if data is not None and not data.is_dir():
        raise UsageError(f"dataset '{data}' " + ("is not a directory" if data.exists()
                                                 else "does not exist"))
    opts = parse_vocoder_opts(vocoder_opts)
    spec = vocoder_choice(vocoder, vocoder_model, opts)
    if ckpt == "default":
        path = default_model_path()
        if path is None:
            raise UsageError("CKPT 'default': no bundled default model is installed")
    else:
        path = resolve_model(ckpt)          # a file, or a bundled model's name (gm100)
    dev = resolve_device(device)
    progress = progress and verbosity > QUIET
    started = time.perf_counter()
    loaded = load_trained_model(path, device=dev)
    if verbosity >= VERBOSE:
        click.echo("\n".join([
            f"model: {Path(path).resolve()} ({len(loaded.instruments)} instruments, "
            f"{loaded.model.embedding_dim}-D timbre space); loaded in "
            f"{time.perf_counter() - started:.2f} s",
            f"device: {dev} (asked: {device})",
            "vocoder: " + (str(spec) if spec is not None
                           else "the checkpoint recipe's, else griffin_lim")
            + (f", options {opts}" if opts else ""),
            f"dataset: {data.resolve()} (split {split}, "
            f"{pieces if pieces is not None else 'all'} pieces, {seconds:g} s excerpts)"
            if data is not None else "dataset: none",
            f"outputs: {', '.join(os.fspath(p.resolve()) for p in (json_out, map_out) if p)}"
            if json_out or map_out else "outputs: none (printed only)"]), err=True)
    if map_out is not None:
        if loaded.model.embedding_dim < 2:
            raise UsageError(f"the embedding map needs a timbre space of 2 or more "
                             f"dimensions; this model's has {loaded.model.embedding_dim}")
        if loaded.model.embedding_dim > 2:
            from neuralsynth.errors import require_extra

            require_extra("sklearn", "eval", "the t-SNE view of the timbre space")
        if probe is not None:
            from neuralsynth.midi.read import load_notes

            load_notes(probe)            # a bad probe fails now, not after the dataset

    if data is not None:
        from neuralsynth.evaluation.eval_report import format_eval, write_eval
        from neuralsynth.evaluation.evaluate import evaluate

        started = time.perf_counter()
        result = evaluate(loaded, data, split=split, pieces=pieces, seconds=seconds,
                          vocoder=spec, vocoder_options=opts, progress=progress)
        say(verbosity, f"dataset evaluation took {time.perf_counter() - started:.1f} s",
            level=VERBOSE, err=True)
        say(verbosity, format_eval(result))
        if json_out is not None:
            written = write_eval(result, json_out)
            say(verbosity, "wrote " + ", ".join(os.fspath(p) for p in written))
    if map_out is not None:
        from neuralsynth.evaluation.embedding_map import (
            embedding_map,
            embedding_projection,
            write_map_png,
        )

        if loaded.model.embedding_dim == 2:
            result = embedding_map(loaded, grid=grid, probe=probe,
                                   progress=progress)
        else:
            result = embedding_projection(loaded, n_points=min(grid * grid, 4096),
                                          probe=probe, progress=progress, tsne=True)
        write_map_png(result, map_out)
        if data is not None:
            say(verbosity, "")
        say(verbosity, _map_summary(result, map_out))
