"""What each section of a recipe holds.

- ``encoder``, ``conditioner``, ``sequence``, ``vocoder``, ``loss``: a registered
  component, named from its registry (:data:`REGISTRIES`);
- ``data`` and ``train``: the typed dataclasses :class:`DataConfig` and
  :class:`TrainConfig`. Like component ``Config`` classes, every field is declared with
  :func:`neuralsynth.components.params.param`, so the recipe validator checks types the
  same way and the recipe reference (``docs/recipes.md``) is generated from the same help
  strings. Defaults of :class:`TrainConfig` are the paper's Mel2Mel training values.
"""

from __future__ import annotations

import dataclasses

from neuralsynth.audio.constants import HOP_LENGTH
from neuralsynth.components.params import param
from neuralsynth.components.registry import Registry

#: Fields of :class:`TrainConfig` that must be strictly positive.
_POSITIVE = ("lr", "steps", "batch_size", "segment_samples", "val_every", "checkpoint_every")
#: Fields where 0 switches the feature off and negative values make no sense.
_NON_NEGATIVE = ("lr_halve_every", "grad_clip", "val_pieces", "val_crops")
#: What ``train.task`` can name.
TASKS = ("mel2mel", "vocoder")


@dataclasses.dataclass
class DataConfig:
    """Which dataset to train on and which of its instruments, in embedding-row order."""

    dataset: str = param(dataclasses.MISSING,
                         "dataset directory holding manifest.json (made by `neuralsynth data`), "
                         "relative to the working directory")
    instruments: list[str] = param(dataclasses.MISSING,
                                   "instruments to learn, one embedding row each, in this order; "
                                   "canonical names (grand_piano) or aliases (piano)")

    def check(self) -> list[tuple[str, str]]:
        """Problems that a type check cannot see, as ``(field, message)``."""
        problems = []
        if not self.dataset.strip():
            problems.append(("dataset", "expected a dataset directory, got an empty string"))
        if not self.instruments:
            problems.append(("instruments", "expected at least one instrument, got an empty list"))
        return problems


@dataclasses.dataclass
class TrainConfig:
    """Optimisation schedule and bookkeeping of a training run (paper values by default).

    Defaults are the paper's Mel2Mel values; a ``task: vocoder`` recipe sets its own
    (``recipes/wavenet_vocoder.yaml`` has the paper's WaveNet ones).
    """

    task: str = param("mel2mel", "what to train: mel2mel (the synthesizer) or vocoder (the "
                                 "recipe's vocoder on the dataset's audio and ground-truth "
                                 "mel)", choices=TASKS)
    lr: float = param(0.002, "Adam learning rate at step 0")
    lr_halve_every: int = param(40000, "halve the learning rate every this many steps (0: never)")
    steps: int = param(100000, "number of optimisation steps")
    batch_size: int = param(128, "sequences per batch")
    segment_samples: int = param(65536, "audio samples per training sequence "
                                        "(65536 = 512 frames at hop 128)")
    seed: int = param(0, "random seed for initialisation and batch sampling")
    val_every: int = param(1000, "compute the validation loss every this many steps")
    val_pieces: int = param(0, "validate on this many validation pieces (every instrument "
                                  "of each), spread evenly over the split; 0: all of them. "
                                  "A large split costs minutes per validation on a CPU")
    val_crops: int = param(4, "task vocoder: segment_samples crops scored per validation item, "
                              "evenly spaced over it (0: every whole segment); a WaveNet "
                              "scores every sample, so whole items are slow on a CPU")
    checkpoint_every: int = param(1000, "write a checkpoint every this many steps")
    grad_clip: float = param(1.0, "clip the global gradient norm to this value (0: no clipping)")
    device: str = param("auto", "where to train; auto picks cuda when a GPU is present",
                        choices=("auto", "cpu", "cuda"))
    precision: str = param("fp32", "fp32, or bf16: the forward pass and loss under bf16 "
                                   "autocast (CUDA only; weights and optimizer stay fp32)",
                           choices=("fp32", "bf16"))
    out: str = param("", "run directory for checkpoints and logs; empty means runs/NAME, "
                         "NAME being the recipe's name")

    def check(self) -> list[tuple[str, str]]:
        """Range problems that a type check cannot see, as ``(field, message)``."""
        problems = []
        for name in _POSITIVE:
            value = getattr(self, name)
            if value <= 0:
                problems.append((name, f"expected a value > 0, got {value!r}"))
        for name in _NON_NEGATIVE:
            value = getattr(self, name)
            if value < 0:
                problems.append((name, f"expected a value >= 0 (0 switches it off), got {value!r}"))
        if self.task == "vocoder" and self.segment_samples > 0 \
                and self.segment_samples % HOP_LENGTH:
            # A vocoder learns one mel frame per hop of samples, so crops are whole frames.
            problems.append(("segment_samples", f"task vocoder needs a multiple of "
                                                f"{HOP_LENGTH} samples (whole mel frames), "
                                                f"got {self.segment_samples!r}"))
        return problems


def required_fields(config_cls: type) -> list[str]:
    """Names of the dataclass fields that have no default (must appear in the recipe)."""
    return [f.name for f in dataclasses.fields(config_cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING]  # type: ignore[misc]


def _registries() -> dict[str, Registry]:
    # The base classes import torch; reading a recipe's dataclasses must not.
    from neuralsynth.losses.base import LOSSES
    from neuralsynth.model.conditioners.base import CONDITIONERS
    from neuralsynth.model.encoders.base import ENCODERS
    from neuralsynth.model.sequences.base import SEQUENCES
    from neuralsynth.vocoders.base import VOCODERS

    return {"encoder": ENCODERS, "conditioner": CONDITIONERS, "sequence": SEQUENCES,
            "vocoder": VOCODERS, "loss": LOSSES}


def __getattr__(name: str):
    """``REGISTRIES``: every component registry by recipe section, in recipe order; built
    on first use (module ``__getattr__``) so importing this module stays torch-free."""
    if name == "REGISTRIES":
        return _registries()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
