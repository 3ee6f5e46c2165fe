"""The cost model: measured usage per signal x list prices, per service, at a daily volume.

Pure functions only (no I/O besides ``load_prices`` reading the TOML text it is given a path to):
``usage_of`` turns one shape of ``bench/results/calls.json`` into ``Usage`` per signal,
``monthly_costs`` prices it for one or two Regions at a daily volume, and the alternatives
(``per_signal_idempotency``, ``firehose_lake``) are ``Usage`` transformations priced the same way,
or the lines they change (``firehose_lake_costs``, ``load_balancer_costs``, ``active_active_costs``).
``make cost`` (``bench.cost``) prints and plots what these return; tests/unit/test_cost_model.py
checks one line by hand.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

INGEST_FUNCTION: Final = "ValidatorFunction"
ENRICH_FUNCTION: Final = "EnrichmentFunction"
LAKE_FUNCTION: Final = "S3WriterFunction"
DLQ_STORE_FUNCTION: Final = "DlqHydrateFunction"
BATCH_FUNCTION: Final = "BatcherFunction"  # the front-door buffer's batcher (FrontDoorBuffer=Enabled)
LAKE_PIPE: Final = "LakePipe"
PARTNER_PIPE: Final = "PartnerPipe"
REPLICATED_WRITERS: Final = (LAKE_FUNCTION, DLQ_STORE_FUNCTION)  # the lake and the DLQ store: CRR
# Customer managed keys each Region's stack creates (template.yaml: PlatformKey, PersonalDataKey).
KMS_KEYS_PER_REGION: Final = 2
REQUIRED_FIELDS: Final = ("usd", "per", "unit", "source", "title", "date", "checked")
KB: Final = 1024
GB: Final = 1024**3
CHUNK: Final = 64 * KB
FIREHOSE_RECORD_INCREMENT: Final = 5 * KB
API_TIER_REQUESTS: Final = 300_000_000  # HTTP API requests a month at the first-tier price
TB: Final = 1024  # GB
# Lambda's logs in CloudWatch Logs, priced by the month's volume (the first tier is the flat price of
# every other log group, the API's access logs among them): (GB up to which a price applies, price).
LAMBDA_LOG_TIERS: Final = (
    (10 * TB, "cloudwatch_logs_ingested_gb"),
    (30 * TB, "cloudwatch_logs_lambda_gb_over_10tb"),
    (50 * TB, "cloudwatch_logs_lambda_gb_over_30tb"),
    (math.inf, "cloudwatch_logs_lambda_gb_over_50tb"),
)


class PriceError(ValueError):
    """The price table is incomplete: a price without a source, title or date, or a missing price."""


@dataclass(frozen=True, slots=True)
class Price:
    key: str
    usd: float
    per: float
    unit: str
    source: str
    title: str
    date: str
    checked: str

    @property
    def each(self) -> float:
        return self.usd / self.per


@dataclass(frozen=True, slots=True)
class PriceTable:
    prices: Mapping[str, Price]
    assumptions: Mapping[str, float]
    days_per_month: float
    region: str

    def __getitem__(self, key: str) -> float:
        if key not in self.prices:
            raise PriceError(f"no price {key!r} in the price table")
        return self.prices[key].each


def price_problems(raw: Mapping[str, Any]) -> list[str]:
    """Every price entry missing a field, or with an empty source, title or date."""
    return [
        f"{key}: no {name}"
        for key, entry in raw.get("prices", {}).items()
        for name in REQUIRED_FIELDS
        if entry.get(name) in ("", None)
    ]


def parse_prices(raw: Mapping[str, Any]) -> PriceTable:
    problems = price_problems(raw)
    if problems:
        raise PriceError("; ".join(problems))
    prices = {
        key: Price(key, **{name: entry[name] for name in REQUIRED_FIELDS})
        for key, entry in raw["prices"].items()
    }
    meta = raw["meta"]
    return PriceTable(prices, dict(raw["assumptions"]), float(meta["days_per_month"]), str(meta["region"]))


def load_prices(path: Path) -> PriceTable:
    return parse_prices(tomllib.loads(path.read_text()))


# ---------------------------------------------------------------------------- what the template says
QUIET_SYSTEM_LOG_LEVELS: Final = frozenset({"WARN"})  # Lambda sends no START/END/REPORT at these


@dataclass(frozen=True, slots=True)
class FunctionLogging:
    """What a function's invocations send to CloudWatch Logs and X-Ray besides its own output."""

    system_log_level: str = "INFO"  # text logs (Lambda's default) send every system line
    tracing: str = "Active"

    def platform_log_bytes(self, assumptions: Mapping[str, float]) -> float:
        """START, END and REPORT per invocation, unless the system log level filters them out."""
        if self.system_log_level in QUIET_SYSTEM_LOG_LEVELS:
            return 0.0
        return assumptions["lambda_platform_log_bytes"]

    def sampled_share(self, assumptions: Mapping[str, float]) -> float:
        """The invocations Lambda records a trace of: Active samples at its fixed rate; PassThrough
        only continues a caller's sampled trace, and no caller of these functions samples."""
        return assumptions["xray_sampled_share"] if self.tracing == "Active" else 0.0


def template_logging(
    template: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, FunctionLogging]:
    """Each serverless function's system log level and tracing mode: its own property, else the
    Globals' (SAM merges LoggingConfig maps), a ``Ref`` read from ``parameters``."""
    defaults = template.get("Globals", {}).get("Function", {})

    def value(raw: Any) -> str:
        return str(parameters[raw["Ref"]] if isinstance(raw, Mapping) and "Ref" in raw else raw)

    found = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties", {})
        logging = {**defaults.get("LoggingConfig", {}), **properties.get("LoggingConfig", {})}
        json_logs = value(logging.get("LogFormat", "Text")) == "JSON"
        found[name] = FunctionLogging(
            system_log_level=value(logging.get("SystemLogLevel", "INFO")) if json_logs else "INFO",
            tracing=value(properties.get("Tracing", defaults.get("Tracing", "PassThrough"))),
        )
    return found


def _logging(usage: Usage, function: str) -> FunctionLogging:
    return usage.logging.get(function, FunctionLogging())


def platform_log_bytes(usage: Usage, assumptions: Mapping[str, float]) -> float:
    """Lambda's own log lines per signal, by each function's system log level."""
    return math.fsum(
        count * _logging(usage, name).platform_log_bytes(assumptions)
        for name, count in usage.invocations.items()
    )


def traced_invocations(usage: Usage, assumptions: Mapping[str, float]) -> float:
    """X-Ray traces recorded per signal, by each function's tracing mode."""
    return math.fsum(
        count * _logging(usage, name).sampled_share(assumptions) for name, count in usage.invocations.items()
    )


# ---------------------------------------------------------------------------- usage per signal
@dataclass(frozen=True, slots=True)
class Usage:
    """What one accepted signal asks of AWS, on average, in a given request shape."""

    api_requests: float
    invocations: Mapping[str, float]
    gb_seconds: Mapping[str, float]
    function_log_bytes: float
    ingress_chunks: float
    ingress_bytes: float
    platform_chunks: float
    stream_records: float
    stream_kib: float
    stream_bytes: float
    pipe_batches: Mapping[str, float]
    partner_requests: float
    write_units: float  # every function's DynamoDB writes
    read_units: float
    write_seconds: float  # enrichment seconds spent in idempotency writes
    s3_puts: float
    lake_bytes: float
    replicated_puts: float
    replicated_bytes: float
    sqs_requests: float
    secrets_calls: float
    put_events_calls: float = 0.0
    rule_deliveries: float = 0.0
    ingress_entries: float = 0.0
    memory_gb: Mapping[str, float] = field(default_factory=dict)
    # DynamoDB write units per function: each function writes its own table (the enrichment's is the
    # idempotency table), and a table's quota is its own.
    table_write_units: Mapping[str, float] = field(default_factory=dict)
    stream_put_units: float = 0.0  # 25 KB PUT payload units of the signal stream's records (measured)
    signals_per_entry: float = 1.0
    # The front-door buffer stream (provisioned): records and 25 KB PUT payload units per signal.
    buffer_records: float = 0.0
    buffer_put_units: float = 0.0
    buffer_bytes: float = 0.0
    # The idempotency records (the enrichment's table): records created (PutItem), writes (every
    # PutItem, UpdateItem, DeleteItem) and the writes' request bytes, per signal.
    idempotency_records: float = 0.0
    idempotency_writes: float = 0.0
    idempotency_bytes: float = 0.0
    # Each function's log and trace settings as the template says (``template_logging``); a function
    # not named here has Lambda's text logs and Active tracing.
    logging: Mapping[str, FunctionLogging] = field(default_factory=dict)


def _calls(function: Mapping[str, Any], operation: str) -> Mapping[str, Any]:
    found: Mapping[str, Any] = function.get("calls", {}).get(
        operation, {"calls": 0.0, "seconds": 0.0, "units": {}}
    )
    return found


def _sum(functions: Mapping[str, Any], operation: str, unit: str | None = None) -> float:
    total = 0.0
    for function in functions.values():
        stats = _calls(function, operation)
        total += float(stats["units"].get(unit, 0.0) if unit else stats["calls"])
    return total


def _lake_at_volume(shape: Mapping[str, Any]) -> tuple[float, float] | None:
    """(S3-writer invocations, lake PUTs) per 1,000 signals when every lake Pipe batch is full, as it
    is at hundreds of millions of signals a day: one object per event type (partition) per batch.
    Locally a batch closes when its window ends, at the local rate, so the measured counts are higher."""
    batch_size = shape["per_1000_signals"]["pipes"].get(LAKE_PIPE, {}).get("batch_size")
    types = shape.get("event_types")
    if not batch_size or not types:
        return None
    batches = float(shape["per_1000_signals"]["stream"]["records"]) / batch_size
    return batches, batches * min(types, batch_size)


def usage_of(shape: Mapping[str, Any], logging: Mapping[str, FunctionLogging] | None = None) -> Usage:
    """``Usage`` per signal from one shape of calls.json (whose figures are per 1,000 signals); the lake
    writer's invocations and PUTs as at volume (``_lake_at_volume``) when the shape says how; the
    functions' log and trace settings from ``logging`` (``template_logging``)."""
    per = shape["per_1000_signals"]
    functions: Mapping[str, Any] = per["functions"]
    k = 1000.0
    enrich = functions.get(ENRICH_FUNCTION, {})
    lake = _calls(functions.get(LAKE_FUNCTION, {}), "s3.PutObject")
    invocations = {name: f["invocations"] for name, f in functions.items()}
    lake_puts = float(lake["calls"])
    at_volume = _lake_at_volume(shape)
    if at_volume is not None and LAKE_FUNCTION in invocations:
        invocations[LAKE_FUNCTION], lake_puts = at_volume
    ddb_ops = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")
    table_writes = {
        name: math.fsum(float(_calls(f, op)["units"].get("write_units", 0.0)) for op in ddb_ops) / k
        for name, f in functions.items()
    }
    write_units = math.fsum(table_writes.values()) * k
    write_seconds = math.fsum(float(_calls(enrich, op)["seconds"]) for op in ddb_ops)
    idempotency_writes = [_calls(enrich, op) for op in ddb_ops]
    entries = _sum(functions, "events.PutEvents", "entries")
    # The ingress bus hop: the validator's PutEvents, or the batcher's behind the front-door buffer.
    ingress = [
        _calls(functions.get(name, {}), "events.PutEvents") for name in (INGEST_FUNCTION, BATCH_FUNCTION)
    ]
    buffer = per.get("buffer", {})
    return Usage(
        api_requests=per["api_requests"] / k,
        invocations={name: count / k for name, count in invocations.items()},
        gb_seconds={name: f["seconds"] * f["memory_mb"] / 1024 / k for name, f in functions.items()},
        function_log_bytes=math.fsum(f["log_bytes"] for f in functions.values()) / k,
        ingress_chunks=math.fsum(float(c["units"].get("chunks", 0.0)) for c in ingress) / k,
        ingress_bytes=math.fsum(float(c["units"].get("entry_bytes", 0.0)) for c in ingress) / k,
        platform_chunks=float(_calls(enrich, "events.PutEvents")["units"].get("chunks", 0.0)) / k,
        stream_records=per["stream"]["records"] / k,
        stream_kib=per["stream"]["kib_rounded"] / k,
        stream_bytes=per["stream"]["record_bytes"] / k,
        stream_put_units=float(per["stream"].get("put_payload_units", 0.0)) / k,
        pipe_batches={name: pipe["batches"] / k for name, pipe in per["pipes"].items()},
        partner_requests=per["partner_requests"] / k,
        write_units=write_units / k,
        read_units=_sum(functions, "dynamodb.GetItem") / k,
        write_seconds=write_seconds / k,
        s3_puts=(_sum(functions, "s3.PutObject") - float(lake["calls"]) + lake_puts) / k,
        lake_bytes=float(lake["units"].get("object_bytes", 0.0)) / k,
        replicated_puts=(
            float(_calls(functions.get(DLQ_STORE_FUNCTION, {}), "s3.PutObject")["calls"]) + lake_puts
        )
        / k,
        replicated_bytes=math.fsum(
            float(_calls(functions.get(name, {}), "s3.PutObject")["units"].get("object_bytes", 0.0))
            for name in REPLICATED_WRITERS
        )
        / k,
        sqs_requests=math.fsum(
            float(stats["calls"])
            for f in functions.values()
            for op, stats in f["calls"].items()
            if op.startswith("sqs.")
        )
        / k,
        secrets_calls=_sum(functions, "secretsmanager.GetSecretValue") / k,
        put_events_calls=_sum(functions, "events.PutEvents") / k,
        rule_deliveries=per["rule_deliveries"] / k,
        ingress_entries=math.fsum(float(c["units"].get("entries", 0.0)) for c in ingress) / k,
        memory_gb={name: f["memory_mb"] / 1024 for name, f in functions.items()},
        table_write_units={name: units for name, units in table_writes.items() if units},
        signals_per_entry=k / entries * 2 if entries else 0.0,  # both buses carry every signal
        buffer_records=float(buffer.get("records", 0.0)) / k,
        buffer_put_units=float(buffer.get("put_payload_units", 0.0)) / k,
        buffer_bytes=float(buffer.get("record_bytes", 0.0)) / k,
        idempotency_records=float(_calls(enrich, "dynamodb.PutItem")["calls"]) / k,
        idempotency_writes=math.fsum(float(c["calls"]) for c in idempotency_writes) / k,
        idempotency_bytes=math.fsum(float(c.get("request_bytes", 0.0)) for c in idempotency_writes) / k,
        logging=dict(logging or {}),
    )


# ---------------------------------------------------------------------------- pricing
@dataclass(frozen=True, slots=True)
class Scenario:
    """A daily volume, one Region or two (active/archive), with or without the partner consumer."""

    signals_per_day: float
    regions: int = 2
    partner: bool = False
    # The signal stream's capacity mode: PROVISIONED, sized by ``stream_shards``, as samconfig.toml's
    # primary deploys it (StreamMode, StreamShardCount; tests/unit/test_cost_stream.py pins it).
    provisioned_stream: bool = True


def api_gateway_usd(requests_per_month: float, prices: PriceTable) -> float:
    """HTTP API requests, tiered: the first 300 million a month at the first price, the rest cheaper."""
    first = min(requests_per_month, API_TIER_REQUESTS)
    rest = max(0.0, requests_per_month - API_TIER_REQUESTS)
    return first * prices["api_gateway_http_request"] + rest * prices["api_gateway_http_request_over_300m"]


def lambda_logs_usd(gb_per_month: float, prices: PriceTable) -> float:
    """Lambda function logs ingested in a month, tiered by volume (``LAMBDA_LOG_TIERS``)."""
    usd, floor = 0.0, 0.0
    for ceiling, key in LAMBDA_LOG_TIERS:
        usd += max(0.0, min(gb_per_month, ceiling) - floor) * prices[key]
        floor = ceiling
    return usd


def _gb(value_bytes: float) -> float:
    return value_bytes / GB


def monthly_costs(usage: Usage, prices: PriceTable, scenario: Scenario) -> dict[str, float]:
    """USD a month per service line (every line present, zero when it does not apply)."""
    a = prices.assumptions
    month = scenario.signals_per_day * prices.days_per_month  # signals a month
    invocations = math.fsum(usage.invocations.values())
    pipe_chunks = max(1, math.ceil(usage.stream_bytes / max(usage.stream_records, 1e-12) / CHUNK))
    lambda_log_bytes = usage.function_log_bytes + platform_log_bytes(usage, a)
    access_log_bytes = usage.api_requests * a["api_access_log_bytes"]
    costs = {
        "API Gateway HTTP API": api_gateway_usd(usage.api_requests * month, prices),
        "Lambda requests": invocations * month * prices["lambda_request"],
        "Lambda duration (arm64)": math.fsum(usage.gb_seconds.values())
        * month
        * prices["lambda_arm64_gb_second"],
        "EventBridge events (both buses)": (usage.ingress_chunks + usage.platform_chunks)
        * month
        * prices["eventbridge_custom_event"],
        "EventBridge Pipes (lake)": usage.stream_records * pipe_chunks * month * prices["pipes_request"],
        "Kinesis signal stream": signal_stream_usd(usage, prices, scenario),
        "DynamoDB on-demand": (
            usage.write_units * prices["dynamodb_write_request_unit"]
            + usage.read_units * prices["dynamodb_read_request_unit"]
        )
        * month,
        "S3 lake (PUT, one month stored)": usage.s3_puts * month * prices["s3_put"]
        + _gb(usage.lake_bytes) * month * prices["s3_standard_gb_month"],
        "CloudWatch Logs": lambda_logs_usd(_gb(lambda_log_bytes) * month, prices)
        + _gb(access_log_bytes) * month * prices["cloudwatch_logs_ingested_gb"],
        "X-Ray traces": traced_invocations(usage, a) * month * prices["xray_trace_recorded"],
        "SQS, Secrets Manager, KMS": usage.sqs_requests * month * prices["sqs_request"]
        + usage.secrets_calls * month * prices["secrets_manager_api_call"]
        + KMS_KEYS_PER_REGION * prices["kms_key_month"]
        + prices["secret_month"],
        "Kinesis provisioned (front-door buffer)": buffer_stream_usd(usage, prices, scenario),
        "Ingress archive (30 days)": archive_usd(usage, prices, scenario),
        "Partner Pipe + API destination": 0.0,
        "Secondary: replicated events": 0.0,
        "Secondary: archive (30 days)": 0.0,
        "S3 Cross-Region Replication": 0.0,
        "Secondary: KMS keys, secret replica": 0.0,
    }
    if scenario.partner:
        costs["Partner Pipe + API destination"] = (
            usage.stream_records * pipe_chunks * prices["pipes_request"]
            + usage.partner_requests * prices["api_destination_invocation"]
        ) * month
    if scenario.regions == 2:
        ingress_gb = _gb(usage.ingress_bytes) * month
        costs["Secondary: replicated events"] = (
            usage.ingress_chunks * month * prices["eventbridge_custom_event"]
            + ingress_gb * prices["inter_region_transfer_gb"]
        )
        costs["Secondary: archive (30 days)"] = archive_usd(usage, prices, scenario)
        costs["S3 Cross-Region Replication"] = bucket_replication_usd(usage, prices, month)
        costs["Secondary: KMS keys, secret replica"] = (
            KMS_KEYS_PER_REGION * prices["kms_key_month"] + prices["secret_month"]
        )
    return costs


def bucket_replication_usd(usage: Usage, prices: PriceTable, signals_per_month: float) -> float:
    """S3 Cross-Region Replication a month of the lake and DLQ-store objects ``signals_per_month``
    signals make: their bytes across Regions, one PUT each at the destination, one month stored there."""
    replicated_gb = _gb(usage.replicated_bytes) * signals_per_month
    return (
        replicated_gb * prices["inter_region_transfer_gb"]
        + usage.replicated_puts * signals_per_month * prices["s3_put"]
        + replicated_gb * prices["s3_standard_gb_month"]
    )


def archive_usd(usage: Usage, prices: PriceTable, scenario: Scenario) -> float:
    """One Region's ingress archive a month (IngressArchive, enabled in both Regions by samconfig.toml):
    the GB of signal batches it takes in, and what it holds at steady state (its retention's worth)."""
    a = prices.assumptions
    daily_gb = _gb(usage.ingress_bytes) * scenario.signals_per_day
    return (
        daily_gb * prices.days_per_month * prices["archive_processed_gb"]
        + daily_gb * a["archive_retention_days"] * prices["archive_storage_gb_month"]
    )


# ---------------------------------------------------------------------------- Kinesis capacity
SHARD_RECORDS_IN: Final = 1000  # records/s a shard takes in
SHARD_BYTES_IN: Final = 1024**2  # 1 MiB/s a shard takes in
SHARD_BYTES_OUT: Final = 2 * 1024**2  # 2 MiB/s a shard gives out, shared by its GetRecords consumers
INCLUDED_RETENTION_HOURS: Final = 24
EXTENDED_RETENTION_HOURS: Final = 168  # beyond 7 days AWS bills long-term retention (not priced here)


def shards_for_peak(
    records_per_second: float, bytes_per_second: float, consumers: int, headroom: float
) -> int:
    """The sizing rule of a provisioned stream: enough shards for the peak's records/s and MiB/s in,
    and for every consumer's reads (Pipes use GetRecords: no enhanced fan-out), times the headroom
    (partition keys never hash perfectly evenly; growth until the next resize)."""
    needed = max(
        records_per_second / SHARD_RECORDS_IN,
        bytes_per_second / SHARD_BYTES_IN,
        bytes_per_second * consumers / SHARD_BYTES_OUT,
    )
    return max(1, math.ceil(needed * headroom - 1e-9))


def _peak(prices: PriceTable, scenario: Scenario) -> float:
    return scenario.signals_per_day / 86_400 * prices.assumptions["peak_factor"]


def stream_shards(usage: Usage, prices: PriceTable, scenario: Scenario) -> int:
    """Provisioned shards of the signal stream for the scenario's peak: the lake Pipe reads it, and the
    partner Pipe too when there is one."""
    peak = _peak(prices, scenario)
    consumers = 2 if scenario.partner else 1
    headroom = prices.assumptions["stream_shard_headroom"]
    return shards_for_peak(usage.stream_records * peak, usage.stream_bytes * peak, consumers, headroom)


def buffer_shards(usage: Usage, prices: PriceTable, scenario: Scenario) -> int:
    """Provisioned shards of the front-door buffer for the peak (the batcher is its one consumer)."""
    if not usage.buffer_records:
        return 0
    peak = _peak(prices, scenario)
    headroom = prices.assumptions["stream_shard_headroom"]
    return shards_for_peak(usage.buffer_records * peak, usage.buffer_bytes * peak, 1, headroom)


def _retention_hours(prices: PriceTable) -> float:
    hours = prices.assumptions["stream_retention_hours"]
    if hours > EXTENDED_RETENTION_HOURS:
        raise PriceError(f"stream retention {hours:g} h: long-term retention (beyond 7 days) is not priced")
    return hours


def shards_usd(shards: int, prices: PriceTable) -> float:
    """Provisioned shards a month: shard-hours, plus extended retention (billed per shard-hour for any
    retention beyond 24 h, up to 7 days)."""
    extended = prices["kinesis_extended_retention_shard_hour"] if _retention_hours(prices) > 24 else 0.0
    return shards * 24 * prices.days_per_month * (prices["kinesis_provisioned_shard_hour"] + extended)


def put_units_usd(units_per_signal: float, prices: PriceTable, scenario: Scenario) -> float:
    """PUT payload units (25 KB of a record, rounded up) of a provisioned stream a month."""
    month = scenario.signals_per_day * prices.days_per_month
    return units_per_signal * month * prices["kinesis_put_payload_unit"]


def signal_stream_fixed_usd(usage: Usage, prices: PriceTable, scenario: Scenario) -> float:
    """What one Region's signal stream costs a month whatever flows through it: provisioned, the
    shards for the scenario's whole peak (with their retention); on-demand, the stream-hours."""
    if scenario.provisioned_stream:
        return shards_usd(stream_shards(usage, prices, scenario), prices)
    return 24 * prices.days_per_month * prices["kinesis_on_demand_stream_hour"]


def signal_stream_usd(usage: Usage, prices: PriceTable, scenario: Scenario) -> float:
    """The signal stream (where processing runs: the primary) a month, in the capacity mode the
    scenario deploys, with its retention (``stream_retention_hours``)."""
    fixed = signal_stream_fixed_usd(usage, prices, scenario)
    if scenario.provisioned_stream:
        return fixed + put_units_usd(usage.stream_put_units, prices, scenario)
    month = scenario.signals_per_day * prices.days_per_month
    consumers = 2 if scenario.partner else 1
    in_gb = _gb(usage.stream_kib * KB) * month  # each record rounded up to 1 KB
    stored_days = (_retention_hours(prices) - INCLUDED_RETENTION_HOURS) / 24
    return (
        fixed
        + in_gb * prices["kinesis_on_demand_gb_in"]
        + in_gb * consumers * prices["kinesis_on_demand_gb_out"]
        + in_gb
        / prices.days_per_month
        * stored_days
        * prices["kinesis_on_demand_extended_retention_gb_month"]
    )


def buffer_stream_usd(usage: Usage, prices: PriceTable, scenario: Scenario) -> float:
    """The buffer stream a month: shards for the peak in every Region (the secondary's stream takes the
    traffic after a failover, so it is sized alike), and the PUT payload units of the records."""
    shards = buffer_shards(usage, prices, scenario)
    if not shards:
        return 0.0
    return scenario.regions * shards_usd(shards, prices) + put_units_usd(
        usage.buffer_put_units, prices, scenario
    )


# Calls a function makes from a thread pool wait side by side: the S3 writer claims its records and
# puts its objects WRITE_CONCURRENCY at a time (functions/s3_writer; the template leaves the default).
POOLED_CALLS: Final = {LAKE_FUNCTION: (frozenset({"dynamodb.PutItem", "s3.PutObject"}), 8)}


def with_call_latency(shape: Mapping[str, Any], seconds_per_call: float) -> dict[str, Any]:
    """``shape`` (calls.json) with each function's seconds as if every AWS call it makes took
    ``seconds_per_call``: its own work as measured, its waits on AWS as assumed (a pooled call's
    wait shared with the calls beside it: ``POOLED_CALLS``). Locally moto answers a call in-process
    in a millisecond or two, which is not what a call across the network takes."""
    per = shape["per_1000_signals"]
    functions = {}
    for name, function in per["functions"].items():
        calls = function.get("calls", {})
        pooled, side_by_side = POOLED_CALLS.get(name, (frozenset(), 1))
        measured = math.fsum(float(stats["seconds"]) for stats in calls.values())
        waits = math.fsum(
            float(stats["calls"]) * seconds_per_call / (side_by_side if op in pooled else 1)
            for op, stats in calls.items()
        )
        # Pooled calls measured side by side can add up to more than the invocation: no own work left.
        seconds = max(float(function["seconds"]) - measured, 0.0) + waits
        functions[name] = {**function, "seconds": seconds}
    return {**shape, "per_1000_signals": {**per, "functions": functions}}


def front_door_buffer(
    single: Mapping[str, Any], batched: Mapping[str, Any], *, records_per_invocation: float
) -> dict[str, Any]:
    """A shape of calls.json for single-event requests behind the front-door buffer, built from two
    measured shapes: the request side of ``single`` (API requests; the validator, which puts one
    record on the buffer stream instead of its PutEvents, in about the same time) and the bus side of
    ``batched`` (a shape whose signal batches are as full as the batcher's, or less: everything from
    the ingress bus on), plus the batcher, priced as that shape's validator spends on packing, signing
    and PutEvents (no validation: an upper bound), invoked once per ``records_per_invocation``."""
    one, full = single["per_1000_signals"], batched["per_1000_signals"]
    validator = dict(one["functions"][INGEST_FUNCTION])
    put = _calls(validator, "events.PutEvents")
    record_bytes = float(put["units"].get("entry_bytes", 0.0)) / max(float(put["calls"]), 1.0)
    # The request side keeps its own calls (the rate-limit leases); its PutEvents becomes the record.
    validator["calls"] = {
        **{op: stats for op, stats in validator["calls"].items() if op != "events.PutEvents"},
        "kinesis.PutRecords": {**put, "units": {"records": put["calls"]}},
    }
    packer = full["functions"][INGEST_FUNCTION]
    requests = float(one["api_requests"])
    invocations = requests / records_per_invocation
    batcher = {
        **packer,
        "invocations": invocations,
        "log_bytes": packer["log_bytes"] / max(float(packer["invocations"]), 1.0) * invocations,
        "calls": {
            **{
                op: {**stats, "calls": float(stats["units"].get("entries", stats["calls"])) / 10}
                for op, stats in packer["calls"].items()
                if not op.startswith("dynamodb.")  # the packer's rate-limit leases are request-side
            },
            # Its read of a kept segment cut (batcher.cuts), once per invocation.
            "dynamodb.GetItem": {"calls": invocations, "units": {}},
        },
    }
    per = {
        **full,
        "api_requests": requests,
        "functions": {**full["functions"], INGEST_FUNCTION: validator, BATCH_FUNCTION: batcher},
        "buffer": {
            "records": requests,
            "record_bytes": record_bytes * requests,
            "put_payload_units": math.ceil(record_bytes / (25 * KB)) * requests,
        },
    }
    return {**batched, "events_per_request": 1, "per_1000_signals": per}


# The front-door buffer (FrontDoorBuffer=Enabled): each one-event shape's batcher packs signal
# batches priced as those of the 100-event shape of the same traffic (as full or fuller at volume),
# and is invoked once per BatcherBatchSize records (its default).
BUFFERED_SHAPES: Final = {"realistic-1": "realistic-100", "one-1": "one-100"}
BUFFER_RECORDS_PER_INVOCATION: Final = 1000


def buffered_shape(shapes: Mapping[str, Any], single: str) -> dict[str, Any]:
    """The one-event shape ``single`` of calls.json behind the front-door buffer (``front_door_buffer``)."""
    return front_door_buffer(
        shapes[single], shapes[BUFFERED_SHAPES[single]], records_per_invocation=BUFFER_RECORDS_PER_INVOCATION
    )


def per_million(total_per_month: float, prices: PriceTable, scenario: Scenario) -> float:
    return total_per_month / (scenario.signals_per_day * prices.days_per_month / 1e6)


def per_million_signals(usage: Usage, prices: PriceTable, scenario: Scenario) -> float:
    return per_million(math.fsum(monthly_costs(usage, prices, scenario).values()), prices, scenario)


# ---------------------------------------------------------------------------- alternatives
def per_signal_idempotency(usage: Usage) -> Usage:
    """Enrichment remembering every signal instead of every batch: the writes one batch's record
    takes today (measured), once per signal, each write costing the enrichment the time it does today."""
    records_today = usage.invocations.get(ENRICH_FUNCTION, 0.0)  # one key per enriched batch
    today = usage.table_write_units.get(ENRICH_FUNCTION, 0.0)
    if not records_today or not today:
        return usage
    per_signal = today / records_today  # a record's writes, now one record per signal
    per_write_seconds = usage.write_seconds / today
    gb_seconds = dict(usage.gb_seconds)
    gb_seconds[ENRICH_FUNCTION] += (
        (per_signal - today) * per_write_seconds * usage.memory_gb.get(ENRICH_FUNCTION, 0.5)
    )
    tables = {**usage.table_write_units, ENRICH_FUNCTION: per_signal}
    return replace(
        usage,
        write_units=usage.write_units - today + per_signal,
        gb_seconds=gb_seconds,
        table_write_units=tables,
    )


def firehose_lake_costs(usage: Usage, prices: PriceTable, scenario: Scenario) -> dict[str, float]:
    """The lake written by Firehose (stream source, dynamic partitioning) instead of the lake Pipe, the
    S3-writer function and its PUTs: the lines that change, USD a month, new value minus old. In two
    Regions the lake's Cross-Region Replication PUTs follow the number of objects too."""
    a = prices.assumptions
    month = scenario.signals_per_day * prices.days_per_month
    record_bytes = usage.stream_bytes / max(usage.stream_records, 1e-12)
    billed_gb = _gb(math.ceil(record_bytes / FIREHOSE_RECORD_INCREMENT) * FIREHOSE_RECORD_INCREMENT)
    objects = a["lake_partitions_per_hour"] * 86_400 / a["firehose_buffer_seconds"] * prices.days_per_month
    firehose = (
        usage.stream_records * month * billed_gb * prices["firehose_ingested_gb"]
        + _gb(usage.stream_bytes) * month * prices["firehose_partitioning_gb"]
        + objects * prices["firehose_partitioning_object"]
        + objects * prices["s3_put"]
    )
    lake_puts = usage.s3_puts
    if scenario.regions == 2:  # every lake object is PUT once more in the other Region
        firehose += objects * prices["s3_put"]
        lake_puts *= 2
    lake_invocations = usage.invocations.get(LAKE_FUNCTION, 0.0)
    pipe_chunks = max(1, math.ceil(record_bytes / CHUNK))
    removed = (
        usage.stream_records * pipe_chunks * month * prices["pipes_request"]
        + lake_invocations * month * prices["lambda_request"]
        + usage.gb_seconds.get(LAKE_FUNCTION, 0.0) * month * prices["lambda_arm64_gb_second"]
        + lake_invocations
        * _logging(usage, LAKE_FUNCTION).sampled_share(a)
        * month
        * prices["xray_trace_recorded"]
        + lake_puts * month * prices["s3_put"]
    )
    return {
        "Firehose (ingest, partitioning, objects)": firehose,
        "lake Pipe, S3-writer λ, PUTs removed": -removed,
    }


# ---------------------------------------------------------------------------- both Regions processing
IDEMPOTENCY_REPLICAS: Final = 2  # IdempotencyGlobalTable: a replica in the primary and one in the secondary
# The lines ``active_active_costs`` returns.
AA_IDEMPOTENCY_WRITES: Final = "Idempotency records: rWRU in both replicas instead of WRU in one"
AA_IDEMPOTENCY_DELETES: Final = "Idempotency records: TTL deletes replicated (rWRU)"
AA_IDEMPOTENCY_TRANSFER: Final = "Idempotency records: written bytes across Regions"
AA_SECONDARY_STREAM: Final = "Secondary: signal stream sized for a failover"
AA_PRIMARY_REPLICATION: Final = "S3 CRR: the primary's lake and DLQ store (its share)"
AA_SECONDARY_REPLICATION: Final = "S3 CRR: the secondary's lake and DLQ store to the primary"
AA_PARTNER_KEY: Final = "Secondary: partner secret"


def active_active_costs(
    usage: Usage, prices: PriceTable, scenario: Scenario, secondary_share: float = 0.0
) -> dict[str, float]:
    """Both Regions processing (ProcessingMode active-active) instead of the primary alone: the lines
    that change, USD a month, new value minus old. ``secondary_share`` is the share of the signals the
    secondary processes (the events its bus took first); the primary processes the rest.

    - Each signal's processing (enrichment, data-platform bus, stream records, Pipes, S3 writer, lake)
      costs the same in either Region: split by the share, those lines sum to what they are.
    - The idempotency table is a global table with a replica in each Region: every write is billed
      as a replicated write (rWRU) in both replicas, wherever it was made; a record's TTL delete is
      free where it runs and a replicated write in the other replica (DynamoDB developer guide,
      "Throughput capacity planning for global tables"), as large as the record's writes measured;
      the written bytes (the writes' request bytes) cross Regions once.
    - Each Region's lake and DLQ store replicate to the other Region's replica buckets: each
      direction the share its Region processes, priced as the primary's replication is.
    - The secondary's signal stream exists, sized like the primary's (it takes all the traffic while
      the primary is out): its fixed part; its per-record part follows the share.
    - Event replication and both archives do not change: the global endpoint replicates every event
      in either mode, and nothing else crosses Regions to be processed.
    """
    if scenario.regions != 2:
        raise ValueError("active-active needs two Regions")
    if not 0.0 <= secondary_share <= 1.0:
        raise ValueError(f"secondary share {secondary_share:g} is not between 0 and 1")
    month = scenario.signals_per_day * prices.days_per_month
    units = usage.table_write_units.get(ENRICH_FUNCTION, 0.0) * month  # the idempotency table's WRU
    units_per_write = units / (usage.idempotency_writes * month) if usage.idempotency_writes else 0.0
    deletes = usage.idempotency_records * month * units_per_write
    replicated = prices["dynamodb_replicated_write_request_unit"]
    replication = bucket_replication_usd(usage, prices, month)  # every signal's objects, one way
    return {
        AA_IDEMPOTENCY_WRITES: units * IDEMPOTENCY_REPLICAS * replicated
        - units * prices["dynamodb_write_request_unit"],
        AA_IDEMPOTENCY_DELETES: deletes * replicated,
        AA_IDEMPOTENCY_TRANSFER: _gb(usage.idempotency_bytes) * month * prices["inter_region_transfer_gb"],
        AA_SECONDARY_STREAM: signal_stream_fixed_usd(usage, prices, scenario),
        AA_PRIMARY_REPLICATION: -secondary_share * replication,
        AA_SECONDARY_REPLICATION: secondary_share * replication,
        AA_PARTNER_KEY: prices["secret_month"] if scenario.partner else 0.0,
    }


# ---------------------------------------------------------------------------- the load balancer front door
# What one Load Balancer Capacity Unit covers for a Lambda target, per hour (ELB pricing page): the
# bill takes the largest dimension. Rule evaluations: the one default action is within the 10 free.
LCU_NEW_CONNECTIONS_PER_SECOND: Final = 25
LCU_ACTIVE_CONNECTIONS: Final = 3_000
LCU_LAMBDA_BYTES_PER_HOUR: Final = 0.4e9


def load_balancer_lcu_hours_per_request(assumptions: Mapping[str, float]) -> float:
    """LCU-hours one request costs at a steady rate: new connections (a browser beacon opens its own),
    connections held open until the idle timeout, and the bytes in and out."""
    connections = assumptions["alb_new_connections_per_request"]
    new = connections / (LCU_NEW_CONNECTIONS_PER_SECOND * 3600)
    active = connections * assumptions["alb_connection_seconds"] / (LCU_ACTIVE_CONNECTIONS * 3600)
    processed = assumptions["alb_bytes_per_request"] / LCU_LAMBDA_BYTES_PER_HOUR
    return max(new, active, processed)


def load_balancer_costs(usage: Usage, prices: PriceTable, scenario: Scenario) -> dict[str, float]:
    """An Application Load Balancer in front of the validator instead of the HTTP API (FrontDoor Alb):
    the lines that change, USD a month, new value minus old. One load balancer per Region, billed
    every hour; LCUs per request; its access logs in S3 instead of the API's in CloudWatch Logs. The
    validator's invocations ($0.20 per million) and duration are the same behind either door."""
    a = prices.assumptions
    requests = usage.api_requests * scenario.signals_per_day * prices.days_per_month
    hours = 24 * prices.days_per_month * scenario.regions
    balancer = (
        hours * prices["alb_hour"]
        + requests * load_balancer_lcu_hours_per_request(a) * prices["alb_lcu_hour"]
        + _gb(requests * a["alb_access_log_bytes"]) * prices["s3_standard_gb_month"]
    )
    removed = (
        api_gateway_usd(requests, prices)
        + _gb(requests * a["api_access_log_bytes"]) * prices["cloudwatch_logs_ingested_gb"]
    )
    return {
        "Application Load Balancer (hours, LCUs, access logs)": balancer,
        "HTTP API requests and access logs removed": -removed,
    }
