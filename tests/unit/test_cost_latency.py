"""Lambda duration with AWS calls slower than the local cloud's: the cost and quota figures' sensitivity
to what the local cloud cannot measure (moto answers a call in-process in a millisecond or two)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from bench import calls, cost, quota
from bench.cost_model import LAKE_FUNCTION, POOLED_CALLS, load_prices, usage_of, with_call_latency
from bench.quota_model import DEFAULT_EXTREMES, PLANNED_DAILY, peak_rate, worst, worst_line
from s3_writer.settings import DEFAULT_WRITE_CONCURRENCY
from tests.infra.rendering import template

ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices(ROOT / "bench" / "prices.toml")


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    measured: dict[str, Any] = json.loads((ROOT / "bench" / "results" / "calls.json").read_text())
    return measured


def _shape(
    seconds: float, calls_made: dict[str, tuple[float, float]], name: str = "ValidatorFunction"
) -> dict[str, Any]:
    function = {
        "invocations": 10.0,
        "seconds": seconds,
        "memory_mb": 512,
        "log_bytes": 0.0,
        "calls": {
            op: {"calls": made, "seconds": took, "units": {}} for op, (made, took) in calls_made.items()
        },
    }
    return {
        "name": "x",
        "per_1000_signals": {"api_requests": 10.0, "functions": {name: function}},
    }


def test_each_call_takes_the_assumed_time_instead_of_motos_and_the_rest_stays() -> None:
    # 2.0 s in all, 0.8 s of it waiting on moto for 15 calls: 1.2 s of the function's own work
    shape = _shape(2.0, {"events.PutEvents": (10.0, 0.5), "dynamodb.UpdateItem": (5.0, 0.3)})
    before = copy.deepcopy(shape)
    slower = with_call_latency(shape, 0.010)
    assert slower["per_1000_signals"]["functions"]["ValidatorFunction"]["seconds"] == pytest.approx(
        1.2 + 0.15
    )
    assert shape == before  # the measured shape is left as it was
    # everything but the seconds is the measured shape's
    function = slower["per_1000_signals"]["functions"]["ValidatorFunction"]
    assert {key: value for key, value in function.items() if key != "seconds"} == {
        key: value
        for key, value in before["per_1000_signals"]["functions"]["ValidatorFunction"].items()
        if key != "seconds"
    }


def test_own_work_is_never_negative_when_the_calls_took_all_the_measured_time() -> None:
    # a noisy machine can time the calls at more than the invocation around them
    shape = _shape(0.4, {"s3.PutObject": (2.0, 0.5)})
    slower = with_call_latency(shape, 0.020)
    assert slower["per_1000_signals"]["functions"]["ValidatorFunction"]["seconds"] == pytest.approx(0.04)


def test_the_lake_writers_pooled_calls_wait_side_by_side() -> None:
    # 16 claims and 8 PUTs through the writer's pool of 8 wait as 3 calls do; its BatchGetItem alone
    shape = _shape(
        1.0,
        {"dynamodb.PutItem": (16.0, 0.2), "s3.PutObject": (8.0, 0.2), "dynamodb.BatchGetItem": (1.0, 0.1)},
        name=LAKE_FUNCTION,
    )
    slower = with_call_latency(shape, 0.010)
    assert slower["per_1000_signals"]["functions"][LAKE_FUNCTION]["seconds"] == pytest.approx(
        0.5 + 0.03 + 0.01
    )


def test_the_pool_is_the_lake_writers_as_deployed() -> None:
    environment = template()["Resources"][LAKE_FUNCTION]["Properties"].get("Environment", {})
    assert "WRITE_CONCURRENCY" not in environment.get("Variables", {})  # the default, as priced
    assert POOLED_CALLS[LAKE_FUNCTION][1] == DEFAULT_WRITE_CONCURRENCY


def test_a_function_without_aws_calls_keeps_its_time() -> None:
    shape = _shape(0.7, {})
    assert with_call_latency(shape, 0.020)["per_1000_signals"]["functions"]["ValidatorFunction"][
        "seconds"
    ] == pytest.approx(0.7)


def test_the_table_starts_from_the_headline_figures_and_rises_with_the_latency(
    results: dict[str, Any],
) -> None:
    rows = cost.latency_rows(results, PRICES)
    assert [row[0] for row in rows] == ["as measured (moto, in-process)", "5 ms", "10 ms", "20 ms"]
    measured = rows[0]
    # as measured: the figures `make cost` prints, for the default template and the front door
    headline = {
        line.split(": ")[0].rsplit(", ", 1)[1]: line.split("$")[1]
        for line in cost.headline_lines(results, PRICES)
    }
    assert measured[1] == headline["1 events/request"]
    assert measured[3:] == (headline["10 events/request"], headline["100 events/request"])
    assert measured[2] == f"{cost.front_door_usd(results, PRICES)[1][1]:.2f}"
    for column in range(1, len(measured)):
        figures = [float(row[column]) for row in rows]
        assert figures == sorted(figures), column
    # one Lambda invocation per request weighs most at one event per request
    growth = {column: float(rows[-1][column]) - float(measured[column]) for column in range(1, len(measured))}
    assert growth[1] > growth[4] and growth[2] > growth[4]


def test_the_bench_summary_shows_the_front_door_at_each_latency_without_a_verdict(
    results: dict[str, Any],
) -> None:
    checks = {check.target: check for check in calls.targets(results)}
    slower = checks["the same, each AWS call taking 5 / 10 / 20 ms (assumed)"]
    assert slower.ok is None  # an assumption, not a measurement
    figures = [float(usd.lstrip("$")) for usd in slower.measured.split(" / ")]
    assert [f"{usd:.2f}" for usd in figures] == [row[2] for row in cost.latency_rows(results, PRICES)[1:]]


def test_make_quota_ends_with_the_default_settings_worst_line(
    results: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert quota.main([]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    rate = peak_rate(PLANNED_DAILY, PRICES.assumptions["peak_factor"])
    shape, use = worst({name: usage_of(results["shapes"][name]) for name in DEFAULT_EXTREMES}, rate)
    assert lines[-2:] == [f"worst of the default settings: {shape}", worst_line(use)]
    assert lines[-1].startswith("worst quota use at 2B/day peak: ")
