"""``neuralsynth render``: MIDI file → audio file with a chosen timbre."""

from __future__ import annotations

import os
from pathlib import Path

import click


def parse_vocoder_opts(opts: tuple[str, ...]) -> dict:
    """``("n_iter=32", "seed=3")`` → ``{"n_iter": 32, "seed": 3}``; values are YAML scalars.

    Values are read by the same parser as recipe ``-o`` overrides, so ``1e-3`` is a float
    in both places (plain PyYAML would read it as a string).
    """
    import yaml

    from neuralsynth.errors import UsageError
    from neuralsynth.recipe.yaml_lines import parse_yaml_value

    params: dict = {}
    for opt in opts:
        key, sep, raw = opt.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--vocoder-opt '{opt}' must look like key=value")
        if key == "name":
            raise UsageError("choose the vocoder with --vocoder, not --vocoder-opt name=...")
        try:
            params[key] = parse_yaml_value(raw) if raw.strip() else ""
        except yaml.YAMLError:
            params[key] = raw  # not a YAML scalar: keep the text; the Config check decides
    return params


def default_model_note() -> str:
    """Which model `render` uses without --model, as a sentence for --help."""
    from neuralsynth.errors import NeuralsynthError
    from neuralsynth.inference.load import DEFAULT_MODEL_ENV, default_model_path

    env = os.environ.get(DEFAULT_MODEL_ENV, "").strip()
    try:
        path = default_model_path()
    except NeuralsynthError as exc:      # a bad $NEURALSYNTH_DEFAULT_MODEL
        return f"Now: none ({exc})."
    if path is None:
        why = f"{DEFAULT_MODEL_ENV}={env}" if env else "no model bundled with this install"
        return f"Now: none ({why})."
    return f"Now: {path} ({'$' + DEFAULT_MODEL_ENV if env else 'bundled'})."


class ModelOption(click.Option):
    """--model, whose help states the default model at the time --help is shown."""

    def get_help_record(self, ctx: click.Context):
        record = super().get_help_record(ctx)
        if record is None:
            return None
        return record[0], f"{record[1]} {default_model_note()}"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("midi", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Audio file to write (.wav or .flac, 16 kHz mono). Written atomically; "
                   "an existing file is replaced only when the render succeeds.")
@click.option("--model", "model", cls=ModelOption, type=click.Path(path_type=Path),
              default=None,
              help="Model file (.pt) from `neuralsynth train` or `neuralsynth export`, "
                   "or a bundled model's name. "
                   "Default: $NEURALSYNTH_DEFAULT_MODEL if set, else the model bundled "
                   "with the package (see `neuralsynth info`).")
@click.option("--timbre", "timbre", default=None, metavar="SPEC",
              help="Timbre: an instrument name ('piano'), a mix ('piano:0.3,organ:0.7'; "
                   "weights >= 0, normalised to sum 1), raw embedding coordinates "
                   "('xy:0.5,-1.2', exactly one number per embedding dimension), or a "
                   "morph through keyframes TIMBRE@TIME ('piano@0s,organ@8s'; times like "
                   "8s, 500ms, 1:30; inside a keyframe a mix uses '+' and coordinates "
                   "';'). Default: piano, or the model's first instrument if it has no "
                   "piano. See docs/timbre.md.")
@click.option("--vocoder", "vocoder", default=None, metavar="NAME",
              help="Vocoder to turn the mel spectrogram into audio: griffin_lim, "
                   "harmonic (score-informed: partials at the notes' harmonics), wavenet "
                   "or a plugin's (see `neuralsynth components vocoder`). Default: the "
                   "checkpoint recipe's vocoder, else griffin_lim.")
@click.option("--vocoder-opt", "vocoder_opts", multiple=True, metavar="KEY=VALUE",
              help="A vocoder parameter, repeatable (e.g. --vocoder-opt n_iter=64, "
                   "--vocoder-opt kernel=cpu).")
@click.option("--vocoder-model", "vocoder_model", default=None, metavar="CKPT",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Trained vocoder (a run of a recipe with train.task: vocoder, e.g. "
                   "recipes/wavenet_vocoder.yaml). Implies --vocoder wavenet.")
@click.option("--tail", "tail", type=float, default=1.0, show_default=True,
              metavar="SECONDS", help="Release time rendered after the last note-off.")
@click.option("--device", "device", type=click.Choice(["cpu", "cuda", "auto"]),
              default="auto", show_default=True,
              help="Where to run the model (auto = cuda when available).")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
def render(midi: Path, output: Path, model: Path | None, timbre: str | None,
           vocoder: str | None, vocoder_opts: tuple[str, ...], vocoder_model: Path | None,
           tail: float, device: str, quiet: bool) -> None:
    """Render MIDI to audio with a trained Mel2Mel model.

    The output lasts as long as the MIDI file plus --tail seconds. Drum tracks are
    ignored.

    \b
    Examples:
      neuralsynth render song.mid -o song.wav          # the default model, if installed
      neuralsynth render song.mid -o song.wav --model runs/small/best.pt
      neuralsynth render song.mid -o mix.wav --model best.pt --timbre piano:0.3,organ:0.7
      neuralsynth render song.mid -o xy.wav --model best.pt --timbre xy:0.5,-1.2
      neuralsynth render song.mid -o morph.wav --model best.pt --timbre piano@0s,organ@8s
      neuralsynth render song.mid -o gl.wav --model best.pt --vocoder griffin_lim \\
          --vocoder-opt n_iter=64
      neuralsynth render song.mid -o wn.wav --vocoder-model runs/wavenet_vocoder/best.pt
    """
    from neuralsynth.errors import UsageError
    from neuralsynth.inference.load import default_model_path
    from neuralsynth.inference.render import render_midi
    from neuralsynth.vocoders.select import vocoder_choice

    model_path = model if model is not None else default_model_path()
    if model_path is None:
        raise UsageError("no --model given and no bundled default model is installed "
                         "(pass --model FILE or set NEURALSYNTH_DEFAULT_MODEL)")
    opts = parse_vocoder_opts(vocoder_opts)
    spec = vocoder_choice(vocoder, vocoder_model, opts)
    result = render_midi(midi, output, model_path=model_path, timbre=timbre, vocoder=spec,
                         vocoder_options=opts, tail_seconds=tail, device=device,
                         progress=not quiet)
    if quiet:
        return
    t = result.timings
    if model is None:
        click.echo(f"model: {model_path} (the default; see `neuralsynth info`)")
    click.echo(f"wrote {result.out_path} ({result.seconds:.2f} s, {result.n_samples} samples "
               f"at {result.sample_rate} Hz; timbre {result.timbre}; vocoder {result.vocoder}; "
               f"{result.device})")
    click.echo(f"took {t['total']:.2f} s: load {t['load']:.2f} s, encode {t['encode']:.2f} s, "
               f"model {t['model']:.2f} s, vocoder {t['vocoder']:.2f} s, write {t['write']:.2f} s")

