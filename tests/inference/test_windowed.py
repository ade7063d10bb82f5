"""Rendering window by window: the plan, agreement with a whole-piece run, the joins, and
silent stretches skipped."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

import neuralsynth as ns
from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.inference.windowed import WindowedRender
from neuralsynth.inference.windows import plan_windows

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from compose import compose  # noqa: E402


@pytest.fixture(scope="module")
def synth():
    return ns.load_model(device="cpu")


def test_windows_partition_the_piece_and_clip_at_its_ends():
    plan = plan_windows(1000, core=300, overlap=20, context=50)
    assert [w.core for w in plan] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert plan[0].vocoded == (0, 320) and plan[0].model == (0, 370)
    assert plan[1].vocoded == (280, 620) and plan[1].model == (230, 670)
    assert plan[-1].vocoded == (880, 1000) and plan[-1].model == (830, 1000)
    # A piece of one core is one window, the whole piece: exactly the old render.
    assert plan_windows(300, core=300) == plan_windows(300, core=300, overlap=7, context=9)
    assert plan_windows(300, core=300)[0].model == (0, 300)


def _renders(synth, pm, timbre, vocoder, core_s):
    job = synth.prepare(pm, timbre, vocoder=vocoder)
    n = job.n_frames
    whole = WindowedRender(synth.model, synth.device, job.parts, n, job.vocoder,
                           job.vocoder_name, windows=plan_windows(n, core=n))
    plan = plan_windows(n, core=int(core_s * 125))
    cut = WindowedRender(synth.model, synth.device, job.parts, n, job.vocoder,
                         job.vocoder_name, windows=plan)
    return job, whole, cut, plan


def test_windowed_mel_matches_the_whole_piece(synth):
    """The stated tolerance (docs/rendering.md): bins within 40 dB of the peak differ by
    less than 0.1 dB in 99 % of cases and 0.5 dB at most."""
    job, whole, cut, plan = _renders(synth, compose(3, 80.0), "piano", "griffin_lim", 20.0)
    assert len(plan) >= 4
    ref = 20 * np.log10(np.maximum(whole._mel(0, job.parts[0], whole.plan[0]), 1e-5))
    diffs, levels = [], []
    for w in plan:
        m = 20 * np.log10(np.maximum(cut._mel(0, job.parts[0], w), 1e-5))
        diffs.append(np.abs(m - ref[w.vocoded[0]:w.vocoded[1]]))
        levels.append(ref[w.vocoded[0]:w.vocoded[1]])
    d, lv = np.concatenate(diffs), np.concatenate(levels)
    loud = lv > ref.max() - 40
    assert np.percentile(d[loud], 99) < 0.1
    assert d[loud].max() < 0.5


def test_joins_of_a_phase_coherent_vocoder_are_seamless(synth):
    """``harmonic`` seeds its phases by absolute position, so two windows agree where they
    overlap: over each cross-fade the windowed audio equals the whole render to within
    the few frames its fit needs to settle, and no join adds a click."""
    job, whole, cut, plan = _renders(synth, compose(5, 50.0), "organ", "harmonic", 15.0)
    a = np.concatenate(list(whole.blocks()))
    b = np.concatenate(list(cut.blocks()))
    assert a.shape == b.shape == (job.n_frames * HOP_LENGTH,)
    for w in plan[1:]:
        j = w.core[0] * HOP_LENGTH
        x, y = a[j - 4000:j + 4000], b[j - 4000:j + 4000]
        snr = 10 * np.log10(np.sum(x ** 2) / np.sum((x - y) ** 2))
        assert snr > 15.0, (j, snr)
        # A click is a jump between neighbouring samples far above the signal's own.
        steps = np.abs(np.diff(b[j - 400:j + 400]))
        typical = np.abs(np.diff(a[j - 400:j + 400])).max()
        assert steps.max() < 1.5 * typical + 1e-4


def test_the_cross_fade_keeps_the_level_of_unrelated_windows():
    """Griffin-Lim's windows start from different phases: an amplitude fade would dip by
    3 dB in the middle of the join, the equal-power fade does not."""
    from neuralsynth.inference.windowed import _Crossfade

    plan = plan_windows(400, core=200, overlap=50, context=0)
    rng = np.random.default_rng(0)
    out = []
    fade = _Crossfade(plan, coherent=False)
    for k, w in enumerate(plan):
        out.append(fade.join(k, rng.standard_normal(w.n_vocoded * HOP_LENGTH)
                             .astype(np.float32)))
    y = np.concatenate(out)
    assert y.shape == (400 * HOP_LENGTH,)
    mid = y[150 * HOP_LENGTH:250 * HOP_LENGTH]          # the join's 100 frames
    assert abs(10 * np.log10(np.mean(mid ** 2))) < 0.5
    coherent = _Crossfade(plan, coherent=True)
    z = [coherent.join(k, rng.standard_normal(w.n_vocoded * HOP_LENGTH).astype(np.float32))
         for k, w in enumerate(plan)]
    dip = np.concatenate(z)[195 * HOP_LENGTH:205 * HOP_LENGTH]
    assert 10 * np.log10(np.mean(dip ** 2)) < -2.0          # why the flag matters


def test_a_long_silence_is_skipped_not_computed(synth, tmp_path):
    """Two notes 20 minutes apart: the windows between them are never computed, so the
    render takes seconds, and it is still 20 minutes long."""
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes.append(pretty_midi.Note(velocity=90, pitch=60, start=0.5, end=1.5))
    inst.notes.append(pretty_midi.Note(velocity=90, pitch=64, start=1200.0, end=1201.0))
    pm.instruments.append(inst)
    started = time.perf_counter()
    audio = synth.render(pm, "piano", vocoder="harmonic")
    took = time.perf_counter() - started
    # Windows of 120 s: the first and the last two (whose overlap reaches 1200 s) sound.
    assert audio.info["windows"] == 11 and audio.info["silent_windows"] == 8
    assert audio.seconds == pytest.approx(1202.0, abs=0.05)
    assert took < 30.0
    skipped = audio.samples[16000 * 121:16000 * 1079]     # windows 1-8, joins aside
    assert not np.any(skipped)
    assert np.max(np.abs(audio.samples[:16000 * 3])) > 0.05
    assert np.max(np.abs(audio.samples[16000 * 1199:])) > 0.05
