"""Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to sleep before retry ``attempt`` (1-based): uniform in [0, min(cap, base * 2**attempt))."""
    return rand() * min(cap, base * (2 ** (attempt - 1)))
