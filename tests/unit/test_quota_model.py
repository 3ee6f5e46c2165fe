"""The quota plan: demand at the peak from usage per signal, against the default quotas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cost_model import Usage, usage_of
from bench.quota_model import PLANNED, demands, lambda_concurrency, peak_rate, uses, worst, worst_line

ROOT = Path(__file__).resolve().parents[2]


def _usage(**changes: object) -> Usage:
    base: dict[str, object] = {
        "api_requests": 0.01,
        "invocations": {"ValidatorFunction": 0.01, "EnrichmentFunction": 0.02},
        "gb_seconds": {"ValidatorFunction": 0.0005, "EnrichmentFunction": 0.002},
        "function_log_bytes": 0.0,
        "ingress_chunks": 0.02,
        "ingress_bytes": 1000.0,
        "platform_chunks": 0.02,
        "stream_records": 0.02,
        "stream_kib": 2.0,
        "stream_bytes": 1500.0,
        "pipe_batches": {},
        "partner_requests": 0.0,
        "write_units": 0.04,
        "read_units": 0.0,
        "write_seconds": 0.0,
        "s3_puts": 0.01,
        "lake_bytes": 100.0,
        "replicated_puts": 0.01,
        "replicated_bytes": 100.0,
        "sqs_requests": 0.0,
        "secrets_calls": 0.0,
        "put_events_calls": 0.03,
        "rule_deliveries": 0.04,
        "ingress_entries": 0.02,
        "memory_gb": {"ValidatorFunction": 0.5, "EnrichmentFunction": 0.5},
        "table_write_units": {"EnrichmentFunction": 0.04, "S3WriterFunction": 0.01},
    }
    base.update(changes)
    return Usage(**base)  # type: ignore[arg-type]


def test_peak_rate_of_2_billion_a_day_with_3x_peaks() -> None:
    assert peak_rate(2e9, 3.0) == pytest.approx(69_444.44, rel=1e-6)


def test_demands_at_the_peak_computed_by_hand() -> None:
    # GIVEN a shape and 10,000 signals a second
    usage, rate = _usage(), 10_000.0

    # WHEN its demands are planned
    demand = demands(usage, rate)

    # THEN each follows from the usage per signal (replication: one more rule target per ingress entry)
    assert demand["put_events"] == pytest.approx(300.0)
    assert demand["rule_invocations"] == pytest.approx((0.04 + 0.02) * rate)
    assert demand["api_requests"] == pytest.approx(100.0)
    assert demand["dynamodb_writes"] == pytest.approx(400.0)  # the busiest table, not the sum
    assert demand["kinesis_write"] == pytest.approx(1500.0 * rate / 1024**2)
    # seconds per signal = GB-s / memory: 0.001 + 0.004, times 10,000 signals a second
    assert lambda_concurrency(usage, rate) == pytest.approx(50.0)


def test_worst_picks_the_highest_share_of_a_quota() -> None:
    # GIVEN one shape over the API quota and one within every quota
    busy, calm = _usage(api_requests=1.0), _usage()

    shape, use = worst({"busy": busy, "calm": calm}, 20_000.0)

    assert shape == "busy"
    assert use.quota.key == "api_requests"
    assert use.ratio == pytest.approx(2.0)
    assert worst_line(use) == "worst quota use at 2B/day peak: 2.00 (API Gateway requests/s, all APIs)"


def test_measured_100_event_requests_use_less_of_every_quota_than_1_event_requests() -> None:
    shapes = json.loads((ROOT / "bench" / "results" / "calls.json").read_text())["shapes"]
    rate = peak_rate(2e9, 3.0)
    single = {use.quota.key: use.ratio for use in uses(usage_of(shapes["realistic-1"]), rate)}
    batched = {use.quota.key: use.ratio for use in uses(usage_of(shapes["realistic-100"]), rate)}
    assert set(single) == {quota.key for quota in PLANNED}
    assert all(batched[key] < single[key] for key in single)
