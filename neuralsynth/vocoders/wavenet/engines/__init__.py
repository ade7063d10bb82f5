"""WaveNet inference engines sharing one weight export: reference (torch), cpu, cuda."""

from neuralsynth.vocoders.wavenet.engines.base import Engine, StreamState, sample_from_logits
from neuralsynth.vocoders.wavenet.engines.reference import ReferenceEngine

__all__ = ["Engine", "ReferenceEngine", "StreamState", "sample_from_logits"]
