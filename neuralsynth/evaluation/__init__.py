"""Quality checks of trained models against the FluidSynth renderings of a dataset."""

from neuralsynth.evaluation.distance import METRIC, METRICS, spectral_distance
from neuralsynth.evaluation.report import format_result
from neuralsynth.evaluation.timbre_check import (
    MixResult,
    TimbreCheckResult,
    mix_pairs_from_spec,
    timbre_check,
)

__all__ = ["METRIC", "METRICS", "MixResult", "TimbreCheckResult", "format_result",
           "mix_pairs_from_spec", "spectral_distance", "timbre_check"]
