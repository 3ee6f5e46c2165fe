"""``LocalCloud.reset`` with two Regions: the replicas follow their owners, nothing stays in flight."""

from __future__ import annotations

from localcloud.region import Region
from tests.regions.conftest import TwoRegions


def _archived(region: Region) -> int:
    """The events the Region's ingress archive holds."""
    name = region.stack.of_type("AWS::Events::Archive")[0].ref
    count: int = region.services.client("events").describe_archive(ArchiveName=name)["EventCount"]
    return count


def test_a_warm_reset_keeps_sources_in_both_replicas_and_a_cold_one_empties_both(regions: TwoRegions) -> None:
    # GIVEN two Regions that processed a batch the secondary took
    cloud = regions.cloud
    assert cloud.joined is not None
    regions.step(
        120.0, until=lambda: all(cloud.census().lake.get(event_id) for event_id in regions.early_ids)
    )
    table = regions.primary.functions["ValidatorFunction"].environment["SOURCES_TABLE_NAME"]
    key = {"source_id": {"S": "regions-test"}}
    assert _archived(regions.secondary) > 0

    # WHEN the cloud is reset warm
    cloud.reset(warm=True)

    # THEN the lake and the archives are empty (a replay brings nothing of the run before back),
    # nothing is in flight, and the source is still in both replicas
    assert not cloud.census().lake
    assert _archived(regions.primary) == _archived(regions.secondary) == 0
    assert cloud.joined.replication.pending() == cloud.joined.tables.pending() == 0
    for region in (regions.primary, regions.secondary):
        assert "Item" in region.services.client("dynamodb").get_item(TableName=table, Key=key)

    # WHEN it is reset cold
    cloud.reset()

    # THEN both replicas are empty, and the endpoint starts again without a verdict (the secondary)
    for region in (regions.primary, regions.secondary):
        assert "Item" not in region.services.client("dynamodb").get_item(TableName=table, Key=key)
    assert cloud.joined.endpoint.region() == regions.secondary.name
