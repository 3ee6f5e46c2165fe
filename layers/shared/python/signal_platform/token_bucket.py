"""A token bucket: ``rate`` tokens a second, at most ``capacity`` saved up."""

from __future__ import annotations

import math
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a positive rate and room for one token")
        self._rate = rate
        self._capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._at = clock()

    def _refill(self) -> float:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        return self._tokens

    def take(self, tokens: float = 1.0) -> bool:
        """Take ``tokens`` if the bucket holds them; else take nothing."""
        if self._refill() < tokens:
            return False
        self._tokens -= tokens
        return True

    def seconds_until(self, tokens: float = 1.0) -> int:
        """Whole seconds (at least 1) until ``tokens`` are in the bucket: a Retry-After value."""
        missing = max(0.0, min(tokens, self._capacity) - self._refill())
        return max(1, math.ceil(missing / self._rate))
