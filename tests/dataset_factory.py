"""Small dataset directories for tests, built without FluidSynth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from neuralsynth.model.encoders.base import ENCODERS
from tests.midi_factory import random_melody, write_midi

#: Pieces of :func:`make_fake_dataset`: name → (split, seconds). 'a' has about 5x the
#: frames of 'b', and 'b' is shorter than a 64-frame crop.
FAKE_PIECES = {"a": ("train", 1.5), "b": ("train", 0.3), "c": ("val", 1.2)}


def make_dataset(root: Path, pieces: dict[str, tuple[str, float]],
                 instruments=("grand_piano", "church_organ")) -> Path:
    """A dataset without FluidSynth: noise WAVs next to real MIDI files.

    ``pieces`` maps a piece name to ``(split, seconds)``.
    """
    rng = np.random.default_rng(0)
    items = []
    (root / "midi").mkdir(parents=True, exist_ok=True)
    for name, (split, seconds) in pieces.items():
        write_midi(root / "midi" / f"{name}.mid",
                   random_melody(ord(name[0]), seconds=seconds, polyphony=1))
        for inst in instruments:
            audio = root / "audio" / inst / f"{name}.wav"
            audio.parent.mkdir(parents=True, exist_ok=True)
            sf.write(str(audio), 0.1 * rng.standard_normal(int(seconds * 16000)), 16000)
            items.append({"id": f"{name}.{inst}", "midi": f"midi/{name}.mid",
                          "audio": f"audio/{inst}/{name}.wav", "instrument": inst,
                          "split": split, "seconds": seconds})
    manifest = {"format": 1, "sample_rate": 16000, "instruments": list(instruments),
                "items": items}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def make_fake_dataset(root: Path) -> Path:
    """:data:`FAKE_PIECES` rendered as grand_piano and church_organ (6 items)."""
    return make_dataset(root, FAKE_PIECES)


def pianoroll_encoder(**config):
    """The default encoder (onset and frame rolls, 176 features per frame)."""
    return ENCODERS.build({"name": "pianoroll", **config})
