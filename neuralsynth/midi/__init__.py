"""MIDI: reading files, notes and the sustain pedal, synthesiser events, GM instruments."""
