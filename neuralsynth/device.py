"""The torch device a command runs on, from a user's ``auto``/``cpu``/``cuda[:N]``."""

from __future__ import annotations

import torch

from neuralsynth.errors import UsageError


def resolve_device(name: str | None) -> torch.device:
    """``auto`` → ``cuda`` when a GPU is usable, else ``cpu``; checks explicit requests."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device '{name}' (use auto, cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{name}' requested but no CUDA GPU is available "
                             f"(use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device '{name}' does not exist ({torch.cuda.device_count()} "
                             f"GPU(s) present)")
    elif dev.type != "cpu":
        raise UsageError(f"unsupported device '{name}' (use auto, cpu, cuda or cuda:N)")
    return dev
