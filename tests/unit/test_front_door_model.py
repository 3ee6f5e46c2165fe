"""The load balancer front door in the cost and quota models (docs/adr/0007): LCUs per request from
their dimensions, the lines it changes, and the quota it removes and the one it keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cost_model import (
    Scenario,
    load_balancer_costs,
    load_balancer_lcu_hours_per_request,
    load_prices,
    per_million_signals,
    usage_of,
)
from bench.quota_model import demands, peak_rate

ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices(ROOT / "bench" / "prices.toml")
SHAPES = json.loads((ROOT / "bench" / "results" / "calls.json").read_text())["shapes"]
TWO_REGIONS = Scenario(2e9, regions=2)


def test_lcu_hours_per_request_take_the_largest_dimension() -> None:
    # GIVEN one new connection per request held 60 s, and 2,500 bytes
    assumptions = {
        "alb_new_connections_per_request": 1.0,
        "alb_connection_seconds": 60.0,
        "alb_bytes_per_request": 2500.0,
    }
    # WHEN / THEN new connections dominate: 1 / (25 x 3,600) LCU-hours
    assert load_balancer_lcu_hours_per_request(assumptions) == pytest.approx(1 / 90_000)
    # AND with connections reused for 100 requests, the bytes do: 2,500 B / 0.4 GB
    reused = {**assumptions, "alb_new_connections_per_request": 0.01}
    assert load_balancer_lcu_hours_per_request(reused) == pytest.approx(2500 / 0.4e9)


def test_load_balancer_replaces_the_api_lines_computed_by_hand() -> None:
    # GIVEN 1-event traffic at 2 B signals a day in two Regions
    usage = usage_of(SHAPES["realistic-1"])
    requests = usage.api_requests * 2e9 * PRICES.days_per_month
    a = PRICES.assumptions
    # WHEN the load balancer replaces the HTTP API
    lines = load_balancer_costs(usage, PRICES, TWO_REGIONS)
    # THEN it costs its hours in both Regions, its LCUs and its access logs
    hours = 2 * 24 * PRICES.days_per_month * 0.0225
    lcus = requests * load_balancer_lcu_hours_per_request(a) * 0.008
    logs = requests * a["alb_access_log_bytes"] / 2**30 * PRICES["s3_standard_gb_month"]
    added = lines["Application Load Balancer (hours, LCUs, access logs)"]
    assert added == pytest.approx(hours + lcus + logs, rel=1e-3)
    # AND the HTTP API's tiered requests and CloudWatch access logs go away
    api = min(requests, 3e8) * 1e-6 + max(0.0, requests - 3e8) * 0.9e-6
    api_logs = requests * a["api_access_log_bytes"] / 2**30 * PRICES["cloudwatch_logs_ingested_gb"]
    assert lines["HTTP API requests and access logs removed"] == pytest.approx(-(api + api_logs), rel=1e-3)


def test_load_balancer_is_cheaper_per_million_requests_than_the_http_api() -> None:
    # GIVEN 1-event traffic, the front door's share is the largest
    usage = usage_of(SHAPES["realistic-1"])
    base = per_million_signals(usage, PRICES, TWO_REGIONS)
    delta = sum(load_balancer_costs(usage, PRICES, TWO_REGIONS).values()) / (
        2e9 * PRICES.days_per_month / 1e6
    )
    # THEN it saves the API's $0.90-1.00 per million requests and its CloudWatch access logs, less its LCUs
    assert -1.3 < delta < -0.8
    assert base + delta > 0


def test_quota_behind_the_load_balancer_has_no_api_limit_but_keeps_lambdas() -> None:
    # GIVEN 1-event traffic at the 2 B/day peak
    usage = usage_of(SHAPES["realistic-1"])
    rate = peak_rate(2e9, 3.0)
    through_api = demands(usage, rate)
    through_balancer = demands(usage, rate, load_balancer=True)
    # THEN the API request quota no longer applies, and the synchronous invocations are the same:
    # the validator's (one per request) plus the Pipe's and queues' targets, never the enrichment's
    assert through_api["api_requests"] == pytest.approx(usage.api_requests * rate)
    assert through_balancer["api_requests"] == 0.0
    assert through_balancer["lambda_invocations"] == through_api["lambda_invocations"]
    assert through_api["lambda_invocations"] >= through_api["api_requests"]
    enrichment = usage.invocations["EnrichmentFunction"] * rate
    assert through_api["lambda_invocations"] == pytest.approx(
        sum(usage.invocations.values()) * rate - enrichment
    )
