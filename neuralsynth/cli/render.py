"""``neuralsynth render``: MIDI file → audio file with a chosen timbre."""

from __future__ import annotations

import os
from pathlib import Path

import click

from neuralsynth.cli.options import NORMAL, VERBOSE, device_option, say, verbosity_options


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


def _loudness(ctx: click.Context, param: click.Parameter, value: str) -> float | None:
    """``--loudness``: a LUFS figure, or ``off``."""
    from neuralsynth.errors import UsageError

    text = value.strip().lower()
    if text in ("off", "none"):
        return None
    try:
        lufs = float(text)
    except ValueError:
        raise UsageError(f"--loudness takes a target in LUFS (e.g. -16) or 'off', "
                         f"got '{value}'") from None
    if not -70.0 <= lufs <= 0.0:
        raise UsageError(f"--loudness must be between -70 and 0 LUFS, got {value}")
    return lufs


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("midi", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", "output", required=True, metavar="PATH",
              help="Audio file to write: .wav, .flac or .ogg (by suffix), or '-' for WAV "
                   "on stdout. Written atomically; an existing file is replaced only when "
                   "the render succeeds.")
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
                   "';'). With --track/--gm: the timbre of tracks no rule names. Default: "
                   "piano, or the model's first instrument if it has no piano. See "
                   "docs/timbre.md.")
@click.option("--track", "tracks", multiple=True, metavar="SELECTOR=TIMBRE",
              help="Give tracks their own timbre (repeatable; a later rule wins). "
                   "SELECTOR: a track index, a track name, program:N or program:A-B "
                   "(General MIDI programs). See `neuralsynth tracks MIDI` and "
                   "docs/tracks.md.")
@click.option("--gm", "gm", is_flag=True,
              help="Map every track without a --track rule to the model's instruments by "
                   "its General MIDI program (table in docs/tracks.md).")
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
              metavar="SECONDS", help="Release time rendered after the last note-off "
                                      "(0 to 60).")
@click.option("--loudness", "loudness", default="-16", show_default=True,
              metavar="LUFS|off", callback=_loudness,
              help="Integrated loudness of the output (ITU-R BS.1770), applied once to "
                   "the whole mix, peaks kept under -1 dBFS; 'off' keeps the model's "
                   "level. See docs/output.md.")
@click.option("--sample-rate", "sample_rate", type=click.Choice(["16000", "22050", "44100",
                                                                 "48000"]),
              default="16000", show_default=True,
              help="Sample rate of the file; the model makes 16 kHz, others are "
                   "resampled (soxr).")
@click.option("--bit-depth", "bit_depth", type=click.Choice(["16", "24", "float"]),
              default="16", show_default=True,
              help="Sample format: 16- or 24-bit integer, or 32-bit float (.wav only).")
@device_option(default="auto", help="Where to run the model: auto (cuda when available), "
                                    "cpu, cuda or cuda:N.")
@verbosity_options
def render(midi: Path, output: str, model: Path | None, timbre: str | None,
           tracks: tuple[str, ...], gm: bool, vocoder: str | None,
           vocoder_opts: tuple[str, ...], vocoder_model: Path | None, tail: float,
           loudness: float | None, sample_rate: str, bit_depth: str, device: str,
           verbosity: int) -> None:
    """Render MIDI to audio with a trained Mel2Mel model.

    The output lasts as long as the MIDI file plus --tail seconds, loudness-normalised
    to -16 LUFS. A piece of any length renders in bounded memory, window by window.
    Drum tracks are left out (the report says how many notes).

    \b
    Examples:
      neuralsynth render song.mid -o song.wav          # the default model, if installed
      neuralsynth render song.mid -o mix.wav --timbre piano:0.3,organ:0.7
      neuralsynth render song.mid -o morph.flac --timbre piano@0s,organ@8s
      neuralsynth render band.mid -o band.wav --gm     # a timbre per track by GM program
      neuralsynth render band.mid -o band.wav --track bass=pizzicato_strings \\
          --track program:56-63=trumpet --timbre piano
      neuralsynth render song.mid -o song.ogg --sample-rate 48000 --loudness -14
      neuralsynth render song.mid -o - | aplay         # WAV on stdout
      neuralsynth render song.mid -o hq.wav --vocoder harmonic --bit-depth 24
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
    to_stdout = output == "-"
    # With the audio on stdout, every message goes to stderr.
    err = to_stdout
    result = render_midi(midi, output, model_path=model_path, timbre=timbre, vocoder=spec,
                         vocoder_options=opts, tail_seconds=tail, device=device,
                         tracks=tracks, gm=gm, loudness=loudness,
                         sample_rate=int(sample_rate), bit_depth=bit_depth,
                         progress=verbosity >= NORMAL)
    for line in result.tracks:
        say(verbosity, line, err=err)
    if result.drum_notes and not result.tracks:
        say(verbosity, f"skipped {result.drum_notes} drum notes (drum tracks are not "
                       f"rendered)", err=err)
    if result.out_of_range:
        say(verbosity, f"skipped {result.out_of_range} notes outside the model's keys "
                       f"A0-C8", err=err)
    t = result.timings
    if model is None:
        say(verbosity, f"model: {model_path} (the default; see `neuralsynth info`)",
            err=err)
    where = "stdout" if to_stdout else str(result.out_path)
    level = ("loudness off" if loudness is None else
             f"{result.loudness:.1f} LUFS (gain {result.gain_db:+.1f} dB"
             f"{', peaks limited' if result.limited else ''})")
    say(verbosity, f"wrote {where} ({result.seconds:.2f} s, {result.n_samples} samples at "
                   f"{result.sample_rate} Hz, "
                   f"{level}; timbre {result.timbre}; vocoder {result.vocoder}; "
                   f"{result.device})", err=err)
    say(verbosity, f"took {t['total']:.2f} s: load {t['load']:.2f} s, encode "
                   f"{t['encode']:.2f} s, model {t['model']:.2f} s, vocoder "
                   f"{t['vocoder']:.2f} s, write {t['write']:.2f} s; {result.windows} "
                   f"window(s), {result.silent_windows} silent", level=VERBOSE, err=err)
