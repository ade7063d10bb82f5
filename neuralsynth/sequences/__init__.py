from .base import SEQUENCES, Sequence

__all__ = ["SEQUENCES", "Sequence"]
