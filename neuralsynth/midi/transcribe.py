"""Notes from a recording, for fitting a timbre without its MIDI (``timbre fit --transcribe``).

The note model is Spotify's Basic Pitch (ICASSP 2022), in the ONNX form that ships inside
its pip package: nothing is downloaded at run time. Only the model file is used; the
package itself is never imported (its own requirements pull TensorFlow, which ONNX
Runtime replaces), so it is installed with ``pip install --no-deps basic-pitch``.
Windowing and note decoding are our own:

- the audio, resampled to 22.05 kHz, is cut into the model's 2-s windows (43 844
  samples, 172 frames of 256 samples); 15 frames at each edge of a window see padding
  or a cut, so windows overlap by 30 frames and only their middle 142 frames are kept;
- a note starts at a local maximum of the onset activation above ``onset`` and lasts
  while the note activation stays above ``frame`` (short dips bridged), until the next
  onset of the same key; notes shorter than ``min_seconds`` are dropped.

The timbre fit searches a constant offset between audio and notes, so the model's few
milliseconds of latency do not matter there.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from neuralsynth.errors import NeuralsynthError, require_extra
from neuralsynth.midi.notes import Notes

RATE = 22050
HOP = 256
WINDOW = 43844                      # samples the model takes (2 s minus one hop)
FRAMES = 172                        # frames it returns for them
EDGE = 15                           # frames at each edge that are not trusted
KEEP = FRAMES - 2 * EDGE            # frames kept per window
LOWEST_KEY = 21                     # A0: the model's 88 keys are the piano's
#: Where the pip package keeps the model, relative to its folder.
MODEL_FILE = "saved_models/icassp_2022/nmp.onnx"
#: Frames of the note activation below ``frame`` that still continue a note (35 ms).
_BRIDGE = 3


def model_path() -> Path:
    """The Basic Pitch ONNX file inside the installed package, found without importing
    it; a one-line error saying how to install it when it is missing."""
    spec = importlib.util.find_spec("basic_pitch")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / MODEL_FILE
        if path.is_file():
            return path
    raise NeuralsynthError("--transcribe needs Basic Pitch's note model: pip install "
                           "onnxruntime && pip install --no-deps basic-pitch==0.4.0")


def check_available() -> Path:
    """The note model's path when ONNX Runtime and the model are installed; otherwise a
    one-line error saying what to install (cheap: nothing is loaded)."""
    require_extra("onnxruntime", "transcribe", "--transcribe")
    return model_path()


class Transcriber:
    """Audio → notes with the Basic Pitch ONNX model on ONNX Runtime.

    ``activations(wave [N] float32 at 16 kHz)`` → ``(onset [F, 88], note [F, 88])`` at
    22050/256 frames per second; ``notes(wave)`` → :class:`~neuralsynth.midi.notes.Notes`.
    """

    def __init__(self, *, onset: float = 0.5, frame: float = 0.3, min_seconds: float = 0.12):
        path = check_available()
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3          # its warnings are not the user's business
        self._session = onnxruntime.InferenceSession(str(path), options,
                                                     providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        outputs = {o.name: o.shape[-1] for o in self._session.get_outputs()}
        # The exported graph names its outputs StatefulPartitionedCall:0..2; the
        # 264-wide one is the pitch contour, :2 the onsets and :1 the notes.
        self._onset, self._note = "StatefulPartitionedCall:2", "StatefulPartitionedCall:1"
        if outputs.get(self._onset) != 88 or outputs.get(self._note) != 88:
            raise NeuralsynthError(f"{path}: unexpected outputs {outputs}; "
                                   f"install basic-pitch==0.4.0")
        self.onset, self.frame, self.min_seconds = float(onset), float(frame), min_seconds

    def activations(self, wave: np.ndarray, sample_rate: int = 16000):
        import soxr

        audio = soxr.resample(np.asarray(wave, np.float32), sample_rate, RATE, quality="HQ")
        n_frames = -(-audio.shape[0] // HOP)
        n_windows = max(1, -(-n_frames // KEEP))
        # Window k covers frames k*KEEP - EDGE ... k*KEEP - EDGE + FRAMES - 1.
        padded = np.zeros(EDGE * HOP + n_windows * KEEP * HOP + WINDOW, np.float32)
        padded[EDGE * HOP:EDGE * HOP + audio.shape[0]] = audio
        onsets, notes = [], []
        for first in range(0, n_windows, 8):         # a few windows per call: bounded memory
            batch = np.stack([padded[k * KEEP * HOP:k * KEEP * HOP + WINDOW]
                              for k in range(first, min(first + 8, n_windows))])
            onset, note = self._session.run([self._onset, self._note],
                                            {self._input: batch[..., None]})
            onsets.append(onset[:, EDGE:EDGE + KEEP].reshape(-1, 88))
            notes.append(note[:, EDGE:EDGE + KEEP].reshape(-1, 88))
        return np.concatenate(onsets)[:n_frames], np.concatenate(notes)[:n_frames]

    def notes(self, wave: np.ndarray, sample_rate: int = 16000) -> Notes:
        onset, note = self.activations(wave, sample_rate)
        return decode(onset, note, onset_threshold=self.onset, frame_threshold=self.frame,
                      min_frames=max(1, int(round(self.min_seconds * RATE / HOP))))


def decode(onset: np.ndarray, note: np.ndarray, *, onset_threshold: float = 0.5,
           frame_threshold: float = 0.3, min_frames: int = 10) -> Notes:
    """Notes from onset and note activations ``[F, 88]`` (see the module's docstring)."""
    frames = onset.shape[0]
    peak = (onset >= onset_threshold)
    peak[1:] &= onset[1:] >= onset[:-1]
    peak[:-1] &= onset[:-1] > onset[1:]
    starts, ends, keys, vels = [], [], [], []
    for key in range(onset.shape[1]):
        hits = np.flatnonzero(peak[:, key])
        for i, t0 in enumerate(hits):
            stop = hits[i + 1] if i + 1 < len(hits) else frames
            t, quiet = t0 + 1, 0
            while t < stop and quiet <= _BRIDGE:
                quiet = 0 if note[t, key] >= frame_threshold else quiet + 1
                t += 1
            t1 = t - quiet
            if t1 - t0 < min_frames:
                continue
            starts.append(t0)
            ends.append(t1)
            keys.append(key + LOWEST_KEY)
            vels.append(int(np.clip(round(127 * float(note[t0:t1, key].max())), 1, 127)))
    order = np.lexsort((np.asarray(keys), np.asarray(starts))) if starts else np.zeros(0, int)
    sec = HOP / RATE
    return Notes(start=np.asarray(starts, np.float64)[order] * sec,
                 end=np.asarray(ends, np.float64)[order] * sec,
                 pitch=np.asarray(keys, np.int16)[order],
                 velocity=np.asarray(vels, np.int16)[order],
                 program=np.zeros(len(starts), np.int16))


__all__ = ["Transcriber", "check_available", "decode", "model_path"]
