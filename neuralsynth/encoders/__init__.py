from .base import ENCODERS, Encoder

__all__ = ["ENCODERS", "Encoder"]
