"""The function runtime: each AWS::Lambda::Function run in-process, with its template environment.

What a function is comes from the translated template only: ``Handler`` (``package.module.function``),
the code folder (``CodeUri``, its /var/task) and the layers' ``python`` folders (/opt/python) put on
``sys.path`` as Lambda does, ``Environment.Variables`` (Globals merged by the translator) resolved,
``Timeout``, ``MemorySize``, ``DeadLetterConfig`` and the function's ``AWS::Lambda::EventInvokeConfig``.

Environment: one process holds every function, and handlers read ``os.environ`` (settings are read
once per container and cached). The runtime therefore switches ``os.environ`` to the invoked function's
exact environment (template variables + what Lambda itself sets: AWS_REGION, AWS_LAMBDA_FUNCTION_NAME,
LAMBDA_TASK_ROOT, _HANDLER...) before every invocation, under one lock, so two functions never see
each other's variables; a switch is skipped when the same function runs again. Local overrides, all
printed at start: X-Ray tracing off (no daemon) and optionally the log level; what a function prints
(Powertools' EMF metric lines) goes to ``output`` (discarded by default) as it would go to its log
group. Containers: ``start`` calls each
function package's ``dependencies.reset()`` (the project's convention), so every function starts cold
with its own settings, and an invocation that times out resets them again (Lambda resets the
execution environment after a timeout in the invoke phase); module state of the shared layer
(Powertools logger service name, AWS clients) is per process, not per function: the one place where
the local cloud is less isolated than Lambda.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import random
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TextIO, cast

from localcloud import timeshare
from localcloud.clock import Clock, function_code, functions_on_the_cloud_clock, sleep_on
from localcloud.faults import Faults, InvocationTimeout
from localcloud.provision import Resource, Stack
from localcloud.signals import event_ids

log = logging.getLogger("localcloud")

Handler = Callable[[Any, Any], Any]
DEFAULT_TIMEOUT: Final = 3.0
LOCAL_OVERRIDES: Final = {"POWERTOOLS_TRACE_DISABLED": "1"}
TIMED_OUT: Final = "Sandbox.Timedout"  # the error type of an invocation that ran out of time (below)


@dataclass(frozen=True, slots=True)
class AsyncConfig:
    """Lambda's asynchronous invocation settings (defaults: 2 retries, 6 h)."""

    maximum_retry_attempts: int = 2
    maximum_event_age: float = 21600.0
    on_failure: str | None = None
    on_success: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path | None
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout: float
    memory: int
    dead_letter_arn: str | None = None
    async_config: AsyncConfig = AsyncConfig()


def function_specs(stack: Stack, code_dirs: Mapping[str, Path]) -> dict[str, FunctionSpec]:
    """Every function of the stack, with its layers, environment and async settings."""
    configs = {
        str(resource.properties.get("FunctionName")): resource
        for resource in stack.of_type("AWS::Lambda::EventInvokeConfig")
    }
    layer_by_arn = {
        resource.ref: resource.logical_id for resource in stack.of_type("AWS::Lambda::LayerVersion")
    }
    specs: dict[str, FunctionSpec] = {}
    for resource in stack.of_type("AWS::Lambda::Function"):
        props = resource.properties
        layers = tuple(
            code_dirs[layer_by_arn[arn]] / "python"
            for arn in props.get("Layers", [])
            if arn in layer_by_arn and layer_by_arn[arn] in code_dirs
        )
        config = configs.get(resource.ref) or configs.get(resource.arn)
        specs[resource.logical_id] = FunctionSpec(
            logical_id=resource.logical_id,
            name=str(resource.ref),
            arn=resource.arn,
            handler=str(props["Handler"]),
            code_dir=code_dirs.get(resource.logical_id),
            layer_dirs=layers,
            environment={
                key: _env_text(value)
                for key, value in (props.get("Environment") or {}).get("Variables", {}).items()
            },
            timeout=float(props.get("Timeout", DEFAULT_TIMEOUT)),
            memory=int(props.get("MemorySize", 128)),
            dead_letter_arn=(props.get("DeadLetterConfig") or {}).get("TargetArn"),
            async_config=_async_config(config),
        )
    return specs


def _env_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _async_config(resource: Resource | None) -> AsyncConfig:
    if resource is None:
        return AsyncConfig()
    props = resource.properties
    destinations = props.get("DestinationConfig") or {}
    return AsyncConfig(
        maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
        maximum_event_age=float(props.get("MaximumEventAgeInSeconds", 21600)),
        on_failure=(destinations.get("OnFailure") or {}).get("Destination"),
        on_success=(destinations.get("OnSuccess") or {}).get("Destination"),
    )


@dataclass
class LambdaContext:
    """The Lambda context object handlers receive (the attributes Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    timeout: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "localcloud"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout - (time.monotonic() - self._started)) * 1000))


@dataclass(frozen=True, slots=True)
class Invocation:
    """The outcome of one invocation, as Lambda reports it."""

    request_id: str
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration: float = 0.0  # seconds, as Lambda reports it (the whole Timeout for a timed-out invocation)
    output: str = ""  # what the function printed (its log stream: Powertools' EMF metric lines among it)
    injected: bool = False
    throttled: bool = False  # Lambda refused to run it (429): sources retry these by their own rules

    @property
    def ok(self) -> bool:
        return self.error_type is None


@dataclass
class FunctionStats:
    invocations: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)


class _Discard(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


class _Environment:
    """Switches ``os.environ`` between functions; remembers the process's own values to restore."""

    def __init__(self) -> None:
        self._baseline = dict(os.environ)
        self._applied: dict[str, str] = {}
        self.active: str | None = None

    def activate(self, owner: str, environment: Mapping[str, str]) -> None:
        if self.active == owner:
            return
        for key in set(self._applied) - set(environment):
            self._restore(key)
        for key, value in environment.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        self._applied = dict(environment)
        self.active = owner

    def _restore(self, key: str) -> None:
        if key in self._baseline:
            os.environ[key] = self._baseline[key]
        else:
            os.environ.pop(key, None)

    def restore(self) -> None:
        for key in self._applied:
            self._restore(key)
        self._applied = {}
        self.active = None


class FunctionRuntime:
    def __init__(
        self,
        functions: Mapping[str, FunctionSpec],
        *,
        region: str,
        faults: Faults,
        seed: int = 0,
        extra_environment: Mapping[str, str] | None = None,
        log_level: str | None = None,
        output: TextIO | None = None,
        share_with: FunctionRuntime | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.functions = dict(functions)
        self.region = region
        self.faults = faults
        self.stats = FunctionStats()
        self._rng = random.Random(seed)
        self._extra = dict(extra_environment or {})
        self._overrides = dict(LOCAL_OVERRIDES)
        # What a function prints (Powertools' EMF metric lines, print()) goes to ``output``, as it would
        # go to CloudWatch Logs; discarded by default.
        self._output: TextIO = output if output is not None else cast(TextIO, _Discard())
        if log_level:
            self._overrides["POWERTOOLS_LOG_LEVEL"] = log_level
        self._handlers: dict[str, Handler] = {}
        # Told of every invocation's outcome (the local CloudWatch counts Lambda's metrics and reads EMF).
        self.observers: dict[str, Callable[[FunctionSpec, Invocation], None]] = {}
        self.shares = timeshare.TimeShares()  # the cloud's, once started
        # One process, one os.environ and one copy of each function package: the runtimes of every
        # Region share the switch, its lock, and which Region's container each package holds now.
        self._environment: _Environment = share_with._environment if share_with else _Environment()
        self.lock: threading.RLock = share_with.lock if share_with else threading.RLock()
        self._containers: dict[str, str] = share_with._containers if share_with else {}
        # Function code reads the cloud's clock while the runtime runs. Each Region's runtime points
        # its own packages at it (their import-time defaults too); the patches nest, and the Regions
        # share one clock.
        self._clock_patch = contextlib.ExitStack()
        # The functions' retry back-off waits on this clock (none: they really sleep).
        self._sleep = sleep_on(clock) if clock is not None else None
        self._by_arn = {spec.arn: spec for spec in self.functions.values()}
        self._by_arn.update({spec.name: spec for spec in self.functions.values()})

    @property
    def overrides(self) -> dict[str, str]:
        return dict(self._overrides)

    def function(self, reference: str) -> FunctionSpec:
        """A function by logical id, name or ARN (a qualified ARN's qualifier is ignored)."""
        if reference in self.functions:
            return self.functions[reference]
        unqualified = reference if reference.count(":") <= 6 else reference.rsplit(":", 1)[0]
        try:
            return self._by_arn[unqualified]
        except KeyError as exc:
            raise KeyError(f"no function {reference!r} in the template") from exc

    def environment(self, spec: FunctionSpec) -> dict[str, str]:
        runtime = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "LAMBDA_TASK_ROOT": str(spec.code_dir or ""),
            "_HANDLER": spec.handler,
        }
        return {**runtime, **self._extra, **spec.environment, **self._overrides}

    def override(self, logical_id: str, handler: Handler) -> None:
        """Run ``handler`` instead of the function's code (emulator tests with synthetic handlers)."""
        self._handlers[logical_id] = handler

    def start(self) -> None:
        """Cold start: import every handler in its own environment and reset its cached collaborators."""
        packages = {spec.handler.split(".")[0] for spec in self.functions.values()} | {"signal_platform"}
        self._clock_patch.enter_context(
            functions_on_the_cloud_clock(self.faults.clock, packages, sleep=self._sleep)
        )
        for spec in self.functions.values():
            if spec.logical_id not in self._handlers:
                with self.lock:
                    self._activate(spec)
                    self._handlers[spec.logical_id] = self._import(spec)

    def stop(self) -> None:
        with self.lock:
            self._environment.restore()
            self._clock_patch.close()

    def cold_start(self) -> None:
        """Every imported function forgets its cached collaborators, as a new container would."""
        with self.lock:
            for spec in self.functions.values():
                self._activate(spec)
                self._reset_dependencies(spec)

    def _activate(self, spec: FunctionSpec) -> None:
        """The function's environment in ``os.environ``; a package last run for another Region's
        function (two Regions, one process) starts cold, as that Region's own container would."""
        environment = self.environment(spec)
        self._environment.activate(f"{self.region}/{spec.logical_id}", environment)
        _follow_powertools(environment)
        package = spec.handler.split(".")[0]
        holder = self._containers.setdefault(package, self.region)
        if holder != self.region:
            self._containers[package] = self.region
            self._reset_dependencies(spec)

    @staticmethod
    def _reset_dependencies(spec: FunctionSpec) -> None:
        package = spec.handler.split(".")[0]
        if f"{package}.dependencies" not in sys.modules and f"{package}.handler" not in sys.modules:
            return
        try:
            dependencies = importlib.import_module(f"{package}.dependencies")
        except ModuleNotFoundError:
            return
        reset = getattr(dependencies, "reset", None)
        if callable(reset):
            reset()

    def _import(self, spec: FunctionSpec) -> Handler:
        for folder in (spec.code_dir, *spec.layer_dirs):
            if folder is not None and str(folder) not in sys.path:
                sys.path.append(str(folder))
        module_name, _, function_name = spec.handler.rpartition(".")
        module = importlib.import_module(module_name)
        self._reset_dependencies(spec)
        handler: Handler = getattr(module, function_name)
        return handler

    def handler(self, spec: FunctionSpec) -> Handler:
        if spec.logical_id not in self._handlers:
            self._handlers[spec.logical_id] = self._import(spec)
        return self._handlers[spec.logical_id]

    def invoke(self, reference: str, event: Any) -> Invocation:
        """One synchronous invocation; faults named after the function apply. Observers are told of its
        outcome, with what it printed and how long Lambda would say it ran."""
        if not self.observers:
            return self._invoke(reference, event, self._output)
        printed = io.StringIO()
        started = time.perf_counter()
        outcome = self._invoke(reference, event, printed)
        spec = self.function(reference)
        timed_out = outcome.error_type == TIMED_OUT
        duration = spec.timeout if timed_out else time.perf_counter() - started
        outcome = replace(outcome, duration=duration, output=printed.getvalue())
        self._output.write(outcome.output)
        for observer in self.observers.values():
            observer(spec, outcome)
        return outcome

    def _invoke(self, reference: str, event: Any, output: TextIO) -> Invocation:
        spec = self.function(reference)
        request_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self.stats.invocations[spec.logical_id] += 1
        if self.faults.throttled((spec.logical_id, spec.name)):
            self.stats.errors[spec.logical_id] += 1
            return Invocation(
                request_id, None, "TooManyRequestsException", "Rate Exceeded.", injected=True, throttled=True
            )
        fault = self.faults.target_fault((spec.logical_id, spec.name), lambda: set(event_ids(event)))
        if fault is not None and fault.mode == "error":
            self.stats.errors[spec.logical_id] += 1
            return Invocation(request_id, None, fault.error, fault.message, injected=True)
        context = LambdaContext(
            function_name=spec.name,
            invoked_function_arn=spec.arn,
            memory_limit_in_mb=spec.memory,
            aws_request_id=request_id,
            timeout=spec.timeout,
            log_group_name=f"/aws/lambda/{spec.name}",
        )
        started = time.perf_counter()
        with self.lock:
            self._activate(spec)
            handler = self.handler(spec)
            self.faults.current_function = spec.logical_id
            if fault is not None and fault.after_calls is not None:
                self.faults.calls_left = fault.after_calls
            try:
                with (
                    contextlib.redirect_stdout(output),
                    contextlib.redirect_stderr(output),
                    function_code(),
                    self.shares.within(timeshare.HANDLERS),
                ):
                    payload = handler(event, context)
            except InvocationTimeout:
                log.debug("function %s stopped by a timeout after %s AWS calls", spec.logical_id, fault)
            except Exception as exc:  # noqa: BLE001 - a function error is an outcome, reported like Lambda does
                self.stats.errors[spec.logical_id] += 1
                log.debug("function %s failed: %s: %s", spec.logical_id, type(exc).__name__, exc)
                return Invocation(request_id, None, type(exc).__name__, str(exc))
            finally:
                self.faults.current_function = None
                self.faults.calls_left = None
                spent = time.perf_counter() - started
                self.stats.seconds[spec.logical_id] = self.stats.seconds.get(spec.logical_id, 0.0) + spent
            if fault is not None:  # a timeout resets the execution environment: the next start is cold
                self._reset_dependencies(spec)
        if fault is not None:  # mode "timeout": the code ran (all, or up to a call); the invocation fails
            self.stats.errors[spec.logical_id] += 1
            return Invocation(
                request_id,
                None,
                "Sandbox.Timedout",
                f"Task timed out after {spec.timeout:.2f} seconds",
                injected=True,
            )
        return Invocation(request_id, payload)


def _follow_powertools(environment: Mapping[str, str]) -> None:
    """Each function's container builds the layer's Powertools metrics object at import, with its own
    service name and namespace; in one process the object is shared (and may have been imported before
    any function's environment existed), so it takes those of the function about to run."""
    observability = sys.modules.get("signal_platform.observability")
    if observability is not None:
        observability.metrics.namespace = environment.get("POWERTOOLS_METRICS_NAMESPACE")
        observability.metrics.service = environment.get("POWERTOOLS_SERVICE_NAME")
