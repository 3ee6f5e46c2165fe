"""The signal stream's capacity in the cost and quota models: the sizing rule, both capacity modes
priced by hand, the archives of both Regions, and samconfig.toml deploying what the model prices."""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.cost_model import (
    PriceError,
    Scenario,
    load_prices,
    monthly_costs,
    shards_for_peak,
    stream_shards,
    usage_of,
)
from bench.quota import stream_sizing_line
from bench.quota_model import DEFAULT_EXTREMES, PLANNED_DAILY, demands, peak_rate

ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices(ROOT / "bench" / "prices.toml")
MIB = 1024**2
HOURS = 24 * PRICES.days_per_month


@pytest.fixture(scope="module")
def shapes() -> dict[str, Any]:
    shapes: dict[str, Any] = json.loads((ROOT / "bench" / "results" / "calls.json").read_text())["shapes"]
    return shapes


def _overrides(env: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    pairs = config[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in pairs)


@pytest.mark.parametrize(
    ("records", "mib", "consumers", "expected"),
    [
        (4_500, 0.5, 1, 5),  # records bind: 4.5 shards, rounded up
        (100, 60.2, 1, 61),  # MiB/s in binds
        (100, 60.2, 3, 91),  # three GetRecords consumers share 2 MiB/s a shard: 90.3
        (0, 0.0, 1, 1),  # a stream has at least one shard
    ],
)
def test_shards_for_peak_takes_the_binding_dimension(
    records: float, mib: float, consumers: int, expected: int
) -> None:
    assert shards_for_peak(records, mib * MIB, consumers, 1.0) == expected


def test_shards_for_peak_adds_the_headroom_after_the_binding_dimension() -> None:
    assert shards_for_peak(4_000, 0.0, 1, 1.25) == 5
    assert shards_for_peak(4_001, 0.0, 1, 1.25) == 6


def test_provisioned_signal_stream_priced_by_hand(shapes: dict[str, Any]) -> None:
    # GIVEN 100-event requests at 2 B signals a day, the stream kept 168 h
    stream = shapes["realistic-100"]["per_1000_signals"]["stream"]
    peak = peak_rate(2e9, PRICES.assumptions["peak_factor"])
    shards = math.ceil(stream["record_bytes"] / 1000 * peak / MIB * 1.25)  # bytes bind here

    # WHEN the model prices the deployed (provisioned) stream
    usage = usage_of(shapes["realistic-100"])
    line = monthly_costs(usage, PRICES, Scenario(2e9))["Kinesis signal stream"]

    # THEN shard-hours, extended retention and the measured PUT payload units, nothing else
    assert stream_shards(usage, PRICES, Scenario(2e9)) == shards
    by_hand = (
        shards * HOURS * (0.015 + 0.020)
        + stream["put_payload_units"] / 1000 * 2e9 * PRICES.days_per_month * 0.014e-6
    )
    assert line == pytest.approx(by_hand)


def test_on_demand_signal_stream_priced_by_hand_with_its_retention(shapes: dict[str, Any]) -> None:
    # GIVEN the same shape in an on-demand stream
    stream = shapes["realistic-100"]["per_1000_signals"]["stream"]
    gb_a_month = stream["kib_rounded"] / 1000 * 1024 / 1024**3 * 2e9 * PRICES.days_per_month
    kept_gb = gb_a_month / PRICES.days_per_month * (168 - 24) / 24  # six days beyond the first

    line = monthly_costs(usage_of(shapes["realistic-100"]), PRICES, Scenario(2e9, provisioned_stream=False))[
        "Kinesis signal stream"
    ]

    assert line == pytest.approx(HOURS * 0.04 + gb_a_month * (0.08 + 0.04) + kept_gb * 0.10)


def test_provisioned_stream_costs_a_fraction_of_on_demand_at_volume(shapes: dict[str, Any]) -> None:
    usage = usage_of(shapes["realistic-100"])
    provisioned = monthly_costs(usage, PRICES, Scenario(2e9))["Kinesis signal stream"]
    on_demand = monthly_costs(usage, PRICES, Scenario(2e9, provisioned_stream=False))["Kinesis signal stream"]
    assert provisioned < on_demand / 3


def test_retention_beyond_seven_days_is_refused(shapes: dict[str, Any]) -> None:
    year = replace(PRICES, assumptions={**PRICES.assumptions, "stream_retention_hours": 8760.0})
    with pytest.raises(PriceError, match="long-term retention"):
        monthly_costs(usage_of(shapes["realistic-100"]), year, Scenario(2e9))


def test_both_regions_pay_for_their_ingress_archive(shapes: dict[str, Any]) -> None:
    usage = usage_of(shapes["realistic-100"])
    one, two = (monthly_costs(usage, PRICES, Scenario(2e9, regions)) for regions in (1, 2))
    daily_gb = usage.ingress_bytes * 2e9 / 1024**3
    by_hand = daily_gb * PRICES.days_per_month * 0.10 + daily_gb * 30 * 0.023
    assert one["Ingress archive (30 days)"] == pytest.approx(by_hand)
    assert two["Ingress archive (30 days)"] == two["Secondary: archive (30 days)"] == pytest.approx(by_hand)
    assert one["Secondary: archive (30 days)"] == 0


def test_production_deploys_what_the_model_prices(shapes: dict[str, Any]) -> None:
    # GIVEN samconfig.toml's two production Regions
    primary, secondary = _overrides("primary"), _overrides("secondary")

    # THEN the primary's stream is provisioned with the shards the sizing rule gives for the planned
    # peak, over the default shapes; retention and archives are those the model prices
    defaults = {name: usage_of(shapes[name]) for name in DEFAULT_EXTREMES}
    needed = max(stream_shards(usage, PRICES, Scenario(PLANNED_DAILY)) for usage in defaults.values())
    assert primary["StreamMode"] == "PROVISIONED"
    assert int(primary["StreamShardCount"]) == needed
    assert f"{needed} provisioned shards" in stream_sizing_line(defaults, PRICES)
    assert float(primary["StreamRetentionHours"]) == PRICES.assumptions["stream_retention_hours"]
    for env in (primary, secondary):
        assert env["IngressArchive"] == "enabled"
        assert float(env["IngressArchiveRetentionDays"]) == PRICES.assumptions["archive_retention_days"]
    # AND a developer stack keeps the template's on-demand default (no StreamMode override)
    assert "StreamMode" not in _overrides("default")


def test_quota_counts_the_shards_the_peak_needs(shapes: dict[str, Any]) -> None:
    usage = usage_of(shapes["realistic-100"])
    rate = peak_rate(2e9, 3.0)
    demand = demands(usage, rate)
    assert demand["kinesis_shards"] == math.ceil(usage.stream_bytes * rate / MIB)  # no headroom, no buffer
