"""Fault injection: what fails, when, and for which events.

- ``TargetFault``: a function, a rule target (``<Rule>/<TargetId>``), a stream (``<Stream>`` as the
  target of a rule) or an API destination fails: ``times`` (the first N matching invocations),
  ``window`` (seconds after the cloud started, on its clock), ``event_ids`` (only invocations carrying
  one of them). ``mode="error"`` fails before the target runs (an invoke error, a throttle);
  ``mode="timeout"`` lets a function run and then fails the invocation, as a Lambda timeout after the
  side effects would.
- ``SdkFault``: an AWS API call made by the project's code fails (``signal_platform.aws_clients`` is
  wrapped): a ``ThrottlingException`` from PutEvents by default; ``per_entry`` makes PutEvents answer
  with failed entries (``FailedEntryCount``) instead of an error.
- ``RecordAging``: records of a stream look ``seconds`` older than they are (all, or those carrying
  chosen event_ids), so ``MaximumRecordAgeInSeconds`` applies without waiting.
- ``RegionOutage``: every AWS call of the project's code to that Region fails, and the emulators stop
  delivering in it (the hook the multi-Region work builds on).
- ``ReplicationLag``: a global endpoint's replicated copies arrive ``seconds`` after their events
  (instead of the emulator's default second), for the events put while it is active.
- ``Duplicate``: AWS delivers at least once; with this probability (seeded) a delivery that succeeded
  happens again: a rule target's event (Lambda, Kinesis, API destination), an async invocation, a
  Pipe batch, an SQS message. ``where`` names the rule target, function, stream, pipe or queue, or
  ``*`` for all of them.
- ``Concurrency``: a function runs at most ``limit`` invocations at once (each holds its slot for
  ``hold`` seconds of cloud time, since the local cloud runs one at a time); the others are throttled
  (``TooManyRequestsException``) and each source retries them as AWS documents. ``limit=0`` is a
  reserved concurrency of zero.
- ``Reshard``: once ``after`` records were put to the stream, one open shard is split (on-demand
  resharding): the parent is closed and stays readable, new records go to the two children.

A ``TargetFault`` with ``mode="timeout"`` and ``after_calls=N`` stops the function part-way: its first
N AWS calls (through the project's clients, which the fault wrapper sees) take effect, the next one
never happens, and the invocation fails as a Lambda timeout (``Sandbox.Timedout``).

``parse`` reads the CLI form: ``target:EnrichmentFunction,times=3``,
``target:S3WriterFunction,window=0-30,mode=timeout``, ``target:PartnerApiDestination,ids=<id>|<id>``,
``throttle:times=5`` (= ``sdk:events.put_events,times=5``), ``sdk:s3.put_object,times=2,code=InternalError``,
``throttle:times=9,per_entry=true,function=EnrichmentFunction`` (only that function's calls),
``age:SignalStream,seconds=90000``, ``region:us-west-2,window=10-70``, ``lag:seconds=300``,
``target:S3WriterFunction,mode=timeout,after_calls=2,times=1``, ``duplicate:*,p=0.2,seed=3``,
``concurrency:EnrichmentFunction,limit=1,hold=1``, ``reshard:SignalStream,after=10``.
"""

from __future__ import annotations

import os
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Mode = Literal["error", "timeout"]
MODES: Final = ("error", "timeout")
Window = tuple[float, float]


@dataclass(frozen=True, slots=True)
class TargetFault:
    target: str
    times: int | None = None
    window: Window | None = None
    event_ids: frozenset[str] = frozenset()
    mode: Mode = "error"
    error: str = "InjectedFault"
    message: str = "failure injected by the local cloud"
    after_calls: int | None = None  # mode "timeout": stop at AWS call N+1 (None: after the handler)


@dataclass(frozen=True, slots=True)
class SdkFault:
    service: str = "events"
    operation: str = "put_events"
    times: int | None = None
    window: Window | None = None
    code: str = "ThrottlingException"
    per_entry: bool = False
    function: str | None = None  # only calls made by this function (logical id); None: anyone's


@dataclass(frozen=True, slots=True)
class RecordAging:
    stream: str
    seconds: float
    event_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RegionOutage:
    region: str
    window: Window | None = None


@dataclass(frozen=True, slots=True)
class ReplicationLag:
    seconds: float
    window: Window | None = None


@dataclass(frozen=True, slots=True)
class Duplicate:
    where: str = "*"
    probability: float = 0.1
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Concurrency:
    function: str
    limit: int = 1
    hold: float = 1.0
    window: Window | None = None


@dataclass(frozen=True, slots=True)
class Reshard:
    stream: str
    after: int = 1


Fault = (
    TargetFault | SdkFault | RecordAging | RegionOutage | ReplicationLag | Duplicate | Concurrency | Reshard
)


class InvocationTimeout(BaseException):
    """Raised inside a handler at the AWS call a timeout fault stops it at. A BaseException, so the
    handler's own ``except Exception`` cannot catch it: a timed-out function runs no more code."""


class FaultError(Exception):
    """What an injected fault raises inside the local cloud (never reaches deployed code's types)."""

    def __init__(self, fault: TargetFault | SdkFault, message: str) -> None:
        super().__init__(message)
        self.fault = fault


@dataclass
class Faults:
    """The active faults; ``started_at`` anchors their windows on the cloud's clock."""

    clock: Callable[[], float]
    started_at: float = 0.0
    seed: int = 0
    _faults: list[Fault] = field(default_factory=list)
    _fired: Counter[int] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # The function being invoked right now (set by the runtime), for SDK faults aimed at one function.
    current_function: str | None = None
    # AWS calls the running invocation may still make before a timeout stops it (None: no limit).
    calls_left: int | None = None
    _rngs: dict[int, random.Random] = field(default_factory=dict)
    _busy: dict[str, list[float]] = field(default_factory=dict)  # function -> slots held until
    resharded: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def add(self, *faults: Fault) -> None:
        with self._lock:
            for fault in faults:
                if isinstance(fault, Duplicate):
                    self._rngs[len(self._faults)] = random.Random(fault.seed)
                self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fired.clear()
            self.fired.clear()
            self._rngs.clear()
            self._busy.clear()
            self.resharded.clear()
            self.calls_left = None

    @property
    def active(self) -> tuple[Fault, ...]:
        return tuple(self._faults)

    def _in_window(self, window: Window | None) -> bool:
        if window is None:
            return True
        elapsed = self.clock() - self.started_at
        return window[0] <= elapsed < window[1]

    def _take(self, index: int, fault: TargetFault | SdkFault, label: str) -> bool:
        if fault.times is not None and self._fired[index] >= fault.times:
            return False
        self._fired[index] += 1
        self.fired[label] += 1
        return True

    def target_fault(self, names: Iterable[str], carried: Callable[[], set[str]]) -> TargetFault | None:
        """The fault that fails this invocation of a target known by ``names``, if any (and count it)."""
        wanted = set(names)
        with self._lock:
            for index, fault in enumerate(self._faults):
                if not isinstance(fault, TargetFault) or fault.target not in wanted:
                    continue
                if not self._in_window(fault.window):
                    continue
                if fault.event_ids and not fault.event_ids & carried():
                    continue
                if self._take(index, fault, f"{fault.target}:{fault.mode}"):
                    return fault
        return None

    def sdk_fault(self, service: str, operation: str, region: str | None) -> SdkFault | RegionOutage | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if (
                    isinstance(fault, RegionOutage)
                    and fault.region == region
                    and self._in_window(fault.window)
                ):
                    self.fired[f"region:{region}"] += 1
                    return fault
                if not isinstance(fault, SdkFault) or (fault.service, fault.operation) != (
                    service,
                    operation,
                ):
                    continue
                if fault.function is not None and fault.function != self.current_function:
                    continue
                if self._in_window(fault.window) and self._take(index, fault, f"{service}.{operation}"):
                    return fault
        return None

    def duplicate(self, names: Iterable[str]) -> bool:
        """True when a delivery that succeeded to a target known by ``names`` is to happen again."""
        wanted = {*names, "*"}
        with self._lock:
            for index, fault in enumerate(self._faults):
                if (
                    isinstance(fault, Duplicate)
                    and fault.where in wanted
                    and self._rngs[index].random() < fault.probability
                ):
                    self.fired[f"duplicate:{fault.where}"] += 1
                    return True
        return False

    def throttled(self, names: Iterable[str]) -> bool:
        """True when an invocation of the function known by ``names`` finds no free concurrency; when
        there is, the invocation takes a slot for the fault's ``hold`` seconds."""
        wanted = set(names)
        now = self.clock()
        with self._lock:
            for fault in self._faults:
                if not isinstance(fault, Concurrency) or fault.function not in wanted:
                    continue
                if not self._in_window(fault.window):
                    continue
                busy = [until for until in self._busy.get(fault.function, []) if until > now]
                if len(busy) >= fault.limit:
                    self._busy[fault.function] = busy
                    self.fired[f"throttled:{fault.function}"] += 1
                    return True
                self._busy[fault.function] = [*busy, now + fault.hold]
        return False

    def reshard_due(self, names: Iterable[str], records: int) -> bool:
        """True once for a stream known by ``names`` when ``records`` reached a ``Reshard`` fault's count."""
        wanted = set(names)
        with self._lock:
            for fault in self._faults:
                if (
                    isinstance(fault, Reshard)
                    and fault.stream in wanted
                    and fault.stream not in self.resharded
                    and records >= fault.after
                ):
                    self.resharded.add(fault.stream)
                    self.fired[f"reshard:{fault.stream}"] += 1
                    return True
        return False

    def count_call(self) -> None:
        """One AWS call of the running invocation; a timeout fault with ``after_calls`` stops it here."""
        with self._lock:  # the function's own worker threads may call at once
            left = self.calls_left
            if left is None:
                return
            if left <= 0:
                raise InvocationTimeout
            self.calls_left = left - 1

    def region_down(self, region: str) -> bool:
        return any(
            isinstance(fault, RegionOutage) and fault.region == region and self._in_window(fault.window)
            for fault in self._faults
        )

    def down_until(self, *regions: str) -> float:
        """The cloud-clock time from which none of ``regions`` is down any more: now when none is,
        ``inf`` when an outage has no end."""
        outages = [f.window for f in self._faults if isinstance(f, RegionOutage) and f.region in regions]
        moment = self.clock() - self.started_at
        while True:
            ends = [end for start, end in map(_whole, outages) if start <= moment < end]
            if not ends:
                return self.started_at + moment
            moment = max(ends)

    def next_region_change(self) -> float | None:
        """The next cloud-clock time a Region goes down or comes back (None: no outage ahead)."""
        elapsed = self.clock() - self.started_at
        edges = [
            edge
            for fault in self._faults
            if isinstance(fault, RegionOutage)
            for edge in _whole(fault.window)
            if elapsed < edge < float("inf")
        ]
        return self.started_at + min(edges) if edges else None

    def any_region_down(self) -> bool:
        return any(
            isinstance(fault, RegionOutage) and self._in_window(fault.window) for fault in self._faults
        )

    def replication_lag(self, default: float) -> float:
        """The lag of a replicated copy of an event put now: the longest active ``ReplicationLag``."""
        lags = [
            fault.seconds
            for fault in self._faults
            if isinstance(fault, ReplicationLag) and self._in_window(fault.window)
        ]
        return max(lags, default=default)

    def record_age_offset(self, stream_names: Iterable[str], carried: Callable[[], set[str]]) -> float:
        wanted = set(stream_names)
        offset = 0.0
        for fault in self._faults:
            if (
                isinstance(fault, RecordAging)
                and fault.stream in wanted
                and (not fault.event_ids or fault.event_ids & carried())
            ):
                offset = max(offset, fault.seconds)
        return offset


def _whole(window: Window | None) -> Window:
    return window if window is not None else (float("-inf"), float("inf"))


# ---------------------------------------------------------------------------- SDK wrapper
class FaultyClient:
    """An AWS client whose calls consult the faults first; everything else is the real client."""

    def __init__(
        self, real: Any, service: str, region: str | None, faults: Faults, route: Route | None = None
    ) -> None:
        self._real = real
        self._service = service
        self._region = region
        self._faults = faults
        self._route = route

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._real, name)
        if name.startswith("_") or not callable(attribute) or name in ("can_paginate", "get_paginator"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._route is not None and "EndpointId" in kwargs:
                return self._route(name, kwargs)  # a global endpoint decides the Region
            self._faults.count_call()
            fault = self._faults.sdk_fault(self._service, name, self._region or _client_region(self._real))
            if fault is None:
                return attribute(*args, **kwargs)
            return _apply(fault, attribute, kwargs, self._faults.rng)

        return call


def _client_region(client: Any) -> str | None:
    meta = getattr(client, "meta", None)
    return getattr(meta, "region_name", None)


def _apply(
    fault: SdkFault | RegionOutage, call: Callable[..., Any], kwargs: dict[str, Any], rng: random.Random
) -> Any:
    from botocore.exceptions import ClientError, EndpointConnectionError  # noqa: PLC0415

    if isinstance(fault, RegionOutage):
        raise EndpointConnectionError(endpoint_url=f"https://{fault.region}.amazonaws.com (region outage)")
    if fault.per_entry and "Entries" in kwargs:
        entries = kwargs["Entries"]
        failed = {index for index in range(len(entries)) if rng.random() < 0.5} or {0}
        passing = [entry for index, entry in enumerate(entries) if index not in failed]
        if passing:
            call(**{**kwargs, "Entries": passing})
        results = [
            {"ErrorCode": fault.code, "ErrorMessage": "injected"}
            if index in failed
            else {"EventId": f"lc-{index}"}
            for index in range(len(entries))
        ]
        return {"FailedEntryCount": len(failed), "Entries": results}
    raise ClientError(
        {"Error": {"Code": fault.code, "Message": "injected by the local cloud"}}, fault.operation
    )


Route = Callable[[str, dict[str, Any]], Any]  # (operation, arguments) -> the answer


class ClientFactory:
    """Stands in for ``signal_platform.aws_clients.client``: the same cached clients, wrapped, one per
    (service, Region): a client built without a Region gets the invoked function's ``AWS_REGION`` (the
    runtime sets it per invocation), as it would in that Region's Lambda; outside any invocation (an
    operator's tool run in process) ``default_region``, the Region the operator's shell is set to.
    ``routes`` (by service) take calls that name an ``EndpointId`` (the global endpoint's PutEvents)."""

    def __init__(
        self,
        original: Any,
        faults: Faults,
        watch: Callable[[Any], None] | None = None,
        default_region: str | None = None,
    ) -> None:
        self._original = original
        self._faults = faults
        self._watch = watch  # told of every real client, to note the writes made through it
        self._default_region = default_region
        self._wrapped: dict[tuple[str, str | None], FaultyClient] = {}
        self.routes: dict[str, Route] = {}

    def __call__(self, service: str, region: str | None = None) -> Any:
        if region is None and self._faults.current_function is None:
            region = self._default_region
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        key = (service, region)
        if key not in self._wrapped:
            real = self._original(service, region)
            if self._watch is not None:
                self._watch(real)
            self._wrapped[key] = FaultyClient(real, service, region, self._faults, self.routes.get(service))
        return self._wrapped[key]

    def cache_clear(self) -> None:
        self._wrapped.clear()
        self._original.cache_clear()


# ---------------------------------------------------------------------------- CLI form
def _window(text: str) -> Window:
    start, _, end = text.partition("-")
    return float(start), float(end) if end else float("inf")


def parse(spec: str) -> Fault:  # noqa: PLR0911 - one answer per fault kind
    kind, _, rest = spec.partition(":")
    name, *pairs = rest.split(",") if rest else [""]
    if "=" in name:  # no positional name, e.g. "throttle:times=5"
        pairs, name = [name, *pairs], ""
    options = dict(pair.split("=", 1) for pair in pairs if pair)
    times = int(options["times"]) if "times" in options else None
    window = _window(options["window"]) if "window" in options else None
    ids = frozenset(filter(None, options.get("ids", "").split("|")))
    if kind == "target":
        mode = options.get("mode", "error")
        if mode not in MODES:
            raise ValueError(f"fault mode must be error or timeout, got {mode!r}")
        after = int(options["after_calls"]) if "after_calls" in options else None
        return TargetFault(name, times=times, window=window, event_ids=ids, mode=mode, after_calls=after)  # type: ignore[arg-type]
    if kind in ("sdk", "throttle"):
        service, _, operation = (name or "events.put_events").partition(".")
        return SdkFault(
            service,
            operation,
            times=times,
            window=window,
            code=options.get("code", "ThrottlingException"),
            per_entry=options.get("per_entry", "false") == "true",
            function=options.get("function"),
        )
    if kind == "age":
        return RecordAging(name, float(options.get("seconds", "0")), ids)
    if kind == "region":
        return RegionOutage(name, window)
    if kind == "lag":
        return ReplicationLag(float(options.get("seconds", "0")), window)
    if kind == "duplicate":
        return Duplicate(name or "*", float(options.get("p", "0.1")), int(options.get("seed", "0")))
    if kind == "concurrency":
        return Concurrency(name, int(options.get("limit", "1")), float(options.get("hold", "1")), window)
    if kind == "reshard":
        return Reshard(name, int(options.get("after", "1")))
    raise ValueError(
        f"unknown fault kind {kind!r} in {spec!r} "
        "(target, sdk, throttle, age, region, lag, duplicate, concurrency, reshard)"
    )
