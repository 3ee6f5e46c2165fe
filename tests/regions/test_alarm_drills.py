"""The two-Region primary's alarms go to ALARM when their failure happens, and back to OK after it.

Each drill produces one failure in the two-Region local cloud (``tests/e2e/test_alarms.py`` drills the
alarms every Region has): heartbeats stopped, the primary silent, the secondary down while objects wait
for S3 replication, a replica bucket gone. The primary's local CloudWatch evaluates the template's
alarms from what the emulators report: EventBridge's rule metrics, and the S3 replication metrics
(``localcloud.bucket_replication``, as the S3 user guide defines them). Every alarm of the template,
whatever the Region role or parameters, has a drill here or there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from localcloud.faults import RegionOutage, TargetFault
from localcloud.region import Region, empty_bucket
from localcloud.template import decode
from tests.buffer.test_buffer_failures import BUFFER_DRILLS
from tests.e2e.test_alarms import DRILLS
from tests.e2e.test_load_balancer import LOAD_BALANCER_DRILLS
from tests.regions.conftest import ROOT, TwoRegions
from tools.region_recovery import replay_archive

MINUTE = 60.0


def _elapsed(world: TwoRegions) -> float:
    """Cloud seconds since the faults' windows began counting."""
    return world.cloud.clock.now() - world.cloud.faults.started_at


def _send_dead_letter(region: Region, body: dict[str, Any]) -> None:
    """A message of an unknown shape in EnrichmentTargetDlq: the hydrate keeps it in the DLQ store."""
    queue = region.stack.get("EnrichmentTargetDlq")
    region.services.client("sqs").send_message(QueueUrl=queue.ref, MessageBody=json.dumps(body))


def _objects(region: Region, bucket: str) -> set[str]:
    s3 = region.services.client("s3")
    return {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for item in page.get("Contents", [])
    }


def _remove_bucket(region: Region, logical_id: str) -> Callable[[], None]:
    """A replica bucket deleted (as by a wrong stack update in the secondary); returns its re-creation."""
    bucket = region.stack.get(logical_id)
    s3 = region.services.client("s3")
    empty_bucket(s3, bucket.ref)
    s3.delete_bucket(Bucket=bucket.ref)

    def recreate() -> None:
        region.provisioner.recreate(bucket)

    return recreate


def _states_since(region: Region, alarm: str, since: float) -> list[str]:
    return [change.new for change in region.cloudwatch.changes(alarm) if change.at > since]


def _until_ok(world: TwoRegions, region: Region, alarms: tuple[str, ...], seconds: float) -> dict[str, str]:
    """Let up to ``seconds`` pass until every alarm of ``region`` is OK; their states."""
    watch = region.cloudwatch
    world.step(seconds, until=lambda: all(watch.state(alarm) == "OK" for alarm in alarms))
    return {alarm: watch.state(alarm) for alarm in alarms}


# ---------------------------------------------------------------------------- the drills
def heartbeats_stopped(world: TwoRegions) -> None:
    """The schedule disabled (as a wrong update or a broken role would leave it) on a quiet bus for 15
    minutes, then enabled again."""
    scheduler = world.primary.scheduler
    schedules, scheduler.schedules = scheduler.schedules, []
    try:
        world.step(15 * MINUTE)
    finally:
        scheduler.schedules = schedules


def primary_silent(world: TwoRegions) -> None:
    """The primary Region down for 15 minutes: EventBridge there invokes nothing, heartbeats included."""
    world.cloud.faults.add(RegionOutage(world.primary.name, (_elapsed(world), _elapsed(world) + 15 * MINUTE)))
    world.step(15 * MINUTE)


def secondary_down_while_objects_wait(world: TwoRegions) -> None:
    """The secondary down for 70 minutes while the primary writes lake and DLQ-store objects: S3 keeps
    them pending (the prod config-env has no RTC: the latency alarms' threshold is an hour)."""
    world.cloud.faults.add(
        RegionOutage(world.secondary.name, (_elapsed(world), _elapsed(world) + 70 * MINUTE))
    )
    world.post(world.primary)
    _send_dead_letter(world.primary, {"unknown": "shape, kept while the secondary is down"})
    world.step(70 * MINUTE)


def replay_not_forwarded(world: TwoRegions) -> None:
    """A replay of the secondary's archive while its forward to the primary's ingress bus fails (as
    when the primary is down), for longer than the rule retries (185 attempts, backing off to five
    minutes: about 15 hours); the forward works again afterwards."""
    hours = 17 * 3600.0
    world.cloud.faults.add(
        TargetFault(
            "ArchiveReplayForwardRule/primary-ingress-bus", window=(_elapsed(world), _elapsed(world) + hours)
        )
    )
    replay_archive(world.cloud, world.secondary, 0.0, world.cloud.clock.now())
    world.cloud.advance(hours, step=MINUTE)


def replica_buckets_gone(world: TwoRegions) -> None:
    """Both replica buckets deleted in the secondary while objects are written: S3 fails those
    objects; the buckets are created again afterwards."""
    restore = [
        _remove_bucket(world.secondary, name) for name in ("LakeReplicaBucket", "DlqStoreReplicaBucket")
    ]
    try:
        world.post(world.primary)
        _send_dead_letter(world.primary, {"unknown": "shape, written while the replica is gone"})
        world.step(10 * MINUTE)
    finally:
        for step in restore:
            step()


@dataclass(frozen=True)
class RegionDrill:
    produce: Callable[[TwoRegions], None]  # the failure, and its end
    alarms: tuple[str, ...]
    watched: str = "primary"  # the Region whose alarms they are


def _watch(world: TwoRegions, drill: RegionDrill) -> Region:
    return world.primary if drill.watched == "primary" else world.secondary


REGION_DRILLS = {
    "heartbeats stopped": RegionDrill(heartbeats_stopped, ("HeartbeatMissingAlarm", "IngressHealthAlarm")),
    "primary silent": RegionDrill(primary_silent, ("IngressHealthAlarm", "HeartbeatMissingAlarm")),
    "secondary down while objects wait": RegionDrill(
        secondary_down_while_objects_wait, ("LakeReplicationLatencyAlarm", "DlqStoreReplicationLatencyAlarm")
    ),
    "replica buckets gone": RegionDrill(
        replica_buckets_gone, ("LakeReplicationFailedAlarm", "DlqStoreReplicationFailedAlarm")
    ),
    "replay not forwarded": RegionDrill(
        replay_not_forwarded, ("ArchiveReplayForwardFailedAlarm",), watched="secondary"
    ),
}


@pytest.mark.parametrize("name", sorted(REGION_DRILLS))
def test_each_two_region_failure_sends_its_alarms_to_alarm_and_back_to_ok(
    regions: TwoRegions, name: str
) -> None:
    drill = REGION_DRILLS[name]
    region = _watch(regions, drill)
    # GIVEN two Regions with the drill's alarms OK (a drill before it may have left them in ALARM)
    assert _until_ok(regions, region, drill.alarms, 3600.0) == dict.fromkeys(drill.alarms, "OK")
    started = regions.cloud.clock.now()

    # WHEN its failure happens, and then ends
    drill.produce(regions)

    # THEN each of its alarms went to ALARM meanwhile
    for alarm in drill.alarms:
        assert "ALARM" in _states_since(region, alarm, started), region.cloudwatch.changes(alarm)

    # AND each is OK again once the cause is gone and the alarm's range has passed
    assert _until_ok(regions, region, drill.alarms, 30 * MINUTE) == dict.fromkeys(drill.alarms, "OK")


def test_objects_written_while_the_secondary_was_down_reach_its_replica_buckets(regions: TwoRegions) -> None:
    # GIVEN the secondary down for 70 minutes while lake and DLQ-store objects are written
    assert regions.cloud.joined is not None
    buckets = regions.cloud.joined.buckets
    pairs = (("LakeBucket", "LakeReplicaBucket"), ("DlqStoreBucket", "DlqStoreReplicaBucket"))
    before = {source: _objects(regions.primary, regions.primary.stack.get(source).ref) for source, _ in pairs}
    failed_before = len(buckets.failed)
    secondary_down_while_objects_wait(regions)

    # WHEN it is back and a few minutes pass
    regions.step(10 * MINUTE, until=lambda: buckets.pending() == 0)

    # THEN every object written meanwhile is in its replica bucket, none failed, none pending
    assert (buckets.pending(), len(buckets.failed)) == (0, failed_before)
    for source, replica in pairs:
        written = _objects(regions.primary, regions.primary.stack.get(source).ref) - before[source]
        assert written, source
        assert written <= _objects(regions.secondary, regions.secondary.stack.get(replica).ref), source
    # and S3 reported how far behind they were, minute by minute, past the hour they waited
    for rule in buckets.rules:
        latencies = regions.primary.cloudwatch.values("AWS/S3", "ReplicationLatency", rule.dimensions)
        assert max(latencies) > 3600.0, rule.rule_id


def test_every_alarm_of_the_template_has_a_drill() -> None:
    # GIVEN every alarm of template.yaml, whatever its Condition (every Region role and parameter)
    resources = decode(ROOT / "template.yaml")["Resources"]
    alarms = {name for name, resource in resources.items() if resource["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms

    # THEN each has a drill: a single-Region one (tests/e2e/test_alarms.py, the load balancer's, the
    # front-door buffer's) or a two-Region one
    drilled = {alarm for drill in (*DRILLS.values(), *REGION_DRILLS.values()) for alarm in drill.alarms}  # type: ignore[attr-defined]
    drilled |= {
        alarm
        for drills in (LOAD_BALANCER_DRILLS, BUFFER_DRILLS)
        for alarms in drills.values()
        for alarm in alarms
    }
    assert sorted(alarms - drilled) == []
