"""One run of client traffic through a started ``LocalCloud``, ending in the accounting ``Report``.

Used by `make demo`, the end-to-end tests and the property test, so all three measure the same way:
sources registered in the sources table, traffic from the registry's examples (``traffic``), sent
through the HTTP API route by a well-behaved client (``client``; some requests are sent twice, as
a client that lost the answer would), the emulators pumped after every request, then ``settle``
until nothing is pending, then the census.

With two Regions each source's client is nearest one of them (alternately, the primary first) and
fails over to the other (``client.nearest_first``); ``request_gap`` spreads the requests over cloud
time, which passes in heartbeat-sized steps, so Region outages and the endpoint's failovers happen
between them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Final, Literal

from localcloud import timeshare
from localcloud.accounting import Ledger, Report
from localcloud.client import Api, ApiClient, nearest_first
from localcloud.cloud import LocalCloud
from localcloud.traffic import TrafficGenerator, TrafficRequest
from signal_platform.schema_registry import SchemaRegistry

SOURCES: Final = ("web-shop", "ios-app", "android-app", "pos-terminal", "email-service")


@dataclass(frozen=True, slots=True)
class Scenario:
    events: int = 10_000
    per_request: int = 100
    invalid_share: float = 0.1
    resend_share: float = 0.05
    sources: tuple[str, ...] = SOURCES
    seed: int = 7
    settle_timeout: float = 90.0
    request_gap: float = 0.0  # cloud seconds between two requests


@dataclass(frozen=True, slots=True)
class Outcome:
    report: Report
    settled: bool
    traffic_seconds: float
    settle_seconds: float


@cache
def _registry() -> SchemaRegistry:
    return SchemaRegistry()


def plan_traffic(scenario: Scenario) -> list[TrafficRequest]:
    """The requests of ``scenario``, generated up front (fault schedules pick event ids from them)."""
    generator = TrafficGenerator(_registry(), seed=scenario.seed)
    return list(
        generator.requests(
            list(scenario.sources),
            scenario.events,
            datetime.now(UTC),
            per_request=scenario.per_request,
            invalid_share=scenario.invalid_share,
        )
    )


def run(
    cloud: LocalCloud,
    scenario: Scenario,
    *,
    requests: list[TrafficRequest] | None = None,
    on_request: Callable[[int], None] | None = None,
    write_keys: dict[str, str] | None = None,
    front_door: Literal["http-api", "load-balancer"] = "http-api",
) -> Outcome:
    keys = register_sources(cloud, scenario, write_keys if write_keys is not None else {})
    planned = requests if requests is not None else plan_traffic(scenario)
    rng = random.Random(scenario.seed)
    shares_before = cloud.shares.seconds()  # of the traffic-and-settle window, as the ledger's time
    ledger = Ledger()
    apis = [cloud.load_balancer.request] if front_door == "load-balancer" else _apis(cloud)
    clients = {
        source: ApiClient(apis[index % len(apis)], ledger, wait=cloud.wait)
        for index, source in enumerate(scenario.sources)
    }
    started = time.perf_counter()
    for number, request in enumerate(planned):
        if number and scenario.request_gap:
            cloud.advance(scenario.request_gap)
        client = clients[request.source]
        client.send(keys[request.source], request.events)
        if rng.random() < scenario.resend_share:
            client.send(keys[request.source], request.events, resend=True)
        cloud.pump()
        if on_request is not None:
            on_request(len(request.events))
    traffic_done = time.perf_counter()
    settled = cloud.settle(timeout=scenario.settle_timeout)
    ledger.finished = time.perf_counter()
    ledger.started = started
    ledger.shares = timeshare.between(shares_before, cloud.shares.seconds())
    report = cloud.report(ledger)
    return Outcome(report, settled, traffic_done - started, ledger.finished - traffic_done)


def register_sources(cloud: LocalCloud, scenario: Scenario, keys: dict[str, str]) -> dict[str, str]:
    """Write keys for the scenario's sources (``keys`` completed in place): registered in the primary's
    sources table, and with two Regions replicated to the secondary's before any client sends."""
    missing = [source for source in scenario.sources if source not in keys]
    for source in missing:
        keys[source] = cloud.register_source(source, "local cloud traffic")
    if missing and cloud.joined is not None:
        cloud.settle()
    return keys


def _apis(cloud: LocalCloud) -> list[Api]:
    """One API per Region: that Region's first, the others on failure (a single Region: its own)."""
    if len(cloud.regions) == 1:
        return [cloud.api.request]
    apis = []
    for nearest in cloud.regions:
        order = [nearest, *(name for name in cloud.regions if name != nearest)]
        apis.append(
            nearest_first(
                [(cloud.regions[name].api.request, partial(cloud.faults.region_down, name)) for name in order]
            )
        )
    return apis
