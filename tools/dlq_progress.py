"""A tiny progress bar for the replay tools (no dependencies); the DLQ replay engine reports to it."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO


class ProgressBar:
    """``[#######.......]  42/100  42%  replayed=40 failed=2  35.1/s`` on one line, redrawn in place."""

    def __init__(
        self,
        total: int,
        *,
        enabled: bool,
        stream: TextIO = sys.stderr,
        width: int = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._total = max(total, 1)
        self._enabled = enabled
        self._stream = stream
        self._width = width
        self._clock = clock
        self._started = clock()
        self._drawn = 0.0
        self._done = 0

    def update(self, done: int, counts: Mapping[str, int]) -> None:
        self._done = done
        now = self._clock()
        if not self._enabled or (now - self._drawn < 0.1 and done < self._total):
            return
        self._drawn = now
        filled = self._width * done // self._total
        rate = done / (now - self._started) if now > self._started else 0.0
        tally = " ".join(f"{name}={value}" for name, value in counts.items() if value)
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (self._width - filled)}] {done}/{self._total} "
            f"{100 * done // self._total:3d}%  {tally}  {rate:.1f}/s\033[K"
        )
        self._stream.flush()

    def close(self) -> None:
        if self._enabled:
            self._stream.write("\n")
            self._stream.flush()
