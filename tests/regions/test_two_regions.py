"""Two Regions in the local cloud, each emulated behaviour pinned to the AWS statement it follows
(docs/local-cloud.md lists them with their sources)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from localcloud.global_endpoint import ROUTING_DELAY
from localcloud.replication import MANAGED_RULE_PREFIX
from tests.regions.conftest import TwoRegions
from tools.deploy import PASSED_VALUES
from tools.replay_client import ReplayClient
from tools.replay_core import ReplayRequest, Window


def _lake(world: TwoRegions) -> dict[str, int]:
    return dict(world.cloud.census().lake)


# ---------------------------------------------------------------------------- provisioning
def test_each_region_gets_its_roles_resources_from_its_config_env(regions: TwoRegions) -> None:
    # GIVEN the two Regions of the primary and secondary config-envs
    primary, secondary = regions.primary, regions.secondary

    # THEN each has the resources of its role: the edge everywhere, the pipeline and the endpoint in
    # the primary only, and both validators publish through the same endpoint (make deploy's state)
    assert (primary.name, secondary.name) == ("us-west-2", "us-east-1")
    assert (primary.role, secondary.role) == ("primary", "secondary")
    assert set(secondary.functions) == {"ValidatorFunction"}
    assert {"ValidatorFunction", "EnrichmentFunction", "S3WriterFunction"} <= set(primary.functions)
    assert not secondary.stack.of_type("AWS::Events::Endpoint")
    endpoint_id = regions.endpoint.spec.endpoint_id
    for region in (primary, secondary):
        assert region.functions["ValidatorFunction"].environment["GLOBAL_ENDPOINT_ID"] == endpoint_id
    # the values passed between the stacks are the ones make deploy's plan passes
    assert {"GlobalEndpointId", "ReplicaKmsKeyArn"} == set(PASSED_VALUES.values())
    assert primary.loaded.parameters["ReplicaKmsKeyArn"] == secondary.stack.resources["PersonalDataKey"].arn


# ---------------------------------------------------------------------------- the endpoint
def test_endpoint_routes_to_the_secondary_while_the_alarm_has_insufficient_data(regions: TwoRegions) -> None:
    # AWS (Route 53, CLOUDWATCH_METRIC health checks): while the alarm is INSUFFICIENT_DATA the
    # check's status is InsufficientDataHealthStatus; the template says Unhealthy. AWS (global
    # endpoints): an unhealthy primary health check routes events to the secondary Region.
    # GIVEN the cloud right after start, before any heartbeat period ended
    # THEN the endpoint routed to the secondary, and the batch sent then entered the secondary's bus
    assert regions.endpoint.spec.insufficient_data == "Unhealthy"
    assert regions.route_at_start == regions.secondary.name
    archive = regions.secondary.services.client("events").describe_archive(
        ArchiveName=str(regions.secondary.stack.of_type("AWS::Events::Archive")[0].ref)
    )
    assert archive["EventCount"] >= 1


def test_endpoint_routes_to_the_primary_once_the_alarm_is_ok_after_the_routing_delay(
    regions: TwoRegions,
) -> None:
    # AWS (Route 53): a CLOUDWATCH_METRIC check is healthy while its alarm is OK; AWS (global
    # endpoints): failover takes 6-7 minutes for the prescribed 5-minute alarm, 60-120 s of which
    # follow the alarm. GIVEN the alarm's history and the endpoint's switches
    changes = regions.primary.cloudwatch.changes(regions.endpoint.spec.alarm)
    first_ok = next(change.at for change in changes if change.new == "OK")

    # THEN the endpoint switched to the primary exactly the routing delay after the alarm turned OK
    assert (first_ok + ROUTING_DELAY, regions.primary.name) in regions.endpoint.switches
    assert regions.endpoint.region() == regions.primary.name


def test_heartbeats_keep_the_health_metric_alive_on_a_quiet_bus(regions: TwoRegions) -> None:
    # GIVEN no client traffic for ten minutes
    regions.step(600.0)

    # THEN the heartbeat schedule put an event every minute, the alarm stayed OK and the endpoint
    # kept routing to the primary (the template's answer to the zero-traffic gotcha)
    fired = [tick for _, tick in regions.primary.scheduler.fired]
    assert len(fired) >= 10
    assert all(later - earlier == 60 for earlier, later in zip(fired[-10:], fired[-9:], strict=False))
    assert regions.primary.cloudwatch.state(regions.endpoint.spec.alarm) == "OK"
    assert regions.endpoint.region() == regions.primary.name
    # AND the queue nothing consumes holds only the last minute's heartbeats (its 60 s retention)
    queue = str(regions.primary.stack.get("HeartbeatQueue").ref)
    attributes = regions.primary.services.client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert 1 <= int(attributes["ApproximateNumberOfMessages"]) <= 2


def test_a_put_through_the_endpoint_reaches_the_bus_of_the_region_it_routes_to(regions: TwoRegions) -> None:
    # GIVEN a healthy endpoint
    regions.step(60.0, until=lambda: regions.endpoint.region() == regions.primary.name)
    routed_before = dict(regions.endpoint.routed)

    # WHEN a client sends to the SECONDARY's API
    ids = regions.post(regions.secondary)
    regions.step(120.0, until=lambda: all(_lake(regions).get(event_id) == 1 for event_id in ids))

    # THEN its validator's PutEvents went through the endpoint to the primary's bus and was processed
    assert regions.endpoint.routed[regions.primary.name] == routed_before[regions.primary.name] + 1
    assert all(_lake(regions).get(event_id) == 1 for event_id in ids)


# ---------------------------------------------------------------------------- replication
def test_replication_uses_a_managed_rule_on_each_bus(regions: TwoRegions) -> None:
    # AWS: "Event replication sends all custom events to the event buses in the primary and
    # secondary Regions using managed rules."
    bus = regions.endpoint.spec.bus_name
    for region in (regions.primary, regions.secondary):
        rules = region.services.client("events").list_rules(EventBusName=bus, NamePrefix=MANAGED_RULE_PREFIX)
        assert len(rules["Rules"]) == 1


def test_a_replicated_copy_keeps_its_origin_region_and_gets_a_new_id(regions: TwoRegions) -> None:
    # AWS: replicated events keep the Region they came from in `region`; event IDs can change
    # across API calls (consumers key on their own id). GIVEN the copy of the early batch
    regions.step(
        30.0, until=lambda: bool(regions.cloud.joined and regions.cloud.joined.replication.replicated)
    )
    assert regions.cloud.joined is not None
    copies = [
        copy
        for copy in regions.cloud.joined.replication.replicated
        if copy.source == regions.secondary.name and copy.event["source"] == "signals.ingest"
    ]

    # THEN it went to the primary with the secondary as its region, a new id, the endpoint's ARN
    assert copies
    for copy in copies:
        assert copy.destination == regions.primary.name
        assert copy.event["region"] == regions.secondary.name
        assert copy.event["id"] != copy.original_id
        assert regions.endpoint.spec.arn in copy.event["resources"]


def test_a_copy_is_never_replicated_again(regions: TwoRegions) -> None:
    # GIVEN everything replicated so far, in both directions
    regions.step(30.0)
    assert regions.cloud.joined is not None
    replicated = regions.cloud.joined.replication.replicated
    copy_ids = {copy.event["id"] for copy in replicated}

    # THEN no copy was the original of another copy (no ping-pong between the buses)
    assert replicated
    assert not copy_ids & {copy.original_id for copy in replicated}


def test_events_the_secondary_took_are_processed_once_in_the_primary(regions: TwoRegions) -> None:
    # GIVEN the batch the secondary's bus took before the endpoint was healthy (replicated to the primary)
    regions.step(120.0, until=lambda: all(_lake(regions).get(event_id) for event_id in regions.early_ids))

    # THEN each of its signals is in the primary's lake exactly once
    lake = _lake(regions)
    assert regions.early_ids
    assert [lake.get(event_id) for event_id in regions.early_ids] == [1] * len(regions.early_ids)


# ---------------------------------------------------------------------------- archives
def test_a_replay_of_the_secondary_archive_reaches_the_primary_and_is_not_processed_twice(
    regions: TwoRegions,
) -> None:
    # AWS: StartReplay delivers archived events to the archive's bus with `replay-name` set; the
    # template's forward rule carries the secondary's own batches to the primary's bus.
    # GIVEN the early batch processed once, and the secondary's archive holding it
    regions.step(120.0, until=lambda: all(_lake(regions).get(event_id) for event_id in regions.early_ids))
    client = ReplayClient(regions.secondary.services.client("events"))
    archive = client.archive(str(regions.secondary.stack.of_type("AWS::Events::Archive")[0].ref))
    forward = client.forward_rules(archive.bus_name)
    enrichment_runs = regions.primary.runtime.stats.invocations["EnrichmentFunction"]
    now = datetime.fromtimestamp(regions.cloud.clock.now(), UTC)
    window = Window(now - timedelta(hours=2), now)

    # WHEN it is replayed to the forward rule, as tools.replay does
    status = client.start(
        ReplayRequest(f"regions-test-{int(now.timestamp())}", archive, window, tuple(forward), "test")
    )
    regions.step(120.0)

    # THEN the replay completed, the primary's enrichment ran on the replayed batch, and its
    # idempotency kept every signal in the lake once
    assert forward
    assert client.describe(status.name).state == "COMPLETED"
    assert regions.primary.runtime.stats.invocations["EnrichmentFunction"] > enrichment_runs
    lake = _lake(regions)
    assert [lake.get(event_id) for event_id in regions.early_ids] == [1] * len(regions.early_ids)


# ---------------------------------------------------------------------------- global tables
def test_a_write_in_either_replica_reaches_the_other_after_the_lag(regions: TwoRegions) -> None:
    # AWS: changes to any item in any replica are replicated to all other replicas, asynchronously.
    table = regions.primary.functions["ValidatorFunction"].environment["SOURCES_TABLE_NAME"]
    primary = regions.primary.services.client("dynamodb")
    secondary = regions.secondary.services.client("dynamodb")
    key = {"source_id": {"S": f"replica-test-{int(regions.cloud.clock.now())}"}}

    # WHEN an item is written in the primary
    primary.put_item(TableName=table, Item={**key, "note": {"S": "written in the primary"}})
    # THEN the secondary has it only after the replication lag
    assert "Item" not in secondary.get_item(TableName=table, Key=key)
    regions.step(10.0)
    assert secondary.get_item(TableName=table, Key=key)["Item"]["note"] == {"S": "written in the primary"}

    # WHEN the secondary's replica updates and then deletes it
    secondary.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET note = :note",
        ExpressionAttributeValues={":note": {"S": "updated in the secondary"}},
    )
    regions.step(10.0)
    assert primary.get_item(TableName=table, Key=key)["Item"]["note"] == {"S": "updated in the secondary"}
    secondary.delete_item(TableName=table, Key=key)
    regions.step(10.0)

    # THEN the primary follows both
    assert "Item" not in primary.get_item(TableName=table, Key=key)


def test_the_endpoint_spec_reads_the_template_not_a_copy(regions: TwoRegions) -> None:
    # GIVEN the template's endpoint, health check and alarm
    resources = regions.primary.loaded.cfn["Resources"]
    check = resources["IngressHealthCheck"]["Properties"]["HealthCheckConfig"]

    # THEN the emulated endpoint follows them
    spec = regions.endpoint.spec
    assert spec.secondary_region == regions.secondary.name
    assert spec.insufficient_data == check["InsufficientDataHealthStatus"]
    assert spec.alarm == "IngressHealthAlarm"
    assert spec.replication is (
        resources["GlobalEndpoint"]["Properties"]["ReplicationConfig"]["State"] == "ENABLED"
    )
    assert spec.bus_name == regions.primary.loaded.parameters["IngressBusName"]
