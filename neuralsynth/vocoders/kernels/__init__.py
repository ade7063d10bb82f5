"""WaveNet inference engines sharing one weight export: reference (torch), cpu, cuda."""

from .base import Engine, StreamState, sample_from_logits
from .reference import ReferenceEngine

__all__ = ["Engine", "ReferenceEngine", "StreamState", "sample_from_logits"]
