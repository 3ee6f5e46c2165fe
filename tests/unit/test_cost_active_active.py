"""ProcessingMode active-active in the cost model: the idempotency table's replicated writes, bucket
replication both ways, the secondary's stream, and a total that does not depend on the split."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from bench.cost import (
    active_active_lines,
    active_active_usd,
    alternative_rows,
    load_results,
    template_usage,
)
from bench.cost_model import (
    AA_IDEMPOTENCY_DELETES,
    AA_IDEMPOTENCY_TRANSFER,
    AA_IDEMPOTENCY_WRITES,
    AA_PARTNER_KEY,
    AA_PRIMARY_REPLICATION,
    AA_SECONDARY_REPLICATION,
    AA_SECONDARY_STREAM,
    PriceTable,
    Scenario,
    active_active_costs,
    monthly_costs,
    parse_prices,
    per_million,
    put_units_usd,
    usage_of,
)

ROOT = Path(__file__).resolve().parents[2]
RAW_PRICES = tomllib.loads((ROOT / "bench" / "prices.toml").read_text())
PRICES = parse_prices(RAW_PRICES)
TWO_REGIONS = Scenario(2e9, regions=2)
MONTH = 2e9 * PRICES.days_per_month


def _prices(**usd: float) -> PriceTable:
    """The committed price table with some prices changed."""
    raw = json.loads(json.dumps(RAW_PRICES))
    for key, value in usd.items():
        raw["prices"][key]["usd"] = value
    return parse_prices(raw)


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return load_results()


@pytest.fixture(scope="module")
def shapes(results: dict[str, Any]) -> dict[str, Any]:
    shapes: dict[str, Any] = results["shapes"]
    return shapes


def test_idempotency_writes_are_billed_as_replicated_writes_in_both_replicas(
    shapes: dict[str, Any],
) -> None:
    # GIVEN the enrichment's measured idempotency writes at one event per request, and replicated
    # writes priced apart from single-Region writes (as they were before November 2024)
    calls = shapes["realistic-1"]["per_1000_signals"]["functions"]["EnrichmentFunction"]["calls"]
    put, update = calls["dynamodb.PutItem"], calls["dynamodb.UpdateItem"]
    units = (put["units"]["write_units"] + update["units"]["write_units"]) / 1000 * MONTH
    records = put["calls"] / 1000 * MONTH
    per_write = units / ((put["calls"] + update["calls"]) / 1000 * MONTH)
    written_gb = (put["request_bytes"] + update["request_bytes"]) / 1000 * MONTH / 1024**3
    prices = _prices(dynamodb_replicated_write_request_unit=1.875)

    # WHEN both Regions process
    costs = active_active_costs(usage_of(shapes["realistic-1"]), prices, TWO_REGIONS)

    # THEN every write is a replicated write in each of the two replicas instead of a write in one,
    # each record's TTL delete a replicated write in the other replica, and the bytes cross once
    rwru, wru = 1.875 / 1e6, prices["dynamodb_write_request_unit"]
    assert costs[AA_IDEMPOTENCY_WRITES] == pytest.approx(units * 2 * rwru - units * wru)
    assert costs[AA_IDEMPOTENCY_DELETES] == pytest.approx(records * per_write * rwru)
    assert costs[AA_IDEMPOTENCY_TRANSFER] == pytest.approx(written_gb * prices["inter_region_transfer_gb"])
    assert records > 0 and per_write == pytest.approx(1.0)  # one record a batch, each under 1 KB
    # AND at today's prices (rWRU = WRU) the writes cost what the table costs today, once more
    today = active_active_costs(usage_of(shapes["realistic-1"]), PRICES, TWO_REGIONS)
    assert today[AA_IDEMPOTENCY_WRITES] == pytest.approx(units * wru)


@pytest.mark.parametrize("share", [0.0, 0.25, 1.0])
def test_bucket_replication_runs_from_each_region_for_the_share_it_processes(
    shapes: dict[str, Any], share: float
) -> None:
    usage = usage_of(shapes["realistic-1"])
    one_way = monthly_costs(usage, PRICES, TWO_REGIONS)["S3 Cross-Region Replication"]

    costs = active_active_costs(usage, PRICES, TWO_REGIONS, secondary_share=share)

    # the primary replicates what it processes, the secondary the rest, each at the same price
    assert one_way + costs[AA_PRIMARY_REPLICATION] == pytest.approx((1 - share) * one_way)
    assert costs[AA_SECONDARY_REPLICATION] == pytest.approx(share * one_way)
    assert one_way > 0


def test_secondary_pays_the_fixed_part_of_the_primary_stream(shapes: dict[str, Any]) -> None:
    usage = usage_of(shapes["realistic-100"])
    # provisioned: the same shards for the whole peak (a failover sends it everything)
    primary = monthly_costs(usage, PRICES, TWO_REGIONS)["Kinesis signal stream"]
    fixed = primary - put_units_usd(usage.stream_put_units, PRICES, TWO_REGIONS)
    assert active_active_costs(usage, PRICES, TWO_REGIONS)[AA_SECONDARY_STREAM] == pytest.approx(fixed)
    assert fixed > 0
    # on-demand: its stream-hours; with the partner, its own copy of the partner secret
    on_demand = Scenario(2e9, regions=2, partner=True, provisioned_stream=False)
    costs = active_active_costs(usage, PRICES, on_demand)
    hours = 24 * PRICES.days_per_month
    assert costs[AA_SECONDARY_STREAM] == pytest.approx(hours * PRICES["kinesis_on_demand_stream_hour"])
    assert costs[AA_PARTNER_KEY] == PRICES["secret_month"]


def test_total_is_the_same_at_any_split_and_needs_two_regions(shapes: dict[str, Any]) -> None:
    usage = usage_of(shapes["realistic-10"])
    totals = [sum(active_active_costs(usage, PRICES, TWO_REGIONS, share).values()) for share in (0, 0.5, 1)]
    assert totals == pytest.approx([totals[0]] * 3)
    with pytest.raises(ValueError, match="between 0 and 1"):
        active_active_costs(usage, PRICES, TWO_REGIONS, secondary_share=1.5)
    with pytest.raises(ValueError, match="two Regions"):
        active_active_costs(usage, PRICES, Scenario(2e9, regions=1))


def test_alternative_row_and_line_follow_the_price_table(results: dict[str, Any]) -> None:
    # GIVEN the alternatives at the committed prices, and with replicated writes twice as dear
    dearer = _prices(dynamodb_replicated_write_request_unit=1.25)

    def active_active_row(prices: PriceTable) -> tuple[str, ...]:
        rows = alternative_rows(results, prices)
        return next(row for row in rows if row[0] == "active-active (ProcessingMode), 100 events/request")

    today, dear = active_active_row(PRICES), active_active_row(dearer)

    # THEN the row is the model's, and moves by the replicated writes' share of the price change
    usage = template_usage(results["shapes"]["realistic-100"])
    assert float(today[1]) == pytest.approx(active_active_usd(usage, PRICES), abs=5e-4)
    replicated_units = (usage.table_write_units["EnrichmentFunction"] * 2 + usage.idempotency_records) * MONTH
    expected = per_million(replicated_units * 0.625 / 1e6, PRICES, TWO_REGIONS)
    assert float(dear[2]) - float(today[2]) == pytest.approx(expected, abs=2e-3)
    assert float(today[2]) > 0
    # AND `make cost` ends with one line per default shape
    assert active_active_lines(results, PRICES)[-1] == (
        f"cost per million signals, two Regions, 100 events/request: "
        f"${active_active_usd(usage, PRICES):.2f} (active-active)"
    )
