"""Standard output carries only what the command is for, also where ``CI`` is set.

pyfluidsynth prints a line on import when ``CI`` is set (and pretty_midi imports it): on
standard output that line broke the ``tracks`` table and would corrupt ``render -o -``,
whose standard output is the audio file. These run the installed command the way CI does.
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import soundfile as sf

from neuralsynth.midi.quiet_imports import pretty_midi
from tests.installed import neuralsynth_command

EXAMPLES = Path(__file__).resolve().parents[2] / "neuralsynth" / "assets" / "examples"




def _run(*args: str, text: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "true"}
    proc = subprocess.run([neuralsynth_command(), *args], capture_output=True, text=text,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_tracks_table_is_all_of_stdout():
    quartet = EXAMPLES / "quartet.mid"
    lines = _run("tracks", str(quartet)).stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "name", "program"]
    assert lines[-1].startswith("5 tracks,") and len(lines) == 7


def test_render_to_stdout_is_a_wav_file(tmp_path):
    pm = pretty_midi().PrettyMIDI()
    inst = pretty_midi().Instrument(program=0)
    inst.notes.append(pretty_midi().Note(velocity=90, pitch=64, start=0.1, end=0.9))
    pm.instruments.append(inst)
    midi = tmp_path / "one.mid"
    pm.write(str(midi))
    proc = _run("render", str(midi), "-o", "-", "--tail", "0.2", "-q", text=False)
    assert proc.stdout[:4] == b"RIFF", proc.stdout[:80]
    audio, rate = sf.read(io.BytesIO(proc.stdout))
    assert rate == 16000 and audio.size > 16000 and abs(audio).max() > 0.01
