"""Dataset synthesis with real FluidSynth (`neuralsynth data synth`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from neuralsynth.cli.main import cli
from neuralsynth.data import synth, workers
from neuralsynth.data.dataset_audio import PEAK_CEILING_DBFS
from neuralsynth.errors import DataError
from tests.conftest import LITE_SOUNDFONT, SMALL_INSTRUMENTS, synth_skip_reason
from tests.midi_factory import random_melody, write_midi

needs_synth = pytest.mark.skipif(synth_skip_reason() is not None,
                                 reason=f"dataset synthesis unavailable: {synth_skip_reason()}")


def _manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


# ---------------------------------------------------------------------- the rendered set
def test_small_dataset_has_every_piece_with_every_instrument(small_dataset, small_midis):
    m = _manifest(small_dataset)
    assert m["format"] == 1 and m["sample_rate"] == 16000
    assert m["instruments"] == SMALL_INSTRUMENTS
    assert len(m["items"]) == len(small_midis) * len(SMALL_INSTRUMENTS)
    ids = {it["id"] for it in m["items"]}
    assert len(ids) == len(m["items"])
    for it in m["items"]:
        assert (small_dataset / it["midi"]).is_file()
        assert (small_dataset / it["audio"]).is_file()
        assert it["instrument"] in SMALL_INSTRUMENTS
    # The MIDI copies are byte-identical to the sources.
    for src in small_midis:
        assert (small_dataset / "midi" / src.name).read_bytes() == src.read_bytes()


def test_audio_is_16k_mono_non_silent_and_covers_the_release_tail(small_dataset):
    m = _manifest(small_dataset)
    for it in m["items"]:
        info = sf.info(str(small_dataset / it["audio"]))
        assert info.samplerate == 16000 and info.channels == 1
        wave, _ = sf.read(str(small_dataset / it["audio"]), dtype="float32")
        peak = float(np.abs(wave).max())
        rms = float(np.sqrt(np.mean(wave ** 2)))
        assert peak <= 10 ** (PEAK_CEILING_DBFS / 20) + 1e-3     # never clipped
        assert rms > 1e-3, f"{it['id']} is (nearly) silent"
        # random_melody pieces end by 3 s; +1 s release tail, at 64-sample resolution
        assert 3.0 < len(wave) / 16000 <= 4.01
        assert it["seconds"] == pytest.approx(len(wave) / 16000, abs=1e-3)


def test_piano_and_organ_renderings_differ_in_spectrum(small_dataset):
    from neuralsynth.audio.spectral import mel_spectrogram, read_audio

    m = _manifest(small_dataset)
    profile = {}
    for it in m["items"]:
        mel = mel_spectrogram(read_audio(small_dataset / it["audio"])).numpy()
        profile[(Path(it["midi"]).stem, it["instrument"])] = np.log(mel.mean(axis=0))
    pieces = sorted({p for p, _ in profile})

    def dist(a, b):
        return float(np.abs(profile[a] - profile[b]).mean())

    across = [dist((p, "grand_piano"), (p, "church_organ")) for p in pieces]
    within = [dist((p, inst), (q, inst)) for inst in SMALL_INSTRUMENTS
              for p in pieces for q in pieces if p < q]
    # The same notes on two instruments differ more than two pieces on one instrument.
    assert min(across) > max(within), (across, within)


def test_manifest_split_is_by_piece(small_dataset):
    m = _manifest(small_dataset)
    split_of: dict[str, set] = {}
    for it in m["items"]:
        split_of.setdefault(it["midi"], set()).add(it["split"])
    assert all(len(s) == 1 for s in split_of.values()), split_of
    counts = {s: sum(1 for v in split_of.values() if v == {s}) for s in ("train", "val")}
    assert counts == {"train": 3, "val": 1}


def test_resume_skips_items_that_exist(small_dataset, small_midis):
    before = {p: p.stat().st_mtime_ns for p in (small_dataset / "audio").rglob("*.wav")}
    manifest_before = _manifest(small_dataset)
    report = synth.synthesize_dataset(small_midis, SMALL_INSTRUMENTS, small_dataset,
                                      soundfont=LITE_SOUNDFONT, val_fraction=0.25, workers=1,
                                      progress=False)
    assert report.rendered == 0 and report.reused == len(before)
    after = {p: p.stat().st_mtime_ns for p in (small_dataset / "audio").rglob("*.wav")}
    assert after == before
    assert _manifest(small_dataset)["items"] == manifest_before["items"]


@needs_synth
def test_missing_item_is_rendered_again(tmp_path):
    midi = write_midi(tmp_path / "solo.mid", random_melody(7, seconds=1.0, polyphony=1))
    out = tmp_path / "ds"
    first = synth.synthesize_dataset([midi], ["church_organ"], out, soundfont=LITE_SOUNDFONT,
                                     workers=1, progress=False)
    wav = out / "audio" / "church_organ" / "solo.wav"
    original = sf.read(str(wav))[0]
    wav.unlink()
    second = synth.synthesize_dataset([midi], ["church_organ"], out, soundfont=LITE_SOUNDFONT,
                                      workers=1, progress=False)
    assert (first.rendered, second.rendered, second.reused) == (1, 1, 0)
    # A fresh renderer per run: the same item renders to the same samples.
    np.testing.assert_array_equal(sf.read(str(wav))[0], original)
    assert first.realtime_factor > 0 and first.audio_seconds == pytest.approx(2.0, abs=0.1)


@needs_synth
def test_cli_skips_bad_midi_and_lists_it(tmp_path):
    good = [write_midi(tmp_path / f"good{i}.mid", random_melody(i, seconds=1.0, polyphony=1))
            for i in range(2)]
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01")      # header cut short
    drums = write_midi(tmp_path / "drums.mid", [], drum_notes=[(36, 0.0, 0.2, 100)])
    out = tmp_path / "ds"
    result = CliRunner().invoke(cli, ["data", "synth", *map(str, good), str(bad), str(drums),
                                      "--instruments", "organ", "--out", str(out),
                                      "--soundfont", str(LITE_SOUNDFONT), "--workers", "2",
                                      "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "broken.mid" in result.output and "drums.mid" in result.output
    assert "x real time" in result.output
    m = _manifest(out)
    assert sorted(Path(s["path"]).name for s in m["skipped_midi"]) == ["broken.mid", "drums.mid"]
    assert all(s["reason"] for s in m["skipped_midi"])
    assert len(m["items"]) == 2 and {it["instrument"] for it in m["items"]} == {"church_organ"}
    assert {it["split"] for it in m["items"]} == {"train", "val"}


def test_cli_rejects_unknown_instrument_with_exit_2(tmp_path, small_midis):
    result = CliRunner().invoke(cli, ["data", "synth", str(small_midis[0]), "--instruments",
                                      "pianno", "--out", str(tmp_path / "ds")])
    assert result.exit_code == 2
    assert "pianno" in result.output and "did you mean" in result.output


def test_all_bad_midi_is_an_error(tmp_path):
    if synth_skip_reason() is not None:
        pytest.skip(synth_skip_reason())
    bad = tmp_path / "noise.mid"
    bad.write_bytes(os.urandom(200))
    with pytest.raises(DataError, match="none of the 1 MIDI files"):
        synth.synthesize_dataset([bad], ["grand_piano"], tmp_path / "ds",
                                 soundfont=LITE_SOUNDFONT, workers=1, progress=False)


# ------------------------------------------------------------------------- worker jobs
def test_render_job_reports_errors_instead_of_raising(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "_RENDERER", None)
    monkeypatch.setattr(workers, "_RENDERER_ERROR", "FluidSynth cannot load SoundFont 'x.sf2'")
    res = workers.render_job({"id": "a.organ", "program": 19, "midi_path": "x.mid",
                              "audio_path": str(tmp_path / "a.wav")})
    assert res["error"] == "FluidSynth cannot load SoundFont 'x.sf2'"
    assert not (tmp_path / "a.wav").exists()
