"""CloudWatch Logs and X-Ray in the cost model follow what template.yaml says: each function's system
log level (Lambda's START, END and REPORT lines) and tracing mode (HotPathTracing on the hot path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cost import logging_settings, template_usage
from bench.cost_model import (
    DLQ_STORE_FUNCTION,
    FunctionLogging,
    Scenario,
    lambda_logs_usd,
    load_prices,
    monthly_costs,
    template_logging,
    usage_of,
)

ROOT = Path(__file__).resolve().parents[2]
PRICES = load_prices(ROOT / "bench" / "prices.toml")
SCENARIO = Scenario(2e9, regions=2)
MONTH = 2e9 * PRICES.days_per_month
HOT_PATH = {"ValidatorFunction", "BatcherFunction", "EnrichmentFunction", "S3WriterFunction"}


@pytest.fixture(scope="module")
def shape() -> dict[str, Any]:
    shape: dict[str, Any] = json.loads((ROOT / "bench" / "results" / "calls.json").read_text())["shapes"][
        "realistic-1"
    ]
    return shape


def test_template_filters_system_logs_and_passes_hot_path_traces_through() -> None:
    # GIVEN the template with its defaults, WHEN its functions' settings are read
    settings = logging_settings()
    # THEN no function sends Lambda's per-invocation lines; the hot path is not sampled by Lambda
    assert set(settings) == HOT_PATH | {DLQ_STORE_FUNCTION}
    assert {logging.system_log_level for logging in settings.values()} == {"WARN"}
    assert {name for name, logging in settings.items() if logging.tracing == "PassThrough"} == HOT_PATH
    assert settings[DLQ_STORE_FUNCTION].tracing == "Active"
    # AND the parameter turns Active tracing back on for the hot path
    traced = logging_settings(HotPathTracing="Active")
    assert {logging.tracing for logging in traced.values()} == {"Active"}


def test_xray_line_prices_the_invocations_the_parameter_samples(shape: dict[str, Any]) -> None:
    # GIVEN one event per request, priced with the template's default settings and with Active tracing
    quiet = monthly_costs(template_usage(shape), PRICES, SCENARIO)["X-Ray traces"]
    usage = template_usage(shape, HotPathTracing="Active")
    traced = monthly_costs(usage, PRICES, SCENARIO)["X-Ray traces"]
    # THEN PassThrough records no trace of the hot path; Active one in 20 of its invocations, at $5/M
    hot = sum(count for name, count in usage.invocations.items() if name in HOT_PATH)
    other = sum(count for name, count in usage.invocations.items() if name not in HOT_PATH)
    assert quiet == pytest.approx(other * 0.05 * MONTH * 5e-6)
    assert traced - quiet == pytest.approx(hot * 0.05 * MONTH * 5e-6)
    assert traced > quiet


def test_logs_line_has_no_platform_lines_at_system_level_warn(shape: dict[str, Any]) -> None:
    # GIVEN one event per request: the functions' own output and one API access log line per request
    per = shape["per_1000_signals"]
    own = sum(function["log_bytes"] for function in per["functions"].values()) / 1000
    access = per["api_requests"] / 1000 * PRICES.assumptions["api_access_log_bytes"]
    gb = MONTH / 1024**3
    # WHEN priced with the template's settings, and with Lambda's default text logs
    quiet = monthly_costs(template_usage(shape), PRICES, SCENARIO)["CloudWatch Logs"]
    usage = usage_of(shape, {name: FunctionLogging() for name in per["functions"]})
    loud = monthly_costs(usage, PRICES, SCENARIO)["CloudWatch Logs"]
    # THEN SystemLogLevel WARN leaves only what the functions and the API write; text logs add
    # START, END and REPORT to every invocation (Lambda's logs tiered by volume, the API's flat)
    assert quiet == pytest.approx(lambda_logs_usd(own * gb, PRICES) + access * gb * 0.50)
    platform = sum(usage.invocations.values()) * PRICES.assumptions["lambda_platform_log_bytes"]
    assert loud - quiet == pytest.approx(
        lambda_logs_usd((own + platform) * gb, PRICES) - lambda_logs_usd(own * gb, PRICES)
    )
    assert loud > quiet


def test_lambda_logs_are_tiered_by_the_months_volume() -> None:
    # GIVEN a month's Lambda logs, WHEN priced
    # THEN the first 10 TB cost $0.50/GB, the next 20 TB $0.25, the next 20 TB $0.10, the rest $0.05
    assert lambda_logs_usd(1024, PRICES) == pytest.approx(512)
    assert lambda_logs_usd(60 * 1024, PRICES) == pytest.approx(12_500 * 1.024)  # AWS's 60 TB: $12,500
    assert lambda_logs_usd(0, PRICES) == 0


def test_template_logging_merges_globals_and_reads_parameters() -> None:
    # GIVEN Globals with JSON logs and a function of each kind
    template = {
        "Globals": {
            "Function": {
                "Tracing": "Active",
                "LoggingConfig": {"LogFormat": "JSON", "SystemLogLevel": {"Ref": "SystemLevel"}},
            }
        },
        "Resources": {
            "Hot": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Tracing": {"Ref": "Tracing"}, "LoggingConfig": {"LogGroup": {"Ref": "G"}}},
            },
            "Plain": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "Text": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"LoggingConfig": {"LogFormat": "Text"}},
            },
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        },
    }
    # WHEN read with parameter values
    found = template_logging(template, {"SystemLevel": "WARN", "Tracing": "PassThrough"})
    # THEN a function's own property wins, the Globals' fill in, and text logs filter nothing
    assert found == {
        "Hot": FunctionLogging(system_log_level="WARN", tracing="PassThrough"),
        "Plain": FunctionLogging(system_log_level="WARN", tracing="Active"),
        "Text": FunctionLogging(system_log_level="INFO", tracing="Active"),
    }
