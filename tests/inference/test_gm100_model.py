"""The second bundled model, ``gm100``: 100 GM instruments in a 10-d timbre space.

Selectable by name everywhere a model is (``--model gm100``, ``neuralsynth info gm100``,
``load_model("gm100")``), small like the default model, and it tells instruments of
different families apart: pieces made here are rendered by FluidSynth as one instrument
of each of several families, and each instrument's render by the model must be nearest
its own rendering among them (the whole-validation-split check over all 100 is
benchmarks/timbre_check.py, reported in docs/gm100.md).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.midi.instruments import expand_instruments
from tests.conftest import rendered_dataset
from tests.midi_factory import random_melody, write_midi

BUNDLED = Path(str(importlib.resources.files("neuralsynth") / "assets" / "models" / "gm100.pt"))
#: One instrument from each of eight families, all passing the full check (docs/gm100.md).
SPREAD = ["acoustic_grand_piano", "church_organ", "violin", "trumpet", "clarinet",
          "flute", "lead_2_sawtooth", "marimba"]


def test_bundled_gm100_model():
    import neuralsynth as ns

    assert BUNDLED.is_file() and BUNDLED.stat().st_size < 8_000_000
    synth = ns.load_model("gm100", device="cpu")
    assert synth.instruments == expand_instruments(["gm100"])
    assert synth.embedding_dim == 10
    table = np.stack([synth.embedding(name).numpy() for name in synth.instruments])
    assert table.shape == (100, 10)
    # 100 distinct rows: no two instruments collapsed onto one point
    d = np.linalg.norm(table[:, None] - table[None], axis=-1)
    assert np.min(d + np.eye(100) * 1e9) > 1e-3
    # Aliases find the instrument with the same GM program.
    np.testing.assert_array_equal(synth.embedding("piano").numpy(), table[0])
    np.testing.assert_array_equal(synth.embedding("organ").numpy(),
                                  table[synth.instruments.index("church_organ")])


def test_cli_selects_gm100_by_name(tmp_path):
    runner = CliRunner()
    info = runner.invoke(cli, ["info", "gm100"])
    assert info.exit_code == 0, info.output
    assert "100 instruments" in info.output and "shanai" in info.output
    midi = write_midi(tmp_path / "m.mid", random_melody(7, seconds=2.0, polyphony=2))
    out = tmp_path / "c.wav"
    result = runner.invoke(cli, ["render", str(midi), "-o", str(out), "--model", "gm100",
                                 "--timbre", "clarinet:0.5,sitar:0.5", "-q"])
    assert result.exit_code == 0, result.output
    import soundfile as sf

    wave, rate = sf.read(str(out), dtype="float32")
    assert rate == 16000 and np.all(np.isfinite(wave)) and np.abs(wave).max() > 1e-3


@pytest.fixture(scope="module")
def family_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gm100_midis")
    midis = [write_midi(root / f"g{i}.mid", random_melody(900 + i, seconds=6.0, polyphony=3))
             for i in range(4)]
    return rendered_dataset(midis, tmp_path_factory.mktemp("gm100_dataset"), SPREAD,
                            val_fraction=0.75)


def test_gm100_tells_the_families_apart(family_dataset):
    from neuralsynth.evaluation import timbre_check
    from neuralsynth.inference.load import load_trained_model

    result = timbre_check(load_trained_model(BUNDLED), family_dataset, split="val",
                          mix_pairs=[], progress=False)
    assert result.n == len(SPREAD)
    failed = [name for name, ok in zip(result.instruments, result.passed) if not ok]
    assert result.n_pass >= len(SPREAD) - 1, f"rendered nearer another's truth: {failed}"
