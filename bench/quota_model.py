"""The quota plan: the peak rate each default AWS quota sees, from the measured usage per signal.

Pure functions: ``peak_rate`` (signals per second at a daily volume and a peak factor),
``demands`` (what one shape asks of each quota at that rate) and ``uses`` (demand / quota, worst
first). Quotas are the defaults of one large Region (us-east-1, us-west-2, eu-west-1), per account
unless named otherwise; each names the service and scope its default applies to.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from bench.cost_model import ENRICH_FUNCTION, Usage, shards_for_peak

SECONDS_PER_DAY: Final = 86_400
MIB: Final = 1024 * 1024
PLANNED_DAILY: Final = 2e9
# The default settings (MaxSignalsPerEntry as the template sets it) at 1 and 100 events per request,
# for realistic traffic and for one source and type: the shapes the worst line covers.
DEFAULT_EXTREMES: Final = ("realistic-1", "realistic-100", "one-1", "one-100")


@dataclass(frozen=True, slots=True)
class Quota:
    key: str
    name: str
    limit: float
    source: str
    short: str = ""


# The quotas the plan is held against (the worst line covers these), then ones shown for information.
PLANNED: Final = (
    Quota(
        "put_events", "PutEvents requests/s, all buses", 10_000, "EventBridge, large Regions", "PutEvents/s"
    ),
    Quota(
        "rule_invocations",
        "rule-target invocations/s",
        18_750,
        "EventBridge, large Regions",
        "rule targets/s",
    ),
    Quota("api_requests", "API Gateway requests/s, all APIs", 10_000, "API Gateway, per Region", "API req/s"),
    Quota("lambda_concurrency", "Lambda concurrent executions", 1_000, "Lambda, per Region", "λ concurrency"),
    # Synchronous invocations (the validator behind either front door, Pipe and queue targets) are
    # capped at 10x the concurrency quota; an asynchronous invocation by an AWS service (the
    # enrichment's rule) is not counted.
    Quota(
        "lambda_invocations",
        "Lambda synchronous invocations/s (10x concurrency)",
        10_000,
        "Lambda, per Region",
        "λ invokes/s",
    ),
    Quota(
        "kinesis_write",
        "Kinesis on-demand write MiB/s",
        10_240,
        "on-demand scales to 10 GB/s",
        "Kinesis MiB/s",
    ),
    Quota("dynamodb_writes", "DynamoDB write units/s, busiest table", 40_000, "on-demand table", "DDB WRU/s"),
    # Provisioned streams (the signal stream as samconfig.toml's primary deploys it, and the buffer):
    # the shards the peak needs, before the sizing headroom.
    Quota(
        "kinesis_shards",
        "Kinesis shards per account (provisioned streams)",
        20_000,
        "Kinesis quotas page: us-east-1, us-west-2, eu-west-1",
        "Kinesis shards",
    ),
)
INFORMATION: Final = (
    Quota("kinesis_start", "Kinesis write MiB/s of a new stream", 4, "4 MB/s, then 2x peak", "Kinesis start"),
    Quota("partner", "API destination invocations/s (partner)", 300, "per destination", "partner/s"),
    Quota(
        "buffer_shards",
        "provisioned shards of the front-door buffer",
        20_000,
        "Kinesis shards per account, large Regions",
        "buffer shards",
    ),
)


def peak_rate(signals_per_day: float, peak_factor: float) -> float:
    """Signals per second at the peak: the daily average times the peak factor."""
    return signals_per_day / SECONDS_PER_DAY * peak_factor


def lambda_concurrency(usage: Usage, signals_per_second: float) -> float:
    """Little's law per function: invocations per second x seconds per invocation, summed."""
    total = 0.0
    for name, invocations in usage.invocations.items():
        memory = usage.memory_gb.get(name) or 1.0
        seconds_per_signal = usage.gb_seconds.get(name, 0.0) / memory
        total += seconds_per_signal * signals_per_second if invocations else 0.0
    return total


def demands(
    usage: Usage, signals_per_second: float, *, replication: bool = True, load_balancer: bool = False
) -> dict[str, float]:
    """What one request shape asks of every quota at ``signals_per_second``. The global endpoint's
    managed replication rule is one more rule target for every ingress entry. Behind a load balancer
    (FrontDoor Alb) no API Gateway quota applies: a load balancer has no request-rate quota (its LCUs
    scale; a sudden peak can be pre-provisioned with an LCU reservation)."""
    replicated = usage.ingress_entries if replication else 0.0
    synchronous = math.fsum(count for name, count in usage.invocations.items() if name != ENRICH_FUNCTION)
    stream_mib = usage.stream_bytes * signals_per_second / MIB
    buffer_mib = usage.buffer_bytes * signals_per_second / MIB  # the front-door buffer, when there is one
    stream_shards = shards_for_peak(
        usage.stream_records * signals_per_second, usage.stream_bytes * signals_per_second, 1, 1.0
    )
    buffer_shards = (
        shards_for_peak(
            usage.buffer_records * signals_per_second, usage.buffer_bytes * signals_per_second, 1, 1.0
        )
        if usage.buffer_records
        else 0
    )
    return {
        "put_events": usage.put_events_calls * signals_per_second,
        "rule_invocations": (usage.rule_deliveries + replicated) * signals_per_second,
        "api_requests": 0.0 if load_balancer else usage.api_requests * signals_per_second,
        "lambda_invocations": synchronous * signals_per_second,
        "lambda_concurrency": lambda_concurrency(usage, signals_per_second),
        "kinesis_write": max(stream_mib, buffer_mib),
        "dynamodb_writes": max(usage.table_write_units.values(), default=0.0) * signals_per_second,
        "kinesis_start": stream_mib,
        "partner": usage.stream_records * signals_per_second,
        "buffer_shards": buffer_shards,
        "kinesis_shards": stream_shards + buffer_shards,
    }


@dataclass(frozen=True, slots=True)
class Use:
    quota: Quota
    demand: float

    @property
    def ratio(self) -> float:
        return self.demand / self.quota.limit


def uses(
    usage: Usage,
    signals_per_second: float,
    quotas: tuple[Quota, ...] = PLANNED,
    *,
    load_balancer: bool = False,
) -> list[Use]:
    demand = demands(usage, signals_per_second, load_balancer=load_balancer)
    return [Use(quota, demand[quota.key]) for quota in quotas]


def worst(usages: Mapping[str, Usage], signals_per_second: float) -> tuple[str, Use]:
    """The shape and the planned quota with the highest use."""
    found = [(name, use) for name, usage in usages.items() for use in uses(usage, signals_per_second)]
    return max(found, key=lambda item: item[1].ratio)


def worst_line(use: Use) -> str:
    return f"worst quota use at 2B/day peak: {use.ratio:.2f} ({use.quota.name})"
