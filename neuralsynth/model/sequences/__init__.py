from neuralsynth.model.sequences.base import SEQUENCES, Sequence

__all__ = ["SEQUENCES", "Sequence"]
