"""Short outages of the primary, shorter than the health alarm's evaluation range: no failover."""

from __future__ import annotations

from localcloud.faults import RegionOutage
from tests.regions.conftest import TwoRegions


def test_outages_shorter_than_the_alarm_range_never_fail_the_endpoint_over(regions: TwoRegions) -> None:
    # GIVEN a healthy endpoint, a batch the primary accepted, and two 3-minute outages of the
    # primary 3 minutes apart (EventBridge, its heartbeats and its functions stop each time)
    cloud = regions.cloud
    ids = regions.post(regions.primary)
    elapsed = cloud.clock.now() - cloud.faults.started_at
    cloud.faults.add(
        RegionOutage(regions.primary.name, (elapsed + 30, elapsed + 210)),
        RegionOutage(regions.primary.name, (elapsed + 390, elapsed + 570)),
    )
    switches_before = len(regions.endpoint.switches)
    started = cloud.clock.now()

    # WHEN twenty minutes pass
    regions.step(1200.0)

    # THEN the alarm never fired (it needs its whole range without data, the check would follow),
    # the endpoint never left the primary, and the batch is in the lake once
    alarm = regions.endpoint.spec.alarm
    assert [change for change in regions.primary.cloudwatch.changes(alarm) if change.at >= started] == []
    assert len(regions.endpoint.switches) == switches_before
    assert regions.endpoint.region() == regions.primary.name
    lake = cloud.census().lake
    assert [lake.get(event_id) for event_id in ids] == [1] * len(ids)
