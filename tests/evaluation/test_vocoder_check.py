"""Vocoder quality check: excerpts, stages, and the ordering the measure must give."""

from __future__ import annotations

import numpy as np

from neuralsynth.evaluation.vocoder_check import (
    loudest_excerpt,
    pick_items,
    summarise,
    vocoder_check,
)
from neuralsynth.vocoders.base import VOCODERS
from tests.wavenet_factory import save_vocoder, tiny_model


def test_loudest_excerpt_finds_the_loud_part():
    wave = np.zeros(10_000, np.float32)
    wave[6000:6900] = 1.0
    start = loudest_excerpt(wave, 1024, hop=128)
    assert start % 128 == 0 and start <= 6000 and start + 1024 >= 6900
    assert loudest_excerpt(wave[:500], 1024) == 0


def test_pick_items_spreads_over_each_instrument():
    class It:
        def __init__(self, i, inst):
            self.id, self.instrument = f"{inst}-{i:02d}", inst
    items = [It(i, inst) for inst in ("a", "b") for i in range(10)]
    chosen = pick_items(items, 2)
    assert [c.id for c in chosen] == ["a-00", "a-05", "b-00", "b-05"]


def test_ground_truth_stages_order_as_expected(small_dataset, tmp_path):
    """µ-law round trip ≈ 1 > Griffin-Lim on the true mel > an untrained WaveNet."""
    vocoders = {
        "griffin_lim": VOCODERS.build({"name": "griffin_lim", "n_iter": 16}),
        "wavenet": VOCODERS.build({"name": "wavenet", "kernel": "cpu", "checkpoint": str(
            save_vocoder(tmp_path / "v.pt", tiny_model()))}),
    }
    scores = vocoder_check(small_dataset, vocoders, per_instrument=1, seconds=1.0,
                           out_dir=tmp_path / "wav")
    assert {s.instrument for s in scores} == {"grand_piano", "church_organ"}
    summary = summarise(scores)
    mu, gl, wn = (summary[k]["mean"] for k in ("mu_law", "griffin_lim", "wavenet"))
    assert mu > 0.95 and mu > gl > wn
    assert len(summary["mu_law"]["per_octave"]) == 7
    assert set(summary["griffin_lim"]["per_instrument"]) == {"grand_piano", "church_organ"}
    written = sorted(p.name for p in (tmp_path / "wav").iterdir())
    assert len(written) == 2 * 4 and any(n.endswith("-original.wav") for n in written)
