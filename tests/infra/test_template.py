"""Assertions on template.yaml, samconfig.toml and the build inputs, read without AWS or Docker.

The template is parsed with cfn-lint's YAML decoder (it understands !Ref, !Sub, !GetAtt, !If) and, for
what SAM generates (stage, role), translated offline with the SAM translator that `sam` itself uses.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from dlq_hydrate.settings import CONSUMER_NAME, REPLAYED_PREFIX, HydrateSettings
from s3_writer.ledger import ATTEMPT_PREFIX, RECORD_PREFIX
from tests.infra.rendering import EDGE_RESOURCES
from validator import api

ROOT = Path(__file__).parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
LAYER_REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements" / "dev.txt"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"
FUNCTIONS_MAKEFILE = ROOT / "functions" / "Makefile"
ENRICHMENT_REQUIREMENTS = ROOT / "functions" / "enrichment" / "requirements.txt"
SCHEMAS_DIR = ROOT / "layers" / "shared" / "python" / "signal_platform" / "schemas"
EVENT_SCHEMAS_DIR = SCHEMAS_DIR / "events"
ENRICHED_BATCH_SCHEMA = SCHEMAS_DIR / "contracts" / "enriched_batch" / "1-0-0.json"
ENV_VARS_FILE = ROOT / "events" / "env.json"
RUNBOOK = ROOT / "docs" / "runbook.md"
DLQ_HYDRATE_DIR = ROOT / "functions" / "dlq_hydrate" / "dlq_hydrate"

VALIDATOR_ENV_VARS = {
    "INGRESS_BUS_NAME",
    "GLOBAL_ENDPOINT_ID",
    "SOURCES_TABLE_NAME",
    "SIGNING_KEY_SECRET_ARN",
    "MAX_SIGNALS_PER_ENTRY",
    "MAX_EVENT_BYTES",
    "MAX_FUTURE_SKEW_SECONDS",
    "MAX_EVENT_AGE_SECONDS",
    "STORE_RAW_IP",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_BODY_BYTES",
}
ENRICHMENT_ENV_VARS = {
    "DATA_PLATFORM_BUS_NAME",
    "IDEMPOTENCY_TABLE_NAME",
    "IDEMPOTENCY_EXPIRY_SECONDS",
    "QUARANTINE_BUCKET_NAME",
    "SIGNING_KEY_SECRET_ARN",
    "MAX_SIGNALS_PER_ENTRY",
    "STORE_RAW_IP",
}
S3_WRITER_ENV_VARS = {"LAKE_BUCKET_NAME", "LAKE_PREFIX", "BAD_PREFIX", "LAKE_LEDGER_TABLE_NAME"}
DLQ_HYDRATE_ENV_VARS = {
    "DLQ_STORE_BUCKET_NAME",
    "DLQ_PREFIX",
    "UNRECOVERABLE_PREFIX",
    "UNPARSED_PREFIX",
    "CONSUMER_BY_QUEUE",
}
# Every DLQ of the pipeline and the consumer its records belong to (the first level under dlq/ and
# the replay tool's --consumer). The hydrate's own failure DLQ is the one DLQ nothing consumes.
DLQ_CONSUMERS = {
    "LakePipeDlq": "lake",
    "PartnerPipeDlq": "partner",
    "EnrichmentTargetDlq": "enrichment",
    "EnrichmentFailureDlq": "enrichment-failure",
    "StreamTargetDlq": "stream",
    "BufferDlq": "buffer",
}
# DLQs that exist beyond the hydrate's Regions (the buffer is edge): consumed where both exist.
HYDRATED_WHERE_PROCESSING_RUNS = {"BufferDlq": "HydratesBufferDlq"}
HYDRATE_FAILURE_DLQ = "DlqHydrateFailureDlq"
# AWS: an SQS event source's queue visibility timeout at least 6 x the function timeout.
SQS_VISIBILITY_PER_FUNCTION_TIMEOUT = 6
# The replay tool looks back up to 400 days: nothing waiting for a replay may expire before.
MIN_DLQ_STORE_RETENTION_DAYS = 400
POWERTOOLS_ENV_VARS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
PLATFORM_KEY_ARN = {"Fn::GetAtt": ["PlatformKey", "Arn"]}
PERSONAL_DATA_KEY_ARN = {"Fn::GetAtt": ["PersonalDataKey", "Arn"]}
# Stores that keep personal data for months: the personal-data key (docs/data-map.md#keys).
PERSONAL_DATA_BUCKETS = {
    "LakeBucket",
    "DlqStoreBucket",
    "QuarantineBucket",
    "LakeReplicaBucket",
    "DlqStoreReplicaBucket",
}
# Tables read by NAME (a global table's replica in the secondary has the primary's table name).
TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${Name}"
SOURCES_TABLE_NAME = {
    "Fn::If": [
        "HasSourcesTableName",
        {"Ref": "SourcesGlobalTableName"},
        {"Fn::Sub": "customer-signals-${EnvironmentName}-sources"},
    ]
}
IDEMPOTENCY_TABLE_NAME = {
    "Fn::If": [
        "SharesIdempotencyTable",
        {"Fn::Sub": "customer-signals-${EnvironmentName}-idempotency"},
        {"Ref": "IdempotencyTable"},
    ]
}
# ONE signing key for both Regions (docs/adr/0003): created by the primary's stack, replicated to the
# secondary, read by NAME everywhere, so every Region's functions carry the same string.
SIGNING_KEY_SECRET_NAME = {"Fn::Sub": "customer-signals/${EnvironmentName}/signing-key"}
SIGNING_KEY_SECRET_IAM_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:"
    "customer-signals/${EnvironmentName}/signing-key-??????"
}
SIGNING_KEY_READERS = {"ValidatorFunction", "EnrichmentFunction", "BatcherFunction"}
# Created by the primary Region's stack only (the secondary gets a replica from Secrets Manager).
PRIMARY_ONLY_RESOURCES = {"SigningKeySecret"}
# Only in the secondary's edge-only stack; pinned by tests/infra/test_archive_replay_forward.py.
REPLAY_FORWARD_RESOURCES = {
    "ArchiveReplayForwardRule",
    "ArchiveReplayForwardRole",
    "ArchiveReplayForwardFailedAlarm",
}
# The front-door buffer (docs/adr/0009): part of the edge, in every Region whose stack enables it.
FRONT_DOOR_BUFFER_RESOURCES = {
    "BufferStream",
    "BufferDlq",
    "BufferDlqPolicy",
    "ValidatorBufferPolicy",
    "BatcherLogGroup",
    "BatcherFunction",
    "BatcherFromBufferStream",
    "SegmentCutsTable",
    "BatcherErrorsAlarm",
    "BatcherIteratorAgeAlarm",
    "BatcherHeldRecordsAlarm",
    "BufferDlqMessagesSentAlarm",
    "BufferDlqAlarm",
}
PARTNER_RESOURCES = {
    "PartnerConnection",
    "PartnerApiDestination",
    "PartnerPipeDlq",
    "PartnerPipeDlqPolicy",
    "PartnerPipeLogGroup",
    "PartnerPipeRole",
    "PartnerPipe",
    "PartnerPipeDlqAlarm",
    "PartnerPipeFailuresAlarm",
    "PartnerPipeDlqMessagesSentAlarm",
    "PartnerPipeDlqAgeAlarm",
    "DlqHydrateFromPartnerPipeDlq",
}
# The two-Region resources (docs/adr/0005) and the condition each one exists under; tests/infra/
# test_regions.py pins which of them every Region role renders.
TWO_REGION_RESOURCES = {
    "SourcesGlobalTable": "OwnsSourcesTable",
    "IngressBusArchive": "HasIngressArchive",
    **dict.fromkeys(
        [
            "HeartbeatQueue",
            "HeartbeatQueuePolicy",
            "HeartbeatRule",
            "HeartbeatScheduleRole",
            "HeartbeatSchedule",
            "HeartbeatMissingAlarm",
            "IngressHealthAlarm",
            "IngressHealthCheck",
        ],
        "IsMultiRegionPrimary",
    ),
    **dict.fromkeys(
        ["EndpointReplicationRole", "EndpointReplicationPassRole", "GlobalEndpoint"], "CreatesGlobalEndpoint"
    ),
    **dict.fromkeys(["ApiHealthCheck", "ApiLatencyRecord"], "HasApiDomain"),
    **dict.fromkeys(["ApiDomain", "ApiDomainMapping"], "ApiDomainOnApiGateway"),
    **dict.fromkeys(
        [
            "LoadBalancerSecurityGroup",
            "LoadBalancerLogsBucket",
            "LoadBalancerLogsBucketPolicy",
            "LoadBalancer",
            "LoadBalancerHttpsListener",
            "ValidatorTargetGroup",
            "ValidatorLoadBalancerPermission",
            "LoadBalancer5xxAlarm",
        ],
        "HasLoadBalancer",
    ),
    "LoadBalancerWebAclAssociation": "HasLoadBalancerWebAcl",
    **dict.fromkeys(
        [
            "LakeReplicaBucket",
            "LakeReplicaBucketPolicy",
            "DlqStoreReplicaBucket",
            "DlqStoreReplicaBucketPolicy",
        ],
        "ReceivesBucketReplicas",
    ),
    **dict.fromkeys(
        [
            "BucketReplicationRole",
            "BucketReplicationPolicy",
            "LakeReplicationFailedAlarm",
            "DlqStoreReplicationFailedAlarm",
            "LakeReplicationLatencyAlarm",
            "DlqStoreReplicationLatencyAlarm",
        ],
        "ReplicatesBuckets",
    ),
    "IdempotencyTable": "HasOwnIdempotencyTable",
    "IdempotencyGlobalTable": "OwnsSharedIdempotencyTable",
}
# Rules whose targets carry no data: no retry beyond a minute, no DLQ, no DLQ-write alarm.
DATALESS_RULES = {"HeartbeatRule"}
# Queues that are not dead-letter queues (no 14-day retention, no depth alarm).
NON_DLQ_QUEUES = {"HeartbeatQueue"}
# Alarm conditions that imply the condition of what they watch (a subset of where it exists).
IMPLIED_CONDITIONS = {("ReplicatesBuckets", "RunsProcessing")}
# Identity-policy actions that AWS authorizes only on Resource "*" (no resource-level permission).
WILDCARD_RESOURCE_ALLOWED = {
    "kinesis:ListStreams": "lists the account's streams: no resource type in the authorization reference",
    # Not inline: they come with the AWSXrayWriteOnlyAccess managed policy SAM attaches for Tracing.
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions",
}
PIPE_SOURCE_PARAMETERS = {
    "StartingPosition",
    "BatchSize",
    "MaximumBatchingWindowInSeconds",
    "MaximumRetryAttempts",
    "MaximumRecordAgeInSeconds",
    "OnPartialBatchItemFailure",
    "ParallelizationFactor",
    "DeadLetterConfig",
}
# What the DLQ-hydrate function needs between "a batch went to a Pipe DLQ" and "its records expire".
MIN_RETENTION_MARGIN_SECONDS = 24 * 3600
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
MAX_ENTRY_BYTES = 64 * 1024  # one EventBridge billing chunk: the enrichment's batch size target
GLUE_PARTITION_COLUMNS = {"event_type", "dt", "hour"}
EXPECTED_OUTPUTS = {
    "ApiUrl",
    "IngressEventBusName",
    "IngressBusArn",
    "SourcesTableName",
    "SigningKeySecretName",
    "SharedLayerArn",
    "AlarmTopicArn",
}
# Outputs that exist only where the pipeline runs (Condition RunsProcessing / HasPartner).
EXPECTED_PROCESSING_OUTPUTS = {
    "DataPlatformEventBusName": "RunsProcessing",
    "DataPlatformEventBusArn": "RunsProcessing",
    "EnrichmentFunctionName": "RunsProcessing",
    "S3WriterFunctionName": "RunsProcessing",
    "IdempotencyTableName": "RunsProcessing",
    "LakeLedgerTableName": "RunsProcessing",
    "SignalStreamName": "RunsProcessing",
    "SignalStreamArn": "RunsProcessing",
    "LakeBucketName": "RunsProcessing",
    "QuarantineBucketName": "RunsProcessing",
    "AccessLogsBucketName": "RunsProcessing",
    "LakeGlueDatabaseName": "RunsProcessing",
    "LakeEventsTableName": "RunsProcessing",
    "LakePipeName": "RunsProcessing",
    "EnrichmentTargetDlqUrl": "RunsProcessing",
    "EnrichmentTargetDlqArn": "RunsProcessing",
    "EnrichmentFailureDlqUrl": "RunsProcessing",
    "EnrichmentFailureDlqArn": "RunsProcessing",
    "StreamTargetDlqUrl": "RunsProcessing",
    "StreamTargetDlqArn": "RunsProcessing",
    "LakePipeDlqUrl": "RunsProcessing",
    "LakePipeDlqArn": "RunsProcessing",
    "PartnerPipeName": "HasPartner",
    "PartnerApiDestinationArn": "HasPartner",
    "PartnerConnectionName": "HasPartner",
    "PartnerPipeDlqUrl": "HasPartner",
    "PartnerPipeDlqArn": "HasPartner",
    "DlqStoreBucketName": "RunsProcessing",
    "DlqHydrateFunctionName": "RunsProcessing",
    "DlqHydrateFailureDlqUrl": "RunsProcessing",
    "DlqHydrateFailureDlqArn": "RunsProcessing",
}
# Outputs of resources only the primary's stack creates.
EXPECTED_PRIMARY_OUTPUTS = {"SigningKeySecretArn": "IsPrimaryRegion"}
# Keys of env.json the template does not set (sam local ignores them; kept for local tooling).
ENV_JSON_EXTRA_VARS = {"AWS_ENDPOINT_URL"}
SECRET_LIKE = re.compile(r"secret|password|token|apikey|credential", re.IGNORECASE)
CONFIG_ENV_REGIONS = {"default": "us-west-2", "primary": "us-west-2", "secondary": "us-east-1"}


# -------------------- helpers


def _plain(node: Any) -> Any:
    """cfn-lint's nodes subclass dict/str/list; a JSON round trip gives plain, comparable values."""
    return json.loads(json.dumps(node))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _plain(cfn_yaml.load(str(TEMPLATE_PATH)))


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with SAMCONFIG_PATH.open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation SAM would deploy: code locations replaced by S3 URIs, as `sam package` does."""
    sam_template = copy.deepcopy(template)
    for resource in sam_template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key]}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-west-2"))
    return translator.translate(sam_template, parameter_values={}, get_managed_policy_map=dict)


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: res for name, res in resources.items() if res["Type"] == resource_type}


def _dead_lettered_rules(resources: dict[str, Any]) -> dict[str, Any]:
    """Every rule whose targets carry data and keep a DLQ: not the heartbeat rule (its targets carry
    none) nor ArchiveReplayForwardRule (what it fails to deliver stays in the archive)."""
    rules = _of_type(resources, "AWS::Events::Rule")
    excluded = DATALESS_RULES | REPLAY_FORWARD_RESOURCES
    return {name: rule for name, rule in rules.items() if name not in excluded}


def _effective_function(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A function's properties with Globals.Function applied (maps merge, the resource wins)."""
    merged: dict[str, Any] = copy.deepcopy(template.get("Globals", {}).get("Function", {}))
    for key, value in template["Resources"][name]["Properties"].items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            inner = {**merged[key], **value}
            if key == "Environment":
                inner["Variables"] = {**merged[key].get("Variables", {}), **value.get("Variables", {})}
            merged[key] = inner
        else:
            merged[key] = value
    return merged


def _statements(function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A function's Allow statements (its Denies only narrow them: tests/infra/test_least_privilege.py)."""
    for policy in function.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            yield from (s for s in policy["Statement"] if s["Effect"] == "Allow")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statement_for(function: dict[str, Any], action: str) -> dict[str, Any]:
    matches = [s for s in _statements(function) if action in _as_list(s["Action"])]
    assert len(matches) == 1, f"expected exactly one statement granting {action}, found {len(matches)}"
    return matches[0]


def _makefile_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", makefile.read_text(encoding="utf-8"), flags=re.MULTILINE))


def _module_level_names(module_file: Path) -> set[str]:
    """Names a module defines at top level (def, assignment, from-import), read without importing it."""
    names: set[str] = set()
    for node in ast.parse(module_file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and "==" in line:
            name, version = line.split("==", 1)
            pins[_canonical(name.split("[", 1)[0])] = version.strip()
    return pins


def _branches(value: Any) -> list[Any]:
    """Both outcomes of an Fn::If (AWS::NoValue dropped); any other value as a one-item list."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, when_true, when_false = value["Fn::If"]
        return [v for branch in (when_true, when_false) for v in _branches(branch)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def _flat(value: Any) -> list[Any]:
    """A policy's Action/Resource value as a flat list, Fn::If branches expanded."""
    return [item for entry in _as_list(value) for item in _branches(entry)]


def _identity_statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, statement) for every identity-policy statement: function Policies and IAM roles/policies."""
    for name, resource in resources.items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            for statement in _statements(properties):
                yield name, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield name, statement
        elif resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            for statement in properties["PolicyDocument"]["Statement"]:
                yield name, statement


def _role_statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [statement for owner, statement in _identity_statements(resources) if owner == role]


def _grants(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """action -> resources it is granted on, over a list of Allow statements."""
    granted: dict[str, list[Any]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        for action in _flat(statement["Action"]):
            granted.setdefault(action, []).extend(_flat(statement["Resource"]))
    return granted


def _getatt_target(value: Any) -> str:
    """The logical id behind a {"Fn::GetAtt": [id, attr]} or {"Ref": id}."""
    if "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return str(value["Ref"])


def _references(node: Any) -> set[str]:
    """Logical ids a value refers to: Ref, Fn::GetAtt and ${Id} / ${Id.Attr} inside Fn::Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(str(value[0]) if isinstance(value, list) else str(value).split(".", 1)[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found.update(name.split(".", 1)[0] for name in re.findall(r"\$\{([A-Za-z0-9:.]+)\}", text))
                if isinstance(value, list):
                    found.update(_references(value[1]))
            else:
                found.update(_references(value))
    elif isinstance(node, list):
        for item in node:
            found.update(_references(item))
    return found


def _substitute(value: dict[str, str], parameters: dict[str, str]) -> str:
    """A one-argument Fn::Sub resolved with parameter values; fails on anything else it refers to."""

    def lookup(match: re.Match[str]) -> str:
        assert match.group(1) in parameters, f"{value}: ${{{match.group(1)}}} is not a given parameter"
        return parameters[match.group(1)]

    return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lookup, value["Fn::Sub"])


def _overrides(samconfig: dict[str, Any], config_env: str) -> dict[str, str]:
    items = _as_list(samconfig[config_env]["deploy"]["parameters"]["parameter_overrides"])
    return dict(item.split("=", 1) for item in items)


def _parameter_bounds(template: dict[str, Any], value: Any) -> tuple[int, int, int]:
    """(lowest, default, highest) a numeric property can take: a literal, or a Ref to a parameter."""
    if isinstance(value, int):
        return value, value, value
    parameter = template["Parameters"][value["Ref"]]
    return int(parameter["MinValue"]), int(parameter["Default"]), int(parameter["MaxValue"])


def _bucket_policies(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        _getatt_target(policy["Properties"]["Bucket"]): policy["Properties"]["PolicyDocument"]
        for policy in _of_type(resources, "AWS::S3::BucketPolicy").values()
    }


def _queue_policies(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    documents = {}
    for policy in _of_type(resources, "AWS::SQS::QueuePolicy").values():
        for queue in policy["Properties"]["Queues"]:
            documents[_getatt_target(queue)] = policy["Properties"]["PolicyDocument"]
    return documents


def _alarm_metrics(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm watches: its single metric, or each MetricStat of its metric math."""
    if "MetricName" in properties:
        return [
            {
                "Namespace": properties["Namespace"],
                "MetricName": properties["MetricName"],
                "Dimensions": properties.get("Dimensions", []),
            }
        ]
    return [
        {"Dimensions": [], **query["MetricStat"]["Metric"]}
        for query in properties["Metrics"]
        if "MetricStat" in query
    ]


def _alarms_on(resources: dict[str, Any], metric: str, dimension_value: Any) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in _of_type(resources, "AWS::CloudWatch::Alarm").values()
        if any(
            watched["MetricName"] == metric
            and any(d["Value"] == dimension_value for d in watched["Dimensions"])
            for watched in _alarm_metrics(alarm["Properties"])
        )
    ]


def _glue_type_fields(glue_type: str) -> set[str] | None:
    """Field names of a flat Glue struct<a:string,b:string> type; None for a scalar type."""
    match = re.fullmatch(r"struct<(.*)>", glue_type)
    if not match:
        return None
    return {field.split(":", 1)[0] for field in match.group(1).split(",")}


def _resolve_local_ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow "#/..." $refs inside one schema document."""
    while "$ref" in node:
        reference = node["$ref"]
        assert reference.startswith("#/"), f"only local $refs are followed here, got {reference}"
        target: Any = schema
        for part in reference[2:].split("/"):
            target = target[part]
        node = target
    return node


def _enriched_signal_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The enriched batch schema and, inside it, the schema of ONE signal (the `signals` items)."""
    assert ENRICHED_BATCH_SCHEMA.is_file(), (
        f"{ENRICHED_BATCH_SCHEMA.relative_to(ROOT)} does not exist yet: the Glue table's columns are "
        "checked against it"
    )
    schema = json.loads(ENRICHED_BATCH_SCHEMA.read_text(encoding="utf-8"))
    signals = _resolve_local_ref(schema, schema["properties"]["signals"])
    return schema, _resolve_local_ref(schema, signals["items"])


# -------------------- globals


def test_globals_function_defaults_python313_arm64_traced(template):
    # GIVEN the template (SAM transform)
    # WHEN reading the Globals every function inherits
    globals_function = template["Globals"]["Function"]

    # THEN functions run python3.13 on arm64 with active tracing and the platform key on their env
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert globals_function["Runtime"] == "python3.13"
    assert globals_function["Architectures"] == ["arm64"]
    assert globals_function["Tracing"] == "Active"
    assert 128 <= globals_function["MemorySize"] <= 1024
    assert globals_function["Timeout"] <= 29  # below the API Gateway integration limit
    assert globals_function["KmsKeyArn"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}


def test_globals_powertools_env_one_metrics_namespace(template):
    # GIVEN the template's global environment
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    # WHEN / THEN the Powertools variables are set once for all functions, with one namespace
    assert variables.keys() >= POWERTOOLS_ENV_VARS
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "CustomerSignals"
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


# -------------------- functions


def test_functions_every_function_uses_shared_layer(template, resources):
    # GIVEN every serverless function
    functions = _of_type(resources, "AWS::Serverless::Function")
    assert functions

    for name in functions:
        # WHEN its layers are resolved with the Globals applied
        layers = _effective_function(template, name)["Layers"]

        # THEN the shared layer is among them
        assert {"Ref": "SharedLayer"} in layers, name


def test_functions_handler_module_exists_as_file_in_code_uri(resources):
    # GIVEN every serverless function with its CodeUri and Handler
    functions = _of_type(resources, "AWS::Serverless::Function")
    top_level_packages = []

    for name, function in functions.items():
        properties = function["Properties"]
        module, _, attribute = properties["Handler"].rpartition(".")

        # WHEN the handler's module is located the way Lambda imports it (/var/task = CodeUri)
        module_file = ROOT / properties["CodeUri"] / Path(*module.split(".")).with_suffix(".py")

        # THEN the file exists and defines the handler attribute at module level
        assert module_file.is_file(), f"{name}: {module_file.relative_to(ROOT)} does not exist"
        assert attribute in _module_level_names(module_file), f"{name}: {module} defines no {attribute}"
        top_level_packages.append(module.split(".")[0])

    # AND no two functions share a top-level package name (they are imported in one pytest process)
    assert len(top_level_packages) == len(set(top_level_packages))


def test_functions_makefile_build_has_matching_make_target(resources):
    # GIVEN every function and layer built with BuildMethod: makefile
    built = {
        name: res
        for name, res in resources.items()
        if res.get("Metadata", {}).get("BuildMethod") == "makefile"
    }
    assert {
        "SharedLayer",
        "ValidatorFunction",
        "EnrichmentFunction",
        "S3WriterFunction",
        "DlqHydrateFunction",
    } <= built.keys()

    for name, resource in built.items():
        properties = resource["Properties"]
        code_dir = properties.get("CodeUri") or properties["ContentUri"]

        # WHEN SAM looks for the Makefile (ContextPath, else the code folder)
        makefile = ROOT / resource["Metadata"].get("ContextPath", code_dir) / "Makefile"

        # THEN it exists and has the build-<LogicalId> target SAM calls
        assert makefile.is_file(), f"{name}: {makefile.relative_to(ROOT)} missing"
        assert f"build-{name}" in _makefile_targets(makefile), name


def test_validator_environment_all_setting_names_present(template):
    # GIVEN the validator with the Globals applied
    variables = _effective_function(template, "ValidatorFunction")["Environment"]["Variables"]

    # WHEN / THEN every variable the code reads is set, the resource names by reference
    assert variables.keys() >= VALIDATOR_ENV_VARS | POWERTOOLS_ENV_VARS
    assert variables["INGRESS_BUS_NAME"] == {"Ref": "IngressBusName"}
    assert variables["GLOBAL_ENDPOINT_ID"] == {"Ref": "GlobalEndpointId"}
    assert variables["SOURCES_TABLE_NAME"] == SOURCES_TABLE_NAME
    assert variables["SIGNING_KEY_SECRET_ARN"] == SIGNING_KEY_SECRET_NAME
    assert variables["MAX_EVENTS_PER_REQUEST"] == "500"
    assert variables["MAX_BODY_BYTES"] == "1048576"


def test_validator_log_group_explicit_encrypted_with_retention(resources):
    # GIVEN the validator's logging configuration
    log_group_ref = resources["ValidatorFunction"]["Properties"]["LoggingConfig"]["LogGroup"]

    # WHEN the log group it names is looked up
    log_group = resources[log_group_ref["Ref"]]

    # THEN it is a template-owned log group with retention and the platform key
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}


def test_validator_no_async_dlq_pretended(resources):
    # GIVEN the validator behind a synchronous API (its reserved concurrency: tests/infra/test_abuse.py)
    properties = resources["ValidatorFunction"]["Properties"]

    # WHEN / THEN no async DLQ is pretended
    assert "DeadLetterQueue" not in properties


# -------------------- IAM


def test_validator_policies_no_wildcard_action_or_resource(template):
    # GIVEN every inline statement of the validator's policies
    statements = list(_statements(_effective_function(template, "ValidatorFunction")))
    assert statements

    for statement in statements:
        # WHEN its actions and resources are read
        actions = _as_list(statement["Action"])
        resource_list = _as_list(statement["Resource"])

        # THEN each action is one named API call and no resource is "*"
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions), statement["Sid"]
        assert "*" not in resource_list, statement["Sid"]
        assert not any(isinstance(r, str) and r.endswith("*") for r in resource_list), statement["Sid"]


@pytest.mark.parametrize(
    ("action", "expected_resource"),
    [
        ("dynamodb:GetItem", {"Fn::Sub": [TABLE_ARN, {"Name": SOURCES_TABLE_NAME}]}),
        ("secretsmanager:GetSecretValue", SIGNING_KEY_SECRET_IAM_ARN),
        ("kms:Decrypt", {"Fn::GetAtt": ["PlatformKey", "Arn"]}),
    ],
)
def test_validator_read_permissions_scoped_to_single_resource(template, action, expected_resource):
    # GIVEN the validator's policies
    function = _effective_function(template, "ValidatorFunction")

    # WHEN the statement granting the action is found
    statement = _statement_for(function, action)

    # THEN it grants that action alone on exactly the template's resource
    assert _as_list(statement["Action"]) == [action]
    assert _as_list(statement["Resource"]) == [expected_resource]


def test_validator_put_events_without_endpoint_only_ingress_bus(template):
    # GIVEN the validator's PutEvents statement
    statement = _statement_for(_effective_function(template, "ValidatorFunction"), "events:PutEvents")
    resource_list = _as_list(statement["Resource"])

    # WHEN the global endpoint is not configured (the !If branches give AWS::NoValue)
    unconditional = [r for r in resource_list if "Fn::If" not in r]
    conditional = [r["Fn::If"] for r in resource_list if "Fn::If" in r]

    # THEN only the ingress bus is allowed; with an endpoint, the same-named bus in both Regions
    assert _as_list(statement["Action"]) == ["events:PutEvents"]
    assert unconditional == [{"Fn::GetAtt": ["IngressBus", "Arn"]}]
    assert {c[0] for c in conditional} == {"HasGlobalEndpoint"}
    assert all(c[2] == {"Ref": "AWS::NoValue"} for c in conditional)
    endpoint_buses = sorted(c[1]["Fn::Sub"] for c in conditional)
    assert endpoint_buses == [
        "arn:${AWS::Partition}:events:${PrimaryRegion}:${AWS::AccountId}:event-bus/${IngressBusName}",
        "arn:${AWS::Partition}:events:${SecondaryRegion}:${AWS::AccountId}:event-bus/${IngressBusName}",
    ]


def test_condition_global_endpoint_driven_by_empty_parameter(template):
    # GIVEN the GlobalEndpointId parameter and the condition on it
    parameter = template["Parameters"]["GlobalEndpointId"]
    condition = template["Conditions"]["HasGlobalEndpoint"]

    # WHEN / THEN empty by default means "no endpoint": put straight to the bus
    assert parameter["Default"] == ""
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "GlobalEndpointId"}, ""]}]}


@pytest.mark.parametrize(
    "function", ["ValidatorFunction", "EnrichmentFunction", "S3WriterFunction", "DlqHydrateFunction"]
)
def test_translated_role_only_expected_managed_policies(translated, function):
    # GIVEN the role SAM generates for a function
    role = translated["Resources"][f"{function}Role"]["Properties"]

    # WHEN its managed policies are listed
    managed = sorted(arn.rsplit("/", 1)[-1] for arn in role["ManagedPolicyArns"])

    # THEN only basic logging and X-Ray writing come from AWS managed policies (X-Ray's actions have
    # no resource-level permissions: the one "*" the functions get, see WILDCARD_RESOURCE_ALLOWED)
    assert managed == ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"]


# -------------------- API


def test_ingest_api_post_events_route_payload_v2(resources):
    # GIVEN the validator's events
    events = resources["ValidatorFunction"]["Properties"]["Events"]

    # WHEN the HTTP API events are selected
    http_events = [e["Properties"] for e in events.values() if e["Type"] == "HttpApi"]

    # THEN exactly POST /v1/events and the Segment-compatible routes the function serves, on
    # IngestApi, payload format 2.0
    assert sorted(e["Path"] for e in http_events) == sorted([api.EVENTS_PATH, *api.SEGMENT_ROUTES])
    for event in http_events:
        assert event == {
            "ApiId": {"Ref": "IngestApi"},
            "Method": "POST",
            "Path": event["Path"],
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": http_events[0]["TimeoutInMillis"],
        }


def test_ingest_api_cors_allows_browsers_to_post_and_caches_preflights(resources):
    # GIVEN the HTTP API's CORS configuration
    cors = resources["IngestApi"]["Properties"]["CorsConfiguration"]
    # WHEN its rules are read
    # THEN browsers may POST with the write key headers, and preflights are cached for 2 hours
    assert cors["AllowMethods"] == ["POST"]
    assert {"authorization", "content-type", "x-api-key"} <= set(cors["AllowHeaders"])
    assert cors["MaxAge"] == 7200
    assert "AllowCredentials" not in cors  # with "*" origins; the validator checks each source's
    assert resources["IngestApi"]["Type"] == "AWS::Serverless::HttpApi"


def test_translated_stage_throttled_and_access_logged(translated):
    # GIVEN the stage SAM generates for the HTTP API
    stages = _of_type(translated["Resources"], "AWS::ApiGatewayV2::Stage")

    # WHEN its settings are read
    (stage,) = stages.values()
    properties = stage["Properties"]

    # THEN default route throttling comes from parameters and access logs go to the encrypted log group
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert properties["DefaultRouteSettings"]["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert properties["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["IngestApiAccessLogs", "Arn"]}
    access_log_format = json.loads(properties["AccessLogSettings"]["Format"])
    assert {"requestId", "status", "integrationError"} <= access_log_format.keys()


# -------------------- data + encryption


def test_sources_table_global_on_demand_pitr_cmk_encrypted_in_every_replica(resources):
    # GIVEN the sources global table
    table = resources["SourcesGlobalTable"]
    properties = table["Properties"]

    # WHEN / THEN it is keyed on source_id, on demand, kept with the stack, named the same everywhere
    assert table["Type"] == "AWS::DynamoDB::GlobalTable"
    assert properties["KeySchema"] == [{"AttributeName": "source_id", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "source_id", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TableName"] == SOURCES_TABLE_NAME
    assert properties["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    # AND each replica is recoverable and encrypted with its own Region's platform key
    own, other = properties["Replicas"]
    assert own["Region"] == {"Ref": "AWS::Region"}
    assert own["SSESpecification"] == {"KMSMasterKeyId": PLATFORM_KEY_ARN}
    condition, secondary, absent = other["Fn::If"]
    assert (condition, absent) == ("HasSecondaryRegion", {"Ref": "AWS::NoValue"})
    assert secondary["Region"] == {"Ref": "SecondaryRegion"}
    assert secondary["SSESpecification"] == {
        "KMSMasterKeyId": {"Fn::Sub": "alias/customer-signals-${EnvironmentName}"}
    }
    for replica in (own, secondary):
        assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_signing_secret_generated_64_chars_cmk_encrypted(resources):
    # GIVEN the signing key secret
    properties = resources["SigningKeySecret"]["Properties"]

    # WHEN / THEN it is generated (never in the template), 64 chars without punctuation, on the CMK
    assert "SecretString" not in properties
    assert properties["GenerateSecretString"]["PasswordLength"] == 64
    assert properties["GenerateSecretString"]["ExcludePunctuation"] is True
    assert properties["KmsKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}
    # AND it outlives the stack: archived batches replayed later are verified with it
    assert resources["SigningKeySecret"]["DeletionPolicy"] == "Retain"
    assert resources["SigningKeySecret"]["UpdateReplacePolicy"] == "Retain"


def test_signing_secret_created_only_in_primary_replicated_to_secondary(template, resources):
    # GIVEN the signing key secret, the Region conditions and the platform key's alias
    secret = resources["SigningKeySecret"]
    conditions = template["Conditions"]
    alias_name = resources["PlatformKeyAlias"]["Properties"]["AliasName"]

    # WHEN its condition, name and replicas are read
    replicas = secret["Properties"]["ReplicaRegions"]

    # THEN only the stack in the primary Region creates it (the secondary's stack would make a 2nd key)
    assert secret["Condition"] == "IsPrimaryRegion"
    assert conditions["IsPrimaryRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "PrimaryRegion"}]}
    # AND it has the fixed name every function reads, in both Regions
    assert secret["Properties"]["Name"] == SIGNING_KEY_SECRET_NAME
    # AND Secrets Manager replicates it to SecondaryRegion, encrypted there with that Region's platform
    # key (same alias name: same template, same EnvironmentName); a single-Region stack skips it
    assert replicas == {
        "Fn::If": [
            "HasSecondaryRegion",
            [{"Region": {"Ref": "SecondaryRegion"}, "KmsKeyId": alias_name}],
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert alias_name == {"Fn::Sub": "alias/customer-signals-${EnvironmentName}"}
    assert conditions["HasSecondaryRegion"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SecondaryRegion"}, {"Ref": "PrimaryRegion"}]}]
    }


def test_signing_secret_referenced_only_where_it_exists(template):
    # GIVEN every resource and output that refers to the signing key secret
    referrers = {
        (section, name): entry
        for section in ("Resources", "Outputs")
        for name, entry in template[section].items()
        if name != "SigningKeySecret" and "SigningKeySecret" in _references(entry)
    }

    # WHEN / THEN nothing that also exists in the secondary refers to it (functions read it by name);
    # only the primary-only ARN output does, under the secret's own condition
    assert set(referrers) == {("Outputs", "SigningKeySecretArn")}
    assert referrers["Outputs", "SigningKeySecretArn"]["Condition"] == "IsPrimaryRegion"
    # AND the name output, which needs no resource, exists in both Regions
    assert template["Outputs"]["SigningKeySecretName"]["Value"] == SIGNING_KEY_SECRET_NAME
    assert "Condition" not in template["Outputs"]["SigningKeySecretName"]


def test_signing_key_every_reader_same_name_in_both_regions(template, resources, samconfig):
    # GIVEN every function that reads the signing key (by variable or by permission)
    functions = _of_type(resources, "AWS::Serverless::Function")
    by_variable = {
        name: _effective_function(template, name)["Environment"]["Variables"]["SIGNING_KEY_SECRET_ARN"]
        for name in functions
        if "SIGNING_KEY_SECRET_ARN" in _effective_function(template, name)["Environment"]["Variables"]
    }
    by_permission = {
        owner
        for owner, statement in _identity_statements(resources)
        if "secretsmanager:GetSecretValue" in _flat(statement["Action"])
    }
    assert by_variable.keys() == by_permission == SIGNING_KEY_READERS

    # WHEN the value is resolved with the primary's and the secondary's parameters
    primary, secondary = _overrides(samconfig, "primary"), _overrides(samconfig, "secondary")
    resolved = {
        (name, config_env): _substitute(value, overrides)
        for name, value in by_variable.items()
        for config_env, overrides in (("primary", primary), ("secondary", secondary))
    }

    # THEN every reader gets the secret's NAME (no Region, account or ARN in it), the same string in
    # both Regions: the primary's secret and the secondary's replica answer to it
    assert all(value == SIGNING_KEY_SECRET_NAME for value in by_variable.values())
    assert primary["EnvironmentName"] == secondary["EnvironmentName"]
    assert set(resolved.values()) == {f"customer-signals/{primary['EnvironmentName']}/signing-key"}
    # AND the name cannot be mistaken for a partial ARN (a name ending in "-" + 6 characters)
    (name,) = set(resolved.values())
    assert not re.search(r"-[A-Za-z0-9]{6}$", name)


def test_signing_key_get_secret_value_only_on_name_scoped_arn(resources):
    # GIVEN every identity-policy statement that grants secretsmanager:GetSecretValue
    statements = [
        (owner, statement)
        for owner, statement in _identity_statements(resources)
        if "secretsmanager:GetSecretValue" in _flat(statement["Action"])
    ]
    assert {owner for owner, _ in statements} == SIGNING_KEY_READERS

    for owner, statement in statements:
        # WHEN its actions and resources are read
        grants = _grants([statement])

        # THEN it grants GetSecretValue alone on this Region's copy of the signing key: the name plus
        # exactly the 6 characters Secrets Manager appends (not other secrets sharing the prefix)
        assert grants == {"secretsmanager:GetSecretValue": [SIGNING_KEY_SECRET_IAM_ARN]}, owner
        # AND the function may decrypt with this Region's platform key (the replica's key)
        assert PLATFORM_KEY_ARN in _grants(_role_statements(resources, owner))["kms:Decrypt"], owner


def test_log_groups_all_encrypted_with_retention(resources):
    # GIVEN every log group of the template
    log_groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert len(log_groups) >= 2

    for name, log_group in log_groups.items():
        # WHEN / THEN each has the retention parameter and the platform key
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}, name


def test_platform_key_policy_services_scoped_to_their_use(resources):
    # GIVEN the platform key
    properties = resources["PlatformKey"]["Properties"]
    statements = {s["Sid"]: s for s in properties["KeyPolicy"]["Statement"]}

    # WHEN the principals of its key policy are collected
    principals = [s["Principal"] for s in statements.values()]

    # THEN rotation is on; the account root (IAM delegation), this Region's CloudWatch Logs, EventBridge
    # (rule DLQs) and CloudWatch (alarms to the encrypted topic) are the only principals
    assert properties["EnableKeyRotation"] is True
    assert principals == [
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
        {"Service": "events.amazonaws.com"},
        {"Service": "cloudwatch.amazonaws.com"},
    ]
    # AND no service gets kms:* or key administration
    service_statements = [s for s in statements.values() if "Service" in s["Principal"]]
    for statement in service_statements:
        assert all(
            a.startswith(
                ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt", "kms:ReEncrypt", "kms:DescribeKey")
            )
            for a in _as_list(statement["Action"])
        ), statement["Sid"]
    logs_statement = statements["CloudWatchLogsEncryptsThisAccountsLogGroups"]
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]
    # AND EventBridge may use it only for rules on this stack's two buses
    events_statement = statements["EventBridgeRulesWriteTheirEncryptedDeadLetterQueues"]
    assert events_statement["Condition"]["ArnLike"]["aws:SourceArn"] == [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/${{{bus}}}/*"}
        for bus in ("IngressBusName", "DataPlatformBusName")
    ]
    assert _of_type(resources, "AWS::KMS::Alias")


# -------------------- layer


def test_shared_layer_makefile_build_python313_arm64(resources):
    # GIVEN the shared layer
    layer = resources["SharedLayer"]

    # WHEN / THEN it is built by its Makefile for python3.13 on arm64
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_layer_requirements_every_line_pinned_exactly():
    # GIVEN the layer's runtime requirements
    lines = [
        line.split("#", 1)[0].strip() for line in LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    ]
    requirements = [line for line in lines if line]
    assert requirements

    # WHEN / THEN every requirement is pinned with == to one version, and boto3/botocore are not shipped
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.!+-]+", requirement), requirement
    names = {_canonical(r.split("==", 1)[0]) for r in requirements}
    assert not names & {"boto3", "botocore"}
    assert {"aws-lambda-powertools", "orjson", "jsonschema-rs", "awscrt"} <= names


def test_layer_requirements_same_versions_as_dev_lock():
    # GIVEN the layer pins and the lock the tests run against
    layer_pins = _pins(LAYER_REQUIREMENTS)
    dev_pins = _pins(DEV_REQUIREMENTS)

    # WHEN each layer pin is looked up in the lock
    mismatched = {name: (v, dev_pins.get(name)) for name, v in layer_pins.items() if dev_pins.get(name) != v}

    # THEN production imports exactly the versions the tests ran against
    assert mismatched == {}


# -------------------- parameters + outputs


def test_parameters_defaults_limits_and_regions(template):
    # GIVEN the template parameters
    parameters = template["Parameters"]

    # WHEN / THEN the per-environment knobs exist with the agreed defaults and bounds
    assert parameters["PrimaryRegion"]["Default"] == "us-west-2"
    assert parameters["SecondaryRegion"]["Default"] == "us-east-1"
    assert parameters["MaxSignalsPerEntry"]["Default"] == 50
    signals_per_entry = parameters["MaxSignalsPerEntry"]
    assert (signals_per_entry["MinValue"], signals_per_entry["MaxValue"]) == (1, 500)
    assert parameters["MaxEventBytes"]["Default"] == 32768
    assert parameters["MaxFutureSkewSeconds"]["Default"] == 3600
    assert parameters["MaxEventAgeSeconds"]["Default"] == 604800
    assert {
        "EnvironmentName",
        "IngressBusName",
        "ApiThrottlingRateLimit",
        "ApiThrottlingBurstLimit",
        "LogRetentionDays",
    } <= parameters.keys()


def test_parameters_secret_like_names_no_default(template):
    # GIVEN parameters whose names suggest credentials
    secret_like = [name for name in template["Parameters"] if SECRET_LIKE.search(name)]

    # WHEN / THEN none carries a default value (secrets are generated or referenced, never templated)
    assert [name for name in secret_like if template["Parameters"][name].get("Default")] == []


def test_outputs_expected_names_present(template):
    # GIVEN / WHEN the outputs
    outputs = template["Outputs"]

    # THEN the names other stacks, tools and the docs rely on exist
    assert outputs.keys() >= EXPECTED_OUTPUTS
    assert outputs["SharedLayerArn"]["Value"] == {"Ref": "SharedLayer"}


# -------------------- samconfig + checkov


@pytest.mark.parametrize(("config_env", "region"), sorted(CONFIG_ENV_REGIONS.items()))
def test_samconfig_config_env_region_and_deploy_settings(samconfig, config_env, region):
    # GIVEN samconfig.toml
    assert samconfig["version"] == 0.1

    # WHEN one config-env is read
    env = samconfig[config_env]
    deploy = env["deploy"]["parameters"]

    # THEN it targets its Region and deploys safely
    assert env["global"]["parameters"]["region"] == region
    assert env["build"]["parameters"] == {"cached": True, "parallel": True}
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    assert deploy["stack_name"]


def test_samconfig_parameter_overrides_known_parameters_only(samconfig, template):
    for config_env in CONFIG_ENV_REGIONS:
        # GIVEN one config-env's parameter overrides
        overrides = samconfig[config_env]["deploy"]["parameters"]["parameter_overrides"]

        # WHEN their keys are extracted
        keys = {item.split("=", 1)[0] for item in _as_list(overrides)}

        # THEN each names a template parameter (a typo would silently fall back to the default)
        assert keys <= template["Parameters"].keys(), config_env


def test_samconfig_primary_secondary_same_bus_name_and_region_roles(samconfig):
    # GIVEN the primary and secondary overrides
    def overrides(config_env: str) -> dict[str, str]:
        items = _as_list(samconfig[config_env]["deploy"]["parameters"]["parameter_overrides"])
        return dict(item.split("=", 1) for item in items)

    primary, secondary = overrides("primary"), overrides("secondary")

    # WHEN / THEN both name the same bus (a global endpoint pairs same-named buses) and the same roles
    assert primary["IngressBusName"] == secondary["IngressBusName"]
    assert primary["PrimaryRegion"] == secondary["PrimaryRegion"] == CONFIG_ENV_REGIONS["primary"]
    assert primary["SecondaryRegion"] == secondary["SecondaryRegion"] == CONFIG_ENV_REGIONS["secondary"]


def test_samconfig_validate_lints_by_default(samconfig):
    # GIVEN / WHEN the default validate settings
    validate = samconfig["default"]["validate"]["parameters"]

    # THEN `sam validate` runs cfn-lint
    assert validate["lint"] is True


def test_checkov_every_skip_has_reason_comment():
    # GIVEN the checkov configuration
    lines = CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines()

    # WHEN each skipped check is paired with the line above it
    skips = [(index, line.strip()[2:]) for index, line in enumerate(lines) if re.match(r"\s*- CKV", line)]

    # THEN each skip is preceded by a comment naming that check and giving a reason
    assert skips
    for index, check_id in skips:
        reason_block = []
        cursor = index - 1
        while cursor >= 0 and lines[cursor].strip().startswith("#"):
            reason_block.insert(0, lines[cursor].strip())
            cursor -= 1
        reason = " ".join(reason_block)
        assert check_id in reason, f"{check_id} has no comment naming it"
        assert len(reason) > len(check_id) + 40, f"{check_id} has no real reason"


def test_checkov_template_skips_name_a_check_and_a_reason(resources):
    # GIVEN every resource-level checkov skip in the template's Metadata
    skips = [
        (name, skip)
        for name, resource in resources.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]

    # WHEN / THEN each names one check and says why it does not apply to that resource
    assert {name for name, _ in skips} == {
        "AccessLogsBucket",
        "LakeReplicaBucket",
        "DlqStoreReplicaBucket",
        "LoadBalancerLogsBucket",
    }
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
        assert len(skip.get("comment", "")) > 40, f"{name}: {skip['id']} has no real reason"


# -------------------- region role: edge everywhere, pipeline where events are processed


def test_conditions_processing_runs_in_primary_or_active_active(template):
    # GIVEN the conditions that decide the Region's role
    conditions = template["Conditions"]

    # WHEN / THEN processing runs in the primary Region, or everywhere with active-active
    assert conditions["IsPrimaryRegion"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, {"Ref": "PrimaryRegion"}]}
    assert conditions["IsActiveActive"] == {"Fn::Equals": [{"Ref": "ProcessingMode"}, "active-active"]}
    assert conditions["RunsProcessing"] == {
        "Fn::Or": [{"Condition": "IsPrimaryRegion"}, {"Condition": "IsActiveActive"}]
    }
    assert template["Parameters"]["ProcessingMode"]["Default"] == "active-archive"
    # AND the partner exists only where processing runs and an endpoint is configured
    assert conditions["HasPartner"] == {
        "Fn::And": [
            {"Condition": "RunsProcessing"},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "PartnerEndpointUrl"}, ""]}]},
        ]
    }


def test_resources_outside_edge_deploy_only_where_processing_runs(resources):
    for name, resource in resources.items():
        # GIVEN a resource that is not part of the edge
        if name in EDGE_RESOURCES:
            # THEN an edge resource is unconditional (it exists in both Regions)
            assert "Condition" not in resource, name
            continue
        if name in REPLAY_FORWARD_RESOURCES:
            continue
        if name == "DlqHydrateFromBufferDlq":
            assert resource.get("Condition") == "HydratesBufferDlq", name
            continue
        if name in FRONT_DOOR_BUFFER_RESOURCES:
            # AND the buffer exists wherever the stack enables it, as the edge it belongs to
            assert resource.get("Condition") == "HasFrontDoorBuffer", name
            continue
        if name in PRIMARY_ONLY_RESOURCES:
            # AND what only the primary creates (the secondary gets a replica) is on IsPrimaryRegion
            assert resource.get("Condition") == "IsPrimaryRegion", name
            continue
        if name in TWO_REGION_RESOURCES:
            # AND each two-Region resource is on the condition of its role (docs/adr/0005)
            assert resource.get("Condition") == TWO_REGION_RESOURCES[name], name
            continue

        # WHEN its condition is read
        condition = resource.get("Condition")

        # THEN the pipeline is conditional on processing, the partner on the partner condition
        expected = "HasPartner" if name in PARTNER_RESOURCES else "RunsProcessing"
        assert condition == expected, f"{name}: Condition {condition}, expected {expected}"


# -------------------- rules on the buses


def test_rules_every_target_retry_policy_and_own_sqs_dlq(resources):
    # GIVEN every EventBridge rule of the template
    rules = _dead_lettered_rules(resources)
    assert rules.keys() == {"EnrichmentRule", "StreamRule"}
    dlqs = []

    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            # WHEN a target's delivery settings are read
            retry = target["RetryPolicy"]
            dlq = _getatt_target(target["DeadLetterConfig"]["Arn"])

            # THEN it retries by the shared parameters and dead-letters into an SQS queue
            assert retry == {
                "MaximumRetryAttempts": {"Ref": "RuleTargetMaximumRetryAttempts"},
                "MaximumEventAgeInSeconds": {"Ref": "RuleTargetMaximumEventAgeSeconds"},
            }, name
            assert resources[dlq]["Type"] == "AWS::SQS::Queue", name
            dlqs.append(dlq)

    # AND no two targets share a DLQ (one message origin per queue)
    assert len(dlqs) == len(set(dlqs))


def test_rule_target_retry_parameters_within_eventbridge_limits(template):
    # GIVEN the retry parameters of the rule targets
    attempts = template["Parameters"]["RuleTargetMaximumRetryAttempts"]
    age = template["Parameters"]["RuleTargetMaximumEventAgeSeconds"]

    # WHEN / THEN every allowed value is one EventBridge accepts, and the defaults are its maximum
    assert (attempts["MinValue"], attempts["MaxValue"], attempts["Default"]) == (0, 185, 185)
    assert (age["MinValue"], age["MaxValue"], age["Default"]) == (60, 86400, 86400)


def test_rule_dlq_policy_lets_only_its_rule_send(resources):
    # GIVEN the queue policies and the rules
    policies = _queue_policies(resources)

    for rule_name, rule in _dead_lettered_rules(resources).items():
        for target in rule["Properties"]["Targets"]:
            # WHEN the target's DLQ policy is read
            dlq = _getatt_target(target["DeadLetterConfig"]["Arn"])
            (statement,) = [s for s in policies[dlq]["Statement"] if s["Effect"] == "Allow"]

            # THEN EventBridge may SendMessage to it only on behalf of this rule
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert statement["Resource"] == {"Fn::GetAtt": [dlq, "Arn"]}
            assert statement["Condition"] == {
                "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_name, "Arn"]}}
            }


def test_enrichment_rule_pattern_ingress_source_replays_included(resources):
    # GIVEN the enrichment rule on the ingress bus
    properties = resources["EnrichmentRule"]["Properties"]
    condition, active_active, active_archive = properties["EventPattern"]["Fn::If"]

    # WHEN / THEN it matches the ingress source; replays are NOT filtered out (archive replays are
    # how batches that missed replication get processed; enrichment is idempotent on the batch id)
    assert properties["EventBusName"] == {"Ref": "IngressBus"}
    assert condition == "IsActiveActive"
    assert active_archive == {"source": ["signals.ingest"]}
    # AND with active-active each Region processes only the events it ingested itself
    assert active_active == {"source": ["signals.ingest"], "region": [{"Ref": "AWS::Region"}]}
    assert "replay-name" not in json.dumps(properties["EventPattern"])
    # AND the target is the enrichment function, which the rule (and only it) may invoke
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["EnrichmentFunction", "Arn"]}
    permission = resources["EnrichmentInvokePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["EnrichmentRule", "Arn"]}


def test_stream_rule_kinesis_target_partition_key_path_and_role(resources):
    # GIVEN the rule on the data-platform bus
    properties = resources["StreamRule"]["Properties"]
    (target,) = properties["Targets"]

    # WHEN / THEN enriched batches go to the stream, partitioned by the batch's partition key
    assert properties["EventBusName"] == {"Ref": "DataPlatformBus"}
    assert properties["EventPattern"] == {"source": ["signals.enriched"]}
    assert target["Arn"] == {"Fn::GetAtt": ["SignalStream", "Arn"]}
    assert target["KinesisParameters"] == {"PartitionKeyPath": "$.detail.partition_key"}
    # AND EventBridge's role may only put records on that stream, encrypted with the platform key
    assert target["RoleArn"] == {"Fn::GetAtt": ["StreamTargetRole", "Arn"]}
    grants = _grants(_role_statements(resources, "StreamTargetRole"))
    assert grants == {
        "kinesis:PutRecord": [{"Fn::GetAtt": ["SignalStream", "Arn"]}],
        "kinesis:PutRecords": [{"Fn::GetAtt": ["SignalStream", "Arn"]}],
        "kms:GenerateDataKey": [PLATFORM_KEY_ARN],
    }
    trust = resources["StreamTargetRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "events.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_rule_names_explicit_for_alarm_dimensions(resources):
    for name, rule in _dead_lettered_rules(resources).items():
        # GIVEN a rule's name, WHEN its InvocationsFailedToBeSentToDlq alarm is looked up
        alarms = _alarms_on(resources, "InvocationsFailedToBeSentToDlq", rule["Properties"]["Name"])

        # THEN the alarm exists (Ref of a rule on a custom bus is "bus|rule", so the name is explicit)
        assert len(alarms) == 1, name
        assert {"Name": "RuleName", "Value": rule["Properties"]["Name"]} in alarms[0]["Dimensions"]


# -------------------- enrichment


def test_enrichment_environment_all_setting_names_present(template):
    # GIVEN the enrichment function with the Globals applied
    variables = _effective_function(template, "EnrichmentFunction")["Environment"]["Variables"]

    # WHEN / THEN every variable its settings read is set, resources by reference, knobs by parameter
    assert variables.keys() >= ENRICHMENT_ENV_VARS | POWERTOOLS_ENV_VARS
    assert variables["DATA_PLATFORM_BUS_NAME"] == {"Ref": "DataPlatformBus"}
    assert variables["IDEMPOTENCY_TABLE_NAME"] == IDEMPOTENCY_TABLE_NAME
    assert variables["IDEMPOTENCY_EXPIRY_SECONDS"] == {"Ref": "IdempotencyExpirySeconds"}
    assert variables["QUARANTINE_BUCKET_NAME"] == {"Ref": "QuarantineBucket"}
    assert variables["SIGNING_KEY_SECRET_ARN"] == SIGNING_KEY_SECRET_NAME
    assert variables["MAX_SIGNALS_PER_ENTRY"] == {"Ref": "MaxSignalsPerEntry"}
    assert variables["STORE_RAW_IP"] == {"Ref": "StoreRawIp"}
    assert template["Parameters"]["IdempotencyExpirySeconds"]["Default"] == 172800
    assert template["Parameters"]["StoreRawIp"]["Default"] == "false"


@pytest.mark.parametrize(
    ("actions", "expected_resources"),
    [
        (["events:PutEvents"], [{"Fn::GetAtt": ["DataPlatformBus", "Arn"]}]),
        (
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            [{"Fn::Sub": [TABLE_ARN, {"Name": IDEMPOTENCY_TABLE_NAME}]}],
        ),
        (["s3:PutObject"], [{"Fn::Sub": "${QuarantineBucket.Arn}/quarantine/*"}]),
        (["secretsmanager:GetSecretValue"], [SIGNING_KEY_SECRET_IAM_ARN]),
        (["kms:Decrypt", "kms:GenerateDataKey"], [PLATFORM_KEY_ARN, PERSONAL_DATA_KEY_ARN]),
        (["sqs:SendMessage"], [{"Fn::GetAtt": ["EnrichmentFailureDlq", "Arn"]}]),
    ],
)
def test_enrichment_permissions_scoped_to_single_resource(template, actions, expected_resources):
    # GIVEN the enrichment function's policies
    function = _effective_function(template, "EnrichmentFunction")

    # WHEN the statement granting the first action is found
    statement = _statement_for(function, actions[0])

    # THEN it grants exactly these actions on exactly these resources
    assert sorted(_as_list(statement["Action"])) == sorted(actions)
    assert _as_list(statement["Resource"]) == expected_resources


def test_enrichment_async_failures_to_own_dlq_after_two_retries(resources):
    # GIVEN Lambda's async invoke configuration of the enrichment function
    config = resources["EnrichmentEventInvokeConfig"]["Properties"]

    # WHEN / THEN Lambda retries twice, keeps events up to its 6 h maximum, then records the failure
    # in a queue of its own (not the rule's DLQ: another message shape, another cause)
    assert config["FunctionName"] == {"Ref": "EnrichmentFunction"}
    assert config["Qualifier"] == "$LATEST"
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 21600
    destination = _getatt_target(config["DestinationConfig"]["OnFailure"]["Destination"])
    assert destination == "EnrichmentFailureDlq"
    rule_dlq = _getatt_target(
        resources["EnrichmentRule"]["Properties"]["Targets"][0]["DeadLetterConfig"]["Arn"]
    )
    assert rule_dlq == "EnrichmentTargetDlq" != destination


def test_idempotency_table_key_id_ttl_expiration_on_demand_pitr_cmk(resources):
    # GIVEN the idempotency table
    properties = resources["IdempotencyTable"]["Properties"]

    # WHEN / THEN it has the layout Powertools' DynamoDB persistence layer expects
    assert properties["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_enrichment_requirements_every_line_pinned_exactly():
    # GIVEN the enrichment function's own requirements
    lines = [
        line.split("#", 1)[0].strip()
        for line in ENRICHMENT_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    ]
    requirements = [line for line in lines if line]

    # WHEN / THEN each is pinned to one version (the Makefile installs them with --no-deps)
    assert requirements
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.!+-]+", requirement), requirement


def test_functions_makefile_enrichment_installs_arm64_cp313_wheels():
    # GIVEN the functions' Makefile
    makefile = FUNCTIONS_MAKEFILE.read_text(encoding="utf-8")

    # WHEN the enrichment target and the pip flags it uses are read
    target = re.search(r"^build-EnrichmentFunction:\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert target, "build-EnrichmentFunction has no recipe"

    # THEN it installs requirements.txt as arm64 cp313 binary wheels into ARTIFACTS_DIR, then the package
    assert target.group(1).splitlines() == [
        "\t$(call install-requirements)",
        "\t$(call copy-package,enrichment)",
    ]
    for flag in (
        "--platform manylinux2014_aarch64",
        "--platform manylinux_2_28_aarch64",
        "--implementation cp",
        "--python-version 3.13",
        "--only-binary=:all:",
        "--no-deps",
    ):
        assert flag in makefile, flag
    assert '-r requirements.txt --target "$(ARTIFACTS_DIR)"' in makefile


# -------------------- stream and Pipes


def test_signal_stream_on_demand_default_kms_retention_parameter(template, resources):
    # GIVEN the signal stream
    properties = resources["SignalStream"]["Properties"]

    # WHEN / THEN on demand by default (shards only when provisioned), encrypted, retention by parameter
    assert properties["StreamModeDetails"] == {"StreamMode": {"Ref": "StreamMode"}}
    assert template["Parameters"]["StreamMode"]["Default"] == "ON_DEMAND"
    assert properties["ShardCount"] == {
        "Fn::If": ["IsProvisionedStream", {"Ref": "StreamShardCount"}, {"Ref": "AWS::NoValue"}]
    }
    assert properties["RetentionPeriodHours"] == {"Ref": "StreamRetentionHours"}
    assert template["Parameters"]["StreamRetentionHours"]["Default"] == 168
    assert resources["SignalStream"]["DeletionPolicy"] == "Retain"


def test_pipes_every_source_parameter_explicit_bisect_and_own_dlq(resources):
    # GIVEN every Pipe of the template
    pipes = _of_type(resources, "AWS::Pipes::Pipe")
    assert pipes.keys() == {"LakePipe", "PartnerPipe"}
    dlqs = []

    for name, pipe in pipes.items():
        # WHEN its Kinesis source parameters are read
        properties = pipe["Properties"]
        parameters = properties["SourceParameters"]["KinesisStreamParameters"]

        # THEN the stream is the source and every parameter is set, none left to a service default
        assert properties["Source"] == {"Fn::GetAtt": ["SignalStream", "Arn"]}, name
        assert parameters.keys() == PIPE_SOURCE_PARAMETERS, name
        assert parameters["StartingPosition"] == "TRIM_HORIZON", name
        assert parameters["OnPartialBatchItemFailure"] == "AUTOMATIC_BISECT", name
        assert 0 <= parameters["MaximumRetryAttempts"] <= 185, f"{name}: retries must be finite"
        assert 1 <= parameters["ParallelizationFactor"] <= 10, name
        assert 0 <= parameters["MaximumBatchingWindowInSeconds"] <= 300, name
        assert properties["DesiredState"] == "RUNNING", name
        # AND failed batches go to an SQS DLQ of its own
        dlq = _getatt_target(parameters["DeadLetterConfig"]["Arn"])
        assert resources[dlq]["Type"] == "AWS::SQS::Queue", name
        dlqs.append(dlq)
        # AND errors are logged to an encrypted log group with retention
        log_configuration = properties["LogConfiguration"]
        assert log_configuration["Level"] == "ERROR", name
        log_group = _getatt_target(log_configuration["CloudwatchLogsLogDestination"]["LogGroupArn"])
        assert resources[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name

    assert len(dlqs) == len(set(dlqs))


def test_pipes_max_record_age_below_stream_retention_with_margin(template, resources):
    # GIVEN the stream's retention (hours) at its lowest allowed and its default value
    retention_low, retention_default, _ = _parameter_bounds(
        template, resources["SignalStream"]["Properties"]["RetentionPeriodHours"]
    )

    for name, pipe in _of_type(resources, "AWS::Pipes::Pipe").items():
        # WHEN a Pipe's maximum record age is taken at its highest allowed and its default value
        parameters = pipe["Properties"]["SourceParameters"]["KinesisStreamParameters"]
        _, age_default, age_high = _parameter_bounds(template, parameters["MaximumRecordAgeInSeconds"])

        # THEN even the worst combination leaves the records readable for a day after they are
        # dead-lettered (-1 = "never too old" would defeat the DLQ-hydrate, so it is excluded)
        assert age_high > 0 and age_default > 0, name
        assert age_high + MIN_RETENTION_MARGIN_SECONDS <= retention_low * 3600, name
        assert age_default + MIN_RETENTION_MARGIN_SECONDS <= retention_default * 3600, name


def test_lake_pipe_batch_fits_synchronous_lambda_payload(resources):
    # GIVEN the lake Pipe
    properties = resources["LakePipe"]["Properties"]
    parameters = properties["SourceParameters"]["KinesisStreamParameters"]

    # WHEN the largest regular batch is computed (records of one billing chunk, base64 in the payload)
    largest_batch_bytes = parameters["BatchSize"] * MAX_ENTRY_BYTES * 4 / 3

    # THEN it fits one synchronous invoke of the S3 writer, which is called synchronously
    assert largest_batch_bytes <= LAMBDA_SYNC_PAYLOAD_BYTES
    assert properties["Target"] == {"Fn::GetAtt": ["S3WriterFunction", "Arn"]}
    assert properties["TargetParameters"] == {
        "LambdaFunctionParameters": {"InvocationType": "REQUEST_RESPONSE"}
    }


def test_partner_pipe_one_record_per_request_to_api_destination(resources):
    # GIVEN the partner Pipe
    properties = resources["PartnerPipe"]["Properties"]
    parameters = properties["SourceParameters"]["KinesisStreamParameters"]

    # WHEN / THEN one record per invocation (API destinations have no batch API) sent as-is
    assert parameters["BatchSize"] == 1
    assert parameters["MaximumBatchingWindowInSeconds"] == 0
    assert properties["Target"] == {"Fn::GetAtt": ["PartnerApiDestination", "Arn"]}
    assert properties["TargetParameters"]["InputTemplate"] == "<$.data>"


def test_partner_connection_api_key_from_secrets_manager_no_default(template, resources):
    # GIVEN the partner connection, API destination and their parameters
    connection = resources["PartnerConnection"]["Properties"]
    destination = resources["PartnerApiDestination"]["Properties"]
    parameters = template["Parameters"]

    # WHEN / THEN the key is an x-api-key header resolved from Secrets Manager at deploy time
    assert connection["AuthorizationType"] == "API_KEY"
    assert connection["AuthParameters"]["ApiKeyAuthParameters"] == {
        "ApiKeyName": "x-api-key",
        "ApiKeyValue": {
            "Fn::Sub": "{{resolve:secretsmanager:${PartnerApiKeySecretName}:SecretString:api_key}}"
        },
    }
    assert parameters["PartnerApiKeySecretName"]["Default"] == ""
    assert parameters["PartnerEndpointUrl"]["Default"] == ""
    # AND a stack WITH an endpoint must name the secret (CloudFormation Rules refuse the deploy)
    rule = template["Rules"]["PartnerNeedsItsApiKeySecret"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "PartnerEndpointUrl"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PartnerApiKeySecretName"}, ""]}]
    }
    # AND the destination POSTs to the endpoint at the configured rate
    assert destination["HttpMethod"] == "POST"
    assert destination["InvocationEndpoint"] == {"Ref": "PartnerEndpointUrl"}
    assert destination["InvocationRateLimitPerSecond"] == {"Ref": "PartnerInvocationRateLimitPerSecond"}
    assert destination["ConnectionArn"] == {"Fn::GetAtt": ["PartnerConnection", "Arn"]}


@pytest.mark.parametrize(
    ("pipe", "role", "target_grant"),
    [
        (
            "LakePipe",
            "LakePipeRole",
            ("lambda:InvokeFunction", [{"Fn::GetAtt": ["S3WriterFunction", "Arn"]}]),
        ),
        (
            "PartnerPipe",
            "PartnerPipeRole",
            (
                "events:InvokeApiDestination",
                [
                    {"Fn::GetAtt": ["PartnerApiDestination", "Arn"]},
                    {"Fn::GetAtt": ["PartnerApiDestination", "ArnForPolicy"]},
                ],
            ),
        ),
    ],
)
def test_pipe_role_trusted_by_pipes_reads_stream_writes_dlq_calls_target(resources, pipe, role, target_grant):
    # GIVEN a Pipe and its role
    properties = resources[pipe]["Properties"]
    role_properties = resources[role]["Properties"]
    dlq = _getatt_target(properties["SourceParameters"]["KinesisStreamParameters"]["DeadLetterConfig"]["Arn"])
    log_group = _getatt_target(properties["LogConfiguration"]["CloudwatchLogsLogDestination"]["LogGroupArn"])

    # WHEN its trust policy and grants are read
    (trust,) = role_properties["AssumeRolePolicyDocument"]["Statement"]
    grants = _grants(_role_statements(resources, role))

    # THEN only EventBridge Pipes of this account assume it
    assert properties["RoleArn"] == {"Fn::GetAtt": [role, "Arn"]}
    assert trust["Principal"] == {"Service": "pipes.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    # AND it reads the stream, sends to its own DLQ, calls its own target, writes its own logs
    stream = [{"Fn::GetAtt": ["SignalStream", "Arn"]}]
    assert grants == {
        "kinesis:DescribeStream": stream,
        "kinesis:DescribeStreamSummary": stream,
        "kinesis:GetRecords": stream,
        "kinesis:GetShardIterator": stream,
        "kinesis:ListShards": stream,
        "kinesis:SubscribeToShard": stream,
        "kinesis:ListStreams": ["*"],
        "kms:Decrypt": [PLATFORM_KEY_ARN],
        "kms:GenerateDataKey": [PLATFORM_KEY_ARN],
        "sqs:SendMessage": [{"Fn::GetAtt": [dlq, "Arn"]}],
        target_grant[0]: target_grant[1],
        "logs:CreateLogStream": [{"Fn::GetAtt": [log_group, "Arn"]}],
        "logs:PutLogEvents": [{"Fn::GetAtt": [log_group, "Arn"]}],
    }


# -------------------- S3 writer, lake, Glue


def test_s3_writer_environment_and_write_only_to_its_prefixes(template):
    # GIVEN the S3 writer with the Globals applied
    function = _effective_function(template, "S3WriterFunction")
    variables = function["Environment"]["Variables"]

    # WHEN / THEN it knows the lake bucket and its two prefixes
    assert variables.keys() >= S3_WRITER_ENV_VARS | POWERTOOLS_ENV_VARS
    assert variables["LAKE_BUCKET_NAME"] == {"Ref": "LakeBucket"}
    assert variables["LAKE_LEDGER_TABLE_NAME"] == {"Ref": "LakeLedgerTable"}
    assert (variables["LAKE_PREFIX"], variables["BAD_PREFIX"]) == ("events", "bad")
    # AND it may write and delete objects (and their versions) only under those prefixes, read and
    # conditionally write the ledger, and use the platform key
    prefixes = [{"Fn::Sub": "${LakeBucket.Arn}/events/*"}, {"Fn::Sub": "${LakeBucket.Arn}/bad/*"}]
    ledger = [{"Fn::GetAtt": ["LakeLedgerTable", "Arn"]}]
    assert _grants(list(_statements(function))) == {
        "s3:PutObject": prefixes,
        "s3:DeleteObject": prefixes,
        "s3:DeleteObjectVersion": prefixes,
        "dynamodb:BatchGetItem": ledger,
        "dynamodb:PutItem": ledger,
        "dynamodb:UpdateItem": ledger,
        "kms:Decrypt": [PLATFORM_KEY_ARN, PERSONAL_DATA_KEY_ARN],
        "kms:GenerateDataKey": [PLATFORM_KEY_ARN, PERSONAL_DATA_KEY_ARN],
    }
    # AND the ledger statement is limited to the ledger's two item kinds
    statement = _statement_for(function, "dynamodb:PutItem")
    assert statement["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["record#*", "attempt#*"]}
    }


def test_lake_ledger_table_matches_the_writer_keys_ttl_pitr_cmk(resources):
    # GIVEN the lake ledger table and the prefixes the writer's ledger uses
    table = resources["LakeLedgerTable"]
    properties = table["Properties"]
    # WHEN / THEN it is keyed as the ledger writes it, expires its items, is recoverable and encrypted
    assert properties["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"]["KMSMasterKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}
    assert table["Condition"] == "RunsProcessing"
    assert (RECORD_PREFIX, ATTEMPT_PREFIX) == ("record#", "attempt#")


def test_buckets_every_bucket_tls_only_private_versioned_with_lifecycle(resources):
    # GIVEN every bucket and the bucket policies
    buckets = _of_type(resources, "AWS::S3::Bucket")
    assert buckets.keys() == {
        "AccessLogsBucket",
        "LoadBalancerLogsBucket",
        "QuarantineBucket",
        "LakeBucket",
        "DlqStoreBucket",
        "LakeReplicaBucket",
        "DlqStoreReplicaBucket",
    }
    policies = _bucket_policies(resources)

    for name, bucket in buckets.items():
        # WHEN its policy's deny statements are read
        properties = bucket["Properties"]
        denies = [s for s in policies[name]["Statement"] if s["Effect"] == "Deny"]

        # THEN every request without TLS is denied, on the bucket and on every object
        assert {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [{"Fn::GetAtt": [name, "Arn"]}, {"Fn::Sub": f"${{{name}.Arn}}/*"}],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        } in denies, name
        # AND it is private, versioned, ACL-free, with a lifecycle, and kept when the stack goes
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}, name
        assert properties["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, (
            name
        )
        assert properties["LifecycleConfiguration"]["Rules"], name
        assert bucket["DeletionPolicy"] == "Retain", name


def test_buckets_with_data_access_logged_to_logs_bucket(resources):
    for name in ("LakeBucket", "QuarantineBucket", "DlqStoreBucket"):
        # GIVEN a bucket holding signal data, WHEN its logging configuration is read
        logging = resources[name]["Properties"]["LoggingConfiguration"]

        # THEN S3 server access logs go to the logs bucket, under a prefix the logs bucket accepts
        assert logging["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
        assert logging["LogFilePrefix"].startswith("s3/")
    delivery = next(
        s for s in _bucket_policies(resources)["AccessLogsBucket"]["Statement"] if s["Effect"] == "Allow"
    )
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    # (and the replica buckets this Region holds, which log where it has the logs bucket)
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == [
        {"Fn::GetAtt": ["LakeBucket", "Arn"]},
        {"Fn::GetAtt": ["QuarantineBucket", "Arn"]},
        {"Fn::GetAtt": ["DlqStoreBucket", "Arn"]},
        *(
            {"Fn::If": ["ReceivesBucketReplicas", {"Fn::GetAtt": [name, "Arn"]}, {"Ref": "AWS::NoValue"}]}
            for name in ("LakeReplicaBucket", "DlqStoreReplicaBucket")
        ),
    ]


def test_glue_table_partition_projection_matches_lake_layout(resources):
    # GIVEN the lake's Glue table
    table = resources["LakeEventsTable"]["Properties"]["TableInput"]
    parameters = table["Parameters"]

    # WHEN / THEN partitions are projected (no crawler) onto the S3 writer's key layout
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [
        ("event_type", "string"),
        ("dt", "string"),
        ("hour", "string"),
    ]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.event_type.type"] == "enum"
    assert (parameters["projection.dt.type"], parameters["projection.dt.format"]) == ("date", "yyyy-MM-dd")
    assert parameters["projection.dt.range"].split(",")[0] == "2026-01-01"
    assert (parameters["projection.dt.interval"], parameters["projection.dt.interval.unit"]) == ("1", "DAYS")
    assert parameters["projection.hour.type"] == "integer"
    assert (parameters["projection.hour.range"], parameters["projection.hour.digits"]) == ("0,23", "2")
    assert parameters["storage.location.template"] == {
        "Fn::Sub": "s3://${LakeBucket}/events/event_type=${!event_type}/dt=${!dt}/hour=${!hour}/"
    }
    storage = table["StorageDescriptor"]
    assert storage["SerdeInfo"]["SerializationLibrary"] == "org.openx.data.jsonserde.JsonSerDe"
    assert storage["Location"] == {"Fn::Sub": "s3://${LakeBucket}/events/"}
    prefix = resources["S3WriterFunction"]["Properties"]["Environment"]["Variables"]["LAKE_PREFIX"]
    assert storage["Location"]["Fn::Sub"].endswith(f"/{prefix}/")


def _projected_end(range_text: str, now: datetime) -> date:
    """The last date a projected ``date`` range covers at ``now``: its end, a date or Athena's
    relative ``NOW[+-]<n>DAYS``."""
    end = range_text.split(",")[1].strip()
    relative = re.fullmatch(r"NOW(?:([+-])(\d+)DAYS)?", end)
    if relative is None:
        return date.fromisoformat(end)
    sign, days = relative.groups()
    return (now + timedelta(days=int(days or 0) * (-1 if sign == "-" else 1))).date()


@pytest.mark.parametrize("now", ["2026-12-07T00:00:00", "2026-12-07T23:30:00", "2026-12-31T23:59:59"])
def test_glue_table_projects_the_date_of_every_line_the_writer_can_write_now(resources, template, now):
    # GIVEN the latest derived_at the validator accepts at a moment (the largest MaxFutureSkewSeconds
    # ahead of it), late in a day included: the S3 writer partitions the line by that date
    moment = datetime.fromisoformat(now).replace(tzinfo=UTC)
    skew = int(template["Parameters"]["MaxFutureSkewSeconds"]["MaxValue"])
    latest = (moment + timedelta(seconds=skew)).date()
    # WHEN Athena projects the table's dates at that moment
    parameters = resources["LakeEventsTable"]["Properties"]["TableInput"]["Parameters"]
    # THEN that line's date is among them (Athena projects no date past the range's end)
    assert latest <= _projected_end(parameters["projection.dt.range"], moment)


def test_glue_table_event_type_enum_equals_schema_registry_types(resources):
    # GIVEN the event types of the schema registry (one folder per type)
    registry_types = {path.name for path in EVENT_SCHEMAS_DIR.iterdir() if path.is_dir()}

    # WHEN the table's enum projection is read
    values = resources["LakeEventsTable"]["Properties"]["TableInput"]["Parameters"][
        "projection.event_type.values"
    ]

    # THEN every registered type is queryable and nothing else is projected
    assert set(values.split(",")) == registry_types


def _presto_type(glue_type: str) -> str:
    fields = re.fullmatch(r"struct<(.*)>", glue_type)
    if fields is None:
        return "varchar"
    names = [field.split(":")[0] for field in fields.group(1).split(",")]
    return "row(" + ",".join(f"{name} varchar" for name in names) + ")"


def test_glue_view_events_dedup_is_the_sql_file_over_the_table_columns(resources):
    # GIVEN the deployed view, the one source of its SQL, and the base table
    view = resources["LakeEventsDedupView"]["Properties"]["TableInput"]
    table = resources["LakeEventsTable"]["Properties"]["TableInput"]
    sql = (ROOT / "athena" / "events_dedup.sql").read_text().strip()
    # WHEN Athena's Presto view document is read back from ViewOriginalText
    prefix, (encoded,), suffix = (
        view["ViewOriginalText"]["Fn::Join"][1][0],
        [part["Fn::Base64"]["Fn::Sub"] for part in view["ViewOriginalText"]["Fn::Join"][1][1:2]],
        view["ViewOriginalText"]["Fn::Join"][1][2],
    )
    document = json.loads(encoded.replace("${LakeDatabaseName}", "customer_signals"))
    # THEN it is a Presto view whose SQL is the file, byte for byte, in the lake database
    assert (prefix, suffix) == ("/* Presto View: ", " */")
    assert view["TableType"] == "VIRTUAL_VIEW" and view["Parameters"]["presto_view"] == "true"
    assert view["ViewExpandedText"] == "/* Presto View */"
    assert document["originalSql"] == sql
    assert (document["catalog"], document["schema"]) == ("awsdatacatalog", "customer_signals")
    # AND its columns are the table's columns then its partition keys, in both type systems
    base = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"] + table["PartitionKeys"]]
    assert [(c["Name"], c["Type"]) for c in view["StorageDescriptor"]["Columns"]] == base
    assert [(c["name"], c["type"]) for c in document["columns"]] == [
        (name, _presto_type(glue_type)) for name, glue_type in base
    ]


def test_glue_table_columns_equal_enriched_signal_properties(resources):
    # GIVEN the enriched signal's schema (contracts/enriched_batch: the items of `signals`)
    batch_schema, signal = _enriched_signal_schema()
    properties = signal["properties"]

    # WHEN the table's columns are read
    columns = {
        c["Name"]: c["Type"]
        for c in resources["LakeEventsTable"]["Properties"]["TableInput"]["StorageDescriptor"]["Columns"]
    }

    # THEN the columns are the signal's top-level properties minus the partition columns
    assert set(columns) == set(properties) - GLUE_PARTITION_COLUMNS
    # AND a struct column has the fields of the object it maps (free-form objects stay JSON text)
    for name, glue_type in columns.items():
        fields = _glue_type_fields(glue_type)
        if fields is None:
            continue
        mapped = _resolve_local_ref(batch_schema, properties[name])
        assert fields == set(mapped.get("properties", {})), name


# -------------------- DLQ store and hydrate (docs/dlq.md)


def _hydrated_queues(resources: dict[str, Any]) -> set[str]:
    """Every DLQ of the template except the hydrate's own failure DLQ: what the hydrate must consume."""
    return {
        name
        for name in _of_type(resources, "AWS::SQS::Queue")
        if name.endswith("Dlq") and name != HYDRATE_FAILURE_DLQ
    }


def _hydrate_mappings(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """queue logical id -> the event-source mapping resource that feeds it to the hydrate function."""
    mappings = {}
    for name, mapping in _of_type(resources, "AWS::Lambda::EventSourceMapping").items():
        if mapping["Properties"]["FunctionName"] == {"Ref": "DlqHydrateFunction"}:
            queue = _getatt_target(mapping["Properties"]["EventSourceArn"])
            assert queue not in mappings, f"{queue} has two mappings ({name})"
            mappings[queue] = mapping
    return mappings


def _resolve_queue_names(value: Any, queue_names: dict[str, str], conditions: dict[str, bool]) -> Any:
    """A value built of Fn::Sub / Fn::If / Fn::GetAtt <queue>.QueueName, resolved for given names."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        queue, attribute = value["Fn::GetAtt"]
        assert attribute == "QueueName", value
        return queue_names[queue]
    if "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        return _resolve_queue_names(
            when_true if conditions[condition] else when_false, queue_names, conditions
        )
    if "Fn::Sub" in value:
        text, variables = value["Fn::Sub"]
        resolved = {k: _resolve_queue_names(v, queue_names, conditions) for k, v in variables.items()}

        def lookup(match: re.Match[str]) -> str:
            assert match.group(1) in resolved, f"${{{match.group(1)}}} is not a variable of {value}"
            return str(resolved[match.group(1)])

        return re.sub(r"\$\{([A-Za-z0-9:.]+)\}", lookup, text)
    raise AssertionError(f"unexpected intrinsic {value}")


def _effective_parameters(
    template: dict[str, Any], samconfig: dict[str, Any], config_env: str
) -> dict[str, str]:
    """Every parameter's value in a config-env: the template's defaults, overridden by samconfig."""
    values = {name: str(parameter.get("Default", "")) for name, parameter in template["Parameters"].items()}
    return {**values, **_overrides(samconfig, config_env)}


def test_dlq_hydrate_consumes_every_dlq_with_partial_batch_failures(resources):
    # GIVEN every DLQ of the template (queues named ...Dlq) but the hydrate's own failure DLQ
    hydrated = _hydrated_queues(resources)
    assert hydrated == DLQ_CONSUMERS.keys(), "a new DLQ needs a consumer name in DLQ_CONSUMERS"

    # WHEN the event-source mappings of the hydrate function are collected
    mappings = _hydrate_mappings(resources)

    # THEN each DLQ has exactly one, in small batches, reporting per-message failures, enabled, with
    # bounded concurrency, and existing exactly where its queue exists
    assert mappings.keys() == hydrated
    for queue, mapping in mappings.items():
        properties = mapping["Properties"]
        assert properties["BatchSize"] == 5, queue
        assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"], queue
        assert properties["Enabled"] is True, queue
        assert properties["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "DlqHydrateMaximumConcurrency"}}
        expected = HYDRATED_WHERE_PROCESSING_RUNS.get(queue, resources[queue].get("Condition"))
        assert mapping.get("Condition") == expected, queue
    # AND nothing consumes the failure DLQ (a human moves its messages back)
    assert HYDRATE_FAILURE_DLQ not in mappings
    assert not [
        m
        for m in _of_type(resources, "AWS::Lambda::EventSourceMapping").values()
        if _getatt_target(m["Properties"]["EventSourceArn"]) == HYDRATE_FAILURE_DLQ
    ]
    # AND no function uses SAM's SQS event: it would attach AWSLambdaSQSQueueExecutionRole (sqs:* on "*")
    for name, function in _of_type(resources, "AWS::Serverless::Function").items():
        events = function["Properties"].get("Events", {})
        assert all(event["Type"] != "SQS" for event in events.values()), name


def test_dlq_hydrate_queues_visibility_and_redrive_to_failure_dlq(template, resources):
    # GIVEN the hydrate function's timeout and every DLQ it consumes
    function = _effective_function(template, "DlqHydrateFunction")
    timeout = function["Timeout"]
    assert (timeout, function["MemorySize"]) == (300, 1024)

    for queue in _hydrated_queues(resources):
        # WHEN the queue's consumer settings are read
        properties = resources[queue]["Properties"]

        # THEN a message in flight stays invisible for 6 function timeouts (AWS's rule for SQS sources)
        assert properties["VisibilityTimeout"] >= SQS_VISIBILITY_PER_FUNCTION_TIMEOUT * timeout, queue
        # AND after 5 failed receives SQS moves it, unchanged, to the hydrate's failure DLQ
        redrive = properties["RedrivePolicy"]
        if queue in HYDRATED_WHERE_PROCESSING_RUNS:  # only where the hydrate (and its DLQ) exist
            condition, redrive, otherwise = redrive["Fn::If"]
            assert (condition, otherwise) == (HYDRATED_WHERE_PROCESSING_RUNS[queue], {"Ref": "AWS::NoValue"})
        assert redrive == {
            "deadLetterTargetArn": {"Fn::GetAtt": [HYDRATE_FAILURE_DLQ, "Arn"]},
            "maxReceiveCount": 5,
        }, queue

    # AND the failure DLQ is the end of the line: no redrive of its own, kept with the stack's data
    failure_dlq = resources[HYDRATE_FAILURE_DLQ]
    assert "RedrivePolicy" not in failure_dlq["Properties"]
    assert failure_dlq["Condition"] == "RunsProcessing"
    assert failure_dlq["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("has_partner", [True, False])
def test_dlq_hydrate_consumer_by_queue_names_every_dlq(template, resources, has_partner):
    # GIVEN the hydrate's CONSUMER_BY_QUEUE and queue names as CloudFormation generates them

    variables = _effective_function(template, "DlqHydrateFunction")["Environment"]["Variables"]
    queue_names = {
        queue: f"customer-signals-prod-{queue}-1A2B3C4D5E6F" for queue in _hydrated_queues(resources)
    }

    # WHEN it is resolved with and without the partner pipe, and parsed by the function's settings
    raw = _resolve_queue_names(
        variables["CONSUMER_BY_QUEUE"],
        queue_names,
        {"HasPartner": has_partner, "RunsProcessing": True, "HydratesBufferDlq": True},
    )
    settings = HydrateSettings.from_env({"DLQ_STORE_BUCKET_NAME": "store", "CONSUMER_BY_QUEUE": raw})

    # THEN it is valid JSON naming every DLQ that exists, each with its consumer; the partner's queue
    # only when the partner pipe (and its queue) exists
    expected = {
        queue_names[queue]: consumer
        for queue, consumer in DLQ_CONSUMERS.items()
        if has_partner or resources[queue].get("Condition") != "HasPartner"
    }
    assert json.loads(raw) == expected
    assert dict(settings.consumer_by_queue) == expected
    assert all(CONSUMER_NAME.fullmatch(consumer) for consumer in expected.values())
    assert len(set(expected.values())) == len(expected)


def test_dlq_hydrate_environment_store_and_prefixes(template):
    # GIVEN the hydrate function with the Globals applied

    variables = _effective_function(template, "DlqHydrateFunction")["Environment"]["Variables"]

    # WHEN / THEN every variable its settings read is set, the store by reference, the areas literally
    assert variables.keys() >= DLQ_HYDRATE_ENV_VARS | POWERTOOLS_ENV_VARS
    assert variables["DLQ_STORE_BUCKET_NAME"] == {"Ref": "DlqStoreBucket"}
    prefixes = {name: variables[name] for name in ("DLQ_PREFIX", "UNRECOVERABLE_PREFIX", "UNPARSED_PREFIX")}
    assert prefixes == {
        "DLQ_PREFIX": "dlq",
        "UNRECOVERABLE_PREFIX": "unrecoverable",
        "UNPARSED_PREFIX": "unparsed",
    }
    # AND the function's own settings accept them (no area inside another, nor inside replayed/)
    settings = HydrateSettings.from_env({"DLQ_STORE_BUCKET_NAME": "store", **prefixes})
    assert (settings.dlq_prefix, settings.unrecoverable_prefix, settings.unparsed_prefix) == (
        "dlq",
        "unrecoverable",
        "unparsed",
    )
    assert REPLAYED_PREFIX == "replayed"


def test_dlq_hydrate_permissions_scoped_to_its_queues_stream_areas_and_key(template, resources):
    # GIVEN the hydrate function's statements and what its code calls
    grants = _grants(list(_statements(_effective_function(template, "DlqHydrateFunction"))))
    reader = (DLQ_HYDRATE_DIR / "stream_reader.py").read_text(encoding="utf-8")
    store = (DLQ_HYDRATE_DIR / "store.py").read_text(encoding="utf-8")
    kinesis_calls = set(re.findall(r"kinesis\.([a-z_]+)\(", reader))
    s3_calls = set(re.findall(r"_client\(\)\.([a-z_]+)\(", store))
    assert kinesis_calls == {"get_shard_iterator", "get_records"}
    assert s3_calls == {"put_object"}

    # WHEN the grants are compared with the template's resources
    queues = sorted(({"Fn::GetAtt": [q, "Arn"]} for q in _hydrated_queues(resources)), key=json.dumps)
    stream = [{"Fn::GetAtt": ["BufferStream", "Arn"]}, {"Fn::GetAtt": ["SignalStream", "Arn"]}]
    areas = [
        {"Fn::Sub": f"${{DlqStoreBucket.Arn}}/{prefix}/*"} for prefix in ("dlq", "unrecoverable", "unparsed")
    ]

    # THEN it may receive from every DLQ (the mappings poll with its role), re-read the stream with
    # the two calls the code makes, write the three areas (never replayed/, never read or delete),
    # decrypt with the platform key and write with the personal-data key: nothing more, nothing on "*"
    assert {action: sorted(resources_, key=json.dumps) for action, resources_ in grants.items()} == {
        "sqs:ReceiveMessage": queues,
        "sqs:DeleteMessage": queues,
        "sqs:GetQueueAttributes": queues,
        "kinesis:GetShardIterator": stream,
        "kinesis:GetRecords": stream,
        "s3:PutObject": sorted(areas, key=json.dumps),
        "kms:Decrypt": sorted([PLATFORM_KEY_ARN, PERSONAL_DATA_KEY_ARN], key=json.dumps),
        "kms:GenerateDataKey": [PERSONAL_DATA_KEY_ARN],
    }
    # AND the partner's queue only where it exists
    sqs_statement = _statement_for(_effective_function(template, "DlqHydrateFunction"), "sqs:ReceiveMessage")
    conditional = [r["Fn::If"] for r in _as_list(sqs_statement["Resource"]) if "Fn::If" in r]
    assert conditional == [
        ["HasPartner", {"Fn::GetAtt": ["PartnerPipeDlq", "Arn"]}, {"Ref": "AWS::NoValue"}],
        ["HydratesBufferDlq", {"Fn::GetAtt": ["BufferDlq", "Arn"]}, {"Ref": "AWS::NoValue"}],
    ]


def test_dlq_store_bucket_lifecycle_keeps_waiting_objects_expires_only_replayed(template, resources):
    # GIVEN the DLQ store's lifecycle rules and the hydrate's store areas

    bucket = resources["DlqStoreBucket"]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    variables = resources["DlqHydrateFunction"]["Properties"]["Environment"]["Variables"]
    waiting = {f"{variables[name]}/" for name in ("DLQ_PREFIX", "UNRECOVERABLE_PREFIX", "UNPARSED_PREFIX")}

    # WHEN the rules that expire current objects are keyed by their prefix
    expiring = {rule.get("Prefix"): rule["ExpirationInDays"] for rule in rules if "ExpirationInDays" in rule}

    # THEN none expires the whole bucket, what waits for a replay is kept the long retention (never
    # below the replay tool's 400-day look-back), and only replayed/ expires by its own parameter
    assert None not in expiring and "" not in expiring
    assert expiring == {
        **{prefix: {"Ref": "DlqStoreRetentionDays"} for prefix in waiting},
        f"{REPLAYED_PREFIX}/": {"Ref": "DlqReplayedRetentionDays"},
    }
    retention = template["Parameters"]["DlqStoreRetentionDays"]
    assert retention["MinValue"] >= MIN_DLQ_STORE_RETENTION_DAYS
    assert retention["Default"] >= MIN_DLQ_STORE_RETENTION_DAYS
    # AND no expiring prefix reaches into another area (a replayed/ rule must not touch dlq/)
    for prefix in expiring:
        assert not any(other != prefix and other.startswith(prefix) for other in expiring), prefix
    # AND it is encrypted with the platform key, versioned, TLS-only (all-bucket tests) and kept
    assert bucket["Condition"] == "RunsProcessing"
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert _bucket_policies(resources)["DlqStoreBucket"]["Statement"][0]["Sid"] == "DenyInsecureTransport"


@pytest.mark.parametrize("config_env", sorted(CONFIG_ENV_REGIONS))
def test_alarms_pipe_dlq_age_fires_while_records_are_still_in_the_stream(
    template, resources, samconfig, config_env
):
    # GIVEN the DLQs whose messages point at records in the stream: the Pipes' DLQs and the
    # hydrate's failure DLQ (it receives their messages unchanged)
    pipe_dlqs = {
        _getatt_target(
            pipe["Properties"]["SourceParameters"]["KinesisStreamParameters"]["DeadLetterConfig"]["Arn"]
        )
        for pipe in _of_type(resources, "AWS::Pipes::Pipe").values()
    }
    values = _effective_parameters(template, samconfig, config_env)
    retention_seconds = int(values["StreamRetentionHours"]) * 3600
    max_record_age = int(values["PipeMaximumRecordAgeSeconds"])

    for queue in pipe_dlqs | {HYDRATE_FAILURE_DLQ}:
        # WHEN its age alarm's metric math is evaluated with this config-env's parameters
        (alarm,) = _alarms_on(
            resources, "ApproximateAgeOfOldestMessage", {"Fn::GetAtt": [queue, "QueueName"]}
        )
        (expression,) = [q for q in alarm["Metrics"] if q.get("ReturnData")]
        text = _substitute(expression["Expression"], values)
        (age_id,) = [q["Id"] for q in alarm["Metrics"] if "MetricStat" in q]
        percent_per_second = eval(text, {"__builtins__": {}}, {age_id: 1.0})  # noqa: S307 - our template
        threshold_seconds = float(values["PipeDlqAgeAlarmPercent"]) / percent_per_second
        highest_seconds = template["Parameters"]["PipeDlqAgeAlarmPercent"]["MaxValue"] / percent_per_second

        # THEN it fires before retention ends, even for a record that was dead-lettered at the Pipes'
        # maximum record age, at any allowed percentage; by default at half of that window
        assert alarm["Threshold"] == {"Ref": "PipeDlqAgeAlarmPercent"}, queue
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold", queue
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], queue
        assert 0 < threshold_seconds < retention_seconds, (config_env, queue)
        assert threshold_seconds + max_record_age < retention_seconds, (config_env, queue)
        assert highest_seconds + max_record_age < retention_seconds, (config_env, queue)
    assert template["Parameters"]["PipeDlqAgeAlarmPercent"]["Default"] == 50


def test_alarms_every_hydrated_dlq_on_first_message_sent(resources):
    for queue in _hydrated_queues(resources):
        # GIVEN a DLQ the hydrate drains within seconds (visible-message alarms rarely see a message)
        # WHEN its NumberOfMessagesSent alarm is looked up
        (alarm,) = _alarms_on(resources, "NumberOfMessagesSent", {"Fn::GetAtt": [queue, "QueueName"]})

        # THEN the first message sent to it in a minute notifies the alarm topic
        assert (alarm["Namespace"], alarm["Statistic"], alarm["Period"]) == ("AWS/SQS", "Sum", 60), queue
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold"), queue
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], queue


@pytest.mark.parametrize(
    ("metric", "threshold", "comparison"),
    [
        ("UnrecoverableRecords", 1, "GreaterThanOrEqualToThreshold"),
        ("UnparsedMessages", 1, "GreaterThanOrEqualToThreshold"),
        ("HydrateFailures", 0, "GreaterThanThreshold"),
    ],
)
def test_alarms_dlq_hydrate_metrics_as_the_code_emits_them(
    template, resources, metric, threshold, comparison
):
    # GIVEN the namespace and service name Powertools puts on the hydrate's EMF metrics
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    service = _effective_function(template, "DlqHydrateFunction")["Environment"]["Variables"][
        "POWERTOOLS_SERVICE_NAME"
    ]
    handler = (DLQ_HYDRATE_DIR / "handler.py").read_text(encoding="utf-8")

    # WHEN the alarm on the metric is looked up
    (alarm,) = _alarms_on(resources, metric, service)

    # THEN it watches the metric the handler emits, in the platform namespace with the one dimension
    # Powertools adds (service), and notifies the alarm topic
    assert f'name="{metric}"' in handler
    assert alarm["Namespace"] == namespace
    assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
    assert alarm["Statistic"] == "Sum"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (threshold, comparison)
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


# -------------------- encryption, IAM, logs, alarms, outputs (all resources)


def test_encryption_every_queue_bucket_table_stream_topic_uses_platform_key(resources):
    # GIVEN every resource that stores data at rest
    for name, queue in _of_type(resources, "AWS::SQS::Queue").items():
        # WHEN / THEN queues: the platform key, 14 days to act on a dead letter
        assert queue["Properties"]["KmsMasterKeyId"] == PLATFORM_KEY_ARN, name
        if name not in NON_DLQ_QUEUES:
            assert queue["Properties"]["MessageRetentionPeriod"] == 1209600, name
    for name, table in _of_type(resources, "AWS::DynamoDB::Table").items():
        assert table["Properties"]["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": PLATFORM_KEY_ARN,
        }, name
    for name, stream in _of_type(resources, "AWS::Kinesis::Stream").items():
        assert stream["Properties"]["StreamEncryption"] == {
            "EncryptionType": "KMS",
            "KeyId": PLATFORM_KEY_ARN,
        }, name
    for name, topic in _of_type(resources, "AWS::SNS::Topic").items():
        assert topic["Properties"]["KmsMasterKeyId"] == PLATFORM_KEY_ARN, name
    for name, bucket in _of_type(resources, "AWS::S3::Bucket").items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        if name in ("AccessLogsBucket", "LoadBalancerLogsBucket"):
            # the exceptions: S3 server access log and ELB access log delivery support only SSE-S3
            assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
            continue
        key = PERSONAL_DATA_KEY_ARN if name in PERSONAL_DATA_BUCKETS else PLATFORM_KEY_ARN
        assert rule == {
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
            "BucketKeyEnabled": True,
        }, name


def test_iam_every_statement_named_actions_no_wildcard_resource_except_allowed(resources):
    # GIVEN every identity-policy statement (functions' Policies, roles, policies)
    statements = list(_identity_statements(resources))
    assert len({owner for owner, _ in statements}) >= 6

    for owner, statement in statements:
        # WHEN its actions and resources are expanded
        actions = _flat(statement["Action"])
        resource_list = _flat(statement["Resource"])

        # THEN it allows named API calls only, and "*" only for actions AWS authorizes on "*" alone
        assert statement["Effect"] == "Allow", owner
        assert all("*" not in action for action in actions), (owner, statement.get("Sid"))
        if "*" in resource_list:
            assert resource_list == ["*"], (owner, statement.get("Sid"))
            assert set(actions) <= WILDCARD_RESOURCE_ALLOWED.keys(), (owner, statement.get("Sid"))


def test_functions_every_function_own_log_group_with_retention_and_key(resources):
    for name, function in _of_type(resources, "AWS::Serverless::Function").items():
        # GIVEN a function, WHEN the log group its logging configuration names is looked up
        log_group_name = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        log_group = resources[log_group_name]

        # THEN it is a template-owned log group with retention and the platform key, same condition
        assert log_group["Type"] == "AWS::Logs::LogGroup", name
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert log_group["Properties"]["KmsKeyId"] == PLATFORM_KEY_ARN, name
        assert log_group.get("Condition") == function.get("Condition"), name


def test_alarms_every_dlq_on_first_visible_message(resources):
    for name in _of_type(resources, "AWS::SQS::Queue").keys() - NON_DLQ_QUEUES:
        # GIVEN a DLQ, WHEN its depth alarm is looked up
        (alarm,) = _alarms_on(
            resources, "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": [name, "QueueName"]}
        )

        # THEN one visible message notifies the alarm topic
        assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
            "Maximum",
            0,
            "GreaterThanThreshold",
        ), name
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


def test_alarms_every_function_errors_and_every_pipe_failures(resources):
    for name in _of_type(resources, "AWS::Serverless::Function"):
        # GIVEN a function, WHEN / THEN an Errors alarm notifies the topic
        (alarm,) = _alarms_on(resources, "Errors", {"Ref": name})
        assert alarm["Namespace"] == "AWS/Lambda", name
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    for name in _of_type(resources, "AWS::Pipes::Pipe"):
        # GIVEN a Pipe, WHEN / THEN an ExecutionFailed alarm notifies the topic
        (alarm,) = _alarms_on(resources, "ExecutionFailed", {"Ref": name})
        assert alarm["Namespace"] == "AWS/EventBridge/Pipes", name
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    # AND events that could not even reach a DLQ page someone
    (lost,) = _alarms_on(resources, "DestinationDeliveryFailures", {"Ref": "EnrichmentFunction"})
    assert lost["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_alarms_same_condition_as_what_they_watch(resources):
    for name, alarm in _of_type(resources, "AWS::CloudWatch::Alarm").items():
        # GIVEN an alarm, WHEN the resources its dimensions reference are collected
        watched = [
            _getatt_target(d["Value"])
            for metric in _alarm_metrics(alarm["Properties"])
            for d in metric["Dimensions"]
            if isinstance(d["Value"], dict)
            and ("Ref" in d["Value"] or "Fn::GetAtt" in d["Value"])
            and _getatt_target(d["Value"]) in resources
        ]

        # THEN it exists exactly where they exist
        for target in watched:
            conditions = (alarm.get("Condition"), resources[target].get("Condition"))
            assert conditions[0] == conditions[1] or conditions in IMPLIED_CONDITIONS, (name, target)


def _markdown_anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped (but - and _), spaces to hyphens."""
    headings = re.findall(r"^#{1,6} +(.+?) *$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_alarms_every_description_links_an_existing_runbook_section(resources):
    # GIVEN the runbook's section anchors
    anchors = _markdown_anchors(RUNBOOK.read_text(encoding="utf-8"))

    for name, alarm in _of_type(resources, "AWS::CloudWatch::Alarm").items():
        # WHEN the runbook link of an alarm's description is read
        links = re.findall(r"docs/runbook\.md#([A-Za-z0-9_-]+)", alarm["Properties"]["AlarmDescription"])

        # THEN it names a section that exists (on-call follows it from the notification)
        assert links, f"{name}: no docs/runbook.md#<section> in its description"
        for link in links:
            assert link in anchors, f"{name}: docs/runbook.md#{link} does not exist"


def test_outputs_pipeline_names_present_with_their_condition(template):
    # GIVEN / WHEN the outputs
    outputs = template["Outputs"]

    # THEN each pipeline (and primary-only) output exists, only where its resource exists
    for name, condition in {**EXPECTED_PROCESSING_OUTPUTS, **EXPECTED_PRIMARY_OUTPUTS}.items():
        assert name in outputs, name
        assert outputs[name].get("Condition") == condition, name
    # AND no output shares a logical id with a parameter, condition or resource
    assert not outputs.keys() & (
        template["Parameters"].keys() | template["Conditions"].keys() | template["Resources"].keys()
    )


def test_outputs_of_conditional_resources_carry_their_condition(template, resources):
    for name, output in template["Outputs"].items():
        if "Fn::If" in output["Value"]:
            # a value chosen by condition: tests/infra/test_regions.py resolves it in every Region role
            continue
        # GIVEN an output, WHEN the conditional resources its value refers to are collected
        conditions = {
            resources[target]["Condition"]
            for target in _references(output["Value"])
            if target in resources and "Condition" in resources[target]
        }

        # THEN it exists only where they exist (a Ref to a resource that is not created fails the deploy)
        assert len(conditions) <= 1, name
        if conditions:
            assert output.get("Condition") == next(iter(conditions)), name


def test_env_json_every_function_has_the_template_variables(template, resources):
    # GIVEN events/env.json (`sam local invoke --env-vars events/env.json`)
    env_file = json.loads(ENV_VARS_FILE.read_text(encoding="utf-8"))
    defaults = {name: str(parameter.get("Default", "")) for name, parameter in template["Parameters"].items()}

    # WHEN it is compared with the functions of the template (Globals applied)
    functions = _of_type(resources, "AWS::Serverless::Function")
    assert env_file.keys() == functions.keys()

    for function in functions:
        variables = _effective_function(template, function)["Environment"]["Variables"]
        entry = env_file[function]

        # THEN every variable the template gives the function is there (sam local sets only those)
        assert entry.keys() - ENV_JSON_EXTRA_VARS == variables.keys(), function
        assert all(isinstance(value, str) for value in entry.values()), function
        for variable, value in variables.items():
            # AND literals and parameters have the template's (default) value; the signing key is
            # the secret's name, as deployed; resources have a local name
            if isinstance(value, str):
                assert entry[variable] == value, (function, variable)
            elif value == SIGNING_KEY_SECRET_NAME:
                assert entry[variable] == _substitute(value, defaults), (function, variable)
            elif "Ref" in value and value["Ref"] in defaults:
                assert entry[variable] == defaults[value["Ref"]], (function, variable)
            elif "Fn::If" in value and "" in value["Fn::If"][1:]:
                # AND an optional feature's resource (the front-door buffer) is off, as by default
                assert entry[variable] == "", (function, variable)
            else:
                assert entry[variable], (function, variable)


def test_samconfig_secondary_deploys_edge_only_in_active_archive(samconfig):
    # GIVEN the secondary config-env
    env = samconfig["secondary"]
    overrides = dict(
        item.split("=", 1) for item in _as_list(env["deploy"]["parameters"]["parameter_overrides"])
    )

    # WHEN its Region is compared with the primary Region it names
    region = env["global"]["parameters"]["region"]

    # THEN it is not the primary and runs active-archive: RunsProcessing is false there
    assert region != overrides["PrimaryRegion"]
    assert overrides["ProcessingMode"] == "active-archive"
