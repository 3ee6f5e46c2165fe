"""Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter")."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to sleep after failed ``attempt`` (1-based).

    Uniform in [0, min(cap, base * 2**(attempt-1))).
    """
    # The exponent is bounded so that a long retry loop cannot overflow before the cap applies.
    return rand() * min(cap, base * 2.0 ** min(attempt - 1, 32))
