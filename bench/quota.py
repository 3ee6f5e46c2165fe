"""``make quota``: the peak rate each default AWS quota sees at 2 B signals a day with 3x peaks.

One column per request shape measured by ``make bench`` (bench/results/calls.json); the last line
is the worst use of a planned quota for the default settings (realistic traffic and one source and
type, MaxSignalsPerEntry as the template sets it) over 1-event and 100-event requests.

    python -m bench.quota [--calls bench/results/calls.json] [--prices bench/prices.toml]
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from bench import report
from bench.cost import (
    CALL_LATENCIES,
    CALLS,
    GROUPING_SHAPE,
    PRICES,
    load_results,
)
from bench.cost_model import (
    BUFFERED_SHAPES,
    PriceTable,
    Scenario,
    Usage,
    buffer_shards,
    buffered_shape,
    load_prices,
    stream_shards,
    usage_of,
    with_call_latency,
)
from bench.quota_model import (
    DEFAULT_EXTREMES,
    INFORMATION,
    PLANNED,
    PLANNED_DAILY,
    Use,
    peak_rate,
    uses,
    worst,
    worst_line,
)

QUOTAS: Final = PLANNED + INFORMATION


def _cell(use: Use) -> str:
    demand = f"{use.demand:,.0f}" if use.demand >= 10 else f"{use.demand:,.1f}"
    return f"{demand} ({use.ratio:.0%})"


def quota_headers() -> tuple[str, ...]:
    return ("shape", *(f"{quota.short}{'' if quota in PLANNED else ' *'}" for quota in QUOTAS))


def quota_rows(shapes: Mapping[str, Usage], rate: float) -> list[tuple[str, ...]]:
    """One row per request shape: the demand on every quota at the peak, and its share of the quota."""
    rows = [("default quota", *(f"{quota.limit:,.0f}" for quota in QUOTAS))]
    rows += [(name, *(_cell(use) for use in uses(usage, rate, QUOTAS))) for name, usage in shapes.items()]
    return rows


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.quota", description=(__doc__ or "").splitlines()[0]
    )
    parser.add_argument("--calls", type=Path, default=CALLS, help="measured calls (make bench writes it)")
    parser.add_argument("--prices", type=Path, default=PRICES, help="the price table (its peak factor)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    results: dict[str, Any] = load_results(args.calls)
    prices = load_prices(args.prices)
    peak_factor = prices.assumptions["peak_factor"]
    rate = peak_rate(PLANNED_DAILY, peak_factor)
    shapes = {name: usage_of(shape) for name, shape in results["shapes"].items()}
    front_door = front_door_usages(results["shapes"])
    shapes.update(front_door)
    report.title(
        f"Quota use at 2 B signals a day, {peak_factor:g}x peaks = {rate:,.0f} signals/s (one large Region)"
    )
    report.table(quota_headers(), quota_rows(shapes, rate))
    report.note("demand at the peak (share of the default quota); * = shown for information, not planned")
    report.note(
        "Lambda concurrency = invocations/s x measured seconds per invocation (moto answers the AWS calls)"
    )
    report.note(
        "rule-target invocations include the global endpoint's replication rule (one per ingress entry)"
    )
    defaults = {name: usage_of(results["shapes"][name]) for name in DEFAULT_EXTREMES}
    shape, use = worst(defaults, rate)
    # The front door at one event per request: the quota a load balancer removes, the one it keeps.
    single = {use.quota.key: use for use in uses(defaults["realistic-1"], rate)}
    balanced = {use.quota.key: use for use in uses(defaults["realistic-1"], rate, load_balancer=True)}
    print(
        f"front door, 1 event/request: HTTP API {single['api_requests'].ratio:.2f} of its request quota; "
        f"load balancer {balanced['api_requests'].ratio:.2f} (none), Lambda synchronous invocations "
        f"{balanced['lambda_invocations'].ratio:.2f} behind either"
    )
    print(stream_sizing_line(defaults, prices))
    buffer = max(buffer_shards(usage, prices, Scenario(PLANNED_DAILY)) for usage in front_door.values())
    print(f"front-door buffer at 2B/day peak: {buffer} provisioned shards (BufferStreamShardCount)")
    batched_shapes = ("realistic-100", "one-100")
    buffered = {**front_door, **{name: defaults[name] for name in batched_shapes}}
    buffered_shape, buffered_use = worst(buffered, rate)
    print(
        f"worst with the front-door buffer for 1-event traffic ({buffered_shape}): {worst_line(buffered_use)}"
    )
    slowest = max(CALL_LATENCIES)
    slower = {name: usage_of(with_call_latency(results["shapes"][name], slowest)) for name in batched_shapes}
    slower_shape, slower_use = worst(slower, rate)
    print(
        f"100 events/request, each AWS call taking {slowest * 1000:g} ms (assumed; {slower_shape}):",
        worst_line(slower_use),
    )
    if GROUPING_SHAPE in results["shapes"]:
        _, grouped = worst({GROUPING_SHAPE: usage_of(results["shapes"][GROUPING_SHAPE])}, rate)
        print(f"100 events/request, signal batches per event type ({GROUPING_SHAPE}): {worst_line(grouped)}")
    # Last, as `make quota` promises: the default settings, the worst over 1- and 100-event traffic.
    print(f"\nworst of the default settings: {shape}")
    print(worst_line(use))
    return 0


def stream_sizing_line(shapes: Mapping[str, Usage], prices: PriceTable) -> str:
    """The signal stream's provisioned shards for the planned peak: the most any default shape needs,
    with the sizing headroom (bench.cost_model.stream_shards); samconfig.toml's StreamShardCount."""
    scenario = Scenario(PLANNED_DAILY)
    shards = {name: stream_shards(usage, prices, scenario) for name, usage in shapes.items()}
    name = max(shards, key=lambda shape: shards[shape])
    headroom = prices.assumptions["stream_shard_headroom"]
    return (
        f"signal stream at 2B/day peak: {shards[name]} provisioned shards ({name}, headroom {headroom:g}; "
        f"100 events/request: {max(shards[n] for n in shapes if n.endswith('-100'))})"
    )


def front_door_usages(shapes: Mapping[str, Any]) -> dict[str, Usage]:
    """Single-event traffic behind the front-door buffer (bench.cost_model.buffered_shape)."""
    return {f"{name}, buffer": usage_of(buffered_shape(shapes, name)) for name in BUFFERED_SHAPES}


if __name__ == "__main__":
    raise SystemExit(main())
