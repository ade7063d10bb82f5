"""Inference: loading trained models, rendering MIDI, exporting and describing models."""
