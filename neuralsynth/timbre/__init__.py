"""Timbre: points of the learned timbre space (instruments, mixes, coordinates), morph
paths through it, and parsing the specs that name them."""
