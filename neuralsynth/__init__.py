"""neuralsynth: MIDI to audio with a learned, continuous timbre space (Mel2Mel)."""

__version__ = "0.1.0"
