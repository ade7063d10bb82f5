"""Inputs of dataset synthesis: the SoundFont and the MIDI files of a collection."""

from __future__ import annotations

import pytest

from neuralsynth.data import soundfont
from neuralsynth.data.midi_files import discover_midi, piece_keys
from neuralsynth.errors import DataError, UsageError


def test_find_soundfont(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="not found"):
        soundfont.find_soundfont(tmp_path / "missing.sf2")
    monkeypatch.setattr(soundfont, "DEFAULT_SOUNDFONTS", (str(tmp_path / "nope.sf3"),))
    with pytest.raises(DataError, match="no General MIDI SoundFont found"):
        soundfont.find_soundfont()
    font = tmp_path / "mine.sf2"
    font.write_bytes(b"RIFF")
    monkeypatch.setattr(soundfont, "DEFAULT_SOUNDFONTS", (str(tmp_path / "nope.sf3"), str(font)))
    assert soundfont.find_soundfont() == font


def test_discover_midi_and_unique_keys(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "song one.mid").write_bytes(b"x")
    (tmp_path / "a" / "notes.txt").write_text("not midi")
    files = discover_midi([tmp_path])
    assert [f.name for f in files] == ["song one.mid", "song one.mid"]
    assert piece_keys(files) == ["song_one", "song_one-2"]
    with pytest.raises(UsageError, match="no such file"):
        discover_midi([tmp_path / "missing"])


def test_a_file_reached_twice_is_taken_once(tmp_path):
    (tmp_path / "x.mid").write_bytes(b"x")
    (tmp_path / "y.mid").write_bytes(b"y")
    files = discover_midi([tmp_path / "y.mid", tmp_path])
    assert [f.name for f in files] == ["y.mid", "x.mid"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no MIDI files found in"):
        discover_midi([tmp_path / "empty"])
