from neuralsynth.losses.base import LOSSES, Loss

__all__ = ["LOSSES", "Loss"]
