"""Audio: the feature conventions, spectrograms and mel inversion, audio files."""
