"""Work due at a time on the virtual clock, taken in (due, arrival) order.

The emulators that hold work back (rule deliveries and Lambda's asynchronous invocations with their
retries, replication to the other Region while it is down) keep it in a ``DueQueue``: an item
pushed again for a retry goes behind everything already due at that time, as a fresh arrival.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar


class Dated(Protocol):
    due: float  # when the item is next taken; the queue sets it


DatedT = TypeVar("DatedT", bound=Dated)


class DueQueue(Generic[DatedT]):
    def __init__(self) -> None:
        # (due, arrival, item): the arrival number is unique, so items themselves are never compared.
        self._heap: list[tuple[float, int, DatedT]] = []
        self._arrivals = itertools.count()

    def push(self, item: DatedT, due: float) -> None:
        item.due = due
        heapq.heappush(self._heap, (due, next(self._arrivals), item))

    def take(self, now: float) -> Iterator[DatedT]:
        """The items due at ``now`` or before, earliest first, each removed as it is taken; one
        pushed meanwhile that is due by ``now`` is taken in its turn."""
        while self._heap and self._heap[0][0] <= now:
            yield heapq.heappop(self._heap)[2]

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def clear(self) -> None:
        self._heap.clear()

    def __len__(self) -> int:
        return len(self._heap)

    def __iter__(self) -> Iterator[DatedT]:
        """Every item waiting, in no particular order."""
        return (item for _, _, item in self._heap)
