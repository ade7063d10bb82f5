from .base import VOCODERS, Vocoder

__all__ = ["VOCODERS", "Vocoder"]
