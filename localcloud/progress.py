"""A tiny progress bar (one line, redrawn in place on a terminal; every 10% otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(total, 1)
        self.label = label
        self.done = 0
        self._stream = stream or sys.stderr
        self._width = width
        self._started = time.perf_counter()
        self._tty = self._stream.isatty()
        self._last_decile = -1

    def update(self, count: int) -> None:
        self.done += count
        decile = self.done * 10 // self.total
        if not self._tty and decile == self._last_decile:
            return
        self._last_decile = decile
        self._draw(end="" if self._tty else "\n")

    def close(self) -> None:
        if self._tty:
            self._draw(end="\n")

    def _draw(self, end: str) -> None:
        elapsed = time.perf_counter() - self._started
        filled = self._width * min(self.done, self.total) // self.total
        rate = self.done / elapsed if elapsed else 0.0
        line = (
            f"{self.label} [{'#' * filled}{'.' * (self._width - filled)}] "
            f"{self.done:,}/{self.total:,}  {rate:,.0f}/s  {elapsed:5.1f} s"
        )
        self._stream.write(("\r" if self._tty else "") + line + end)
        self._stream.flush()
