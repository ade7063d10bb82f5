"""The score-informed harmonic vocoder: partials where the notes are, the mel matched,
chunking invisible, memory bounded, clear errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from neuralsynth.audio import spectral as audio
from neuralsynth.errors import UsageError
from neuralsynth.midi.notes import Notes
from neuralsynth.vocoders.base import VOCODERS
from neuralsynth.vocoders.score import Score

SR = audio.SAMPLE_RATE


def _notes(rows: list[tuple[int, float, float]]) -> Notes:
    rows = sorted(rows, key=lambda r: r[1])
    return Notes(start=np.array([r[1] for r in rows]), end=np.array([r[2] for r in rows]),
                 pitch=np.array([r[0] for r in rows], np.int16),
                 velocity=np.full(len(rows), 90, np.int16),
                 program=np.zeros(len(rows), np.int16))


def _tone(rows: list[tuple[int, float, float]], seconds: float, seed: int = 0) -> np.ndarray:
    """An instrument-like test signal: every note's harmonics up to 7.5 kHz, 1/k rolloff,
    each partial decaying at its own rate, 20 ms release after the note-off."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = np.zeros_like(t)
    for pitch, start, end in rows:
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        on = t >= start
        env_off = np.where(t < end, 1.0, np.exp(-(t - end) / 0.02))
        for k in range(1, int(7500 / f0) + 1):
            decay = np.exp(-np.maximum(t - start, 0) * (0.5 + 0.3 * k))
            y += on * env_off * decay * (0.08 / k) * np.sin(
                2 * np.pi * k * f0 * (t - start) + rng.uniform(0, 2 * np.pi))
    return y.astype(np.float32)


CHORD = [(48, 0.1, 1.6), (55, 0.1, 1.6), (64, 0.6, 1.6), (72, 1.0, 2.2), (36, 1.2, 2.4)]


@pytest.fixture(scope="module")
def chord():
    wave = _tone(CHORD, 3.0)
    mel = audio.mel_spectrogram(wave).numpy()
    return wave, mel, Score(_notes(CHORD), mel.shape[0])


@pytest.fixture(scope="module")
def harmonic():
    return VOCODERS.build({"name": "harmonic"})


def test_it_is_registered_and_declares_that_it_reads_the_score(harmonic):
    assert "harmonic" in VOCODERS.names()
    assert type(harmonic).uses_score is True
    assert VOCODERS.get("griffin_lim").uses_score is False


def test_output_contract(harmonic, chord):
    wave, mel, score = chord
    y = harmonic.vocode(mel, score)
    assert y.dtype == np.float32 and y.shape == (mel.shape[0] * audio.HOP_LENGTH,)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 1.0
    assert np.sqrt(np.mean(y ** 2)) > 0.3 * np.sqrt(np.mean(wave ** 2))


def test_partials_sit_at_the_notes_harmonics(harmonic):
    rows = [(45, 0.0, 1.9)]                                   # A2 = 110 Hz
    wave = _tone(rows, 2.0)
    mel = audio.mel_spectrogram(wave).numpy()
    y = harmonic.vocode(mel, Score(_notes(rows), mel.shape[0]))
    seg = y[int(0.3 * SR):int(1.3 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.shape[0]), n=1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 1 / SR)
    for k in (1, 2, 5, 11, 23):
        band = (freqs > k * 110 - 40) & (freqs < k * 110 + 40)
        peak = freqs[band][np.argmax(spec[band])]
        assert abs(peak - k * 110) < 1.0, (k, peak)
        # Between two partials the spectrum is far below them (no smearing).
        gap = (freqs > k * 110 + 45) & (freqs < k * 110 + 65)
        assert spec[gap].max() < 0.05 * spec[band].max(), k


def test_the_mel_of_the_output_matches_the_given_mel(harmonic, chord):
    wave, mel, score = chord
    y = harmonic.vocode(mel, score)
    got = audio.mel_spectrogram(y).numpy()[:mel.shape[0]]
    loud = mel > 1e-3 * mel.max()
    err = np.abs(np.log(got[loud] / mel[loud]))
    assert np.median(err) < 0.25, np.median(err)


def test_it_beats_griffin_lim_on_a_chord(harmonic, chord):
    from neuralsynth.evaluation.cqt import cqt_correlation
    from neuralsynth.evaluation.lsd import log_spectral_distance

    wave, mel, score = chord
    y = harmonic.vocode(mel, score)[:wave.shape[0]]
    g = VOCODERS.build({"name": "griffin_lim"}).vocode(mel, score)[:wave.shape[0]]
    ch, cg = cqt_correlation(y, wave), cqt_correlation(g, wave)
    assert ch["mean"] > cg["mean"] + 0.02, (ch["mean"], cg["mean"])
    assert log_spectral_distance(y, wave) < 0.8 * log_spectral_distance(g, wave)


def test_chunks_do_not_change_the_output(chord):
    """The fit, the oscillators and the noise carry their state across chunks exactly;
    only the correction pass leaves the 4 frames at each chunk edge alone."""
    from neuralsynth.evaluation.cqt import cqt_correlation

    _, mel, score = chord
    exact = {"name": "harmonic", "correct": 0}
    whole = VOCODERS.build({**exact, "chunk_seconds": 60}).vocode(mel, score)
    pieces = VOCODERS.build({**exact, "chunk_seconds": 0.5}).vocode(mel, score)
    assert np.max(np.abs(whole - pieces)) < 1e-4 * np.max(np.abs(whole))
    whole = VOCODERS.build({"name": "harmonic", "chunk_seconds": 60}).vocode(mel, score)
    pieces = VOCODERS.build({"name": "harmonic", "chunk_seconds": 0.5}).vocode(mel, score)
    assert cqt_correlation(pieces, whole)["mean"] > 0.98


def test_noise_carries_what_the_partials_cannot():
    rows = [(72, 0.1, 1.5)]                       # C5: no partial below 523 Hz
    clean = audio.mel_spectrogram(_tone(rows, 2.0)).numpy()
    noisy = clean.copy()
    noisy[:, 1:6] += 0.02                         # a rumble below 400 Hz
    score = Score(_notes(rows), clean.shape[0])
    y0 = VOCODERS.build({"name": "harmonic"}).vocode(clean, score)
    y1 = VOCODERS.build({"name": "harmonic", "noise": 1}).vocode(noisy, score)
    y2 = VOCODERS.build({"name": "harmonic", "noise": 0}).vocode(noisy, score)
    low = slice(1, 6)
    m0, m1, m2 = (audio.mel_spectrogram(y).numpy()[:, low].mean() for y in (y0, y1, y2))
    assert m1 == pytest.approx(0.02, rel=0.3) and m1 > 5 * m0 and m1 > 5 * m2


def test_memory_does_not_grow_with_the_piece():
    rng = np.random.default_rng(1)
    voc = VOCODERS.build({"name": "harmonic", "chunk_seconds": 4})

    def peak(seconds: float) -> float:
        rows = [(int(rng.integers(21, 109)), s, s + 0.4) for s in np.arange(0, seconds, 0.25)]
        n = int(seconds * SR / audio.HOP_LENGTH) + 1
        mel = np.full((n, audio.N_MELS), 1e-3, np.float32)
        tracemalloc.start()
        y = voc.vocode(mel, Score(_notes(rows), n))
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top - y.nbytes                # less the output itself

    peak(20.0)                 # one-off caches (note bases of every pitch, numba)
    short, long = peak(20.0), peak(120.0)
    assert long < 1.5 * short + 2e6, (short, long)


def test_without_notes_it_says_so_in_one_line(harmonic, chord):
    _, mel, _ = chord
    with pytest.raises(UsageError) as info:
        harmonic.vocode(mel, None)
    assert "notes" in str(info.value) and "\n" not in str(info.value)


def test_a_score_of_other_length_is_refused(harmonic, chord):
    _, mel, score = chord
    with pytest.raises(ValueError, match="frames"):
        harmonic.vocode(mel[:-5], score)


def test_bad_settings_are_refused():
    from neuralsynth.errors import RecipeError

    for bad in ({"beta": 3}, {"n_iter": -1}, {"phase": "random"}, {"chunk_seconds": 0.1},
                {"release": -1}):
        with pytest.raises(RecipeError):
            VOCODERS.build({"name": "harmonic", **bad})


def test_no_notes_gives_the_residual_noise_only(harmonic):
    from neuralsynth.vocoders.score import empty_notes

    mel = np.full((200, audio.N_MELS), 1e-2, np.float32)
    y = harmonic.vocode(mel, Score(empty_notes(), 200))
    assert np.sqrt(np.mean(y ** 2)) > 1e-3


def test_griffin_lim_phase_option_runs(chord):
    wave, mel, score = chord
    y = VOCODERS.build({"name": "harmonic", "phase": "griffin_lim", "gl_iter": 4}).vocode(
        mel, score)
    assert y.shape == (mel.shape[0] * audio.HOP_LENGTH,) and np.all(np.isfinite(y))


def test_vocoders_without_a_score_are_called_as_before(chord):
    """A plugin written before scores existed: ``synthesize(mel)`` only."""
    from neuralsynth.vocoders.base import Vocoder

    seen = []

    class Old(Vocoder):
        def synthesize(self, mel):
            seen.append(mel.shape)
            return np.zeros(mel.shape[0] * 128, np.float32)

    _, mel, score = chord
    Old(None).vocode(mel, score)
    assert seen == [mel.shape]


def test_score_excerpt_shifts_times():
    score = Score(_notes([(60, 1.0, 2.0), (62, 5.0, 6.0), (64, 0.0, 0.2)]), 1000)
    part = score.excerpt(125, 250)                    # 1.0 s .. 3.0 s
    assert list(part.notes.pitch) == [64, 60] and part.n_frames == 250
    assert part.notes.start[1] == pytest.approx(0.0)


def test_the_floor_adds_noise_above_1khz_only(chord):
    """The floor is noise at 0.2 x each band's level from 2 kHz, none below 1 kHz."""
    _, mel, score = chord
    base = {"name": "harmonic", "noise": 0}
    y0 = VOCODERS.build({**base, "floor": 0.0}).vocode(mel, score)
    y1 = VOCODERS.build({**base, "floor": 0.2}).vocode(mel, score)
    added = audio.mel_spectrogram(y1 - y0).numpy()[:mel.shape[0]]  # the partials cancel
    centres = audio.mel_to_hz(np.linspace(audio.hz_to_mel(0.0), audio.hz_to_mel(8000.0),
                                          audio.N_MELS + 2))[1:-1]
    loud = mel.max(axis=1) > 0.1 * mel.max()
    high = centres > 2000
    ratio = np.median(added[loud][:, high] / mel[loud][:, high])
    assert ratio == pytest.approx(0.2, rel=0.3), ratio
    assert added[:, centres < 900].max() <= 1.01 * audio.MAG_FLOOR      # nothing: the floor
