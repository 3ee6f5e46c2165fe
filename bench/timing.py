"""In-process timing: ``perf_counter_ns`` over calibrated loops, best-of and median of repeats."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

# Each repeat runs long enough (~15 ms) that timer resolution and scheduler ticks are noise.
REPEAT_NS: Final = 15_000_000
REPEATS: Final = 9
# measure_together: many short repeats, because on a busy machine the best of them is the steadiest.
TOGETHER_REPEATS: Final = 5 * REPEATS


@dataclass(frozen=True, slots=True)
class Timing:
    """Nanoseconds per call: the best repeat (least disturbed) and the median one."""

    best_ns: float
    median_ns: float
    loops: int

    def per(self, items: int) -> Timing:
        """The same timing divided over ``items`` (e.g. per event of a request)."""
        return Timing(self.best_ns / items, self.median_ns / items, self.loops)


def _loop_ns(fn: Callable[[], object], loops: int) -> int:
    """Wall time of ``loops`` calls, with the cyclic GC paused (as ``timeit`` does)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        return time.perf_counter_ns() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def _calibrate(fn: Callable[[], object], target_ns: int) -> int:
    """Loops per repeat so that one repeat takes about ``target_ns`` (at least one loop)."""
    loops = 1
    while True:
        elapsed = _loop_ns(fn, loops)
        if elapsed >= target_ns // 4 or loops >= 1 << 24:
            return max(1, math.ceil(loops * target_ns / max(elapsed, 1)))
        loops *= 8 if elapsed < target_ns // 64 else 2


def measure(fn: Callable[[], object], *, repeats: int = REPEATS, target_ns: int = REPEAT_NS) -> Timing:
    fn()  # warm caches (compiled validators, source lookups) outside the measurement
    loops = _calibrate(fn, target_ns)
    samples = [_loop_ns(fn, loops) / loops for _ in range(repeats)]
    return Timing(min(samples), statistics.median(samples), loops)


def _cpu_loop_ns(fn: Callable[[], object], loops: int) -> int:
    """CPU time of ``loops`` calls (``process_time_ns``: time this process was descheduled on a
    busy machine does not count), with the cyclic GC paused."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time_ns()
        for _ in range(loops):
            fn()
        return time.process_time_ns() - start
    finally:
        if gc_was_enabled:
            gc.enable()


def measure_together(
    fns: Mapping[str, Callable[[], object]],
    *,
    repeats: int = TOGETHER_REPEATS,
    target_ns: int = REPEAT_NS // 4,
) -> dict[str, Timing]:
    """CPU time per call of each of ``fns``, their repeats interleaved (a, b, c, a, b, c, ...) so that
    load elsewhere on the machine falls on all of them alike: meant for ratios within one run."""
    loops = {}
    for name, fn in fns.items():
        fn()  # warm caches outside the measurement
        loops[name] = _calibrate(fn, target_ns)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(_cpu_loop_ns(fn, loops[name]) / loops[name])
    return {
        name: Timing(min(values), statistics.median(values), loops[name]) for name, values in samples.items()
    }
