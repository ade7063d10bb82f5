"""``neuralsynth export``: a training checkpoint → a slim model file for rendering."""

from __future__ import annotations

from pathlib import Path

import click

from neuralsynth.cli.options import VERBOSE, say, verbosity_options


@click.command(short_help="Write a slim, inference-only copy of a checkpoint.",
               context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.pt or .pth). Written atomically; an existing "
                   "file is replaced only when the export succeeds.")
@click.option("--format", "fmt", type=click.Choice(["pt", "onnx"]), default="pt",
              show_default=True,
              help="pt: a neuralsynth model file; onnx: the Mel2Mel network as ONNX "
                   "(piano roll and per-frame timbre in, log mel out; instruments in its "
                   "metadata), for other runtimes. Needs the onnx extra.")
@click.option("--half/--no-half", "half", default=False, show_default=True,
              help="Store the weights as float16: half the file size, renders differ "
                   "from the float32 model by about 1e-3 in log-mel. Loading converts "
                   "them back to float32.")
@click.option("--name", "name", default=None, metavar="NAME",
              help="Name recorded in the file and shown by `neuralsynth info` "
                   "(default: the recipe's name).")
@verbosity_options
def export(checkpoint: Path, output: Path, fmt: str, half: bool, name: str | None,
           verbosity: int) -> None:
    """Export CHECKPOINT (a best.pt or last.pt from `neuralsynth train`) as a model
    file holding only what rendering needs.

    Kept: the weights, the recipe, the instrument names and provenance (training step,
    validation loss, source file name, neuralsynth version, export date). Dropped: the
    optimizer, scheduler and random-number states that only resuming needs, which makes
    the file about three times smaller (six with --half). The result loads wherever a
    checkpoint does (`render --model`, `neuralsynth info`). Vocoder checkpoints
    (train.task: vocoder) export the same way, for `render --vocoder-model`.

    A file placed at neuralsynth/assets/models/default.pt in the package becomes the model
    `neuralsynth render` uses without --model. With -v: the resolved paths and settings
    first, and the time taken; with -q: nothing but errors.

    \b
    Examples:
      neuralsynth export runs/mel2mel_small_cpu/best.pt -o small.pt
      neuralsynth export runs/mel2mel_10inst/best.pt -o neuralsynth/assets/models/default.pt \\
          --half --name mel2mel-10inst
      neuralsynth info small.pt
      neuralsynth export small.pt --format onnx -o small.onnx
    """
    import time

    if fmt == "onnx":
        from neuralsynth.errors import UsageError
        from neuralsynth.inference.info import format_size
        from neuralsynth.inference.onnx_export import export_onnx

        if half:
            raise UsageError("--half is for --format pt; the ONNX graph is float32")
        start = time.perf_counter()
        written = export_onnx(checkpoint, output, name=name)
        say(verbosity, f"wrote {written} ({format_size(written.stat().st_size)}, ONNX "
                       f"opset 17; inputs pianoroll [batch, frames, in_dim] and timbre "
                       f"[batch, frames, W], output log_mel [batch, frames, 80])")
        say(verbosity, f"took {time.perf_counter() - start:.2f} s", level=VERBOSE)
        return

    from neuralsynth.inference.export import export_model
    from neuralsynth.inference.info import format_size

    say(verbosity, f"checkpoint: {checkpoint.resolve()}\noutput: {output.resolve()}\n"
                   f"weights: {'float16' if half else 'float32'}; name: "
                   f"{name or '(the recipe name)'}", level=VERBOSE, err=True)
    start = time.perf_counter()
    result = export_model(checkpoint, output, half=half, name=name)
    val = f"{result.val_loss:.5f}" if result.val_loss is not None else "n/a"
    say(verbosity, f"wrote {result.out_path} ({format_size(result.size_bytes)}, "
                   f"{result.size_bytes / max(result.source_size_bytes, 1):.0%} of the "
                   f"checkpoint; {result.n_parameters:,} parameters as {result.dtype})")
    say(verbosity, f"model '{result.name}': step {result.step}, validation loss {val}; "
                   f"instruments: {', '.join(result.instruments)}")
    say(verbosity, f"took {time.perf_counter() - start:.2f} s", level=VERBOSE)
