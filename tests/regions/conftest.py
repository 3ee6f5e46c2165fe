"""Two Regions from template.yaml (the ``primary`` and ``secondary`` config-envs) on the local cloud.

One cloud serves a test module. Right after start it has done what every test reads back (so the order
of the tests does not matter): one batch sent while the endpoint's health check had no verdict yet
(the alarm in INSUFFICIENT_DATA), then heartbeats until the endpoint routes to the primary.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.global_endpoint import GlobalEndpoint
from localcloud.region import Region
from localcloud.traffic import TrafficGenerator
from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry

ROOT = Path(__file__).resolve().parents[2]
STEP = 10.0  # cloud seconds: shorter than the heartbeat's minute


@dataclass
class TwoRegions:
    cloud: LocalCloud
    primary: Region
    secondary: Region
    endpoint: GlobalEndpoint
    write_key: str
    early_ids: list[str]  # accepted by the secondary's API before the endpoint was healthy
    route_at_start: str
    generator: TrafficGenerator

    def step(self, seconds: float, *, until: Callable[[], bool] | None = None) -> None:
        """Let ``seconds`` pass in steps (every heartbeat on time), or stop once ``until`` holds."""
        end = self.cloud.clock.now() + seconds
        while self.cloud.clock.now() < end:
            self.cloud.pump()
            if until is not None and until():
                return
            self.cloud.wait(STEP)
        self.cloud.pump()

    def post(self, region: Region, count: int = 2) -> list[str]:
        """One request of ``count`` valid events to ``region``'s API; the accepted event ids."""
        events = [self.generator.valid("regions-test", datetime.now(UTC)) for _ in range(count)]
        body = codec.dumps({"events": events})
        headers = {"content-type": "application/json", "x-api-key": self.write_key}
        response = region.api.request("POST", "/v1/events", body, headers)
        assert response.status == 200, response.body
        return [str(result["event_id"]) for result in response.json()["results"]]


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    """Overrides the root conftest's: the cloud owns the functions' AWS clients."""
    yield


@contextmanager
def two_regions(overrides: Mapping[str, str] | None = None) -> Iterator[TwoRegions]:
    """Two Regions from template.yaml (with ``overrides`` of its parameters), started as the module
    docstring says."""
    options = CloudOptions(
        template=ROOT / "template.yaml", regions=("primary", "secondary"), overrides=dict(overrides or {})
    )
    with LocalCloud(options) as cloud:
        assert cloud.joined is not None
        primary = cloud.primary
        secondary = next(region for region in cloud.regions.values() if region is not primary)
        write_key = cloud.register_source("regions-test", "two-Region tests")
        endpoint = cloud.joined.endpoint
        world = TwoRegions(
            cloud, primary, secondary, endpoint, write_key, [], "", TrafficGenerator(SchemaRegistry(), seed=3)
        )
        world.step(STEP, until=lambda: cloud.joined is not None and cloud.joined.tables.pending() == 0)
        world.route_at_start = endpoint.region()
        world.early_ids = world.post(secondary)
        world.step(1800.0, until=lambda: endpoint.region() == primary.name)
        yield world


@pytest.fixture(scope="module")
def regions() -> Iterator[TwoRegions]:
    with two_regions() as world:
        yield world
