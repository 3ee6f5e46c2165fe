"""The local CloudWatch: the metrics the stack produces and the template's alarms evaluated on them.

Metrics, on the cloud's clock:

- **EMF**: what a function prints is its log stream; the JSON lines Powertools Metrics writes there
  (``{"_aws": {"CloudWatchMetrics": [...]}}``) become metric values, as CloudWatch Logs extracts them.
  One process holds every function, so the shared layer's ``Metrics`` object keeps the namespace and
  service name of whoever imported it first: the namespace and the ``service`` dimension are the
  printing function's own ``POWERTOOLS_METRICS_NAMESPACE`` and ``POWERTOOLS_SERVICE_NAME``, as they
  are in Lambda.
- **What the emulators count** (``Services.emit``): AWS/Events per rule, AWS/EventBridge/Pipes per pipe,
  AWS/Kinesis ``GetRecords.IteratorAgeMilliseconds``, AWS/SQS ``NumberOfMessagesSent``, AWS/Lambda
  ``DestinationDeliveryFailures`` / ``DeadLetterErrors`` / ``IteratorAge`` (Kinesis mappings); the
  runtime's invocations (AWS/Lambda ``Invocations``, ``Errors``, ``Throttles``, ``Duration``) and the
  HTTP API's answers (AWS/ApiGateway ``Count``, ``4xx``, ``5xx``, ``Latency`` per ``ApiId`` and ``Stage``).
- **Queue gauges**: every queue of the stack is sampled (``ApproximateNumberOfMessagesVisible``,
  ``ApproximateAgeOfOldestMessage``) as SQS reports them, one value a minute; a message's age counts
  from when the Region first saw it (``queue_ages``: SQS's own timestamps are on the wall clock).
- **More that the emulators count**: AWS/Kinesis ``IncomingRecords`` per stream, and
  ``WriteProvisionedThroughputExceeded`` when a rule's put to a stream is throttled (a ``TargetFault``
  with that error, ``eventbridge``); with two Regions,
  the S3 replication metrics per rule (``bucket_replication``), reported each minute through
  ``Services.reporters`` before the metrics are read.

Alarms: every ``AWS::CloudWatch::Alarm`` of the stack, a metric alarm or a metric-math alarm
(arithmetic, ``FILL``), with its Statistic / ExtendedStatistic (pNN), Period, EvaluationPeriods,
DatapointsToAlarm, Threshold, ComparisonOperator and TreatMissingData. Periods are aligned to the
epoch and an alarm is evaluated when a period ends; the evaluation range is EvaluationPeriods + 2
periods and missing data is treated as the CloudWatch user guide's "How alarm state is evaluated when
data is missing" says (``decide``). Every alarm starts in INSUFFICIENT_DATA; ``history`` keeps each
state change with its cloud-clock time.

Evaluation is lazy: ``pump`` catches up with every period that ended since the last one (the cloud's
clock jumps over waits), and never asks for time of its own (``next_due`` is None), so a settled cloud
stays settled; ``evaluate`` lets a test catch up after ``LocalCloud.wait``.
"""

from __future__ import annotations

import ast
import bisect
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from localcloud.http_api import HttpApi, HttpResponse, LoadBalancer
from localcloud.provision import Resource
from localcloud.queue_ages import QueueAges, queue_name
from localcloud.runtime import FunctionRuntime, FunctionSpec, Invocation
from localcloud.services import Datum, Services, emulated

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
Treatment = Literal["missing", "ignore", "breaching", "notBreaching"]
Dimensions = tuple[tuple[str, str], ...]
MetricKey = tuple[str, str, Dimensions]  # namespace, metric name, sorted dimensions

GAUGE_INTERVAL: Final = 60.0  # SQS reports its queue gauges once a minute
EXTRA_RANGE_PERIODS: Final = 2  # the evaluation range beyond EvaluationPeriods (the user guide's example)
THROTTLE_ERRORS: Final = frozenset({"TooManyRequestsException", "Lambda.TooManyRequestsException"})
_, VISIBLE = emulated("AWS/SQS", "ApproximateNumberOfMessagesVisible")
_, OLDEST = emulated("AWS/SQS", "ApproximateAgeOfOldestMessage")
_COMPARE: Final[Mapping[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}


def metric_key(namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
    return namespace, name, tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))


def aws_metric(namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
    """The key of a metric the local cloud reports for an AWS service (one of ``EMULATED_METRICS``)."""
    return metric_key(*emulated(namespace, name), dimensions)


# ---------------------------------------------------------------------------- statistics
_STATISTICS: Final[Mapping[str, Callable[[Sequence[float]], float]]] = {
    "Sum": lambda values: float(sum(values)),
    "Average": lambda values: float(sum(values)) / len(values),
    "Maximum": lambda values: float(max(values)),
    "Minimum": lambda values: float(min(values)),
    "SampleCount": lambda values: float(len(values)),
}


def statistic(stat: str, values: Sequence[float]) -> float | None:
    """A CloudWatch statistic (or pNN percentile, nearest rank) of one period's values; None (missing)
    when there are none."""
    if not values:
        return None
    if stat in _STATISTICS:
        return _STATISTICS[stat](values)
    if not stat.startswith("p"):
        raise ValueError(f"statistic {stat!r} is not emulated")
    ordered = sorted(values)
    rank = math.ceil(float(stat[1:]) / 100 * len(ordered))
    return float(ordered[min(len(ordered), max(1, rank)) - 1])


# ---------------------------------------------------------------------------- missing data
def decide(
    points: Sequence[bool | None], *, periods: int, to_alarm: int, treatment: Treatment, current: State
) -> State:
    """The alarm state from the evaluation range's datapoints (oldest first; True breaching, False not,
    None missing), per the user guide's rules for missing data (each is pinned by a test)."""
    recent = points[-periods:]
    real = [point for point in points if point is not None]
    if None not in recent or len(real) >= periods:
        # No gap, or enough real points further back: the treatment is not needed.
        return "ALARM" if sum(real[-periods:]) >= to_alarm else "OK"
    if not real:
        every_point_missing: dict[Treatment, State] = {
            "missing": "INSUFFICIENT_DATA",
            "ignore": current,
            "breaching": "ALARM",
            "notBreaching": "OK",
        }
        return every_point_missing[treatment]
    breaching = sum(real)
    if treatment == "breaching":  # missing points used only as few times as possible
        breaching += periods - len(real)
    if breaching >= to_alarm:
        return "ALARM"
    if treatment in ("missing", "ignore") and all(real):
        # The "premature alarm" rule: every real point breaching, the oldest one at least
        # DatapointsToAlarm periods old.
        oldest_age = len(points) - next(index for index, point in enumerate(points) if point is not None)
        if oldest_age >= to_alarm:
            return "ALARM" if treatment == "missing" else current
    return "OK"


# ---------------------------------------------------------------------------- metric math
_ARITHMETIC: Final[Mapping[type[ast.operator], Callable[[float, float], float | None]]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b if b else None,
}
_COMPARISONS: Final[Mapping[type[ast.cmpop], Callable[[float, float], bool]]] = {
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}


Values = Mapping[str, float | None]


def expression(text: str) -> Callable[[Values], float | None]:
    """A metric-math expression (numbers, ids, + - * /, comparisons, parentheses, FILL(id, number),
    IF(condition, a, b)) as a function of the ids' values in one period; a missing operand or a
    division by zero gives a missing value."""
    tree = ast.parse(text.replace("FILL(", "fill(").replace("IF(", "if_(").strip(), mode="eval").body

    def value(node: ast.expr, values: Values) -> float | None:  # noqa: PLR0911 - one return per kind of node
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values.get(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = value(node.operand, values)
            return None if inner is None else -inner
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = value(node.left, values), value(node.right, values)
            if left is None or right is None:
                return None
            return _ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARISONS:
            left, right = value(node.left, values), value(node.comparators[0], values)
            if left is None or right is None:
                return None
            return float(_COMPARISONS[type(node.ops[0])](left, right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "fill":
            series, default = node.args
            filled = value(series, values)
            return value(default, values) if filled is None else filled
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "if_":
            condition, then, otherwise = node.args
            decided = value(condition, values)
            if decided is None:
                return None
            return value(then if decided else otherwise, values)
        raise ValueError(f"metric math not emulated: {ast.unparse(node)!r} in {text!r}")

    return lambda values: value(tree, values)


# ---------------------------------------------------------------------------- alarms
@dataclass(frozen=True, slots=True)
class MetricStat:
    key: MetricKey
    stat: str


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    name: str  # the logical id
    period: float
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    compare: str
    treatment: Treatment
    stats: Mapping[str, MetricStat]  # query id -> metric
    result: Callable[[Values], float | None]

    @property
    def keys(self) -> tuple[MetricKey, ...]:
        return tuple(stat.key for stat in self.stats.values())

    @classmethod
    def of(cls, alarm: Resource) -> AlarmSpec:
        props = alarm.properties
        stats: dict[str, MetricStat] = {}
        periods: set[float] = set()
        if props.get("Metrics"):
            returned = None
            for query in props["Metrics"]:
                if "MetricStat" in query:
                    metric = query["MetricStat"]["Metric"]
                    stats[query["Id"]] = MetricStat(_key(metric), str(query["MetricStat"]["Stat"]))
                    periods.add(float(query["MetricStat"]["Period"]))
                if query.get("ReturnData", True):
                    returned = query
            if returned is None:
                raise ValueError(f"alarm {alarm.logical_id}: no query returns data")
            result = expression(str(returned.get("Expression") or returned["Id"]))
        else:
            stat = str(props.get("ExtendedStatistic") or props.get("Statistic"))
            stats["m"] = MetricStat(_key(props), stat)
            periods.add(float(props["Period"]))
            result = expression("m")
        if len(periods) != 1:
            raise ValueError(f"alarm {alarm.logical_id}: its metrics must share one period")
        evaluation_periods = int(props["EvaluationPeriods"])
        return cls(
            name=alarm.logical_id,
            period=periods.pop(),
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(props.get("DatapointsToAlarm", evaluation_periods)),
            threshold=float(props["Threshold"]),
            compare=str(props["ComparisonOperator"]),
            treatment=props.get("TreatMissingData", "missing"),
            stats=stats,
            result=result,
        )


def _key(metric: Mapping[str, Any]) -> MetricKey:
    dimensions = {str(d["Name"]): str(d["Value"]) for d in metric.get("Dimensions") or []}
    return metric_key(str(metric["Namespace"]), str(metric["MetricName"]), dimensions)


@dataclass(frozen=True, slots=True)
class StateChange:
    alarm: str
    at: float  # cloud-clock seconds: the end of the period that decided it
    old: State
    new: State
    value: float | None  # the newest datapoint of the evaluation


# ---------------------------------------------------------------------------- storage
@dataclass
class _Series:
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, at: float, value: float) -> None:
        if self.times and at < self.times[-1]:  # values arrive in clock order; keep it sorted anyway
            index = bisect.bisect_right(self.times, at)
            self.times.insert(index, at)
            self.values.insert(index, value)
            return
        self.times.append(at)
        self.values.append(value)

    def between(self, start: float, end: float) -> list[float]:
        return self.values[bisect.bisect_left(self.times, start) : bisect.bisect_left(self.times, end)]


@dataclass
class _Gauge:
    """One queue's samples: (time, visible messages, when its oldest message was first seen)."""

    times: list[float] = field(default_factory=list)
    visible: list[int] = field(default_factory=list)
    oldest: list[float | None] = field(default_factory=list)
    changed: float = 0.0  # when a sample last differed from the one before

    def add(self, at: float, visible: int, oldest: float | None) -> None:
        if self.times and (self.visible[-1], self.oldest[-1]) == (visible, oldest):
            return
        self.times.append(at)
        self.visible.append(visible)
        self.oldest.append(oldest)
        self.changed = at

    def value(self, name: str, at: float) -> float | None:
        index = bisect.bisect_right(self.times, at) - 1
        if index < 0:
            return None
        if name == VISIBLE:
            return float(self.visible[index])
        oldest = self.oldest[index]
        return 0.0 if oldest is None else at - oldest

    def growing(self) -> bool:
        return bool(self.oldest) and self.oldest[-1] is not None


class CloudWatch:
    """Metrics and alarms of one Region (an ``Emulator``: ``pump`` catches up, ``next_due`` is None)."""

    def __init__(
        self,
        services: Services,
        runtime: FunctionRuntime,
        api: HttpApi,
        queue_ages: QueueAges,
        load_balancer: LoadBalancer | None = None,
    ) -> None:
        self._services = services
        self._queue_ages = queue_ages
        self._series: dict[MetricKey, _Series] = defaultdict(_Series)
        self._queues = {queue_name(queue): _Gauge() for queue in services.stack.of_type("AWS::SQS::Queue")}
        self._sampled_at: float | None = None
        self.alarms = {
            alarm.logical_id: AlarmSpec.of(alarm)
            for alarm in services.stack.of_type("AWS::CloudWatch::Alarm")
        }
        self.states: dict[str, State] = dict.fromkeys(self.alarms, "INSUFFICIENT_DATA")
        self.history: list[StateChange] = []
        self._evaluated: dict[str, float] = {}
        # (namespace, service) each function's own Powertools Metrics would use (see _emf)
        self._emf_identity = {
            spec.logical_id: (
                spec.environment.get("POWERTOOLS_METRICS_NAMESPACE", ""),
                spec.environment.get("POWERTOOLS_SERVICE_NAME", ""),
            )
            for spec in runtime.functions.values()
        }
        apis = services.stack.of_type("AWS::ApiGatewayV2::Api")
        stages = services.stack.of_type("AWS::ApiGatewayV2::Stage")
        self._api = {
            "ApiId": str(apis[0].ref) if apis else "localcloud",
            "Stage": str(stages[0].properties.get("StageName", "$default")) if stages else "$default",
        }
        runtime.observers["cloudwatch"] = self._on_invocation
        api.observers["cloudwatch"] = self._on_response
        self._balancer: dict[str, str] = {}
        if load_balancer is not None:
            [balancer] = services.stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
            self._balancer = {"LoadBalancer": str(balancer.attributes["LoadBalancerFullName"])}
            load_balancer.observers["cloudwatch"] = self._on_balancer_response

    # ------------------------------------------------------------------ the emulator protocol
    def pump(self) -> int:
        """Take in what was reported, sample the queues and evaluate every period that has ended.
        Returns 0: keeping books is not work that should keep the cloud busy."""
        self.evaluate()
        return 0

    def next_due(self) -> None:
        return None

    def evaluate(self) -> None:
        now = self._services.clock.now()
        for report in self._services.reporters:
            report(now)
        self._collect(self._services.metrics)
        self._services.metrics.clear()
        if self._sampled_at != now:
            self._sample_queues(now)
        for spec in self.alarms.values():
            self._catch_up(spec, now)

    # ------------------------------------------------------------------ reading
    def state(self, alarm: str) -> State:
        return self.states[alarm]

    def changes(self, alarm: str) -> list[StateChange]:
        return [change for change in self.history if change.alarm == alarm]

    def first_alarm(self, alarm: str) -> float | None:
        """When (cloud-clock seconds) the alarm first went to ALARM; None if it never did."""
        return next((change.at for change in self.changes(alarm) if change.new == "ALARM"), None)

    def values(self, namespace: str, name: str, dimensions: Mapping[str, str]) -> list[float]:
        """Every value reported for one metric (counters and EMF; not the queue gauges)."""
        return list(self._series[metric_key(namespace, name, dimensions)].values)

    # ------------------------------------------------------------------ collecting
    def put(self, key: MetricKey, value: float, at: float) -> None:
        self._series[key].add(at, value)

    def _collect(self, data: Iterable[Datum]) -> None:
        for datum in data:
            self.put((datum.namespace, datum.name, datum.dimensions), datum.value, datum.at)

    def _on_invocation(self, spec: FunctionSpec, outcome: Invocation) -> None:
        now = self._services.clock.now()
        function = {"FunctionName": spec.name}
        throttled = outcome.error_type in THROTTLE_ERRORS
        for name, value in (
            ("Invocations", 0.0 if throttled else 1.0),
            ("Errors", float(not outcome.ok and not throttled)),
            ("Throttles", float(throttled)),
            ("Duration", outcome.duration * 1000),
        ):
            self.put(aws_metric("AWS/Lambda", name, function), value, now)
        for line in outcome.output.splitlines():
            if line.startswith("{") and '"_aws"' in line:
                self._emf(line, *self._emf_identity.get(spec.logical_id, ("", "")), now)

    def _emf(self, line: str, namespace: str, service: str, now: float) -> None:
        """One EMF line, read under the printing function's own namespace and service: the shared
        layer's ``Metrics`` object took both from the environment of whoever imported it first."""
        try:
            document = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return
        if service and "service" in document:
            document["service"] = service
        for directive in directives:
            read_as = namespace or str(directive["Namespace"])
            for metric in directive.get("Metrics", []):
                raw = document.get(metric["Name"])
                values = raw if isinstance(raw, list) else [raw]
                for dimension_set in directive.get("Dimensions") or [[]]:
                    dimensions = {name: str(document.get(name, "")) for name in dimension_set}
                    key = metric_key(read_as, str(metric["Name"]), dimensions)
                    for value in values:
                        if isinstance(value, int | float):
                            self.put(key, float(value), now)

    def _on_response(self, response: HttpResponse, latency_ms: float) -> None:
        now = self._services.clock.now()
        for dimensions in (self._api, {"ApiId": self._api["ApiId"]}):
            for name, value in (
                ("Count", 1.0),
                ("4xx", float(400 <= response.status < 500)),
                ("5xx", float(response.status >= 500)),
                ("Latency", latency_ms),
            ):
                self.put(aws_metric("AWS/ApiGateway", name, dimensions), value, now)

    def _on_balancer_response(self, response: HttpResponse, own: bool, _latency_ms: float) -> None:
        """The load balancer's metrics: a 5xx is the target's, or its own (the function failed)."""
        now = self._services.clock.now()
        server_error = float(response.status >= 500)
        for name, value in (
            ("RequestCount", 1.0),
            ("HTTPCode_Target_5XX_Count", 0.0 if own else server_error),
            ("HTTPCode_ELB_5XX_Count", server_error if own else 0.0),
        ):
            self.put(aws_metric("AWS/ApplicationELB", name, self._balancer), value, now)

    def _sample_queues(self, now: float) -> None:
        """Every queue's visible messages and oldest message, read from moto's queues without touching
        them (a ReceiveMessage would change what it measures)."""
        from moto.core.utils import unix_time_millis  # noqa: PLC0415

        self._sampled_at = now
        now_ms = unix_time_millis()
        for name, gauge in self._queues.items():
            queue = self._queue_ages.queue(name)
            messages = list(queue._messages) if queue is not None else []  # moto's own list
            # moto's Message.visible and .delayed each read the clock: read once per sample here (a
            # queue that fills through a day-long outage holds thousands of messages, sampled each step).
            visible = sum(
                1 for message in messages if now_ms > message.visible_at and now_ms >= message.delayed_until
            )
            gauge.add(now, visible, self._queue_ages.oldest(name))

    # ------------------------------------------------------------------ evaluating
    def _catch_up(self, spec: AlarmSpec, now: float) -> None:
        period = spec.period
        last = math.floor(now / period) * period
        boundary = self._evaluated.get(spec.name)
        boundary = last if boundary is None else boundary + period
        span = (spec.evaluation_periods + EXTRA_RANGE_PERIODS + 1) * period
        while boundary <= last:
            self._evaluate(spec, boundary)
            quiet_from = self._last_input(spec) + span
            if boundary >= quiet_from and not self._growing(spec):
                boundary = last  # nothing enters or leaves its range any more: the state holds
            self._evaluated[spec.name] = boundary
            boundary += period

    def _last_input(self, spec: AlarmSpec) -> float:
        moments = [0.0]
        for namespace, name, dimensions in spec.keys:
            if namespace == "AWS/SQS" and name in (VISIBLE, OLDEST):
                gauge = self._queues.get(dict(dimensions).get("QueueName", ""))
                moments.append(gauge.changed if gauge else 0.0)
            elif (series := self._series.get((namespace, name, dimensions))) and series.times:
                moments.append(series.times[-1])
        return max(moments)

    def _growing(self, spec: AlarmSpec) -> bool:
        for namespace, name, dimensions in spec.keys:
            if (namespace, name) == ("AWS/SQS", OLDEST):
                gauge = self._queues.get(dict(dimensions).get("QueueName", ""))
                if gauge is not None and gauge.growing():
                    return True
        return False

    def _samples(self, key: MetricKey, start: float, end: float) -> list[float]:
        """One metric's values in [start, end): a queue gauge's minute samples, or what was reported."""
        namespace, name, dimensions = key
        gauge = self._queues.get(dict(dimensions).get("QueueName", "")) if namespace == "AWS/SQS" else None
        if gauge is not None and name in (VISIBLE, OLDEST):
            return [
                sample for minute in _minutes(start, end) if (sample := gauge.value(name, minute)) is not None
            ]
        series = self._series.get(key)
        return series.between(start, end) if series else []

    def _datapoint(self, spec: AlarmSpec, start: float) -> float | None:
        end = start + spec.period
        values = {
            query_id: statistic(metric.stat, self._samples(metric.key, start, end))
            for query_id, metric in spec.stats.items()
        }
        return spec.result(values)

    def datapoints(
        self, key: MetricKey, stat: str, period: float, start: float, end: float
    ) -> list[tuple[float, float | None]]:
        """One metric's statistic for each period from ``start`` to ``end`` (periods aligned to the
        epoch), as a dashboard graph reads it: (period start, value or None when missing)."""
        first = math.floor(start / period) * period
        count = max(0, math.ceil((end - first) / period))
        moments = [first + index * period for index in range(count)]
        return [(moment, statistic(stat, self._samples(key, moment, moment + period))) for moment in moments]

    def _evaluate(self, spec: AlarmSpec, boundary: float) -> None:
        size = spec.evaluation_periods + EXTRA_RANGE_PERIODS
        datapoints = [self._datapoint(spec, boundary - (size - index) * spec.period) for index in range(size)]
        compare = _COMPARE[spec.compare]
        points = [None if value is None else compare(value, spec.threshold) for value in datapoints]
        old = self.states[spec.name]
        new = decide(
            points,
            periods=spec.evaluation_periods,
            to_alarm=spec.datapoints_to_alarm,
            treatment=spec.treatment,
            current=old,
        )
        if new != old:
            self.states[spec.name] = new
            self.history.append(StateChange(spec.name, boundary, old, new, datapoints[-1]))


def _minutes(start: float, end: float) -> list[float]:
    """The minute marks in [start, end): when SQS reports its gauges."""
    first = math.ceil(start / GAUGE_INTERVAL) * GAUGE_INTERVAL
    count = max(0, math.ceil((end - first) / GAUGE_INTERVAL))
    return [first + step * GAUGE_INTERVAL for step in range(count)]
