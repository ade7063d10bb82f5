from neuralsynth.vocoders.base import VOCODERS, Vocoder

__all__ = ["VOCODERS", "Vocoder"]
