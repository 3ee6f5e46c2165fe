"""The lake property through an outage of the primary (``test_outage_reaches_lake``) with both Regions
processing (``ProcessingMode=active-active``): what the secondary's bus takes while the endpoint
routes to it is processed there, into the secondary's own lake, and nowhere else; S3 replication
(BucketReplication) copies the secondary's lake and DLQ store into the primary's replica buckets, as
written, including what the secondary wrote while the primary was down, and the secondary's own
replication alarms fire when it cannot. A module of its own: one local cloud at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from localcloud.bucket_replication import BucketReplication
from localcloud.region import Region, empty_bucket
from tests.e2e.lake_property import ANY_REQUESTS, OddRequest, Run, holds_for, send
from tests.regions.conftest import TwoRegions, two_regions
from tests.regions.test_outage_reaches_lake import REQUESTS, SHORT_OUTAGE, OutageDrill, Phase


@pytest.fixture(scope="module")
def active_active() -> Iterator[TwoRegions]:
    with two_regions({"ProcessingMode": "active-active"}) as world:
        yield world


@pytest.mark.parametrize("phase", ["during", "after"])
def test_with_active_active_events_the_secondary_took_reach_its_lake_once_as_sent(
    active_active: TwoRegions, phase: Phase
) -> None:
    # GIVEN both Regions processing (ProcessingMode=active-active), and requests of events with odd
    # content sent during a short outage of the primary, or right after it, while the endpoint routes
    # to the secondary
    def run(request: OddRequest) -> Run:
        drill = OutageDrill(active_active, phase, SHORT_OUTAGE)
        return send(active_active.cloud, request, front_door=drill, recovery=drill.recover)

    # WHEN the primary recovers
    # THEN each accepted event is one readable lake line, as sent, in the lakes of both Regions
    # together (the secondary's: its bus took the event), and at the partner once; nothing set aside;
    # and the primary's replica of the secondary's lake holds every object of it as written
    def and_then() -> None:
        _none_in_the_primary_lake(active_active)
        held = _replicated_as_written(active_active)
        assert held["LakeBucket"], "the secondary's lake holds nothing: the check would pass vacuously"

    holds_for(ANY_REQUESTS, REQUESTS, run, and_then=and_then)


def test_with_active_active_the_secondarys_dlq_store_and_lake_are_in_the_primarys_replicas(
    active_active: TwoRegions,
) -> None:
    # GIVEN both Regions processing, and a message of an unknown shape in one of the secondary's DLQs
    world, replication = active_active, _secondary_replication(active_active)
    queue = world.secondary.stack.get("EnrichmentTargetDlq").ref
    body = {"unknown": "shape, kept by the secondary's DLQ store"}
    world.secondary.services.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(body))

    # WHEN the secondary's DLQ-hydrate stores it and S3 replication has had its few seconds
    store = world.secondary.stack.get("DlqStoreBucket").ref
    world.step(600.0, until=lambda: bool(_objects(world.secondary, store)) and replication.pending() == 0)

    # THEN the primary's replica buckets hold every object of the secondary's DLQ store and lake, byte
    # for byte, re-encrypted with the primary's personal-data key
    held = _replicated_as_written(world)
    assert held["DlqStoreBucket"] >= 1
    replica = world.primary.stack.get("DlqStoreReplicaBucket").ref
    key = next(iter(_objects(world.primary, replica)))
    head = world.primary.services.client("s3").head_object(Bucket=replica, Key=key)
    assert head["SSEKMSKeyId"] == world.primary.stack.get("PersonalDataKey").arn


def test_with_active_active_the_secondarys_replication_alarms_fire_when_the_primarys_replicas_are_gone(
    active_active: TwoRegions,
) -> None:
    # GIVEN both Regions processing, and the primary's replica buckets deleted (as by a wrong update)
    world, replication = active_active, _secondary_replication(active_active)
    alarms = ("LakeReplicationFailedAlarm", "DlqStoreReplicationFailedAlarm")
    watch = world.secondary.cloudwatch
    started, failed_before = world.cloud.clock.now(), len(replication.failed)
    s3 = world.primary.services.client("s3")
    replicas = [world.primary.stack.get(name) for name in ("LakeReplicaBucket", "DlqStoreReplicaBucket")]
    kept = {bucket.ref: _objects(world.primary, bucket.ref) for bucket in replicas}
    for bucket in replicas:
        empty_bucket(s3, bucket.ref)
        s3.delete_bucket(Bucket=bucket.ref)

    # WHEN the secondary writes to its lake and its DLQ store meanwhile
    written = {source: world.secondary.stack.get(source).ref for source in ("LakeBucket", "DlqStoreBucket")}
    source_s3 = world.secondary.services.client("s3")
    for bucket in written.values():
        source_s3.put_object(Bucket=bucket, Key="drill/replica-gone.json", Body=b"{}")
    try:
        world.step(10 * 60.0, until=lambda: all(watch.state(alarm) == "ALARM" for alarm in alarms))
    finally:  # as before the drill: other tests compare the secondary's buckets with the replicas
        key = world.primary.stack.get("PersonalDataKey").arn
        for bucket in replicas:
            world.primary.provisioner.recreate(bucket)
            for name, body in kept[bucket.ref].items():
                s3.put_object(
                    Bucket=bucket.ref, Key=name, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key
                )
        for bucket in written.values():
            source_s3.delete_object(Bucket=bucket, Key="drill/replica-gone.json")

    # THEN S3 failed both objects for good, and the secondary's alarm of each store went to ALARM
    assert len(replication.failed) - failed_before == 2
    for alarm in alarms:
        assert "ALARM" in [change.new for change in watch.changes(alarm) if change.at > started], alarm


def _secondary_replication(regions: TwoRegions) -> BucketReplication:
    joined = regions.cloud.joined
    assert joined is not None and joined.secondary_buckets is not None, "the secondary does not replicate"
    return joined.secondary_buckets


def _replicated_as_written(regions: TwoRegions) -> dict[str, int]:
    """Every object of the secondary's lake and DLQ store is in its replica bucket in the primary, as
    written (a replica may hold more: deletes are not replicated); how many each source holds."""
    replication = _secondary_replication(regions)
    regions.step(600.0, until=lambda: replication.pending() == 0)
    held = {}
    for source, replica in (("LakeBucket", "LakeReplicaBucket"), ("DlqStoreBucket", "DlqStoreReplicaBucket")):
        written = _objects(regions.secondary, regions.secondary.stack.get(source).ref)
        copied = _objects(regions.primary, regions.primary.stack.get(replica).ref)
        assert written.items() <= copied.items(), source
        held[source] = len(written)
    return held


def _objects(region: Region, bucket: str) -> dict[str, bytes]:
    s3 = region.services.client("s3")
    return {
        item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }


def _none_in_the_primary_lake(regions: TwoRegions) -> None:
    """The lakes together hold each accepted event once (``send``): all of them in the secondary's."""
    assert not regions.cloud.census(regions.primary).lake
