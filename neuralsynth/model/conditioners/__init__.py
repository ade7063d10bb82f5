from neuralsynth.model.conditioners.base import CONDITIONERS, Conditioner

__all__ = ["CONDITIONERS", "Conditioner"]
