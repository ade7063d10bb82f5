"""A bounded worker pool: renders and fits run a few at a time; a burst queues, and a
burst beyond the queue is refused (503) instead of exhausting memory."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from neuralsynth.serve.limits import ApiError


class WorkerPool:
    """``await pool.run(fn, *args)`` runs ``fn`` on one of ``workers`` threads; at most
    ``workers + queue`` calls are admitted at once, later ones get ApiError(503)."""

    def __init__(self, workers: int, queue: int):
        self.workers = max(1, int(workers))
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="render")
        self._capacity = self.workers + max(0, int(queue))
        self._admitted = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        """Calls admitted and not finished (running or waiting)."""
        return self._admitted

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        with self._lock:
            if self._admitted >= self._capacity:
                raise ApiError(503, f"the server is busy ({self._admitted} renders running "
                                    f"or waiting); try again in a moment")
            self._admitted += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            with self._lock:
                self._admitted -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


__all__ = ["WorkerPool"]
