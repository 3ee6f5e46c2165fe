"""Random fault schedules for the no-loss property test (and `make demo --chaos SEED`).

A schedule is made from one seed: small traffic (20-50 events, some invalid, some requests sent
twice) and zero to four faults drawn from what the running cloud actually has — its functions,
rule targets, streams, pipes, API destinations (names come from the template, never a list kept
here) — plus SDK faults on the calls the handlers make (PutEvents throttled whole or per entry, S3
PutObject errors, DynamoDB throttles on the idempotency record's first write and on its save).

Faults fail a number of times (up to more than the publisher's 8 PutEvents attempts), for a window
of cloud time (long windows outlast every retry and reach the DLQs), or only for chosen event ids
(poison records). Functions fail before they run, or time out after they ran or part-way, at their
Nth AWS call. And what AWS does on a good day: deliveries made twice (rule targets, async invokes,
Pipe batches, SQS messages), functions throttled over a concurrency limit, a shard split mid-run.
The same seed always gives the same schedule.

With two Regions (``LocalCloud.joined``) a schedule also draws, from a stream of its own (a seed's
one-Region faults stay what they were): outages of either Region, short ones (from a blip the
health alarm never sees to half an hour) and ones past the 24 h replication window; health-check
flapping (the primary down long enough to fail the endpoint over, back long enough for it to route
back, twice, while the requests keep coming); a replication lag; whether the
endpoint is healthy when traffic starts or has no verdict yet. It sends fewer events (6-16: each
event costs two Regions' work), in smaller requests spread over cloud time
(``Scenario.request_gap``) so that the outages fall between them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Final

from localcloud.cloud import LocalCloud
from localcloud.faults import (
    Concurrency,
    Duplicate,
    Fault,
    Mode,
    RecordAging,
    RegionOutage,
    ReplicationLag,
    Reshard,
    SdkFault,
    TargetFault,
)
from localcloud.replication import REPLICATION_WINDOW
from localcloud.scenario import Scenario, plan_traffic
from localcloud.traffic import TrafficRequest

SDK_FAULTS: Final = (
    ("events", "put_events", "ThrottlingException"),
    ("s3", "put_object", "InternalError"),
    # Powertools' idempotency: the in-progress record (put_item) and the saved result (update_item).
    ("dynamodb", "put_item", "ProvisionedThroughputExceededException"),
    ("dynamodb", "update_item", "ProvisionedThroughputExceededException"),
)
PUBLISHER_ATTEMPTS: Final = 8  # signal_platform.bus_publisher.RetryPolicy.max_attempts
GAPS: Final = (30.0, 60.0, 180.0)  # two Regions: cloud seconds between requests
# From a blip the health alarm never sees (it needs 5 minutes of silence) to half an hour.
SHORT_OUTAGES: Final = (60.0, 180.0, 420.0, 900.0, 1800.0)


@dataclass(frozen=True, slots=True)
class Schedule:
    seed: int
    scenario: Scenario
    requests: list[TrafficRequest]
    faults: tuple[Fault, ...]
    healthy_start: bool = True  # two Regions: the endpoint routes to the primary when traffic starts

    def describe(self) -> str:
        faults = "; ".join(_describe(fault) for fault in self.faults) or "no faults"
        spread = f" {self.scenario.request_gap:.0f} s apart" if self.scenario.request_gap else ""
        start = "" if self.healthy_start else ", endpoint without a verdict at the start"
        return f"seed {self.seed}: {self.scenario.events} events{spread}{start}, {faults}"

    @property
    def past_window_outages(self) -> list[RegionOutage]:
        """The Region outages that outlast the replication window (they need the archive replay)."""
        return [
            fault
            for fault in self.faults
            if isinstance(fault, RegionOutage)
            and fault.window is not None
            and fault.window[1] - fault.window[0] >= REPLICATION_WINDOW
        ]


def _describe(fault: Fault) -> str:  # noqa: PLR0911 - one line per fault kind
    if isinstance(fault, TargetFault):
        when = f"times={fault.times}" if fault.times else f"window={fault.window}" if fault.window else ""
        ids = f"ids={len(fault.event_ids)}" if fault.event_ids else ""
        calls = f"after {fault.after_calls} calls" if fault.after_calls is not None else ""
        return f"target {fault.target} {fault.mode} {calls} {when} {ids}".strip()
    if isinstance(fault, SdkFault):
        kind = "per entry" if fault.per_entry else "whole call"
        when = f"times={fault.times}" if fault.times else f"window={fault.window}"
        return f"sdk {fault.service}.{fault.operation} {fault.code} {kind} {when}"
    if isinstance(fault, RecordAging):
        return f"age {fault.stream} +{fault.seconds:.0f}s ids={len(fault.event_ids)}"
    if isinstance(fault, Duplicate):
        return f"duplicate {fault.where} p={fault.probability} seed={fault.seed}"
    if isinstance(fault, Concurrency):
        return f"concurrency {fault.function} limit={fault.limit} hold={fault.hold}s window={fault.window}"
    if isinstance(fault, Reshard):
        return f"reshard {fault.stream} after {fault.after} records"
    if isinstance(fault, RegionOutage):
        start, end = fault.window or (0.0, float("inf"))
        return f"region {fault.region} down {start:.0f}-{end:.0f}s"
    return f"replication lag {fault.seconds:.0f}s"


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
    regions_rng = None if cloud.joined is None else random.Random(f"regions/{seed}")
    if regions_rng is not None:  # fewer events in smaller requests, spread over cloud time
        scenario = replace(
            scenario,
            events=regions_rng.randint(6, 16),
            per_request=regions_rng.choice((4, 8)),
            request_gap=regions_rng.choice(GAPS),
        )
    requests = plan_traffic(scenario)
    valid_ids = [
        item.event["event_id"]
        for request in requests
        for item in request.events
        if item.expected == "accepted"
    ]
    count = rng.choices((0, 1, 2, 3, 4), weights=(2, 5, 4, 2, 1))[0]
    faults = tuple(_fault(rng, cloud, valid_ids) for _ in range(count))
    if regions_rng is None:
        return Schedule(seed, scenario, requests, faults)
    return _with_regions(regions_rng, Schedule(seed, scenario, requests, faults), cloud)


def _with_regions(rng: random.Random, schedule: Schedule, cloud: LocalCloud) -> Schedule:
    """``schedule`` with Region faults drawn over the cloud time its requests span."""
    span = schedule.scenario.request_gap * max(1, len(schedule.requests) - 1)
    primary = cloud.primary.name
    secondary = next(name for name in cloud.regions if name != primary)
    faults: list[Fault] = []
    for _ in range(rng.choices((0, 1, 2), weights=(1, 5, 2))[0]):
        kind = rng.choice(("outage", "outage", "past-window", "flapping", "lag"))
        region = rng.choice((primary, primary, secondary))
        start = rng.uniform(0.0, span)
        if kind == "outage":
            faults.append(RegionOutage(region, (start, start + rng.choice(SHORT_OUTAGES))))
        elif kind == "past-window":
            end = start + REPLICATION_WINDOW + rng.choice((60.0, 3600.0))
            faults.append(RegionOutage(region, (start, end)))
        elif kind == "flapping":
            flaps = _flapping(rng, primary, rng.uniform(0.0, span / 2))
            faults.extend(flaps)
            schedule = _spread_until(schedule, max(end for _, end in _windows(flaps)))
        else:
            faults.append(ReplicationLag(rng.choice((30.0, 300.0, 3600.0))))
    return replace(schedule, faults=(*schedule.faults, *faults), healthy_start=rng.random() < 0.8)


def _spread_until(schedule: Schedule, until: float) -> Schedule:
    """The requests spread (further) apart, so that they keep coming until ``until``."""
    gap = max(schedule.scenario.request_gap, until / max(1, len(schedule.requests) - 1))
    return replace(schedule, scenario=replace(schedule.scenario, request_gap=gap))


def _windows(outages: list[RegionOutage]) -> list[tuple[float, float]]:
    return [outage.window for outage in outages if outage.window is not None]


def _flapping(rng: random.Random, region: str, start: float) -> list[RegionOutage]:
    """Two outages long enough to fail the endpoint over (a silent primary: 480-600 s, docs/runbook.md),
    with a gap long enough for the alarm to clear and the endpoint to route back (a minute's
    heartbeat, then the routing delay): it fails over and back, twice."""
    outages = []
    for _ in range(2):
        down = rng.uniform(600.0, 720.0)
        outages.append(RegionOutage(region, (start, start + down)))
        start += down + rng.uniform(150.0, 240.0)
    return outages


def _fault(rng: random.Random, cloud: LocalCloud, valid_ids: list[str]) -> Fault:  # noqa: PLR0911
    functions = [spec.logical_id for spec in cloud.functions.values()]
    rule_targets = [target.name for target in cloud.eventbridge.targets]
    destinations = [resource.logical_id for resource in cloud.stack.of_type("AWS::Events::ApiDestination")]
    pipes = [pipe.spec for pipe in cloud.pipes]
    kind = rng.choice(
        (
            *("function", "function", "rule", "destination", "sdk", "sdk", "age"),
            *("duplicate", "duplicate", "concurrency", "reshard"),
        )
    )
    if (
        kind == "function"
        or (kind == "rule" and not rule_targets)
        or (kind == "destination" and not destinations)
    ):
        return _function_fault(rng, rng.choice(functions), valid_ids)
    if kind == "rule":
        return _when(rng, rng.choice(rule_targets), valid_ids, long=90000.0)
    if kind == "destination":
        return _when(rng, rng.choice(destinations), valid_ids, long=3000.0)
    if kind == "age" and pipes and valid_ids:
        pipe = rng.choice(pipes)
        age = pipe.maximum_record_age if pipe.maximum_record_age >= 0 else 86400
        return RecordAging(pipe.stream_logical_id, float(age + 1), frozenset(rng.sample(valid_ids, 1)))
    if kind == "duplicate":
        names = ["*", *rule_targets, *_async_functions(cloud), *(pipe.logical_id for pipe in pipes)]
        names += [_logical_id(cloud, mapping.spec.queue_arn) for mapping in cloud.sqs_mappings]
        return Duplicate(rng.choice(names), rng.choice((0.05, 0.2, 0.5)), seed=rng.randrange(1 << 30))
    if kind == "concurrency":
        if rng.random() < 0.5:  # reserved concurrency 0 for a while
            return Concurrency(rng.choice(functions), 0, window=(0.0, rng.choice((5.0, 60.0, 900.0))))
        return Concurrency(rng.choice(functions), 1, hold=rng.choice((1.0, 5.0, 30.0)))
    if kind == "reshard" and pipes:
        return Reshard(rng.choice(pipes).stream_logical_id, after=rng.randint(1, 30))
    return _sdk_fault(rng)


def _async_functions(cloud: LocalCloud) -> list[str]:
    """Functions a rule invokes asynchronously (the ones whose async queue can deliver twice)."""
    targets = {target.arn for target in cloud.eventbridge.targets if target.kind == "lambda"}
    return [spec.logical_id for spec in cloud.functions.values() if spec.arn in targets]


def _logical_id(cloud: LocalCloud, arn: str) -> str:
    resource = cloud.stack.by_arn(arn)
    return resource.logical_id if resource is not None else arn


def _function_fault(rng: random.Random, function: str, valid_ids: list[str]) -> TargetFault:
    """A function that fails before it runs, or times out after it ran, or part-way: at its Nth
    AWS call (its writes before that call stay)."""
    mode: Mode = rng.choice(("error", "timeout"))
    fault = replace(_when(rng, function, valid_ids, long=900.0), mode=mode)
    if mode == "timeout" and rng.random() < 0.7:
        return replace(fault, after_calls=rng.randint(0, 6))
    return fault


def _sdk_fault(rng: random.Random) -> SdkFault:
    """An SDK call that fails a number of times (sometimes more than the publisher's attempts, so an
    invocation fails after some entries got through) or for a window that outlasts every retry."""
    service, operation, code = rng.choice(SDK_FAULTS)
    per_entry = service == "events" and rng.random() < 0.5
    if rng.random() < 0.2:
        window = (0.0, rng.choice((60.0, 900.0)))
        return SdkFault(service, operation, window=window, code=code, per_entry=per_entry)
    times = rng.randint(1, 2 * PUBLISHER_ATTEMPTS + 2)
    return SdkFault(service, operation, times=times, code=code, per_entry=per_entry)


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
