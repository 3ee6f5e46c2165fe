"""The template per Region role (docs/adr/0005): what each role creates, that no role accepts an event it
cannot keep, the heartbeat, replays, the global endpoint, global tables, bucket replication and latency
routing, each read from the template rendered for that role (tests/infra/rendering.py)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from moto.events.models import EventPattern

from localcloud.intrinsics import references
from tests.infra.rendering import (
    EDGE_RESOURCES,
    ENDPOINT_ID,
    PRIMARY,
    PRIMARY_KEY_ARN,
    SECONDARY,
    SECONDARY_KEY_ARN,
    Rendering,
    Role,
    every_role,
    getatt_token,
    ref_token,
    render,
    template,
)
from tools.deploy import ENDPOINT_ID as ENDPOINT_ID_OUTPUT
from tools.deploy import PRIMARY_REPLICA_KEY, SECONDARY_KEY, ConfigEnv, final_overrides, read_config_envs
from tools.objectives import RTC_MINUTES, failover_seconds, from_template

RUNBOOK = Path(__file__).parents[2] / "docs" / "runbook.md"

# -------------------- the roles as make deploy leaves them (samconfig + the values passed between stacks)
OUTPUTS = {
    ENDPOINT_ID_OUTPUT: ENDPOINT_ID,
    SECONDARY_KEY: SECONDARY_KEY_ARN,
    PRIMARY_REPLICA_KEY: PRIMARY_KEY_ARN,
}
PROD_PRIMARY = Role(PRIMARY, final_overrides("primary", OUTPUTS))
PROD_SECONDARY = Role(SECONDARY, final_overrides("secondary", OUTPUTS))
DEV = Role(PRIMARY, final_overrides("default", OUTPUTS))
# Both config-envs switched to active-active, as make deploy then leaves them.
ACTIVE_ACTIVE_ENVS = {
    name: ConfigEnv(
        env.name, env.region, env.stack_name, {**env.overrides, "ProcessingMode": "active-active"}
    )
    for name, env in read_config_envs().items()
}
AA_PRIMARY = Role(PRIMARY, final_overrides("primary", OUTPUTS, ACTIVE_ACTIVE_ENVS))
AA_SECONDARY = Role(SECONDARY, final_overrides("secondary", OUTPUTS, ACTIVE_ACTIVE_ENVS))

# The unconditional edge, plus the ingress archive every production Region keeps.
EDGE = EDGE_RESOURCES | {"IngressBusArchive"}
PIPELINE = {
    "AccessLogsBucket",
    "AccessLogsBucketPolicy",
    "DataPlatformBus",
    "DlqHydrateErrorsAlarm",
    "DlqHydrateFailureDlq",
    "DlqHydrateFailureDlqAgeAlarm",
    "DlqHydrateFailureDlqAlarm",
    "DlqHydrateFailureDlqPolicy",
    "DlqHydrateFailuresAlarm",
    "DlqHydrateFromEnrichmentFailureDlq",
    "DlqHydrateFromEnrichmentTargetDlq",
    "DlqHydrateFromLakePipeDlq",
    "DlqHydrateFromStreamTargetDlq",
    "DlqHydrateFunction",
    "DlqHydrateLogGroup",
    "DlqHydrateUnparsedMessagesAlarm",
    "DlqHydrateUnrecoverableRecordsAlarm",
    "DlqStoreBucket",
    "DlqStoreBucketPolicy",
    "EnrichmentDestinationDeliveryFailuresAlarm",
    "EnrichmentErrorsAlarm",
    "EnrichmentEventInvokeConfig",
    "EnrichmentFailureDlq",
    "EnrichmentFailureDlqAlarm",
    "EnrichmentFailureDlqMessagesSentAlarm",
    "EnrichmentFailureDlqPolicy",
    "EnrichmentFunction",
    "EnrichmentInvokePermission",
    "EnrichmentLogGroup",
    "EnrichmentRule",
    "EnrichmentRuleDlqWriteFailedAlarm",
    "EnrichmentTargetDlq",
    "EnrichmentTargetDlqAlarm",
    "EnrichmentTargetDlqMessagesSentAlarm",
    "EnrichmentTargetDlqPolicy",
    "LakeBucket",
    "LakeBucketPolicy",
    "LakeDatabase",
    "LakeEventsTable",
    "LakePipe",
    "LakePipeDlq",
    "LakePipeDlqAgeAlarm",
    "LakePipeDlqAlarm",
    "LakePipeDlqMessagesSentAlarm",
    "LakePipeDlqPolicy",
    "LakePipeFailuresAlarm",
    "LakePipeLogGroup",
    "LakePipeRole",
    "QuarantineBucket",
    "QuarantineBucketPolicy",
    "S3WriterErrorsAlarm",
    "S3WriterFunction",
    "S3WriterLogGroup",
    "SignalStream",
    "SignalStreamIteratorAgeAlarm",
    "SignalStreamWriteThrottledAlarm",
    "StreamRule",
    "StreamRuleDlqWriteFailedAlarm",
    "StreamTargetDlq",
    "StreamTargetDlqAlarm",
    "StreamTargetDlqMessagesSentAlarm",
    "StreamTargetDlqPolicy",
    "StreamTargetRole",
    "IdempotencyTable",
    "EnrichmentQuarantineAlarm",
    "S3WriterBadRecordsAlarm",
    "S3WriterLakeCleanupFailuresAlarm",
    "EnrichmentRuleRetriesAlarm",
    "StreamRuleRetriesAlarm",
}
PRIMARY_ONLY = {"SigningKeySecret", "SourcesGlobalTable"}
GLOBAL_ENDPOINT = {
    "HeartbeatQueue",
    "HeartbeatQueuePolicy",
    "HeartbeatRule",
    "HeartbeatScheduleRole",
    "HeartbeatSchedule",
    "HeartbeatMissingAlarm",
    "IngressHealthAlarm",
    "IngressHealthCheck",
    "EndpointReplicationRole",
    "EndpointReplicationPassRole",
    "GlobalEndpoint",
}
BUCKET_REPLICATION_SOURCE = {
    "BucketReplicationRole",
    "BucketReplicationPolicy",
    "LakeReplicationFailedAlarm",
    "DlqStoreReplicationFailedAlarm",
    "LakeReplicationLatencyAlarm",
    "DlqStoreReplicationLatencyAlarm",
}
BUCKET_REPLICAS = {
    "LakeReplicaBucket",
    "LakeReplicaBucketPolicy",
    "DlqStoreReplicaBucket",
    "DlqStoreReplicaBucketPolicy",
}
LATENCY_ROUTING = {"ApiDomain", "ApiDomainMapping", "ApiHealthCheck", "ApiLatencyRecord"}
# Parts other work adds to the same roles, pinned here once the template has them: the secondary's
# forwarding of archive replays to the primary (docs/archive-replay.md, pinned in detail by
# tests/infra/test_archive_replay_forward.py) and the lake's ledger table and dedup view (pipeline).
REPLAY_FORWARD = {
    "ArchiveReplayForwardRule",
    "ArchiveReplayForwardRole",
    "ArchiveReplayForwardFailedAlarm",
} & set(template()["Resources"])
PIPELINE |= {"LakeLedgerTable", "LakeEventsDedupView"} & set(template()["Resources"])


def _event(source: str, region: str, **extra: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "page_view",
        "source": source,
        "account": "123456789012",
        "time": "2026-12-06T10:00:00Z",
        "region": region,
        "resources": [],
        "detail": {"batch_id": "b-1", "signals": []},
        **extra,
    }


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    return bool(EventPattern(json.dumps(pattern), pattern).matches_event(event))


def _keepers(rendering: Rendering, event: dict[str, Any]) -> list[str]:
    """What keeps ``event`` once it is on this Region's ingress bus: its archive or the processing rule."""
    bus_arn, bus = getatt_token("IngressBus", "Arn"), ref_token("IngressBus")
    archives = [
        name
        for name, archive in rendering.of_type("AWS::Events::Archive").items()
        if archive["Properties"]["SourceArn"] == bus_arn
        and _matches(archive["Properties"]["EventPattern"], event)
    ]
    processing = [
        name
        for name, rule in rendering.of_type("AWS::Events::Rule").items()
        if rule["Properties"]["EventBusName"] == bus
        and _matches(rule["Properties"]["EventPattern"], event)
        and getatt_token("EnrichmentFunction", "Arn") in [t["Arn"] for t in rule["Properties"]["Targets"]]
    ]
    return archives + processing


def _matching_rules(rendering: Rendering, event: dict[str, Any]) -> set[str]:
    return {
        name
        for name, rule in rendering.of_type("AWS::Events::Rule").items()
        if rule["Properties"]["EventBusName"] == ref_token("IngressBus")
        and _matches(rule["Properties"]["EventPattern"], event)
    }


@pytest.fixture(scope="module")
def prod_primary() -> Rendering:
    rendering = render(PROD_PRIMARY)
    assert rendering.refused is None, rendering.refused
    return rendering


@pytest.fixture(scope="module")
def prod_secondary() -> Rendering:
    rendering = render(PROD_SECONDARY)
    assert rendering.refused is None, rendering.refused
    return rendering


# -------------------- the resources of each role, pinned


def test_role_primary_renders_edge_pipeline_endpoint_and_replication_source(prod_primary):
    # GIVEN / WHEN the primary as make deploy leaves it
    # THEN it has the edge, the pipeline, what only it owns, the endpoint and the source of bucket replication
    assert set(prod_primary.resources) == (
        EDGE | PIPELINE | PRIMARY_ONLY | GLOBAL_ENDPOINT | BUCKET_REPLICATION_SOURCE
    )


def test_role_secondary_renders_edge_archive_and_bucket_replicas_only(prod_secondary):
    # GIVEN / WHEN the secondary as make deploy leaves it (active/archive)
    # THEN only the edge (with its archive) and the replica buckets: no pipeline, no second table owner
    assert set(prod_secondary.resources) == EDGE | BUCKET_REPLICAS | REPLAY_FORWARD


def test_role_developer_stack_renders_edge_and_pipeline_without_two_region_parts():
    # GIVEN / WHEN a one-Region developer stack (SecondaryRegion = PrimaryRegion)
    rendering = render(DEV)

    # THEN no endpoint, heartbeat or replication: nothing to fail over to
    assert rendering.refused is None
    assert set(rendering.resources) == EDGE | PIPELINE | PRIMARY_ONLY


def test_role_active_active_secondary_processes_with_the_shared_idempotency_table():
    # GIVEN both config-envs switched to active-active, as make deploy leaves them
    primary, secondary = render(AA_PRIMARY), render(AA_SECONDARY)

    # WHEN / THEN the primary owns one idempotency global table, and neither keeps a per-Region one
    assert "IdempotencyGlobalTable" in primary.resources
    assert "IdempotencyTable" not in primary.resources | secondary.resources
    # AND each Region replicates its lake and DLQ store into replica buckets of the other
    assert set(secondary.resources) == (EDGE | PIPELINE | BUCKET_REPLICAS | BUCKET_REPLICATION_SOURCE) - {
        "IdempotencyTable"
    }
    assert set(primary.resources) >= BUCKET_REPLICAS | BUCKET_REPLICATION_SOURCE
    replicas = primary.resources["IdempotencyGlobalTable"]["Properties"]["Replicas"]
    assert [replica["Region"] for replica in replicas] == [PRIMARY, SECONDARY]
    # AND both enrichments use it by the same name
    names = {
        r.resources["EnrichmentFunction"]["Properties"]["Environment"]["Variables"]["IDEMPOTENCY_TABLE_NAME"]
        for r in (primary, secondary)
    }
    assert names == {primary.resources["IdempotencyGlobalTable"]["Properties"]["TableName"]}


# -------------------- no configuration accepts an event it cannot keep


def test_every_role_keeps_an_accepted_event_or_refuses_to_deploy():
    refused = kept = 0
    for role in every_role():
        # GIVEN a combination of the role-deciding parameters in a Region
        rendering = render(role)
        if rendering.refused is not None:
            refused += 1
            continue

        # WHEN a signal batch the validator accepted arrives on the Region's ingress bus
        keepers = _keepers(rendering, _event("signals.ingest", role.region))

        # THEN something keeps it: the archive or the processing rule
        assert keepers, f"{role.label} accepts events and keeps none"
        kept += 1
    # AND both outcomes occur (the test would pass vacuously otherwise)
    assert refused and kept


@pytest.mark.parametrize(
    ("region", "overrides", "reason"),
    [
        (SECONDARY, {"IngressArchive": "disabled"}, "EveryAcceptedEventIsKept"),
        ("eu-west-1", {}, "StackRegionIsPrimaryOrSecondary"),
        (
            PRIMARY,
            {"SecondaryRegion": PRIMARY, "CreateGlobalEndpoint": "true"},
            "GlobalEndpointNeedsTwoRegions",
        ),
        (PRIMARY, {"ReplicaKmsKeyArn": ""}, "BucketReplicationNeedsTheSecondarysKey"),
        (SECONDARY, {"ReplicaKmsKeyArn": PRIMARY_KEY_ARN}, "SecondaryReplicatesOnlyWhatItProcesses"),
        (
            SECONDARY,
            {
                "ReplicaKmsKeyArn": PRIMARY_KEY_ARN,
                "ProcessingMode": "active-active",
                "BucketReplication": "disabled",
            },
            "SecondaryReplicatesOnlyWhatItProcesses",
        ),
        (SECONDARY, {"ApiDomainName": "signals.example.com"}, "ApiDomainNeedsZoneAndCertificate"),
    ],
)
def test_rules_refuse_configurations_that_lose_or_misplace_events(region, overrides, reason):
    # GIVEN the production secondary's parameters with one change, WHEN rendered in the Region
    base = PROD_PRIMARY.overrides if region == PRIMARY else PROD_SECONDARY.overrides
    rendering = render(Role(region, {**base, **overrides}))

    # THEN CloudFormation would refuse the deploy, naming the rule
    assert rendering.refused is not None and reason in rendering.refused


def test_every_role_outputs_refer_only_to_resources_it_creates():
    for role in every_role():
        # GIVEN a role that deploys, WHEN its outputs are resolved
        rendering = render(role)
        if rendering.refused is not None:
            continue

        # THEN every resource an output names exists in that role (else the deploy fails)
        missing = rendering.output_references - set(rendering.resources)
        assert not missing, f"{role.label}: outputs refer to {missing}"
        missing = rendering.references - set(rendering.resources) - set(template()["Resources"]) - {""}
        assert not missing, f"{role.label}: resources refer to {missing}"


# -------------------- heartbeat


def test_heartbeat_counted_by_its_rule_never_processed_or_archived(prod_primary):
    # GIVEN a heartbeat as the schedule puts it on the ingress bus
    target = prod_primary.resources["HeartbeatSchedule"]["Properties"]["Target"]
    heartbeat = _event(
        target["EventBridgeParameters"]["Source"],
        PRIMARY,
        **{"detail-type": target["EventBridgeParameters"]["DetailType"]},
    )

    # WHEN it is matched against every rule and the archive of the bus
    matched = _matching_rules(prod_primary, heartbeat)

    # THEN only the heartbeat rule takes it (counted, to a queue): never enrichment, so never the lake
    # or the partner, and never the archive
    assert matched == {"HeartbeatRule"}
    assert _keepers(prod_primary, heartbeat) == []
    assert target["Arn"] == getatt_token("IngressBus", "Arn")
    assert prod_primary.resources["HeartbeatRule"]["Properties"]["Targets"][0]["Arn"] == getatt_token(
        "HeartbeatQueue", "Arn"
    )


def test_heartbeat_every_minute_and_counted_by_an_alarm_on_its_rule(prod_primary):
    # GIVEN the schedule and the heartbeat alarm
    schedule = prod_primary.resources["HeartbeatSchedule"]["Properties"]
    alarm = prod_primary.resources["HeartbeatMissingAlarm"]["Properties"]

    # WHEN / THEN one a minute, and fewer than 3 matched in 5 minutes (or none at all) alarms
    assert schedule["ScheduleExpression"] == "rate(1 minute)"
    assert alarm["MetricName"] == "MatchedEvents"
    assert {
        "Name": "RuleName",
        "Value": prod_primary.resources["HeartbeatRule"]["Properties"]["Name"],
    } in alarm["Dimensions"]
    assert (alarm["Period"], alarm["Threshold"], alarm["TreatMissingData"]) == (300, 3, "breaching")


# -------------------- replays


def test_rules_every_rule_states_whether_it_takes_replays():
    for name, resource in template()["Resources"].items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        # GIVEN a rule, WHEN its pattern and metadata are read
        pattern = resource["Properties"]["EventPattern"]
        pattern = pattern if "Fn::If" not in pattern else pattern["Fn::If"][1]
        reason = resource.get("Metadata", {}).get("ReplaysTaken", "")

        # THEN it either decides on replays in its pattern (excluded, or only replays) or says why it
        # takes them along with live events
        decided = "replay-name" in pattern
        assert decided != bool(reason), f"{name}: a replay-name condition in the pattern, or ReplaysTaken"


def test_replays_reach_enrichment_but_neither_the_archive_nor_the_heartbeat_rule(prod_primary):
    # GIVEN a replayed signal batch and a replayed heartbeat
    batch = _event("signals.ingest", PRIMARY, **{"replay-name": "after-outage"})
    heartbeat = _event("signals.heartbeat", PRIMARY, **{"replay-name": "after-outage"})

    # WHEN / THEN the batch is processed again (idempotent) but not archived twice; the heartbeat is ignored
    assert _matching_rules(prod_primary, batch) == {"EnrichmentRule"}
    assert _keepers(prod_primary, batch) == ["EnrichmentRule"]
    assert _matching_rules(prod_primary, heartbeat) == set()


def test_archive_secondary_keeps_every_batch_for_the_retention_parameter(prod_secondary):
    # GIVEN the secondary's archive
    archive = prod_secondary.resources["IngressBusArchive"]["Properties"]

    # WHEN / THEN 30 days by default, a batch from either Region (replicated copies included)
    assert archive["RetentionDays"] == "30"
    for region in (PRIMARY, SECONDARY):
        assert _keepers(prod_secondary, _event("signals.ingest", region)) == ["IngressBusArchive"]


# -------------------- global endpoint


def test_global_endpoint_two_same_named_buses_replication_on_health_check_on_the_alarm(prod_primary):
    # GIVEN the endpoint, its health check and the alarm
    endpoint = prod_primary.resources["GlobalEndpoint"]["Properties"]
    check = prod_primary.resources["IngressHealthCheck"]["Properties"]["HealthCheckConfig"]
    bus_name = prod_primary.resources["IngressBus"]["Properties"]["Name"]

    # WHEN / THEN it pairs this Region's bus with the same-named bus in the secondary, replicates,
    # and fails over on the health check that follows IngressHealthAlarm
    assert endpoint["EventBuses"] == [
        {"EventBusArn": getatt_token("IngressBus", "Arn")},
        {"EventBusArn": f"arn:aws:events:{SECONDARY}:123456789012:event-bus/{bus_name}"},
    ]
    assert endpoint["ReplicationConfig"] == {"State": "ENABLED"}
    assert endpoint["RoleArn"] == getatt_token("EndpointReplicationRole", "Arn")
    assert endpoint["RoutingConfig"]["FailoverConfig"] == {
        "Primary": {"HealthCheck": f"arn:aws:route53:::healthcheck/{ref_token('IngressHealthCheck')}"},
        "Secondary": {"Route": SECONDARY},
    }
    assert check == {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Name": ref_token("IngressHealthAlarm"), "Region": PRIMARY},
        "InsufficientDataHealthStatus": "Unhealthy",
    }


def test_health_alarm_watches_eventbridge_latency_only_no_consumer_metric(prod_primary):
    # GIVEN the health alarm
    alarm = prod_primary.resources["IngressHealthAlarm"]["Properties"]

    # WHEN / THEN AWS's prescribed service metric and settings; missing data is an outage (heartbeats)
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == (
        "AWS/Events",
        "IngestionToInvocationStartLatency",
        "Average",
    )
    assert "Dimensions" not in alarm
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["Threshold"]) == (60, 5, 30000)
    assert alarm["TreatMissingData"] == "breaching"


def test_endpoint_replication_role_least_privilege(prod_primary):
    # GIVEN the replication role and its pass-role policy
    role = prod_primary.resources["EndpointReplicationRole"]["Properties"]
    (policy,) = role["Policies"]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    pass_role = prod_primary.resources["EndpointReplicationPassRole"]["Properties"]["PolicyDocument"]

    # WHEN / THEN trusted by EventBridge of this account only
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # AND the managed rules (the one wildcard AWS requires), PutEvents on the two buses, itself to pass
    rules = statements["ManageTheEndpointsManagedRules"]
    assert sorted(rules["Action"]) == [
        "events:DeleteRule",
        "events:PutRule",
        "events:PutTargets",
        "events:RemoveTargets",
    ]
    assert rules["Resource"] == [
        f"arn:aws:events:{region}:123456789012:rule/signals-ingress/GlobalEndpointManagedRule-*"
        for region in (PRIMARY, SECONDARY)
    ]
    assert statements["PutEventsOnTheTwoIngressBuses"]["Resource"] == [
        f"arn:aws:events:{region}:123456789012:event-bus/signals-ingress" for region in (PRIMARY, SECONDARY)
    ]
    assert pass_role["Statement"] == [
        {
            "Sid": "PassItselfToEventBridge",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": getatt_token("EndpointReplicationRole", "Arn"),
            "Condition": {"StringEquals": {"iam:PassedToService": "events.amazonaws.com"}},
        }
    ]
    assert len(statements) == 2


def test_validators_of_both_regions_publish_through_the_endpoint_with_both_buses_allowed(
    prod_primary, prod_secondary
):
    for rendering in (prod_primary, prod_secondary):
        # GIVEN a Region's validator as make deploy leaves it
        function = rendering.resources["ValidatorFunction"]["Properties"]
        (put,) = [s for s in function["Policies"][0]["Statement"] if s["Action"] == "events:PutEvents"]

        # WHEN / THEN it publishes through the endpoint, allowed on the same-named bus of both Regions
        assert function["Environment"]["Variables"]["GLOBAL_ENDPOINT_ID"] == ENDPOINT_ID
        assert put["Resource"][1:] == [
            f"arn:aws:events:{region}:123456789012:event-bus/signals-ingress"
            for region in (PRIMARY, SECONDARY)
        ]


def test_edge_alarms_exist_in_both_regions(prod_primary, prod_secondary):
    # GIVEN / WHEN both Regions' alarms
    # THEN the edge's (the secondary takes traffic after a failover) are in both
    for rendering in (prod_primary, prod_secondary):
        assert {"ValidatorErrorsAlarm", "IngestApi5xxAlarm"} <= set(
            rendering.of_type("AWS::CloudWatch::Alarm")
        )


# -------------------- global tables


def test_sources_table_one_global_table_the_secondary_reads_by_the_same_name(prod_primary, prod_secondary):
    # GIVEN the primary's global table and both validators
    table = prod_primary.resources["SourcesGlobalTable"]["Properties"]

    # WHEN / THEN one table with a replica in each Region, read by its name in both
    assert [replica["Region"] for replica in table["Replicas"]] == [PRIMARY, SECONDARY]
    for rendering in (prod_primary, prod_secondary):
        variables = rendering.resources["ValidatorFunction"]["Properties"]["Environment"]["Variables"]
        assert variables["SOURCES_TABLE_NAME"] == table["TableName"] == "customer-signals-prod-sources"
        assert rendering.outputs["SourcesTableName"] == table["TableName"]


def test_sources_table_migration_imports_an_existing_table_by_name():
    # GIVEN the migration's parameters (docs/runbook.md#migrating-to-the-sources-global-table)
    detach = render(
        Role(
            PRIMARY,
            {**PROD_PRIMARY.overrides, "SourcesGlobalTableName": "old-table", "SourcesTableInStack": "false"},
        )
    )
    imported = render(Role(PRIMARY, {**PROD_PRIMARY.overrides, "SourcesGlobalTableName": "old-table"}))

    # WHEN / THEN detached: no table resource, the validator keeps reading the old table by name;
    # imported: the global table resource carries the old name (an IMPORT change set adopts it)
    assert "SourcesGlobalTable" not in detach.resources
    for rendering in (detach, imported):
        variables = rendering.resources["ValidatorFunction"]["Properties"]["Environment"]["Variables"]
        assert variables["SOURCES_TABLE_NAME"] == "old-table"
    assert imported.resources["SourcesGlobalTable"]["Properties"]["TableName"] == "old-table"


# -------------------- S3 Cross-Region Replication


def test_bucket_replication_destinations_are_the_secondarys_replica_buckets(prod_primary, prod_secondary):
    for source, replica in (("LakeBucket", "LakeReplicaBucket"), ("DlqStoreBucket", "DlqStoreReplicaBucket")):
        # GIVEN a source bucket's replication rule in the primary
        configuration = prod_primary.resources[source]["Properties"]["ReplicationConfiguration"]
        (rule,) = configuration["Rules"]
        replica_name = prod_secondary.resources[replica]["Properties"]["BucketName"]

        # WHEN / THEN every object goes to the bucket the secondary creates, re-encrypted with its key
        assert configuration["Role"] == getatt_token("BucketReplicationRole", "Arn")
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{replica_name}"
        assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": SECONDARY_KEY_ARN}
        assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
        assert rule["Filter"] == {"Prefix": ""} and rule["Status"] == "Enabled"
        assert "ReplicationTime" not in rule["Destination"]
        # AND both sides are versioned (S3 requires it) and the replica uses the secondary's own key
        assert prod_primary.resources[source]["Properties"]["VersioningConfiguration"] == {
            "Status": "Enabled"
        }
        replica_properties = prod_secondary.resources[replica]["Properties"]
        assert replica_properties["VersioningConfiguration"] == {"Status": "Enabled"}
        (encryption,) = replica_properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == getatt_token(
            "PersonalDataKey", "Arn"
        )
        assert len(replica_name) <= 63


def test_bucket_replication_time_control_is_a_parameter(prod_primary):
    # GIVEN RTC switched on
    rendering = render(Role(PRIMARY, {**PROD_PRIMARY.overrides, "BucketReplicationTimeControl": "enabled"}))

    # WHEN / THEN every rule replicates within 15 minutes under the SLA
    for source in ("LakeBucket", "DlqStoreBucket"):
        (rule,) = rendering.resources[source]["Properties"]["ReplicationConfiguration"]["Rules"]
        assert rule["Destination"]["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}


def test_bucket_replication_role_least_privilege(prod_primary):
    # GIVEN the replication role's trust and policy
    role = prod_primary.resources["BucketReplicationRole"]["Properties"]
    statements = {
        s["Sid"]: s
        for s in prod_primary.resources["BucketReplicationPolicy"]["Properties"]["PolicyDocument"][
            "Statement"
        ]
    }

    # WHEN / THEN trusted by S3 of this account only; no wildcard action; object wildcards only
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"}
    assert "Policies" not in role
    for sid, statement in statements.items():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        assert all("*" not in action for action in actions), sid
        for resource in resources:
            assert "*" not in resource.removesuffix("/*"), (sid, resource)
    assert statements["WriteTheReplicas"]["Resource"] == [
        f"arn:aws:s3:::signals-prod-{kind}-123456789012-{SECONDARY}/*" for kind in ("lake", "dlq")
    ]
    assert statements["EncryptReplicasWithTheOtherRegionsKey"]["Resource"] == SECONDARY_KEY_ARN
    assert statements["EncryptReplicasWithTheOtherRegionsKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{SECONDARY}.amazonaws.com"}
    }
    # AND no delete is replicated (docs/adr/0005 §5), so the role may not replicate one either
    for source in ("LakeBucket", "DlqStoreBucket"):
        (rule,) = prod_primary.resources[source]["Properties"]["ReplicationConfiguration"]["Rules"]
        assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
    assert statements["WriteTheReplicas"]["Action"] == ["s3:ReplicateObject", "s3:ReplicateTags"]


# The stores each Region replicates, with their replica buckets (in the other Region) and alarms.
REPLICATED_STORES = (
    ("LakeBucket", "LakeReplicaBucket", "LakeReplicationFailedAlarm", "LakeReplicationLatencyAlarm"),
    (
        "DlqStoreBucket",
        "DlqStoreReplicaBucket",
        "DlqStoreReplicationFailedAlarm",
        "DlqStoreReplicationLatencyAlarm",
    ),
)


def test_active_active_secondary_replicates_its_stores_into_the_primarys_replica_buckets():
    # GIVEN both Regions processing with BucketReplication, as make deploy leaves them
    primary, secondary = render(AA_PRIMARY), render(AA_SECONDARY)
    assert primary.refused is None and secondary.refused is None

    for source, replica, failed_alarm, latency_alarm in REPLICATED_STORES:
        # WHEN the secondary's source bucket's replication rule is read
        configuration = secondary.resources[source]["Properties"]["ReplicationConfiguration"]
        (rule,) = configuration["Rules"]
        replica_name = primary.resources[replica]["Properties"]["BucketName"]

        # THEN every object goes to the bucket the primary creates, re-encrypted with the primary's key
        assert configuration["Role"] == getatt_token("BucketReplicationRole", "Arn")
        assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{replica_name}"
        assert rule["Destination"]["EncryptionConfiguration"] == {"ReplicaKmsKeyID": PRIMARY_KEY_ARN}
        assert rule["Destination"]["Metrics"]["Status"] == "Enabled"
        assert rule["DeleteMarkerReplication"] == {"Status": "Disabled"}
        # AND the primary's replica bucket is protected as the secondary's are: versioned, its own
        # Region's personal-data key, TLS only, no public access, access-logged here
        properties = primary.resources[replica]["Properties"]
        assert properties == {
            **secondary.resources[replica]["Properties"],
            "BucketName": replica_name,
            "LoggingConfiguration": properties["LoggingConfiguration"],
        }
        assert properties["LoggingConfiguration"]["DestinationBucketName"] == ref_token("AccessLogsBucket")
        (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert encryption["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == getatt_token(
            "PersonalDataKey", "Arn"
        )
        log_policy = primary.resources["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]
        delivery = next(s for s in log_policy["Statement"] if s["Effect"] == "Allow")
        assert getatt_token(replica, "Arn") in delivery["Condition"]["ArnLike"]["aws:SourceArn"]
        policy = primary.resources[f"{replica}Policy"]["Properties"]["PolicyDocument"]
        assert policy == secondary.resources[f"{replica}Policy"]["Properties"]["PolicyDocument"]
        # AND the secondary's alarms watch exactly that rule's metrics
        for alarm in (failed_alarm, latency_alarm):
            dimensions = {
                d["Name"]: d["Value"] for d in secondary.resources[alarm]["Properties"]["Dimensions"]
            }
            assert dimensions == {
                "SourceBucket": ref_token(source),
                "DestinationBucket": replica_name,
                "RuleId": rule["Id"],
            }, alarm

    # AND no two replica buckets of the pair share a name (bucket names are global)
    names = [
        r.resources[replica]["Properties"]["BucketName"]
        for r in (primary, secondary)
        for _, replica, *_ in REPLICATED_STORES
    ]
    assert len(set(names)) == 4 and all(len(name) <= 63 for name in names)


def test_active_active_secondary_replication_role_least_privilege():
    # GIVEN the active-active secondary's replication role and policy
    secondary = render(AA_SECONDARY)
    statements = {
        s["Sid"]: s
        for s in secondary.resources["BucketReplicationPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    }

    # WHEN / THEN it reads only its own two source buckets' versions
    assert statements["ReadTheSourceBuckets"]["Resource"] == [
        getatt_token("LakeBucket", "Arn"),
        getatt_token("DlqStoreBucket", "Arn"),
    ]
    assert statements["ReadTheSourceVersions"]["Resource"] == [
        f"{getatt_token('LakeBucket', 'Arn')}/*",
        f"{getatt_token('DlqStoreBucket', 'Arn')}/*",
    ]
    # writes only the primary's two replica buckets
    assert statements["WriteTheReplicas"]["Resource"] == [
        f"arn:aws:s3:::signals-prod-{kind}-123456789012-{PRIMARY}/*" for kind in ("lake", "dlq")
    ]
    # decrypts only with its own key and encrypts only with the primary's, each through S3 of its Region
    assert statements["DecryptSourcesWithThisRegionsKey"]["Resource"] == getatt_token(
        "PersonalDataKey", "Arn"
    )
    assert statements["DecryptSourcesWithThisRegionsKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{SECONDARY}.amazonaws.com"}
    }
    assert statements["EncryptReplicasWithTheOtherRegionsKey"]["Resource"] == PRIMARY_KEY_ARN
    assert statements["EncryptReplicasWithTheOtherRegionsKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": f"s3.{PRIMARY}.amazonaws.com"}
    }
    assert set(statements) == {
        "ReadTheSourceBuckets",
        "ReadTheSourceVersions",
        "WriteTheReplicas",
        "DecryptSourcesWithThisRegionsKey",
        "EncryptReplicasWithTheOtherRegionsKey",
    }


def test_active_active_secondary_replicates_only_once_it_has_the_primarys_key():
    # GIVEN the active-active secondary's first deploy, before the primary's stack (and its replica
    # buckets and key output) exists: make deploy passes no key yet
    first = render(Role(SECONDARY, {**AA_SECONDARY.overrides, "ReplicaKmsKeyArn": ""}))

    # WHEN / THEN it deploys, processing, without pointing replication at buckets that do not exist
    assert first.refused is None
    assert "ReplicationConfiguration" not in first.resources["LakeBucket"]["Properties"]
    assert not BUCKET_REPLICATION_SOURCE & set(first.resources)


# -------------------- latency routing


def test_latency_routing_nothing_without_a_domain_and_a_health_checked_record_with_one(prod_primary):
    # GIVEN the production role without a domain, and with one
    with_domain = {
        "ApiDomainName": "signals.example.com",
        "ApiHostedZoneId": "Z0123456789ABC",
        "ApiCertificateArn": f"arn:aws:acm:{PRIMARY}:123456789012:certificate/abc-123",
    }
    rendering = render(Role(PRIMARY, {**PROD_PRIMARY.overrides, **with_domain}))

    # WHEN / THEN nothing of it exists without the domain; with it, a latency record for this Region
    # whose health check follows the API's 5xx alarm
    assert not LATENCY_ROUTING & set(prod_primary.resources)
    assert set(rendering.resources) >= LATENCY_ROUTING
    record = rendering.resources["ApiLatencyRecord"]["Properties"]
    assert (record["Region"], record["SetIdentifier"], record["Name"]) == (
        PRIMARY,
        PRIMARY,
        "signals.example.com",
    )
    assert record["HealthCheckId"] == ref_token("ApiHealthCheck")
    assert record["AliasTarget"]["DNSName"] == getatt_token("ApiDomain", "RegionalDomainName")
    check = rendering.resources["ApiHealthCheck"]["Properties"]["HealthCheckConfig"]
    assert check["AlarmIdentifier"] == {"Name": ref_token("IngestApi5xxAlarm"), "Region": PRIMARY}


# -------------------- each rendering lint-clean

# Findings that only exist because the copy fixes every condition to a constant and drops what the
# role does not create: constant conditions, unreachable Fn::If branches, conditions and mappings
# left unused, and empty optional parameters seen through an unreachable branch.
RENDERING_ARTEFACTS = {"W8001", "W8003", "W1028", "W7001"}


def _taken_branches(node: Any, conditions: dict[str, bool], dropped: set[str], *, text: bool) -> Any:
    """``node`` with the branch of every Fn::If the role never takes emptied where it names resources
    the copy ``dropped`` (the dashboard's widgets of another role, a replica bucket's access logging
    where there is no log bucket), which cfn-lint would flag: empty text in the dashboard's ``text``,
    AWS::NoValue elsewhere. The Fn::If stays, so what the taken branch names is still guarded by its
    condition."""
    if isinstance(node, list):
        return [_taken_branches(item, conditions, dropped, text=text) for item in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            taken, untaken = (when_true, when_false) if conditions[condition] else (when_false, when_true)
            taken = _taken_branches(taken, conditions, dropped, text=text)
            if text or set(references(untaken)) & dropped:
                untaken = "" if text else {"Ref": "AWS::NoValue"}
            branches = [taken, untaken] if conditions[condition] else [untaken, taken]
            return {"Fn::If": [condition, *branches]}
        return {key: _taken_branches(value, conditions, dropped, text=text) for key, value in node.items()}
    return node


@pytest.mark.parametrize(
    "role",
    [PROD_PRIMARY, PROD_SECONDARY, AA_PRIMARY, AA_SECONDARY],
    ids=["primary", "secondary", "active-active-primary", "active-active-secondary"],
)
def test_rendering_per_role_lint_clean(role):
    # GIVEN the template as this role deploys it: conditions fixed, absent resources and outputs removed
    rendering = render(role)
    cfn = copy.deepcopy(template())
    cfn["Conditions"] = {
        name: {"Fn::Equals": ["true", "true" if value else "false"]}
        for name, value in rendering.conditions.items()
    }
    dropped = set(cfn["Resources"]) - set(rendering.resources)
    cfn["Resources"] = {
        name: _taken_branches(
            cfn["Resources"][name], rendering.conditions, dropped, text=name == "FlowDashboard"
        )
        for name in rendering.resources
    }
    cfn["Outputs"] = {
        name: _taken_branches(cfn["Outputs"][name], rendering.conditions, dropped, text=False)
        for name in rendering.outputs
    }
    for name, value in role.overrides.items():
        spec = cfn["Parameters"][name]
        spec["Default"] = int(value) if spec.get("Type") == "Number" else value
    empty = {name for name, spec in cfn["Parameters"].items() if spec.get("Default") == ""}

    # WHEN cfn-lint (what `sam validate --lint` runs) checks it for the role's Region
    findings = [
        str(match)
        for match in lint(json.dumps(cfn), regions=[role.region])
        if match.rule.id not in RENDERING_ARTEFACTS
        and not (match.rule.id == "W1030" and re.search(r"'Ref': '(\w+)'", match.message)[1] in empty)  # type: ignore[index]
    ]

    # THEN nothing is found
    assert findings == []


# -------------------- recovery times: derived from the settings, quoted by the runbook


def test_recovery_times_follow_the_health_alarm_settings_and_match_aws_for_its_prescription():
    # GIVEN the template's health alarm and heartbeat, WHEN the recovery times are derived
    objectives = from_template(template())

    # THEN AWS's published figures for its prescribed alarm (5 x 60 s: 360 s, at most 420 s) come out,
    # failback takes one good period plus routing, and the heartbeat beats once per alarm period
    assert objectives.failover_seconds == (360, 420)
    assert objectives.failback_seconds == (120, 180)
    assert (
        objectives.heartbeat_seconds == template()["Resources"]["IngressHealthAlarm"]["Properties"]["Period"]
    )
    # AND a slower alarm would move them (the numbers are computed, not copied)
    assert failover_seconds(period=60, datapoints_to_alarm=3) == (240, 300)


def test_runbook_quotes_the_recovery_times_the_template_implies():
    # GIVEN the runbook and the derived times
    runbook = RUNBOOK.read_text(encoding="utf-8")
    objectives = from_template(template())

    # WHEN / THEN its RTO table states exactly those
    (fo_low, fo_high), (fb_low, fb_high) = objectives.failover_seconds, objectives.failback_seconds
    assert f"| failover: new events go to the secondary's bus | **{fo_low}-{fo_high} s** |" in runbook
    assert f"| failback: new events go to the primary again | **{fb_low}-{fb_high} s** |" in runbook
    silent_low, silent_high = objectives.silent_failover_seconds
    assert f"no invocations, no heartbeats) | **{silent_low}-{silent_high} s** |" in runbook
    assert f"within **{RTC_MINUTES} min**" in runbook
