"""The front-door buffer in two Regions: each Region's batcher publishes through the global endpoint,
so buffered events follow the endpoint's routing like the validator's, and reach the primary's lake
once (docs/adr/0009-front-door-buffer.md, Failover); through an outage of the primary too (the lake
property, ``test_outage_reaches_lake``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.region import Region
from localcloud.traffic import TrafficGenerator
from signal_platform import codec
from signal_platform.schema_registry import SchemaRegistry
from tests.e2e.lake_property import ANY_REQUESTS, OddRequest, Run, examples, holds_for, send
from tests.regions.conftest import TwoRegions
from tests.regions.test_outage_reaches_lake import PAST_WINDOW_OUTAGE, OutageDrill

ROOT = Path(__file__).resolve().parents[2]
STEP = 10.0


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    options = CloudOptions(
        template=ROOT / "template.yaml",
        regions=("primary", "secondary"),
        overrides={"FrontDoorBuffer": "Enabled"},
    )
    with LocalCloud(options) as started:
        yield started


def _post_single_events(cloud: LocalCloud, region: Region, key: str, count: int) -> list[str]:
    generator = TrafficGenerator(SchemaRegistry(), seed=count)
    ids = []
    for _ in range(count):
        event = generator.valid("buffer-regions", datetime.now(UTC))
        headers = {"content-type": "application/json", "x-api-key": key}
        response = region.api.request("POST", "/v1/events", codec.dumps(event), headers)
        assert response.status == 200, response.body
        ids.append(str(event["event_id"]).lower())
        cloud.pump()
    return ids


def _step_until(cloud: LocalCloud, seconds: float, done: Callable[[], bool]) -> None:
    end = cloud.clock.now() + seconds
    while cloud.clock.now() < end and not done():
        cloud.pump()
        cloud.wait(STEP)
    cloud.pump()


def test_buffered_events_follow_the_endpoint_and_reach_the_primary_lake_once(cloud: LocalCloud) -> None:
    cloud.reset()  # a fresh stack, whichever test of the module ran before: the endpoint not yet healthy
    assert cloud.joined is not None
    endpoint = cloud.joined.endpoint
    primary = cloud.primary
    secondary = next(region for region in cloud.regions.values() if region is not primary)
    # GIVEN both Regions run the buffer and its batcher (the secondary only the edge)
    assert {"ValidatorFunction", "BatcherFunction"} == set(secondary.functions)
    key = cloud.register_source("buffer-regions", "two-Region buffer test")
    _step_until(cloud, 60.0, lambda: cloud.joined is not None and cloud.joined.tables.pending() == 0)

    # WHEN one-event requests reach the primary while the endpoint still routes to the secondary
    # (the primary's bus not yet healthy), and the secondary once it routes to the primary
    assert endpoint.region() == secondary.name
    early = _post_single_events(cloud, primary, key, 15)
    _step_until(cloud, 1800.0, lambda: endpoint.region() == primary.name)
    assert endpoint.region() == primary.name
    late = _post_single_events(cloud, secondary, key, 15)

    # THEN every event is in the primary's lake exactly once: the early ones through the secondary's
    # bus and replication, the late ones from the secondary's batcher through the endpoint
    def lake() -> dict[str, int]:
        return dict(cloud.census().lake)

    _step_until(cloud, 600.0, lambda: all(lake().get(event_id) for event_id in early + late))
    found = lake()
    assert [found.get(event_id) for event_id in early + late] == [1] * 30


def test_what_the_secondary_buffered_in_a_day_long_outage_reaches_lake_once_as_sent(
    cloud: LocalCloud,
) -> None:
    cloud.reset()
    # GIVEN the front-door buffer in both Regions, and requests of events with odd content that the
    # secondary takes (into its own buffer stream) after failing over from a primary down for longer
    # than the replication window, and than the batcher's record age
    assert cloud.joined is not None
    primary = cloud.primary
    secondary = next(region for region in cloud.regions.values() if region is not primary)
    world = TwoRegions(
        cloud, primary, secondary, cloud.joined.endpoint, "", [], "", TrafficGenerator(SchemaRegistry())
    )

    def run(request: OddRequest) -> Run:
        drill = OutageDrill(world, "during", PAST_WINDOW_OUTAGE)
        return send(cloud, request, front_door=drill, recovery=drill.recover)

    # WHEN the runbook's recovery follows (the secondary's archive replayed)
    # THEN the secondary's batcher put them through the endpoint on its bus in time: each accepted
    # event is one readable lake line, as sent, at the partner once; nothing set aside (BufferDlq)
    holds_for(ANY_REQUESTS, examples(1), run)
