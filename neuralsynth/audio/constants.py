"""The audio and feature conventions of the Mel2Mel paper, in one place, without torch.

Everything that needs a sample rate, hop or mel size imports it from here, so a light
module (a recipe check, a data script, the web page's server) never pays for torch.
"""

SAMPLE_RATE = 16000      # Hz, mono
N_FFT = 1024             # Hann window and FFT size, samples
HOP_LENGTH = 128         # samples per frame (8 ms)
N_MELS = 80              # Slaney mel bands, F_MIN to F_MAX
F_MIN = 0.0
F_MAX = 8000.0
MAG_FLOOR = 1e-5         # magnitudes are clipped here (-100 dB) before any log
MU = 255                 # µ-law: 256 levels

__all__ = ["SAMPLE_RATE", "N_FFT", "HOP_LENGTH", "N_MELS", "F_MIN", "F_MAX", "MAG_FLOOR", "MU"]
