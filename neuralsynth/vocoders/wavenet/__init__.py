"""WaveNet vocoder: model (teacher-forced training), weight export, inference engines.

The inference engines that sample from the exported weights live in
:mod:`neuralsynth.vocoders.wavenet.engines`.
"""

from neuralsynth.vocoders.wavenet.config import WaveNetConfig
from neuralsynth.vocoders.wavenet.model import WaveNet, initial_class
from neuralsynth.vocoders.wavenet.weights import export_weights, load_weights, save_weights

__all__ = ["WaveNet", "WaveNetConfig", "export_weights", "initial_class", "load_weights",
           "save_weights"]
