"""Random fault schedules for the no-loss property test (and `make demo --chaos SEED`).

A schedule is made from one seed: small traffic (20-50 events, some invalid, some requests sent
twice) and zero to three faults drawn from what the running cloud actually has — its functions,
rule targets, streams, API destinations (names come from the template, never a list kept here) —
plus SDK faults on the calls the handlers make (PutEvents throttled whole or per entry, S3 PutObject
errors, DynamoDB throttles). Faults fail a number of times, for a window of cloud time (long
windows outlast every retry and reach the DLQs), or only for chosen event ids (poison records).
The same seed always gives the same schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Final

from localcloud.cloud import LocalCloud
from localcloud.faults import Fault, Mode, RecordAging, SdkFault, TargetFault
from localcloud.scenario import Scenario, plan_traffic
from localcloud.traffic import TrafficRequest

SDK_FAULTS: Final = (
    ("events", "put_events", "ThrottlingException"),
    ("s3", "put_object", "InternalError"),
    ("dynamodb", "put_item", "ProvisionedThroughputExceededException"),
)


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    scenario: Scenario
    requests: list[TrafficRequest]
    faults: tuple[Fault, ...]

    def times_out_after_success(self, function: str) -> bool:
        """True when ``function`` may fail after its side effects (a Lambda timeout after its writes)."""
        return any(
            isinstance(f, TargetFault) and f.mode == "timeout" and f.target == function for f in self.faults
        )

    def describe(self) -> str:
        faults = "; ".join(_describe(fault) for fault in self.faults) or "no faults"
        return f"seed {self.seed}: {self.scenario.events} events, {faults}"


def _describe(fault: Fault) -> str:
    if isinstance(fault, TargetFault):
        when = f"times={fault.times}" if fault.times else f"window={fault.window}" if fault.window else ""
        ids = f"ids={len(fault.event_ids)}" if fault.event_ids else ""
        return f"target {fault.target} {fault.mode} {when} {ids}".strip()
    if isinstance(fault, SdkFault):
        kind = "per entry" if fault.per_entry else "whole call"
        return f"sdk {fault.service}.{fault.operation} {fault.code} {kind} times={fault.times}"
    if isinstance(fault, RecordAging):
        return f"age {fault.stream} +{fault.seconds:.0f}s ids={len(fault.event_ids)}"
    return repr(fault)


def random_schedule(seed: int, cloud: LocalCloud, *, base: Scenario | None = None) -> Schedule:
    rng = random.Random(seed)
    scenario = replace(
        base or Scenario(),
        events=rng.randint(20, 50),
        per_request=rng.choice((10, 25, 50)),
        invalid_share=0.15,
        resend_share=0.15,
        seed=seed,
        sources=(base or Scenario()).sources[:2],
    )
    requests = plan_traffic(scenario)
    valid_ids = [
        item.event["event_id"]
        for request in requests
        for item in request.events
        if item.expected == "accepted"
    ]
    count = rng.choices((0, 1, 2, 3), weights=(1, 4, 3, 2))[0]
    faults = tuple(_fault(rng, cloud, valid_ids) for _ in range(count))
    return Schedule(seed, scenario, requests, faults)


def _fault(rng: random.Random, cloud: LocalCloud, valid_ids: list[str]) -> Fault:
    functions = [spec.logical_id for spec in cloud.functions.values()]
    rule_targets = [target.name for target in cloud.eventbridge.targets]
    destinations = [resource.logical_id for resource in cloud.stack.of_type("AWS::Events::ApiDestination")]
    streams = [pipe.spec for pipe in cloud.pipes]
    kind = rng.choice(("function", "function", "rule", "destination", "sdk", "sdk", "age"))
    if (
        kind == "function"
        or (kind == "rule" and not rule_targets)
        or (kind == "destination" and not destinations)
    ):
        mode: Mode = rng.choice(("error", "timeout"))
        return replace(_when(rng, rng.choice(functions), valid_ids, long=900.0), mode=mode)
    if kind == "rule":
        return _when(rng, rng.choice(rule_targets), valid_ids, long=90000.0)
    if kind == "destination":
        return _when(rng, rng.choice(destinations), valid_ids, long=3000.0)
    if kind == "age" and streams and valid_ids:
        pipe = rng.choice(streams)
        age = pipe.maximum_record_age if pipe.maximum_record_age >= 0 else 86400
        return RecordAging(pipe.stream_logical_id, float(age + 1), frozenset(rng.sample(valid_ids, 1)))
    service, operation, code = rng.choice(SDK_FAULTS)
    per_entry = service == "events" and rng.random() < 0.5
    return SdkFault(service, operation, times=rng.randint(1, 6), code=code, per_entry=per_entry)


def _when(rng: random.Random, target: str, valid_ids: list[str], *, long: float) -> TargetFault:
    """A fault of ``target`` for a count, a window of cloud seconds (short, or long enough to exhaust
    every retry), or for poison event ids."""
    choice = rng.choice(("times", "times", "window", "ids"))
    if choice == "times":
        return TargetFault(target, times=rng.randint(1, 12))
    if choice == "window":
        return TargetFault(target, window=(0.0, rng.choice((5.0, 60.0, long))))
    count = min(len(valid_ids), rng.randint(1, 2))
    return TargetFault(target, event_ids=frozenset(rng.sample(valid_ids, count)))
