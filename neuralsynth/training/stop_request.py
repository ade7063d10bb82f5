"""Ctrl-C during training: stop cleanly at the next step boundary instead of mid-step."""

from __future__ import annotations

import signal
import threading
from typing import Any


class StopRequest:
    """First Ctrl-C: finish the current step, save last.pt, then stop. Second: default.

    Use as a context manager; ``requested`` turns True on the first SIGINT. The handler
    is only installed on the main thread, because Python allows signal handlers nowhere
    else; elsewhere Ctrl-C keeps its default behaviour.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True
        # A second Ctrl-C goes to the previous handler: the way out of a stuck step.
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
