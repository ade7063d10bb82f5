"""WaveNet vocoder: model (teacher-forced training), weight export, inference engines.

Not registered as a vocoder yet: the registry entry, recipe and fast engines build on
these parts (issue 4).
"""

from .config import WaveNetConfig
from .model import WaveNet, initial_class
from .reference import ReferenceEngine, sample_from_logits
from .weights import export_weights, load_weights, save_weights

__all__ = ["ReferenceEngine", "WaveNet", "WaveNetConfig", "export_weights",
           "initial_class", "load_weights", "sample_from_logits", "save_weights"]
