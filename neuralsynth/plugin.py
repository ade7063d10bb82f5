"""The stable surface for plugin authors: everything a third-party component needs.

A plugin imports from this module only. Names here keep their meaning across minor
versions of neuralsynth; anything imported from deeper modules may move without notice.
(``tests/test_plugin_api.py`` checks that the example plugin in ``plugins/`` keeps to it.)

    from neuralsynth.plugin import Vocoder, param, N_MELS, mel_to_linear, istft

- **Base classes and their registries**: :class:`Encoder` (notes → features),
  :class:`Conditioner` (timbre → FiLM), :class:`Sequence`, :class:`Vocoder` (mel → audio),
  :class:`Loss`, and :class:`TrainerBase` for a vocoder that declares its own trainer
  (``Vocoder.trainer = "package.module:Class"``; ``neuralsynth train`` runs it for
  ``train.task: vocoder``).
- **Configuration**: :func:`param` declares a ``Config`` field; :func:`ensure_valid`
  runs a config's checks outside a recipe.
- **Errors** the CLI prints as one line (``NeuralsynthError`` and its kinds).
- **Feature conventions** (16 kHz, hop 128, n_fft 1024, 80 Slaney mel bands, 0–8 kHz,
  µ-law 255) and the **helpers** that implement them: STFT and its inverse, mel
  spectrogram and filterbank, mel → linear magnitude, µ-law, audio file I/O, atomic
  writes, checkpoints, the :class:`Notes` of a piece, and the dataset manifest.
"""

from __future__ import annotations

from neuralsynth.audio.constants import (
    F_MAX,
    F_MIN,
    HOP_LENGTH,
    MAG_FLOOR,
    MU,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
)
from neuralsynth.audio.mel_inversion import mel_to_linear
from neuralsynth.audio.spectral import (
    istft,
    mel_filterbank,
    mel_spectrogram,
    mu_law_decode,
    mu_law_encode,
    n_frames,
    read_audio,
    stft,
    stft_magnitude,
    write_audio,
)
from neuralsynth.checkpoint import load_checkpoint, save_checkpoint
from neuralsynth.components.params import ensure_valid, param
from neuralsynth.components.registry import Registry
from neuralsynth.data.manifest import Manifest, read_manifest
from neuralsynth.data.splits import TRAIN, VAL
from neuralsynth.errors import (
    AudioError,
    CheckpointError,
    DataError,
    MidiError,
    NeuralsynthError,
    PluginError,
    RecipeError,
    TimbreError,
    UsageError,
    did_you_mean,
)
from neuralsynth.fileio import atomic_path
from neuralsynth.losses.base import LOSSES, Loss
from neuralsynth.midi.notes import Notes
from neuralsynth.model.conditioners.base import CONDITIONERS, Conditioner
from neuralsynth.model.encoders.base import ENCODERS, Encoder
from neuralsynth.model.sequences.base import SEQUENCES, Sequence
from neuralsynth.training.base import TrainerBase, TrainingError, lr_schedule, spread_pieces
from neuralsynth.version import __version__
from neuralsynth.vocoders.base import VOCODERS, Vocoder
from neuralsynth.vocoders.score import Score

__all__ = [
    # base classes and registries
    "Encoder", "ENCODERS", "Conditioner", "CONDITIONERS", "Sequence", "SEQUENCES",
    "Vocoder", "VOCODERS", "Loss", "LOSSES", "TrainerBase", "Registry",
    # configuration
    "param", "ensure_valid",
    # errors
    "NeuralsynthError", "UsageError", "RecipeError", "PluginError", "DataError",
    "AudioError", "MidiError", "CheckpointError", "TimbreError", "TrainingError",
    "did_you_mean",
    # feature conventions
    "SAMPLE_RATE", "N_FFT", "HOP_LENGTH", "N_MELS", "F_MIN", "F_MAX", "MAG_FLOOR", "MU",
    # helpers
    "stft", "stft_magnitude", "istft", "mel_spectrogram", "mel_filterbank", "n_frames",
    "mel_to_linear", "mu_law_encode", "mu_law_decode", "read_audio", "write_audio",
    "atomic_path", "save_checkpoint", "load_checkpoint", "Notes", "Score", "Manifest",
    "read_manifest", "TRAIN", "VAL", "lr_schedule", "spread_pieces",
    "__version__",
]
