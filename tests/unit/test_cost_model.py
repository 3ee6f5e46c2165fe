"""The cost model: lines recomputed by hand from the committed price table and measured calls."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench.cost import cost_line, headline_lines
from bench.cost_model import (
    KMS_KEYS_PER_REGION,
    PriceError,
    Scenario,
    api_gateway_usd,
    firehose_lake_costs,
    load_prices,
    monthly_costs,
    parse_prices,
    per_million_signals,
    per_signal_idempotency,
    price_problems,
    usage_of,
)
from localcloud.template import decode

ROOT = Path(__file__).resolve().parents[2]
PRICES = ROOT / "bench" / "prices.toml"
CALLS = ROOT / "bench" / "results" / "calls.json"


@pytest.fixture(scope="module")
def raw_prices() -> dict[str, Any]:
    return tomllib.loads(PRICES.read_text())


@pytest.fixture(scope="module")
def shapes() -> dict[str, Any]:
    shapes: dict[str, Any] = json.loads(CALLS.read_text())["shapes"]
    return shapes


def test_price_table_every_price_has_a_source_title_and_date(raw_prices: dict[str, Any]) -> None:
    # GIVEN the committed price table / WHEN it is checked / THEN nothing is missing, dates are ISO dates
    assert price_problems(raw_prices) == []
    for key, entry in raw_prices["prices"].items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["date"]), key
        assert entry["source"].startswith("https://"), key
        assert entry["checked"] in ("aws-page", "third-party", "sheet", "unverified"), key
        if entry["checked"] in ("aws-page", "third-party"):
            assert entry.get("checked_on", "").startswith("https://"), key


def test_price_without_a_date_or_source_is_refused(raw_prices: dict[str, Any]) -> None:
    # GIVEN the table with one price missing its date and another its source
    broken = json.loads(json.dumps(raw_prices))
    del broken["prices"]["lambda_request"]["date"]
    broken["prices"]["s3_put"]["source"] = ""

    # WHEN it is parsed THEN both are named
    with pytest.raises(PriceError, match=r"lambda_request: no date.*s3_put: no source"):
        parse_prices(broken)


def test_api_gateway_is_tiered_at_300_million_a_month() -> None:
    prices = load_prices(PRICES)
    assert api_gateway_usd(300e6, prices) == pytest.approx(300.0)
    assert api_gateway_usd(1.3e9, prices) == pytest.approx(300.0 + 1000 * 0.90)


def test_model_agrees_with_a_line_computed_by_hand(
    raw_prices: dict[str, Any], shapes: dict[str, Any]
) -> None:
    # GIVEN the measured calls of 100-event requests and the price table, at 2 B signals a day
    shape = shapes["realistic-100"]["per_1000_signals"]
    prices = raw_prices["prices"]
    month = 2e9 * raw_prices["meta"]["days_per_month"]
    validator = shape["functions"]["ValidatorFunction"]["calls"]["events.PutEvents"]["units"]
    enrichment = shape["functions"]["EnrichmentFunction"]["calls"]["events.PutEvents"]["units"]
    event_price = prices["eventbridge_custom_event"]["usd"] / prices["eventbridge_custom_event"]["per"]
    by_hand_events = (validator["chunks"] + enrichment["chunks"]) / 1000 * month * event_price
    writes = sum(  # the validator's rate leases, the enrichment's idempotency records, the lake ledger
        stats["units"].get("write_units", 0)
        for function in ("ValidatorFunction", "EnrichmentFunction", "S3WriterFunction")
        for stats in shape["functions"][function]["calls"].values()
        if "write_units" in stats["units"]
    )
    wru = prices["dynamodb_write_request_unit"]
    by_hand_dynamodb = writes / 1000 * month * wru["usd"] / wru["per"]
    by_hand_replication = validator["chunks"] / 1000 * month * event_price + (
        validator["entry_bytes"] / 1000 / 1024**3 * month * prices["inter_region_transfer_gb"]["usd"]
    )

    # WHEN the model prices the same shape
    costs = monthly_costs(usage_of(shapes["realistic-100"]), load_prices(PRICES), Scenario(2e9, regions=2))

    # THEN it agrees with the hand computation, line by line
    assert costs["EventBridge events (both buses)"] == pytest.approx(by_hand_events)
    assert costs["DynamoDB on-demand"] == pytest.approx(by_hand_dynamodb, rel=0.01)  # + the few reads
    assert costs["Secondary: replicated events"] == pytest.approx(by_hand_replication)


def test_second_region_adds_only_the_secondary_lines(shapes: dict[str, Any]) -> None:
    prices, usage = load_prices(PRICES), usage_of(shapes["realistic-1"])

    one = monthly_costs(usage, prices, Scenario(4e8, regions=1))
    two = monthly_costs(usage, prices, Scenario(4e8, regions=2))

    changed = {line for line in one if one[line] != two[line]}
    assert changed == {
        "Secondary: replicated events",
        "Secondary: archive (30 days)",
        "S3 Cross-Region Replication",
        "Secondary: KMS keys, secret replica",
    }
    assert all(two[line] > 0 for line in changed)


def test_each_region_pays_for_the_kms_keys_its_stack_creates(shapes: dict[str, Any]) -> None:
    # GIVEN the customer managed keys template.yaml creates (every Region deploys it, none conditional)
    resources = decode(ROOT / "template.yaml")["Resources"]
    keys = [name for name, resource in resources.items() if resource["Type"] == "AWS::KMS::Key"]
    assert not [name for name in keys if "Condition" in resources[name]]
    prices, usage = load_prices(PRICES), usage_of(shapes["realistic-1"])
    key_month = prices["kms_key_month"]

    # WHEN one Region and two are priced
    one = monthly_costs(usage, prices, Scenario(4e8, regions=1))
    two = monthly_costs(usage, prices, Scenario(4e8, regions=2))

    # THEN each Region pays for that many keys a month
    assert len(keys) == KMS_KEYS_PER_REGION
    assert two["Secondary: KMS keys, secret replica"] == pytest.approx(
        len(keys) * key_month + prices["secret_month"]
    )
    month = 4e8 * prices.days_per_month
    requests = (
        usage.sqs_requests * month * prices["sqs_request"]
        + usage.secrets_calls * month * prices["secrets_manager_api_call"]
    )
    assert one["SQS, Secrets Manager, KMS"] == pytest.approx(
        requests + len(keys) * key_month + prices["secret_month"]
    )


def test_batching_is_cheaper_per_signal(shapes: dict[str, Any]) -> None:
    prices, scenario = load_prices(PRICES), Scenario(2e9)
    one, ten, hundred = (
        per_million_signals(usage_of(shapes[f"realistic-{k}"]), prices, scenario) for k in (1, 10, 100)
    )
    assert one > ten > hundred


def test_per_signal_idempotency_writes_every_signal(shapes: dict[str, Any]) -> None:
    # GIVEN 100-event requests, whose batches carry many signals each
    usage = usage_of(shapes["realistic-100"])
    writes_per_batch = usage.table_write_units["EnrichmentFunction"] / usage.invocations["EnrichmentFunction"]

    # WHEN enrichment keeps one idempotency record per signal instead
    per_signal = per_signal_idempotency(usage)

    # THEN every signal pays a whole record's writes, and the enrichment the time they take
    assert per_signal.table_write_units["EnrichmentFunction"] == pytest.approx(writes_per_batch)
    assert per_signal.write_units == pytest.approx(
        usage.write_units - usage.table_write_units["EnrichmentFunction"] + writes_per_batch
    )
    assert per_signal.gb_seconds["EnrichmentFunction"] > usage.gb_seconds["EnrichmentFunction"]
    assert per_signal_idempotency(usage_of(shapes["realistic-1"])).write_units == pytest.approx(
        usage_of(shapes["realistic-1"]).write_units
    )


def test_firehose_alternative_removes_the_writer_path(shapes: dict[str, Any]) -> None:
    prices, usage = load_prices(PRICES), usage_of(shapes["realistic-1"])

    delta = firehose_lake_costs(usage, prices, Scenario(2e9, regions=1))

    costs = monthly_costs(usage, prices, Scenario(2e9, regions=1))
    removed = -delta["lake Pipe, S3-writer λ, PUTs removed"]
    assert removed > costs["EventBridge Pipes (lake)"]
    assert delta["Firehose (ingest, partitioning, objects)"] > 0


def test_cost_line_has_the_exact_shape(shapes: dict[str, Any]) -> None:
    assert cost_line(10, 4.146) == "cost per million signals, two Regions, 10 events/request: $4.15"
    lines = headline_lines({"shapes": shapes}, load_prices(PRICES))
    assert [line.split(":")[0] for line in lines] == [
        f"cost per million signals, two Regions, {k} events/request" for k in (1, 10, 100)
    ]
    assert all(re.fullmatch(r".*: \$\d+\.\d\d", line) for line in lines)


def test_lake_is_priced_with_full_pipe_batches(shapes: dict[str, Any]) -> None:
    # GIVEN one event per request (one stream record per signal) of six event types, BatchSize 64
    shape = shapes["realistic-1"]
    batch_size = shape["per_1000_signals"]["pipes"]["LakePipe"]["batch_size"]
    records = shape["per_1000_signals"]["stream"]["records"] / 1000

    # WHEN the usage is read
    usage = usage_of(shape)

    # THEN the writer runs once per full batch and writes one object per event type in it
    assert usage.invocations["S3WriterFunction"] == pytest.approx(records / batch_size)
    assert usage.s3_puts == pytest.approx(records / batch_size * shape["event_types"])
    assert usage.replicated_puts == pytest.approx(usage.s3_puts)
