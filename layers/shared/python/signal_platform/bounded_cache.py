"""A small in-memory cache with a size cap (least recently used out first) and a time to live.

Per-container caches fed by what clients send (write keys, source ids) must not grow with what an
attacker invents: every entry expires, and the least recently used one makes room for a new one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedTtlCache(Generic[V]):
    def __init__(self, max_entries: int, ttl_seconds: float, clock: Callable[[], float]) -> None:
        if max_entries < 1:
            raise ValueError("a bounded cache holds at least one entry")
        self._max = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> tuple[bool, V | None]:
        """(True, value) while ``key`` is fresh; (False, None) when absent or expired. An expired
        entry stays (``stale``) until it is replaced or evicted."""
        entry = self._entries.get(key)
        if entry is None or self._clock() >= entry[0]:
            return False, None
        self._entries.move_to_end(key)
        return True, entry[1]

    def stale(self, key: str) -> tuple[bool, V | None]:
        """The entry, fresh or expired: a fallback while it cannot be refreshed."""
        entry = self._entries.get(key)
        return (False, None) if entry is None else (True, entry[1])

    def put(self, key: str, value: V) -> None:
        self._entries[key] = (self._clock() + self._ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def pop(self, key: str) -> None:
        self._entries.pop(key, None)
