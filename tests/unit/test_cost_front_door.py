"""The front-door buffer in the cost and quota models: single-event requests priced with the
batcher's full signal batches, the buffer stream provisioned for the peak, in both Regions."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench import calls
from bench.cost import front_door_lines, template_usage
from bench.cost_model import (
    BATCH_FUNCTION,
    INGEST_FUNCTION,
    Scenario,
    buffer_shards,
    front_door_buffer,
    load_prices,
    monthly_costs,
    per_million_signals,
    usage_of,
)
from bench.quota_model import demands, peak_rate

ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices(ROOT / "bench" / "prices.toml")
TWO_REGIONS = Scenario(2e9, regions=2)


@pytest.fixture(scope="module")
def shapes() -> dict[str, Any]:
    shapes: dict[str, Any] = json.loads((ROOT / "bench" / "results" / "calls.json").read_text())["shapes"]
    return shapes


@pytest.fixture(scope="module")
def buffered(shapes: dict[str, Any]) -> dict[str, Any]:
    return front_door_buffer(shapes["realistic-1"], shapes["realistic-100"], records_per_invocation=1000)


def test_front_door_keeps_the_request_side_and_takes_the_bus_side_of_the_batched_shape(
    shapes: dict[str, Any], buffered: dict[str, Any]
) -> None:
    single, batched, usage = (
        usage_of(shapes["realistic-1"]),
        usage_of(shapes["realistic-100"]),
        usage_of(buffered),
    )
    # one API request and one validator invocation per signal, one buffer record each
    assert usage.api_requests == single.api_requests == 1.0
    assert usage.invocations[INGEST_FUNCTION] == single.invocations[INGEST_FUNCTION]
    assert usage.buffer_records == 1.0 and usage.buffer_put_units == 1.0
    # the ingress bus hop, enrichment, stream and lake as full batches have them
    assert usage.ingress_entries == pytest.approx(batched.ingress_entries)
    assert usage.ingress_chunks == pytest.approx(batched.ingress_chunks)
    bus_side = {name: units for name, units in batched.table_write_units.items() if name != INGEST_FUNCTION}
    assert usage.table_write_units == {
        **bus_side,
        INGEST_FUNCTION: single.table_write_units[INGEST_FUNCTION],  # the requests' rate leases
    }
    # the batcher: once per 1,000 records, its PutEvents 10 entries a call
    assert usage.invocations[BATCH_FUNCTION] == pytest.approx(0.001)
    validator_calls = shapes["realistic-100"]["per_1000_signals"]["functions"][INGEST_FUNCTION]["calls"]
    validator_puts = validator_calls["events.PutEvents"]["calls"] / 1000
    expected = batched.put_events_calls - validator_puts + batched.ingress_entries / 10
    assert usage.put_events_calls == pytest.approx(expected)
    # AND its read of a kept segment cut, once per invocation, on top of the validators' reads
    assert usage.read_units == pytest.approx(single.read_units + 0.001)


def test_buffer_stream_is_provisioned_for_the_peak_in_both_regions(
    shapes: dict[str, Any], buffered: dict[str, Any]
) -> None:
    usage = usage_of(buffered)
    peak = 2e9 / 86_400 * PRICES.assumptions["peak_factor"]
    shards = buffer_shards(usage, PRICES, TWO_REGIONS)
    # records, not bytes, bound a shard of ~1 KB records; times the sizing headroom
    assert shards == math.ceil(peak / 1000 * PRICES.assumptions["stream_shard_headroom"])
    month = 2e9 * PRICES.days_per_month
    # a shard-hour, and extended retention: the buffer keeps StreamRetentionHours (168 h) too
    shard_hour = PRICES["kinesis_provisioned_shard_hour"] + PRICES["kinesis_extended_retention_shard_hour"]
    by_hand = (
        shards * 2 * 24 * PRICES.days_per_month * shard_hour + month * PRICES["kinesis_put_payload_unit"]
    )
    costs = monthly_costs(usage, PRICES, TWO_REGIONS)
    assert costs["Kinesis provisioned (front-door buffer)"] == pytest.approx(by_hand)
    # AND one Region pays for its own shards only; a shape without the buffer pays nothing
    one_region = monthly_costs(usage, PRICES, Scenario(2e9, 1))["Kinesis provisioned (front-door buffer)"]
    assert one_region == pytest.approx(by_hand - shards * 24 * PRICES.days_per_month * shard_hour)
    direct = monthly_costs(usage_of(shapes["realistic-1"]), PRICES, TWO_REGIONS)
    assert direct["Kinesis provisioned (front-door buffer)"] == 0


def test_front_door_costs_less_than_direct_single_event_requests(
    shapes: dict[str, Any], buffered: dict[str, Any]
) -> None:
    direct = per_million_signals(template_usage(shapes["realistic-1"]), PRICES, TWO_REGIONS)
    behind = per_million_signals(template_usage(buffered), PRICES, TWO_REGIONS)
    assert behind < direct / 3
    buffered_line, both_line = front_door_lines({"shapes": shapes}, PRICES)
    assert (
        buffered_line
        == f"cost per million signals, two Regions, 1 events/request: ${behind:.2f} (front-door buffer)"
    )
    # AND a load balancer instead of the HTTP API in front of the buffer costs less again
    both = float(both_line.split("$")[1].split(" ")[0])
    assert both < behind
    assert both_line.endswith("(load balancer and front-door buffer)")


def test_front_door_quota_demand_follows_the_batcher_not_the_requests(
    shapes: dict[str, Any], buffered: dict[str, Any]
) -> None:
    rate = peak_rate(2e9, PRICES.assumptions["peak_factor"])
    demand = demands(usage_of(buffered), rate)
    # PutEvents as the full batches make them: the enrichment's, and the batcher's 10 entries a call
    functions = shapes["realistic-100"]["per_1000_signals"]["functions"]
    enrichment = functions["EnrichmentFunction"]["calls"]["events.PutEvents"]["calls"] / 1000
    batcher = usage_of(buffered).ingress_entries / 10
    assert demand["put_events"] == pytest.approx((enrichment + batcher) * rate)
    assert demand["put_events"] < demands(usage_of(shapes["realistic-1"]), rate)["put_events"] / 10
    assert demand["api_requests"] == pytest.approx(rate)  # one request per signal still
    assert demand["buffer_shards"] == math.ceil(rate / 1000)  # the need, before the sizing headroom


def test_the_bench_summary_judges_single_event_traffic_behind_the_front_door_too(
    shapes: dict[str, Any],
) -> None:
    # `make bench` ends with its targets: the default template and the one for single-event traffic
    checks = {check.target: check for check in calls.targets({"shapes": shapes})}
    _, both_line = front_door_lines({"shapes": shapes}, PRICES)
    front_door = checks[
        "two Regions, 1 events/request, load balancer and front-door buffer <= $1.00 per million signals"
    ]
    # the same figure `make cost` prints for that front door, judged against the same target
    assert both_line.split(": ")[1].startswith(front_door.measured + " ")
    assert front_door.ok == (float(front_door.measured.lstrip("$")) <= 1.00)
    default = checks["two Regions, 1 events/request <= $1.00 per million signals"]
    assert float(default.measured.lstrip("$")) > float(front_door.measured.lstrip("$"))
    # behind the load balancer and buffer, the API request quota is gone: what is left is Lambda's
    quota = checks["2 B/day, 3x peaks, realistic-1, load balancer and buffer: every default quota <= 50%"]
    assert "Lambda synchronous invocations" in quota.measured
