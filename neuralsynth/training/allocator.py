"""Keep the memory of one training step for the next (glibc's malloc on Linux).

A Mel2Mel step on the CPU allocates and frees the same large buffers every step (the
LSTM's activations and workspaces, tens of MB). glibc hands blocks that large back to
the operating system when they are freed (``mmap``/``munmap``, and trimming the heap
top), so the next step takes every page again as a fresh page fault: measured on the
100-instrument CPU recipe, ~86 000 faults a second, half of the CPU time in the kernel,
4.0 instead of 2.6 steps/s once the memory was kept. Raising the two thresholds makes
the freed blocks stay in the process and be reused.

Only the training command calls this (it changes the whole process's allocator); a
user's own ``MALLOC_*`` environment settings win, and other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Freed blocks up to this size stay in the process, and so may this much free heap top.
KEEP_BYTES = 1 << 30
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_",
                  "GLIBC_TUNABLES")


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep large freed blocks; True when it took effect."""
    if not sys.platform.startswith("linux") or any(k in os.environ for k in _USER_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):          # not glibc (musl, ...): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # Older glibc caps the mmap threshold at 32 MB; take the largest it accepts.
    kept = any(mallopt(_M_MMAP_THRESHOLD, size) == 1
               for size in (KEEP_BYTES, 32 << 20))
    return kept and mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES) == 1


__all__ = ["keep_freed_memory", "KEEP_BYTES"]
