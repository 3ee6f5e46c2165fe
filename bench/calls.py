"""5. What the platform asks of AWS per 1,000 accepted signals, measured on the local cloud.

Each request shape (events per request, signals per bus entry, one source and type or the realistic
mix) runs through the whole pipeline from template.yaml, and the books must balance (lost = 0).
Counted: API requests; per function its invocations, seconds and log bytes, and every AWS call it
made (by service and operation, with bytes and billed units: PutEvents entries and 64 KB chunks,
DynamoDB write units, S3 object bytes), from the botocore hooks the local cloud puts on every
client (``localcloud.metering``); the rule deliveries, the records put on the stream and the
batches and records each Pipe delivered. The figures go to ``bench/results/calls.json``, which
``make cost`` and ``make quota`` read.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench import report
from bench.cost import (
    CALL_LATENCIES,
    HEADLINE,
    PRICES,
    default_usages,
    front_door_usages,
    front_door_usd,
    with_latency,
)
from bench.cost_model import load_prices, per_million_signals, usage_of
from bench.paths import ROOT
from bench.quota_model import DEFAULT_EXTREMES, PLANNED_DAILY, peak_rate, uses

RESULTS: Final = ROOT / "bench" / "results" / "calls.json"
# Shapes that put one bus entry per signal run ~10x slower locally (moto's PutEvents costs per
# entry): they run half as many signals; every figure is per 1,000 accepted signals either way.
SIGNALS_PER_SHAPE: Final = int(os.environ.get("BENCH_CALLS_SIGNALS", "2000"))
WARM_UP_EVENTS: Final = 100
ONE_SOURCE: Final = "web-shop"
ONE_TYPE: Final = "page_view"


@dataclass(frozen=True, slots=True)
class Shape:
    name: str
    per_request: int
    signals_per_entry: int | None  # None: the template's MaxSignalsPerEntry
    mix: str  # "realistic" (every source and type) or "one" (one source, one type)
    invalid_share: float = 0.0
    resend_share: float = 0.0
    grouping: str = "Request"  # the template's SignalBatchGrouping (docs/adr/0010), its default

    @property
    def overrides(self) -> dict[str, str]:
        chosen = {} if self.signals_per_entry is None else {"MaxSignalsPerEntry": str(self.signals_per_entry)}
        return chosen if self.grouping == "Request" else {**chosen, "SignalBatchGrouping": self.grouping}

    @property
    def entry_per_signal(self) -> bool:
        return self.per_request == 1 or self.signals_per_entry == 1

    @property
    def signals(self) -> int:
        return SIGNALS_PER_SHAPE // 2 if self.entry_per_signal else SIGNALS_PER_SHAPE


def shapes() -> list[Shape]:
    """The demo's traffic; events per request 1 / 10 / 100 with the default N, for the realistic mix
    and for one source and one type; and N = 1 at 100 events per request (at one event per request
    N = 1 is the default's twin: a one-event request makes one entry)."""
    chosen = [Shape("demo", 100, None, "realistic", invalid_share=0.1, resend_share=0.05)]
    for n in (None, 1):
        for mix in ("realistic", "one"):
            for per_request in (1, 10, 100) if n is None else (100,):
                suffix = "" if n is None else "-n1"
                chosen.append(Shape(f"{mix}-{per_request}{suffix}", per_request, n, mix))
    chosen.append(Shape("realistic-100-type", 100, None, "realistic", grouping="EventType"))
    return chosen


class _LogBytes:
    """What each function printed, told by the runtime after every invocation: Powertools' EMF metric
    lines, which Lambda ingests into CloudWatch Logs. (Their logger writes at the local cloud's
    CRITICAL level; at the template's INFO the functions log only anomalies, such as a refused
    request or a suppressed duplicate batch. Lambda's own lines are priced from the template's
    SystemLogLevel: ``bench.cost_model.FunctionLogging``.)"""

    def __init__(self) -> None:
        self.bytes: Counter[str] = Counter()

    def __call__(self, spec: Any, outcome: Any) -> None:
        self.bytes[spec.logical_id] += len(outcome.output.encode())


@dataclass
class _Counters:
    """Cumulative counters of one cloud; a shape's figures are the difference of two snapshots."""

    invocations: Counter[str] = field(default_factory=Counter)
    seconds: Counter[str] = field(default_factory=Counter)
    log_bytes: Counter[str] = field(default_factory=Counter)
    calls: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)


def _snapshot(cloud: Any, logs: _LogBytes) -> _Counters:
    stats = cloud.runtime.stats
    return _Counters(
        invocations=Counter(stats.invocations),
        seconds=Counter(dict(stats.seconds)),
        log_bytes=Counter(logs.bytes),
        calls={key: value.as_dict() for key, value in cloud.services.calls.snapshot().items()},
    )


def _minus(after: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    if before is None:
        return after
    result = {key: after[key] - before[key] for key in ("calls", "errors", "request_bytes", "response_bytes")}
    result["seconds"] = after["seconds"] - before["seconds"]
    units = Counter(after["units"])
    units.subtract(before["units"])
    result["units"] = {name: count for name, count in sorted(units.items()) if count}
    return result


def _per_thousand(value: float, signals: int) -> float:
    return round(value * 1000 / signals, 4)


def _scaled(stats: dict[str, Any], signals: int) -> dict[str, Any]:
    return {
        "calls": _per_thousand(stats["calls"], signals),
        "errors": _per_thousand(stats["errors"], signals),
        "request_bytes": _per_thousand(stats["request_bytes"], signals),
        "response_bytes": _per_thousand(stats["response_bytes"], signals),
        "seconds": _per_thousand(stats["seconds"], signals),
        "units": {name: _per_thousand(count, signals) for name, count in stats["units"].items()},
    }


def one_type_requests(total: int, per_request: int, seed: int) -> list[Any]:
    """``total`` valid events of one type from one source, ``per_request`` to a request."""
    from localcloud.traffic import USERS, TrafficEvent, TrafficGenerator, TrafficRequest
    from signal_platform.schema_registry import SchemaRegistry

    generator = TrafficGenerator(SchemaRegistry(), seed=seed)
    now = datetime.now(UTC)

    def event(user: int) -> TrafficEvent:
        while (candidate := generator.valid(ONE_SOURCE, now, user=user))["event_type"] != ONE_TYPE:
            pass  # the generator takes every type in turn: skip to the next of ours
        return TrafficEvent(candidate, "accepted")

    requests = []
    for number, start in enumerate(range(0, total, per_request)):
        user = number % (USERS - 1) + 1  # one device per request, as an SDK sends
        size = min(per_request, total - start)
        requests.append(TrafficRequest(ONE_SOURCE, [event(user) for _ in range(size)]))
    return requests


def _plan(shape: Shape, events: int, seed: int) -> tuple[Any, list[Any]]:
    from localcloud import scenario

    sources = scenario.SOURCES if shape.mix == "realistic" else (ONE_SOURCE,)
    plan = scenario.Scenario(
        events=events,
        per_request=shape.per_request,
        invalid_share=shape.invalid_share,
        resend_share=shape.resend_share,
        sources=sources,
        seed=seed,
        settle_timeout=300.0,
    )
    if shape.mix == "realistic":
        return plan, scenario.plan_traffic(plan)
    return plan, one_type_requests(events, shape.per_request, seed)


def _measure(cloud: Any, logs: _LogBytes, shape: Shape, seed: int, keys: dict[str, str]) -> dict[str, Any]:
    from localcloud import scenario

    cloud.reset(warm=True)
    plan, requests = _plan(shape, shape.signals, seed)
    before = _snapshot(cloud, logs)
    started = time.perf_counter()
    outcome = scenario.run(cloud, plan, requests=requests, write_keys=keys)
    wall = time.perf_counter() - started
    after = _snapshot(cloud, logs)
    result = outcome.report
    if not outcome.settled or not result.ok:
        raise RuntimeError(f"shape {shape.name}: lost {result.lost}, settled {outcome.settled}")
    signals = len(result.ledger.accepted)
    functions: dict[str, Any] = {}
    for name, spec in sorted(cloud.functions.items()):
        invocations = after.invocations[name] - before.invocations[name]
        calls = {
            f"{service}.{operation}": _scaled(
                _minus(stats, before.calls.get((caller, service, operation))), signals
            )
            for (caller, service, operation), stats in sorted(after.calls.items())
            if caller == name
        }
        calls = {key: value for key, value in calls.items() if value["calls"]}
        if not invocations and not calls:
            continue
        functions[name] = {
            "memory_mb": spec.memory,
            "invocations": _per_thousand(invocations, signals),
            "seconds": _per_thousand(after.seconds[name] - before.seconds[name], signals),
            "log_bytes": _per_thousand(after.log_bytes[name] - before.log_bytes[name], signals),
            "calls": calls,
        }
    stream = {"records": 0.0, "record_bytes": 0.0, "kib_rounded": 0.0, "put_payload_units": 0.0}
    for (caller, service, operation), stats in after.calls.items():
        if caller == "localcloud" and service == "kinesis" and operation in ("PutRecord", "PutRecords"):
            units = _minus(stats, before.calls.get((caller, service, operation)))["units"]
            for name in stream:
                stream[name] += _per_thousand(units.get(name, 0), signals)
    ledger = result.ledger
    return {
        "name": shape.name,
        "events_per_request": shape.per_request,
        "signals_per_entry": int(
            cloud.function_with_env("MAX_SIGNALS_PER_ENTRY").environment["MAX_SIGNALS_PER_ENTRY"]
        ),
        "default_signals_per_entry": shape.signals_per_entry is None,
        "mix": shape.mix,
        "signal_batch_grouping": shape.grouping,
        "invalid_share": shape.invalid_share,
        "resend_share": shape.resend_share,
        "sent_events": ledger.sent,
        "requests": ledger.requests,
        "accepted_signals": signals,
        "event_types": len(
            {
                event.event["event_type"]
                for request in requests
                for event in request.events
                if event.expected == "accepted"
            }
        ),
        "lost": result.lost,
        "wall_seconds": round(wall, 2),
        "per_1000_signals": {
            "api_requests": _per_thousand(ledger.requests, signals),
            "api_request_bytes": _per_thousand(_body_bytes(requests), signals),
            "functions": functions,
            "rule_deliveries": _per_thousand(cloud.eventbridge.delivered, signals),
            "stream": {name: round(value, 4) for name, value in stream.items()},
            "pipes": {
                pipe.spec.logical_id: {
                    "batches": _per_thousand(pipe.invocations, signals),
                    "batch_size": pipe.spec.batch_size,
                }
                for pipe in cloud.pipes
            },
            "partner_requests": _per_thousand(result.census.partner_requests, signals),
            "lake_objects": _per_thousand(result.census.lake_objects, signals),
        },
    }


def _body_bytes(requests: list[Any]) -> int:
    from signal_platform import codec

    return sum(
        len(codec.dumps({"events": [event.event for event in request.events]})) for request in requests
    )


def measure_all(chosen: list[Shape] | None = None) -> dict[str, Any]:
    """Every shape, one local cloud per set of template overrides, warm containers, fresh stores per shape."""
    from localcloud.cloud import CloudOptions, LocalCloud

    chosen = chosen or shapes()
    results: dict[str, dict[str, Any]] = {}
    for overrides in dict.fromkeys(tuple(sorted(shape.overrides.items())) for shape in chosen):
        group = [shape for shape in chosen if tuple(sorted(shape.overrides.items())) == overrides]
        n = group[0].signals_per_entry
        with LocalCloud(CloudOptions(overrides=group[0].overrides)) as cloud:
            results.update(measure_on(cloud, group, seed=1000 + (n or 0) * 100))
    ordered = {shape.name: results[shape.name] for shape in chosen}
    return {"signals_per_shape": SIGNALS_PER_SHAPE, "measured_on": _today(), "shapes": ordered}


def measure_on(cloud: Any, chosen: list[Shape], seed: int = 1000) -> dict[str, dict[str, Any]]:
    """The shapes on one running cloud (its MaxSignalsPerEntry theirs), after a warm-up run."""
    logs = _LogBytes()
    cloud.runtime.observers["log bytes"] = logs
    try:
        keys: dict[str, str] = {}
        _warm_up(cloud, keys)
        results = {}
        for number, shape in enumerate(chosen, start=2):
            results[shape.name] = _measure(cloud, logs, shape, seed + number, keys)
            _print_progress(results[shape.name])
    finally:
        del cloud.runtime.observers["log bytes"]
    return results


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _warm_up(cloud: Any, keys: dict[str, str]) -> None:
    """A few requests first, so every shape meets warm containers, as steady traffic does."""
    from localcloud import scenario

    plan = scenario.Scenario(
        events=WARM_UP_EVENTS, per_request=10, invalid_share=0.0, resend_share=0.0, seed=3
    )
    scenario.run(cloud, plan, write_keys=keys)


def _print_progress(shape: dict[str, Any]) -> None:
    print(
        f"  {shape['name']:<16} {shape['accepted_signals']:>6,} signals in {shape['requests']:>5,} requests, "
        f"lost {shape['lost']}, {shape['wall_seconds']:.1f} s",
        flush=True,
    )


def write(results: dict[str, Any], path: Path = RESULTS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n")


def _function_total(shape: dict[str, Any], key: str) -> float:
    return float(sum(function[key] for function in shape["per_1000_signals"]["functions"].values()))


def _calls_total(shape: dict[str, Any], service_operation: str, unit: str | None = None) -> float:
    total = 0.0
    for function in shape["per_1000_signals"]["functions"].values():
        stats = function["calls"].get(service_operation)
        if stats:
            total += stats["units"].get(unit, 0.0) if unit else stats["calls"]
    return total


def _idempotency_writes(shape: dict[str, Any]) -> float:
    return _calls_total(shape, "dynamodb.PutItem") + _calls_total(shape, "dynamodb.UpdateItem")


def print_tables(results: dict[str, Any]) -> None:
    rows = []
    for shape in results["shapes"].values():
        per = shape["per_1000_signals"]
        rows.append(
            (
                shape["name"],
                str(shape["events_per_request"]),
                str(shape["signals_per_entry"]),
                f"{per['api_requests']:,.1f}",
                f"{_calls_total(shape, 'events.PutEvents'):,.1f}",
                f"{_calls_total(shape, 'events.PutEvents', 'entries'):,.1f}",
                f"{per['rule_deliveries']:,.1f}",
                f"{_idempotency_writes(shape):,.1f}",
                f"{per['stream']['records']:,.1f}",
                f"{_calls_total(shape, 's3.PutObject'):,.1f}",
                f"{_function_total(shape, 'invocations'):,.1f}",
                f"{_function_total(shape, 'seconds'):,.2f}",
            )
        )
    report.table(
        (
            "shape",
            "events/req",
            "N",
            "API req",
            "PutEvents",
            "entries",
            "rule deliv.",
            "DDB writes",
            "stream rec.",
            "S3 PUT",
            "λ invocations",
            "λ seconds",
        ),
        rows,
    )
    report.note(
        f"per 1,000 accepted signals; {results['signals_per_shape']:,} signals per shape (half where"
        " every signal is its own entry); lost = 0 in each"
    )
    report.note("N = signals per bus entry (MaxSignalsPerEntry); entries are counted on both buses")


def run() -> list[report.Check]:
    report.title("5. AWS calls per 1,000 accepted signals (local cloud, template.yaml), by request shape")
    results = measure_all()
    write(results)
    print_tables(results)
    report.note(f"written to {RESULTS.relative_to(ROOT)}; `make cost` and `make quota` read it")
    return targets(results)


# The targets: two Regions, all-in; 2 B/day with 3x peaks within half of every default quota.
COST_TARGETS: Final = {100: 0.50, 1: 1.00}
QUOTA_TARGET: Final = 0.5


def targets(results: dict[str, Any]) -> list[report.Check]:
    """The cost and quota targets, priced and planned from this run's calls (make cost, make quota)."""
    prices = load_prices(PRICES)
    usages = default_usages(results)
    checks = []
    for k, target in COST_TARGETS.items():
        usd = per_million_signals(usages[k], prices, HEADLINE)
        checks.append(
            report.Check(
                f"two Regions, {k} events/request <= ${target:.2f} per million signals",
                f"${usd:.2f}",
                usd <= target,
            )
        )
    # Single-event traffic as the template serves it cheapest: FrontDoor=Alb and FrontDoorBuffer.
    for k, (_, usd) in front_door_usd(results, prices).items():
        target = COST_TARGETS[k]
        checks.append(
            report.Check(
                f"two Regions, {k} events/request, load balancer and front-door buffer <= ${target:.2f}"
                " per million signals",
                f"${usd:.2f}",
                usd <= target,
            )
        )
    # The same, with the AWS calls slower than the local cloud's (assumed, not measured): no verdict.
    slower = [front_door_usd(with_latency(results, seconds), prices)[1][1] for seconds in CALL_LATENCIES]
    checks.append(
        report.Check(
            "the same, each AWS call taking "
            + " / ".join(f"{seconds * 1000:g}" for seconds in CALL_LATENCIES)
            + " ms (assumed)",
            " / ".join(f"${usd:.2f}" for usd in slower),
            None,
        )
    )
    rate = peak_rate(PLANNED_DAILY, prices.assumptions["peak_factor"])
    planned = {name: usage_of(results["shapes"][name]) for name in DEFAULT_EXTREMES[:2]}
    # Single-event traffic behind the load balancer and the buffer: the usage priced above.
    buffered = front_door_usages(results)[1]
    for name, usage, balanced in (
        *((name, usage, False) for name, usage in planned.items()),
        (f"{DEFAULT_EXTREMES[0]}, load balancer and buffer", buffered, True),
    ):
        use = max(uses(usage, rate, load_balancer=balanced), key=lambda found: found.ratio)
        checks.append(
            report.Check(
                f"2 B/day, 3x peaks, {name}: every default quota <= {QUOTA_TARGET:.0%}",
                f"{use.ratio:.0%} of {use.quota.name}",
                use.ratio <= QUOTA_TARGET,
            )
        )
    return checks


def remeasure(names: list[str], path: Path = RESULTS) -> None:
    """Measure only the named shapes and put them into ``path``; the other shapes keep their figures."""
    chosen = [shape for shape in shapes() if shape.name in names]
    unknown = set(names) - {shape.name for shape in chosen}
    if unknown:
        raise SystemExit(f"unknown shapes: {', '.join(sorted(unknown))}")
    results = json.loads(path.read_text())
    results["shapes"].update(measure_all(chosen)["shapes"])
    write(results, path)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.calls", description="re-measure some shapes only")
    parser.add_argument("--only", nargs="+", required=True, help="shape names, e.g. realistic-100-type")
    remeasure(parser.parse_args().only)
