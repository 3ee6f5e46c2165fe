"""The local cloud's clock: virtual time that jumps over idle waits, or the wall clock.

Retry backoff, batching windows, visibility timeouts and record ages of the emulators are measured on
this clock. ``VirtualClock`` is the wall clock plus an offset: while work is flowing it advances with
real time, and when everything waits (a 60 s Lambda retry delay, a 5 s batching window, a 24 h
record age) the cloud moves the offset forward instead of sleeping, so a day of retries takes
milliseconds and stays in the same order. ``WallClock`` is for the long-running `make local`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import inspect
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any, Final, Protocol
from unittest import mock

# The real clock and sleep, taken before the cloud points function code at its own (below).
_wall_time: Final = time.time
_wall_sleep: Final = time.sleep
# Powertools' idempotency modules that read the time (in-progress and record expiry).
_IDEMPOTENCY_MODULES: Final = tuple(
    f"aws_lambda_powertools.utilities.idempotency.persistence.{name}"
    for name in ("base", "datarecord", "dynamodb")
)


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, on this clock."""
        ...

    def wait_until(self, moment: float, *, at_most: float) -> None:
        """Let time pass until ``moment`` (never more than ``at_most`` real seconds of sleeping)."""
        ...


class VirtualClock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return _wall_time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, seconds)

    def wait_until(self, moment: float, *, at_most: float) -> None:  # noqa: ARG002 - nothing to sleep
        self.advance(moment - self.now())

    @property
    def skipped(self) -> float:
        """Seconds of waiting the clock jumped over."""
        return self._offset


class WallClock:
    def now(self) -> float:
        return _wall_time()

    def wait_until(self, moment: float, *, at_most: float) -> None:
        time.sleep(max(0.0, min(at_most, moment - _wall_time())))


# The clock the functions read, and how they wait on it, while a cloud runs (None: the wall clock).
_cloud_now: Callable[[], float] | None = None
_cloud_sleep: Callable[[float], None] | None = None
# Set on the thread that runs function code, for the length of one invocation.
_running_function = threading.local()


def cloud_time() -> float:
    """``time.time`` for function code: the running cloud's clock, or the wall clock without one.
    A function that bound ``time.time`` while the cloud ran keeps this one, which stays right after."""
    now = _cloud_now
    return now() if now is not None else _wall_time()


def cloud_sleep(seconds: float) -> None:
    """``time.sleep`` while a cloud runs: in function code, a wait on the cloud's clock (a virtual
    clock jumps over it, as over every other wait); anywhere else (the cloud's own loop, moto's
    threads, a test) or without a cloud, a real sleep."""
    sleep = _cloud_sleep
    if sleep is not None and getattr(_running_function, "active", False):
        sleep(seconds)
    else:
        _wall_sleep(seconds)


@contextlib.contextmanager
def function_code() -> Iterator[None]:
    """Marks this thread as running one invocation's function code (its sleeps wait on the cloud)."""
    _running_function.active = True
    try:
        yield
    finally:
        _running_function.active = False


def sleep_on(clock: Clock) -> Callable[[float], None]:
    """A sleep of ``seconds`` on ``clock``: the wall clock sleeps them, a virtual clock skips them."""

    def sleep(seconds: float) -> None:
        clock.wait_until(clock.now() + max(0.0, seconds), at_most=max(0.0, seconds))

    return sleep


@contextlib.contextmanager
def functions_on_the_cloud_clock(
    now: Callable[[], float],
    packages: Iterable[str] = (),
    sleep: Callable[[float], None] | None = None,
) -> Iterator[None]:
    """The functions' "now" is the cloud's: ``time.time()`` and the ``datetime.now()`` of Powertools'
    idempotency read the cloud's clock while it runs.

    Function code compares times it wrote with times it reads later: an idempotency record in
    progress expires with the invocation's remaining time, a lake ledger attempt has a deadline. A
    retry comes a minute (or a day) later on the cloud's clock, which jumps over waits; read on the
    wall clock, that minute would not have passed, and every retry would still find the record of a
    timed-out invocation in progress. Code of ``packages`` (the functions' and the layer's) that bound
    ``time.time`` when it was imported, before the cloud started (a default argument), is pointed at
    the cloud's clock too, and back afterwards. moto reads its own ``utcnow`` and is not affected;
    the cloud's clocks keep the real time they captured above.

    With ``sleep``, their retry back-off (``time.sleep``, also bound as a default argument before or
    after the cloud started) waits on the cloud's clock too, inside ``function_code``: a virtual clock
    jumps over it instead of holding a test for the seconds a throttled bus's retries take in AWS.
    """
    # One cloud runs at a time: its clock is the functions' clock.
    global _cloud_now, _cloud_sleep

    class CloudDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Any:
            return dt.datetime.fromtimestamp(cloud_time(), tz)

    shim = SimpleNamespace(**{name: getattr(dt, name) for name in dir(dt) if not name.startswith("__")})
    shim.datetime = CloudDatetime
    previous, _cloud_now = _cloud_now, now
    previous_sleep, _cloud_sleep = _cloud_sleep, sleep
    try:
        with contextlib.ExitStack() as patches:
            patches.enter_context(mock.patch.object(time, "time", cloud_time))
            if sleep is not None:
                patches.enter_context(mock.patch.object(time, "sleep", cloud_sleep))
            patches.callback(_rebind_wall_clock_defaults(tuple(packages)))
            for name in _IDEMPOTENCY_MODULES:
                try:
                    module = importlib.import_module(name)
                except ImportError:  # Powertools without idempotency (or a newer layout): nothing to align
                    continue
                if hasattr(module, "dt"):
                    patches.enter_context(mock.patch.object(module, "dt", shim))
            yield
    finally:
        _cloud_now, _cloud_sleep = previous, previous_sleep


def _rebind_wall_clock_defaults(packages: tuple[str, ...]) -> Callable[[], None]:
    """Default arguments that are the wall clock's ``time.time`` or ``time.sleep``, in the loaded
    modules of ``packages``, become ``cloud_time`` / ``cloud_sleep``; the returned callable puts them
    back."""
    restore: list[tuple[Any, str, Any]] = []
    for function in _functions_of(packages):
        defaults = function.__defaults__ or ()
        if any(_is_wall_clock(default) for default in defaults):
            restore.append((function, "__defaults__", defaults))
            function.__defaults__ = tuple(_on_cloud_time(default) for default in defaults)
        keywords = function.__kwdefaults__ or {}
        if any(_is_wall_clock(default) for default in keywords.values()):
            restore.append((function, "__kwdefaults__", keywords))
            function.__kwdefaults__ = {key: _on_cloud_time(default) for key, default in keywords.items()}

    def put_back() -> None:
        for function, attribute, original in restore:
            setattr(function, attribute, original)

    return put_back


def _is_wall_clock(value: Any) -> bool:
    return value is _wall_time or value is _wall_sleep


def _on_cloud_time(default: Any) -> Any:
    if default is _wall_time:
        return cloud_time
    return cloud_sleep if default is _wall_sleep else default


def _functions_of(packages: tuple[str, ...]) -> Iterator[Any]:
    """The functions and methods defined in the loaded modules of ``packages``."""
    for name, module in list(sys.modules.items()):
        in_packages = any(name == package or name.startswith(f"{package}.") for package in packages)
        if module is None or not in_packages:
            continue
        for value in list(vars(module).values()):
            if inspect.isfunction(value) and value.__module__ == name:
                yield value
            elif inspect.isclass(value) and value.__module__ == name:
                yield from (member for member in vars(value).values() if inspect.isfunction(member))
