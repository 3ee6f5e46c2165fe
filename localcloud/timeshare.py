"""Where a run's wall time goes, measured cheaply enough to be on for every run.

Every moment is charged to exactly one of four shares:

- ``moto/botocore``: while any AWS API call is in flight (from any thread: the S3 writer puts objects
  from a thread pool), from the SDK's first step to its parsed answer, moto's work included;
- ``handlers``: inside a function invocation, outside its AWS calls (the project's code, Powertools);
- ``emulators``: inside the local cloud's emulators (``LocalCloud.pump``, the HTTP API), outside the
  two above;
- ``other``: everything else (the traffic client, the driver, settling's bookkeeping).

Two ``perf_counter`` reads and a lock per transition: a few microseconds per AWS call, against the
milliseconds the call itself costs. The nesting (an emulator invokes a handler, which calls AWS) is
tracked as seen from the thread that drives the cloud; ``python -m tools.demo --profile`` samples
stacks for the finer picture.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

HANDLERS: Final = "handlers"
AWS: Final = "moto/botocore"
EMULATORS: Final = "emulators"
OTHER: Final = "other"
SHARES: Final = (HANDLERS, AWS, EMULATORS, OTHER)


class TimeShares:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._stack: list[str] = [OTHER]
        self._calls = 0
        self._since = clock()
        self._seconds = dict.fromkeys(SHARES, 0.0)

    def _charge(self) -> None:
        now = self._clock()
        self._seconds[AWS if self._calls else self._stack[-1]] += now - self._since
        self._since = now

    @contextmanager
    def within(self, share: str) -> Iterator[None]:
        """Charge the time inside the block to ``share`` (AWS calls inside it to ``moto/botocore``)."""
        with self._lock:
            self._charge()
            self._stack.append(share)
        try:
            yield
        finally:
            with self._lock:
                self._charge()
                self._stack.pop()

    def call_started(self) -> None:
        with self._lock:
            self._charge()
            self._calls += 1

    def call_finished(self) -> None:
        with self._lock:
            self._charge()
            self._calls -= 1

    def seconds(self) -> dict[str, float]:
        """Seconds charged to each share so far (subtract two of these to time a window)."""
        with self._lock:
            self._charge()
            return dict(self._seconds)


def describe(seconds: dict[str, float]) -> str:
    """``handlers 12% · moto/botocore 55% · emulators 20% · other 13%``."""
    total = sum(seconds.values()) or 1.0
    return " · ".join(f"{share} {100 * seconds.get(share, 0.0) / total:.0f}%" for share in SHARES)


def between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {share: after[share] - before.get(share, 0.0) for share in after}


@contextmanager
def timing_aws_calls(shares: TimeShares) -> Iterator[None]:
    """While active, every botocore client's API calls are charged to ``moto/botocore``."""
    from botocore.client import BaseClient  # noqa: PLC0415

    original = BaseClient._make_api_call  # type: ignore[attr-defined]

    def timed(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        shares.call_started()
        try:
            return original(self, operation_name, api_params)
        finally:
            shares.call_finished()

    setattr(BaseClient, "_make_api_call", timed)  # noqa: B010 - a method swapped for the duration
    try:
        yield
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010
