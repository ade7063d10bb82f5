"""Every component registry, by kind, in the order a recipe uses them."""

from __future__ import annotations

from .conditioners.base import CONDITIONERS
from .encoders.base import ENCODERS
from .losses.base import LOSSES
from .registry import Registry
from .sequences.base import SEQUENCES
from .vocoders.base import VOCODERS

REGISTRIES: dict[str, Registry] = {
    "encoder": ENCODERS,
    "conditioner": CONDITIONERS,
    "sequence": SEQUENCES,
    "vocoder": VOCODERS,
    "loss": LOSSES,
}
