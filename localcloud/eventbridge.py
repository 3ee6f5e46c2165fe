"""EventBridge rule targets moto does not deliver: Lambda (async), Kinesis, API destinations, and
other event buses (moto delivers to a bus at once, never failing: emulated, a bus in a Region that is
down refuses the event and the rule retries it, as EventBridge does).

How an event gets here (the "tap"): moto keeps the rules with their exact EventPatterns and targets
and does the pattern matching on PutEvents. ``MotoRuleHook`` wraps moto's ``Rule.send_to_targets``
so that, for every rule whose targets include one moto cannot deliver, each matching event is also
put in an in-process ``Inbox``, in the event shape targets receive (version, id, detail-type, source,
account, time, region, resources, detail). moto keeps delivering the targets it can (SQS, logs,
archives) and skips the rest (it would raise NotImplementedError for them). The tap is
an inbox rather than a hidden SQS queue because moto's SQS costs 10-30 ms per message on these
machines, which would dominate every run.

Delivery (``EventBridgeEmulator``): each matched event becomes one delivery per emulated target,
tried at once, retried with exponential backoff and jitter while ``RetryPolicy`` allows
(``MaximumRetryAttempts`` default 185, ``MaximumEventAgeInSeconds`` default 86,400), then written to
the target's ``DeadLetterConfig`` queue: body = the event, message attributes ERROR_CODE,
ERROR_MESSAGE, RULE_ARN, TARGET_ARN, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS. With no DLQ the event
is dropped (recorded, so the accounting reports it as lost), and either way the rule's
``FailedInvocations`` counts it. Lambda targets are asynchronous: the
delivery succeeds when the event is in the function's async queue (``lambda_async``), and function
errors are Lambda's business (EventInvokeConfig), not the rule's. A Kinesis target is PutRecord with
the partition key at ``KinesisParameters.PartitionKeyPath`` (the event id without one). A
``TargetFault`` on a stream with the error ``ProvisionedThroughputExceededException`` is a throttled
put: the stream counts the refused record in its ``WriteProvisionedThroughputExceeded`` metric, and
EventBridge retries it like any other failed delivery.

At least once (a ``Duplicate`` fault): EventBridge delivers to rule targets at least once (the
Lambda guide asks every function it invokes to handle duplicate events), so a delivery that
succeeded is then made again, as a new delivery with its own retries (a Kinesis target gets a
second record, a Lambda target a second async invoke).
"""

from __future__ import annotations

import copy
import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from localcloud import jsonpath
from localcloud.due_queue import DueQueue
from localcloud.provision import Resource, Stack
from localcloud.services import Services, backoff
from localcloud.signals import event_ids
from signal_platform import codec

TargetKind = Literal["lambda", "kinesis", "api-destination", "bus", "moto"]
STREAM_THROTTLED: Final = "ProvisionedThroughputExceededException"
DEFAULT_RETRY_ATTEMPTS: Final = 185
DEFAULT_MAXIMUM_EVENT_AGE: Final = 86400.0
RETRY_BASE_SECONDS: Final = 1.0
RETRY_CAP_SECONDS: Final = 300.0
_EVENT_KEYS: Final = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


class DeliveryError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def target_kind(arn: str) -> TargetKind:
    parts = arn.split(":")
    service = parts[2] if len(parts) > 2 else ""
    if service == "lambda":
        return "lambda"
    if service == "kinesis":
        return "kinesis"
    if service == "events" and ":api-destination/" in arn:
        return "api-destination"
    if service == "events" and ":event-bus/" in arn:
        return "bus"
    return "moto"


@dataclass(frozen=True, slots=True)
class RuleTarget:
    rule: str
    rule_arn: str
    target_id: str
    arn: str
    kind: TargetKind
    retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    maximum_event_age: float = DEFAULT_MAXIMUM_EVENT_AGE
    dead_letter_arn: str | None = None
    partition_key_path: str | None = None
    input: str | None = None
    input_path: str | None = None
    input_transformer: dict[str, Any] | None = None
    http_parameters: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """The fault-injection name of this target: ``<RuleLogicalId>/<TargetId>``."""
        return f"{self.rule}/{self.target_id}"

    @classmethod
    def of_rule(cls, rule: Resource) -> list[RuleTarget]:
        targets = []
        for target in rule.properties.get("Targets", []):
            policy = target.get("RetryPolicy") or {}
            transformer = target.get("InputTransformer")
            targets.append(
                cls(
                    rule=rule.logical_id,
                    rule_arn=rule.arn,
                    target_id=str(target["Id"]),
                    arn=str(target["Arn"]),
                    kind=target_kind(str(target["Arn"])),
                    retry_attempts=int(policy.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)),
                    maximum_event_age=float(
                        policy.get("MaximumEventAgeInSeconds", DEFAULT_MAXIMUM_EVENT_AGE)
                    ),
                    dead_letter_arn=(target.get("DeadLetterConfig") or {}).get("Arn"),
                    partition_key_path=(target.get("KinesisParameters") or {}).get("PartitionKeyPath"),
                    input=target.get("Input"),
                    input_path=target.get("InputPath"),
                    input_transformer=dict(transformer) if transformer else None,
                    http_parameters=target.get("HttpParameters"),
                )
            )
        return targets

    def payload(self, event: dict[str, Any]) -> Any:
        """What the target receives: the event, or its Input / InputPath / InputTransformer result."""
        if self.input is not None:
            return json.loads(self.input)
        if self.input_path:
            value = jsonpath.find(event, self.input_path)
            return None if value is jsonpath.MISSING else value
        if self.input_transformer:
            return transform(event, self.input_transformer)
        return event


def transform(event: dict[str, Any], transformer: dict[str, Any]) -> Any:
    """An InputTransformer: ``<name>`` placeholders of InputTemplate filled from InputPathsMap."""
    template = str(transformer.get("InputTemplate", ""))
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        value = jsonpath.find(event, str(path))
        text = "" if value is jsonpath.MISSING else value if isinstance(value, str) else json.dumps(value)
        template = template.replace(f"<{name}>", text)
    template = template.replace("<aws.events.event.json>", json.dumps(event))
    try:
        return json.loads(template)
    except json.JSONDecodeError:
        return template


def rule_dimensions(rule_arn: str) -> dict[str, str]:
    """A rule's metric dimensions: RuleName, plus EventBusName for a custom bus (as EventBridge reports)."""
    path = rule_arn.split(":rule/", 1)[-1]
    bus, _, name = path.rpartition("/")
    return {"EventBusName": bus, "RuleName": name} if bus and bus != "default" else {"RuleName": name}


# ---------------------------------------------------------------------------- the tap
class Inbox:
    """Events matched by moto for emulated rules, in arrival order (filled from any thread)."""

    def __init__(self) -> None:
        self._events: deque[tuple[str, dict[str, Any]]] = deque()
        self.matched: deque[str] = deque()  # the ARN of every rule an event matched (MatchedEvents)

    def put(self, rule_arn: str, event: dict[str, Any]) -> None:
        self._events.append((rule_arn, event))

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        drained = []
        while self._events:
            drained.append(self._events.popleft())
        return drained

    def __len__(self) -> int:
        return len(self._events)


def _target_event(moto_event: Any, account_id: str) -> dict[str, Any]:
    event = {key: moto_event[key] for key in _EVENT_KEYS if key in moto_event}
    event["account"] = account_id
    moment = moto_event.get("time")
    if isinstance(moment, int | float):
        event["time"] = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    elif isinstance(moment, datetime):
        event["time"] = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for key, value in moto_event.items():  # e.g. replay-name on replayed events
        if key not in event and key != "ingestion-time":
            event[key] = value
    return {key: event[key] for key in (*_EVENT_KEYS, *event) if key in event}


def _detached(value: Any) -> Any:
    """A copy of a moto event the targets may change without changing moto's (its archive keeps it):
    dicts and lists copied, immutable leaves shared; anything else deep-copied. A few times faster than
    ``copy.deepcopy`` on signal batches."""
    kind = type(value)
    if kind is dict:
        return {key: _detached(item) for key, item in value.items()}
    if kind is list:
        return [_detached(item) for item in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None), datetime})


@contextmanager
def moto_rule_hook(
    inbox: Inbox, emulated_rules: set[str], account_id: str, region: str | None = None
) -> Iterator[None]:
    """While active, moto hands matched events of ``emulated_rules`` (ARNs) to ``inbox``; with
    ``region``, only that Region's rules (each Region of a cloud hooks its own)."""
    from moto.events.models import Rule  # noqa: PLC0415

    original = Rule.send_to_targets
    lock = threading.Lock()

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if region is not None and self.region_name != region:
            original(self, original_event, transform_input)  # another Region's hook, or moto
            return
        if not self.event_pattern.matches_event(original_event):
            return
        inbox.matched.append(self.arn)
        if self.arn in emulated_rules:
            inbox.put(self.arn, _target_event(_detached(original_event), account_id))
        delivered_by_moto = [target for target in self.targets if target_kind(target["Arn"]) == "moto"]
        if not delivered_by_moto:
            return
        with lock:
            every_target, self.targets = self.targets, delivered_by_moto
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = every_target

    setattr(Rule, "send_to_targets", send_to_targets)  # noqa: B010 - a method swapped for the duration
    try:
        yield
    finally:
        setattr(Rule, "send_to_targets", original)  # noqa: B010


# ---------------------------------------------------------------------------- delivery
Sender = Callable[[RuleTarget, Any, dict[str, Any]], None]


@dataclass
class _Delivery:
    target: RuleTarget
    event: dict[str, Any]
    first_attempt: float
    attempts: int = 0
    copy: bool = False
    due: float = 0.0  # DueQueue sets it


Tap = Callable[[dict[str, Any]], None]


class EventBridgeEmulator:
    """``taps``: rules (by ARN) not in the template whose matched events go to another emulator (a
    global endpoint's managed replication rules)."""

    def __init__(
        self,
        services: Services,
        inbox: Inbox,
        senders: dict[TargetKind, Sender],
        taps: dict[str, Tap] | None = None,
    ) -> None:
        self._services = services
        self._inbox = inbox
        self._senders = senders
        self._taps = taps if taps is not None else {}
        self._targets: dict[str, list[RuleTarget]] = {}
        # Rules with a target moto delivers at once (SQS, logs, buses): their invocations start with
        # no delay, which IngestionToInvocationStartLatency reports too.
        self._delivered_by_moto: set[str] = set()
        for rule in services.stack.of_type("AWS::Events::Rule"):
            targets = RuleTarget.of_rule(rule)
            emulated = [target for target in targets if target.kind != "moto"]
            if emulated:
                self._targets[rule.arn] = emulated
            if len(emulated) < len(targets):
                self._delivered_by_moto.add(rule.arn)
        self._queue: DueQueue[_Delivery] = DueQueue()
        self.delivered = 0
        self.dead_lettered = 0

    @property
    def emulated_rules(self) -> set[str]:
        return set(self._targets) | set(self._taps)

    @property
    def targets(self) -> list[RuleTarget]:
        return [target for targets in self._targets.values() for target in targets]

    def pending(self) -> int:
        return len(self._queue) + len(self._inbox)

    def next_due(self) -> float | None:
        if len(self._inbox):
            return self._services.clock.now()
        return self._queue.next_due()

    def pump(self) -> int:
        now = self._services.clock.now()
        work = 0
        while self._inbox.matched:
            rule_arn = self._inbox.matched.popleft()
            self._services.emit("AWS/Events", "MatchedEvents", rule_dimensions(rule_arn))
            if rule_arn in self._delivered_by_moto:
                self._services.emit("AWS/Events", "IngestionToInvocationStartLatency", {}, 0.0)
        for rule_arn, event in self._inbox.drain():
            if rule_arn in self._taps:
                self._taps[rule_arn](event)
            for target in self._targets.get(rule_arn, []):
                self._queue.push(_Delivery(target, event, now), now)
        if self._services.faults.region_down(self._services.region):
            return work
        for delivery in self._queue.take(now):
            self._attempt(delivery, now)
            work += 1
        return work

    def _attempt(self, delivery: _Delivery, now: float) -> None:
        target = delivery.target
        payload = target.payload(delivery.event)
        self._metric(target, "InvocationAttempts")
        if delivery.attempts:
            self._metric(target, "RetryInvocationAttempts")
        else:  # a service-level metric: no dimensions
            latency = (now - delivery.first_attempt) * 1000
            self._services.emit("AWS/Events", "IngestionToInvocationStartLatency", {}, latency)
        try:
            self._inject_fault(target, payload)
            self._senders[target.kind](target, payload, delivery.event)
            self._metric(target, "Invocations")
        except DeliveryError as error:
            delivery.attempts += 1
            exhausted = self._exhausted(delivery, now)
            if exhausted is None:
                delay = backoff(
                    delivery.attempts, base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS, rng=self._services.rng
                )
                self._queue.push(delivery, now + delay)
            else:
                self._dead_letter(delivery, error, exhausted)
            return
        self.delivered += 1
        if not delivery.copy and self._services.faults.duplicate(
            (target.name, *self._resource_names(target.arn), target.arn)
        ):
            self._queue.push(_Delivery(target, delivery.event, now, copy=True), now)

    def _inject_fault(self, target: RuleTarget, payload: Any) -> None:
        fault = self._services.faults.target_fault(
            (target.name, *self._resource_names(target.arn)), lambda: set(event_ids(payload))
        )
        if fault is not None:
            if target.kind == "kinesis" and fault.error == STREAM_THROTTLED:
                stream = self._services.stack.by_arn(target.arn)
                name = str(stream.ref) if stream is not None else target.arn.rsplit("/", 1)[-1]
                self._services.emit("AWS/Kinesis", "WriteProvisionedThroughputExceeded", {"StreamName": name})
            raise DeliveryError("SDK_CLIENT_ERROR", f"{fault.error}: {fault.message}")

    def _resource_names(self, arn: str) -> tuple[str, ...]:
        resource = self._services.stack.by_arn(arn)
        return (resource.logical_id,) if resource is not None and target_kind(arn) != "lambda" else ()

    def _metric(self, target: RuleTarget, name: str) -> None:
        self._services.emit("AWS/Events", name, rule_dimensions(target.rule_arn))

    @staticmethod
    def _exhausted(delivery: _Delivery, now: float) -> str | None:
        if delivery.attempts > delivery.target.retry_attempts:
            return "MaximumRetryAttempts"
        if now - delivery.first_attempt >= delivery.target.maximum_event_age:
            return "MaximumEventAgeInSeconds"
        return None

    def _dead_letter(self, delivery: _Delivery, error: DeliveryError, condition: str) -> None:
        target = delivery.target
        attributes = {
            "ERROR_CODE": error.code,
            "ERROR_MESSAGE": str(error),
            "RULE_ARN": target.rule_arn,
            "TARGET_ARN": target.arn,
            "EXHAUSTED_RETRY_CONDITION": condition,
            "RETRY_ATTEMPTS": str(delivery.attempts - 1),
        }
        self._metric(target, "FailedInvocations")
        if target.dead_letter_arn and self._services.send_to_queue(
            target.dead_letter_arn, delivery.event, attributes
        ):
            self.dead_lettered += 1
            self._metric(target, "InvocationsSentToDlq")
            return
        if target.dead_letter_arn:
            self._metric(target, "InvocationsFailedToBeSentToDlq")
        reason = "no DeadLetterConfig" if not target.dead_letter_arn else "the DLQ could not be written"
        self._services.drop(target.name, f"{condition} exhausted, {reason}", delivery.event)


# ---------------------------------------------------------------------------- senders
def bus_sender(services: Services) -> Sender:
    """An event bus target, in this Region or another of the cloud: a new event of the same source,
    detail-type and detail on that bus (what moto's own delivery to a bus does), refused while its
    Region is down."""
    from moto.events.models import events_backends  # noqa: PLC0415 - the cloud's in-process moto

    def send(target: RuleTarget, payload: Any, event: dict[str, Any]) -> None:  # noqa: ARG001
        _, _, _, region, account, resource = target.arn.split(":", 5)
        if services.faults.region_down(region):
            raise DeliveryError("SDK_CLIENT_ERROR", f"EventBridge in {region} did not answer")
        entry = {
            "Source": payload["source"],
            "DetailType": payload["detail-type"],
            "Detail": codec.dumps(payload["detail"]).decode(),
            "EventBusName": resource.split("/", 1)[1],
        }
        answer = events_backends[account][region].put_events([entry])
        failed = [item for item in answer if isinstance(item, dict) and item.get("ErrorCode")]
        if failed:
            raise DeliveryError("SDK_CLIENT_ERROR", f"PutEvents to {target.arn} failed: {failed[0]}")

    return send


def kinesis_sender(services: Services) -> Sender:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    stack: Stack = services.stack

    def send(target: RuleTarget, payload: Any, event: dict[str, Any]) -> None:
        stream = stack.by_arn(target.arn)
        stream_name = str(stream.ref) if stream is not None else target.arn.rsplit("/", 1)[-1]
        key: Any = event.get("id", "")
        if target.partition_key_path:
            key = jsonpath.find(event, target.partition_key_path)
            if key is jsonpath.MISSING or key in ("", None):
                raise DeliveryError("INVALID_PARAMETER", f"no partition key at {target.partition_key_path}")
        data = payload if isinstance(payload, bytes) else codec.dumps(payload)
        try:
            services.put_record(stream_name, data, str(key)[:256])
        except (ClientError, BotoCoreError) as exc:
            raise DeliveryError("SDK_CLIENT_ERROR", str(exc)) from exc

    return send
