"""The public Python API: lazy import, load_model, Synth.render from a path, bytes or a
PrettyMIDI, Audio.write, the CLI giving the same file, and docs/python.md's examples."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.midi_factory import random_melody, write_midi

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "python.md"
EXE = Path(sys.executable).parent / "neuralsynth"


@pytest.fixture(scope="module")
def synth():
    import neuralsynth as ns

    return ns.load_model(device="cpu")


@pytest.fixture
def song(tmp_path) -> Path:
    return write_midi(tmp_path / "song.mid", random_melody(7, seconds=2.0, polyphony=2))


def test_importing_the_package_does_not_import_torch():
    code = ("import sys, neuralsynth as ns; assert 'torch' not in sys.modules, 'eager'; "
            "print(sorted(n for n in ns.__all__)); ns.Synth; "
            "assert 'torch' in sys.modules, 'lazy names never load'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "load_model" in proc.stdout and "Audio" in proc.stdout


def test_unknown_attribute_is_an_attribute_error():
    import neuralsynth as ns

    with pytest.raises(AttributeError, match="no attribute 'render'"):
        ns.render


def test_render_from_path_bytes_and_prettymidi_agree(synth, song):
    import pretty_midi

    import neuralsynth as ns

    a = synth.render(song, "piano:0.3,organ:0.7")
    b = synth.render(song.read_bytes(), "piano:0.3,organ:0.7")
    c = synth.render(pretty_midi.PrettyMIDI(str(song)), "piano:0.3,organ:0.7")
    assert isinstance(a, ns.Audio) and a.sample_rate == 16000
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1
    n_frames = int(round((synth.mel(song).shape[0])))
    assert a.samples.shape == (n_frames * 128,)
    assert np.abs(a.samples).max() > 1e-3
    assert np.array_equal(a.samples, b.samples) and np.array_equal(a.samples, c.samples)
    # Another timbre really is another sound.
    d = synth.render(song, "trumpet")
    assert not np.allclose(a.samples, d.samples, atol=1e-3)


def test_api_equals_the_cli_file(synth, song, tmp_path):
    audio = synth.render(song, "piano:0.3,organ:0.7")
    api_wav = audio.write(tmp_path / "api.wav")
    cli_wav = tmp_path / "cli.wav"
    # One torch thread, as in this process (conftest): the LSTM's float sums then run in
    # the same order, and the two files can be compared byte for byte.
    proc = subprocess.run([str(EXE), "render", str(song), "--timbre", "piano:0.3,organ:0.7",
                           "-o", str(cli_wav), "--device", "cpu", "-q"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert api_wav.read_bytes() == cli_wav.read_bytes()
    data, sr = sf.read(str(cli_wav), dtype="float32")
    assert sr == 16000 and data.shape == audio.samples.shape


def test_embedding_and_instruments(synth):
    assert "grand_piano" in synth.instruments and "church_organ" in synth.instruments
    e = synth.embedding("piano:0.5,organ:0.5")
    assert e.shape == (synth.embedding_dim,)
    mid = (synth.embedding("piano") + synth.embedding("organ")) / 2
    assert float((e - mid).abs().max()) < 1e-5


def test_bad_inputs_raise_one_line_errors(synth, song, tmp_path):
    import neuralsynth as ns

    cases = [(lambda: synth.render(song, "kazoo"), "unknown instrument 'kazoo'"),
             (lambda: synth.render(b"not midi", "piano"), "<MIDI bytes>: not a MIDI file"),
             (lambda: synth.render(b"", "piano"), "<MIDI bytes>: empty"),
             (lambda: synth.render(3.5, "piano"), "cannot read MIDI from a float"),
             (lambda: synth.render(song, "piano", tail=-1), "tail must be"),
             (lambda: synth.render(song, "piano", vocoder="nope"), "unknown vocoder 'nope'"),
             (lambda: synth.embedding("piano@0s,organ@1s"), "morph"),
             (lambda: ns.load_model("no_such_model"), "not a file, nor a bundled model"),
             (lambda: synth.render(song).write(tmp_path / "x.mp3"), "must end in .wav")]
    for call, needle in cases:
        with pytest.raises(ns.NeuralsynthError) as info:
            call()
        assert needle in str(info.value) and "\n" not in str(info.value), str(info.value)
    assert not (tmp_path / "x.mp3").exists()


def _doc_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)


def test_docs_python_md_examples_run(tmp_path, song, monkeypatch, capsys):
    blocks = _doc_blocks()
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)          # song.mid is here; outputs land here
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), namespace)
    assert (tmp_path / "song.wav").is_file() and (tmp_path / "morph.flac").is_file()
    out = capsys.readouterr().out
    assert "unknown instrument 'kazoo'" in out
