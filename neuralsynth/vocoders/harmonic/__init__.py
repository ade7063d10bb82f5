"""The score-informed harmonic vocoder: partials at the notes' frequencies, amplitudes from
the mel, continuous-phase additive synthesis plus a residual noise (docs/vocoder.md)."""
