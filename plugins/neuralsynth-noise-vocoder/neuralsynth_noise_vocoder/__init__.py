"""Example neuralsynth plugin: the ``noise_excitation`` vocoder."""

__version__ = "0.1.0"
