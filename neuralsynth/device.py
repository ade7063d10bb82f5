"""The torch device a command runs on, from a user's ``auto``/``cpu``/``cuda[:N]``.

Two steps, so a command line can be checked before torch is imported:
:func:`normalize_device` checks the text only (no torch, no GPU query) and
:func:`resolve_device` turns it into a ``torch.device`` that exists on this machine.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from neuralsynth.errors import UsageError

if TYPE_CHECKING:
    import torch

#: The device spellings every ``--device`` accepts, as a phrase for error messages.
DEVICE_FORMS = "auto, cpu, cuda or cuda:N (N = GPU index, e.g. cuda:1)"

_DEVICE_TEXT = re.compile(r"auto|cpu|cuda(?::\d+)?")


def normalize_device(name: str | None) -> str:
    """``" CUDA:1 "`` → ``"cuda:1"``; ``None``/empty → ``"auto"``.

    Checks the spelling only (whether the GPU exists is :func:`resolve_device`'s job), so
    it is cheap and torch-free; anything else raises a one-line :class:`UsageError`.
    """
    text = (name or "auto").strip().lower()
    if not _DEVICE_TEXT.fullmatch(text):
        raise UsageError(f"unknown device '{name}' (use {DEVICE_FORMS})")
    if text.startswith("cuda:"):                 # cuda:01 → cuda:1, as torch spells it
        text = f"cuda:{int(text[5:])}"
    return text


def resolve_device(name: str | None) -> torch.device:
    """``auto`` → ``cuda`` when a GPU is usable, else ``cpu``; checks explicit requests.

    ``cuda`` and ``cuda:N`` raise a one-line :class:`UsageError` when no CUDA GPU is
    usable or GPU N does not exist.
    """
    import torch  # here, so that checking a command line never imports torch

    text = normalize_device(name)
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(text)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{text}' requested but no CUDA GPU is available "
                             f"(use --device cpu or auto)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"device '{text}' does not exist ({torch.cuda.device_count()} "
                             f"GPU(s) present: cuda:0 to "
                             f"cuda:{torch.cuda.device_count() - 1})")
    return dev
