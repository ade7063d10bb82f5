from neuralsynth.model.encoders.base import ENCODERS, Encoder

__all__ = ["ENCODERS", "Encoder"]
