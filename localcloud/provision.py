"""Provisioning: every resource of the translated template created in moto, in dependency order.

Three kinds of resource:

- **created in moto** (buses, rules with their exact patterns and targets, archives, connections,
  API destinations, streams, queues, buckets, tables with TTL, secrets, KMS keys, log groups, Glue,
  SSM parameters, SNS topics, pipes): the local cloud then uses them through the AWS APIs;
- **run by the local cloud** (functions, event source mappings, async invoke configs, HTTP API
  routes): recorded with their resolved properties for the runtime and the emulators;
- **accepted without local effect** (IAM, resource policies, permissions, alarms, Route 53) and
  **not emulated** (anything else, e.g. the EventBridge global endpoint, which moto lacks): recorded
  with placeholder attributes so references resolve, and listed in one log line at start.
"""

from __future__ import annotations

import json
import logging
import random
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from localcloud.intrinsics import Intrinsics, pseudo_parameters, references
from localcloud.names import PhysicalNames
from localcloud.template import ACCOUNT_ID, LoadedTemplate, TemplateError

log = logging.getLogger("localcloud")

RUN_LOCALLY: Final = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
    }
)
NO_LOCAL_EFFECT: Final = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::Events::EventBusPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::Route53::HealthCheck",
        "AWS::Route53::RecordSet",
        "AWS::Route53::RecordSetGroup",
        "AWS::ApiGatewayV2::DomainName",
        "AWS::ApiGatewayV2::ApiMapping",
    }
)
_DYNAMIC_REFERENCE: Final = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")


@dataclass(slots=True)
class Resource:
    """One provisioned resource: resolved properties, its Ref value and its GetAtt attributes."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return str(self.attributes.get("Arn", self.ref))


@dataclass(slots=True)
class Stack:
    region: str
    account_id: str
    stack_name: str
    resources: dict[str, Resource] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    no_local_effect: list[str] = field(default_factory=list)
    not_emulated: list[str] = field(default_factory=list)

    def of_type(self, resource_type: str) -> list[Resource]:
        return [resource for resource in self.resources.values() if resource.type == resource_type]

    def by_arn(self, arn: str) -> Resource | None:
        for resource in self.resources.values():
            if arn in (resource.attributes.get("Arn"), resource.ref):
                return resource
        return None

    def get(self, logical_id: str) -> Resource:
        try:
            return self.resources[logical_id]
        except KeyError as exc:
            reason = self.skipped.get(logical_id, "not in the template")
            raise TemplateError(f"resource {logical_id} is not provisioned ({reason})") from exc

    def value(self, logical_id: str, attribute: str | None) -> Any:
        resource = self.get(logical_id)
        if attribute is None:
            return resource.ref
        if attribute not in resource.attributes:
            raise TemplateError(
                f"Fn::GetAtt {logical_id}.{attribute}: {resource.type} offers "
                f"{', '.join(sorted(resource.attributes)) or 'no attributes'} locally"
            )
        return resource.attributes[attribute]


@dataclass(frozen=True, slots=True)
class ProvisionSettings:
    on_demand_shards: int = 4
    seed: int = 0


Creator = Callable[["Provisioner", str, dict[str, Any]], Resource]


def dependency_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids so that every resource comes after those it references (Ref, GetAtt, Sub, DependsOn)."""
    needs: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        wanted = set(references(resource.get("Properties", {}))) | set(
            [depends] if isinstance(depends, str) else depends
        )
        needs[logical_id] = {name for name in wanted if name in resources and name != logical_id}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if state.get(logical_id) == 2:
            return
        if state.get(logical_id) == 1:
            raise TemplateError(f"circular references: {' -> '.join((*path, logical_id))}")
        state[logical_id] = 1
        for needed in sorted(needs[logical_id]):
            visit(needed, (*path, logical_id))
        state[logical_id] = 2
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id, ())
    return order


class Provisioner:
    def __init__(
        self,
        session: Any,
        *,
        region: str,
        stack_name: str,
        settings: ProvisionSettings | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.session = session
        self.region = region
        self.account_id = account_id
        self.names = PhysicalNames(stack_name)
        self.settings = settings or ProvisionSettings()
        self.rng = random.Random(self.settings.seed)
        self.stack = Stack(region, account_id, stack_name)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region)
        return self._clients[service]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def provision(self, template: LoadedTemplate) -> Stack:
        resources = template.resources
        intrinsics = Intrinsics(
            template.cfn,
            template.parameters,
            pseudo_parameters(self.region, self.account_id, self.stack.stack_name),
            self.stack.value,
        )
        check_rules(template.cfn, intrinsics)
        for logical_id in dependency_order(resources):
            declared = resources[logical_id]
            condition = declared.get("Condition")
            if condition and not intrinsics.condition(condition):
                self.stack.skipped[logical_id] = f"condition {condition} is false"
                continue
            properties = self._dynamic_references(intrinsics.resolve(declared.get("Properties") or {}))
            resource_type = declared["Type"]
            creator = CREATORS.get(resource_type)
            if creator is not None:
                resource = creator(self, logical_id, properties)
            else:
                resource = self._placeholder(logical_id, resource_type, properties)
                if resource_type in NO_LOCAL_EFFECT:
                    self.stack.no_local_effect.append(f"{logical_id} ({resource_type})")
                elif resource_type not in RUN_LOCALLY:
                    self.stack.not_emulated.append(f"{logical_id} ({resource_type})")
            self.stack.resources[logical_id] = resource
        if self.stack.not_emulated:
            log.warning("not emulated locally: %s", ", ".join(self.stack.not_emulated))
        if self.stack.no_local_effect:
            log.info("accepted without local effect: %s", ", ".join(self.stack.no_local_effect))
        return self.stack

    # ---------------------------------------------------------------- helpers
    def _dynamic_references(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._dynamic_references(item) for item in node]
        if isinstance(node, dict):
            return {key: self._dynamic_references(value) for key, value in node.items()}
        if isinstance(node, str) and "{{resolve:" in node:
            return _DYNAMIC_REFERENCE.sub(lambda match: self._resolve_reference(match[1], match[2]), node)
        return node

    def _resolve_reference(self, service: str, spec: str) -> str:
        if service.startswith("ssm"):
            name = spec.split(":", maxsplit=1)[0]
            return str(self.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        # secret-id:SecretString:json-key:version-stage:version-id (the secret id may itself be an ARN)
        if spec.startswith("arn:"):
            parts = spec.split(":")
            secret_id, rest = ":".join(parts[:7]), parts[7:]
        else:
            secret_id, *rest = spec.split(":")
        value = str(self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
        json_key = rest[1] if len(rest) > 1 else ""
        return str(json.loads(value)[json_key]) if json_key else value

    def _placeholder(self, logical_id: str, resource_type: str, properties: dict[str, Any]) -> Resource:
        """Resources the local cloud runs itself or only records: stable names and ARNs."""
        service = resource_type.split("::")[1].lower()
        name = str(
            properties.get("FunctionName")
            or properties.get("RoleName")
            or properties.get("Name")
            or self.names.name(logical_id)
        )
        arn = self.arn(service, f"{logical_id.lower()}/{name}")
        attributes: dict[str, Any] = {"Arn": arn, "Name": name}
        ref: Any = name
        if resource_type == "AWS::Lambda::Function":
            arn = self.arn("lambda", f"function:{name}")
            attributes = {"Arn": arn, "Name": name}
        elif resource_type == "AWS::Lambda::LayerVersion":
            ref = self.arn("lambda", f"layer:{properties.get('LayerName', name)}:1")
            attributes = {"LayerVersionArn": ref}
        elif resource_type == "AWS::IAM::Role":
            attributes = {
                "Arn": f"arn:aws:iam::{self.account_id}:role/{name}",
                "RoleId": self.names.suffix(name),
            }
        elif resource_type == "AWS::ApiGatewayV2::Api":
            ref = self.names.suffix(logical_id)[:10].lower()
            attributes = {
                "ApiId": ref,
                "ApiEndpoint": f"https://{ref}.execute-api.{self.region}.amazonaws.com",
            }
        elif resource_type == "AWS::Lambda::EventSourceMapping":
            ref = f"{self.names.suffix(logical_id).lower()}-esm"
            attributes = {
                "Id": ref,
                "EventSourceMappingArn": self.arn("lambda", f"event-source-mapping:{ref}"),
            }
        elif resource_type == "AWS::Events::Endpoint":
            attributes = {
                "Arn": self.arn("events", f"endpoint/{name}"),
                "EndpointId": f"{self.names.suffix(logical_id)[:5].lower()}.veo",
                "EndpointUrl": f"https://{self.names.suffix(logical_id)[:5].lower()}.veo.endpoint.events.amazonaws.com",
                "State": "ACTIVE",
            }
        return Resource(logical_id, resource_type, properties, ref, attributes)

    def random_string(self, spec: Mapping[str, Any]) -> str:
        """A GenerateSecretString value: seeded, so a local run is reproducible."""
        alphabet = ""
        if not spec.get("ExcludeLowercase"):
            alphabet += string.ascii_lowercase
        if not spec.get("ExcludeUppercase"):
            alphabet += string.ascii_uppercase
        if not spec.get("ExcludeNumbers"):
            alphabet += string.digits
        if not spec.get("ExcludePunctuation"):
            alphabet += "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
        if spec.get("IncludeSpace"):
            alphabet += " "
        excluded = set(str(spec.get("ExcludeCharacters", "")))
        alphabet = "".join(char for char in alphabet if char not in excluded)
        length = int(spec.get("PasswordLength", 32))
        return "".join(self.rng.choice(alphabet) for _ in range(length))


def check_rules(template: Mapping[str, Any], intrinsics: Intrinsics) -> None:
    """The template's ``Rules`` (parameter assertions), checked as CloudFormation does before creating."""
    for name, rule in (template.get("Rules") or {}).items():
        try:
            failed = _failed_assertion(rule, intrinsics)
        except TemplateError as exc:
            log.warning("template rule %s not checked locally: %s", name, exc)
            continue
        if failed is not None:
            raise TemplateError(f"template rule {name}: {failed}")


def _failed_assertion(rule: Mapping[str, Any], intrinsics: Intrinsics) -> str | None:
    if "RuleCondition" in rule and not intrinsics.condition_value(rule["RuleCondition"]):
        return None
    for assertion in rule.get("Assertions", []):
        if not intrinsics.condition_value(assertion["Assert"]):
            return str(assertion.get("AssertDescription", "an assertion failed"))
    return None


# ---------------------------------------------------------------------------- creators
def _bus(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props["Name"]
    arn = p.client("events").create_event_bus(Name=name)["EventBusArn"]
    return Resource(logical_id, "AWS::Events::EventBus", props, name, {"Arn": arn, "Name": name})


def _rule(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    events = p.client("events")
    name = props.get("Name") or p.names.name(logical_id)
    bus = str(props.get("EventBusName", "default"))
    request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": props.get("State", "ENABLED")}
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    for key in ("ScheduleExpression", "Description", "RoleArn"):
        if key in props:
            request[key] = props[key]
    arn = events.put_rule(**request)["RuleArn"]
    targets = [_target(target) for target in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
    bus_name = bus.rsplit("/", 1)[-1]
    ref = name if bus_name == "default" else f"{bus_name}|{name}"
    return Resource(logical_id, "AWS::Events::Rule", props, ref, {"Arn": arn, "Name": name})


def _target(target: dict[str, Any]) -> dict[str, Any]:
    converted = dict(target)
    if isinstance(converted.get("RetryPolicy"), dict):
        converted["RetryPolicy"] = {key: int(value) for key, value in converted["RetryPolicy"].items()}
    return converted


def _archive(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("ArchiveName") or p.names.name(logical_id, max_length=48)
    request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    if "RetentionDays" in props:
        request["RetentionDays"] = int(props["RetentionDays"])
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    arn = p.client("events").create_archive(**request)["ArchiveArn"]
    return Resource(logical_id, "AWS::Events::Archive", props, name, {"Arn": arn, "ArchiveName": name})


def _connection(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or p.names.name(logical_id)
    answer = p.client("events").create_connection(
        Name=name,
        AuthorizationType=props["AuthorizationType"],
        AuthParameters=props.get("AuthParameters", {}),
    )
    arn = answer["ConnectionArn"]
    secret_arn = p.arn("secretsmanager", f"secret:events!connection/{name}")
    return Resource(logical_id, "AWS::Events::Connection", props, name, {"Arn": arn, "SecretArn": secret_arn})


def _api_destination(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or p.names.name(logical_id)
    request: dict[str, Any] = {
        "Name": name,
        "ConnectionArn": props["ConnectionArn"],
        "InvocationEndpoint": props["InvocationEndpoint"],
        "HttpMethod": props["HttpMethod"],
    }
    if "InvocationRateLimitPerSecond" in props:
        request["InvocationRateLimitPerSecond"] = int(props["InvocationRateLimitPerSecond"])
    arn = p.client("events").create_api_destination(**request)["ApiDestinationArn"]
    for_policy = p.arn("events", f"api-destination/{name}")  # the ARN without its generated id
    return Resource(
        logical_id, "AWS::Events::ApiDestination", props, name, {"Arn": arn, "ArnForPolicy": for_policy}
    )


def _stream(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    kinesis = p.client("kinesis")
    name = props.get("Name") or p.names.name(logical_id, max_length=128)
    mode = (props.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    # On-demand streams get a fixed, configurable shard count locally (moto would always use 4).
    shards = p.settings.on_demand_shards if mode == "ON_DEMAND" else int(props.get("ShardCount", 1))
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    retention = int(props.get("RetentionPeriodHours", 24))
    if retention > 24:
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=retention)
    arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]
    return Resource(logical_id, "AWS::Kinesis::Stream", props, name, {"Arn": arn, "Name": name})


_QUEUE_ATTRIBUTES: Final = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "SqsManagedSseEnabled",
    "RedrivePolicy",
    "RedriveAllowPolicy",
)


def _queue(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    sqs = p.client("sqs")
    fifo = str(props.get("FifoQueue", "false")).lower() == "true"
    name = props.get("QueueName") or p.names.name(logical_id, max_length=80, fifo=fifo)
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in props:
            value = props[key]
            attributes[key] = json.dumps(value) if isinstance(value, dict) else _flag(value)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = p.arn("sqs", name)
    return Resource(
        logical_id, "AWS::SQS::Queue", props, url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
    )


def _flag(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _bucket(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    s3 = p.client("s3")
    name = props.get("BucketName") or p.names.name(logical_id, max_length=63, lowercase=True)
    request: dict[str, Any] = {"Bucket": name}
    if p.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": p.region}
    s3.create_bucket(**request)
    if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    attributes = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{p.region}.amazonaws.com",
    }
    return Resource(logical_id, "AWS::S3::Bucket", props, name, attributes)


def _table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    return _create_table(p, logical_id, props, "AWS::DynamoDB::Table")


def _create_table(p: Provisioner, logical_id: str, props: dict[str, Any], resource_type: str) -> Resource:
    dynamodb = p.client("dynamodb")
    name = props.get("TableName") or p.names.name(logical_id, max_length=255)
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = {
            key: int(value)
            for key, value in (
                props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            ).items()
        }
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(key):
            request[key] = props[key]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    description = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification") or {}
    if str(ttl.get("Enabled", "false")).lower() == "true":
        dynamodb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
        )
    attributes = {"Arn": description["TableArn"], "StreamArn": description.get("LatestStreamArn", "")}
    return Resource(logical_id, resource_type, props, name, attributes)


def _global_table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    """A global table is one local table: replicas are other Regions (the multi-Region issue's job)."""
    plain = {
        key: value
        for key, value in props.items()
        if key not in ("Replicas", "WriteProvisionedThroughputSettings")
    }
    plain["BillingMode"] = props.get("BillingMode", "PAY_PER_REQUEST")
    resource = _create_table(p, logical_id, plain, "AWS::DynamoDB::GlobalTable")
    resource.properties = props
    return resource


def _secret(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or f"{logical_id}-{p.names.suffix(logical_id)}"
    generate = props.get("GenerateSecretString")
    if "SecretString" in props:
        value = str(props["SecretString"])
    elif generate is not None:
        value = p.random_string(generate)
        if "SecretStringTemplate" in generate:
            document = json.loads(generate["SecretStringTemplate"])
            document[generate["GenerateStringKey"]] = value
            value = json.dumps(document)
    else:
        value = p.random_string({})
    request: dict[str, Any] = {"Name": name, "SecretString": value}
    if "Description" in props:
        request["Description"] = props["Description"]
    arn = p.client("secretsmanager").create_secret(**request)["ARN"]
    return Resource(logical_id, "AWS::SecretsManager::Secret", props, arn, {"Id": arn, "Arn": arn})


def _kms_key(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    request: dict[str, Any] = {}
    for key in ("Description", "KeyUsage", "KeySpec"):
        if key in props:
            request[key] = props[key]
    metadata = p.client("kms").create_key(**request)["KeyMetadata"]
    return Resource(
        logical_id,
        "AWS::KMS::Key",
        props,
        metadata["KeyId"],
        {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]},
    )


def _kms_alias(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    p.client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Resource(logical_id, "AWS::KMS::Alias", props, props["AliasName"])


def _log_group(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    logs = p.client("logs")
    name = props.get("LogGroupName") or p.names.name(logical_id, max_length=512)
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = p.arn("logs", f"log-group:{name}:*")
    return Resource(logical_id, "AWS::Logs::LogGroup", props, name, {"Arn": arn})


def _glue_database(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    database = dict(props["DatabaseInput"])
    database.setdefault("Name", p.names.name(logical_id, lowercase=True).replace("-", "_"))
    p.client("glue").create_database(DatabaseInput=database)
    return Resource(logical_id, "AWS::Glue::Database", props, database["Name"])


def _glue_table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    table = dict(props["TableInput"])
    table.setdefault("Name", p.names.name(logical_id, lowercase=True).replace("-", "_"))
    p.client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=table)
    return Resource(logical_id, "AWS::Glue::Table", props, table["Name"])


def _ssm_parameter(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or f"/{p.names.name(logical_id)}"
    p.client("ssm").put_parameter(Name=name, Value=str(props["Value"]), Type=props.get("Type", "String"))
    return Resource(
        logical_id,
        "AWS::SSM::Parameter",
        props,
        name,
        {"Type": props.get("Type", "String"), "Value": props["Value"]},
    )


def _topic(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("TopicName") or p.names.name(logical_id, max_length=256)
    arn = p.client("sns").create_topic(Name=name)["TopicArn"]
    return Resource(logical_id, "AWS::SNS::Topic", props, arn, {"TopicArn": arn, "TopicName": name})


def _pipe(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or p.names.name(logical_id)
    request: dict[str, Any] = {
        "Name": name,
        "Source": props["Source"],
        "Target": props["Target"],
        "RoleArn": props.get("RoleArn", f"arn:aws:iam::{p.account_id}:role/pipe"),
    }
    for key in (
        "Description",
        "DesiredState",
        "SourceParameters",
        "TargetParameters",
        "Enrichment",
        "EnrichmentParameters",
    ):
        if key in props:
            request[key] = _numbers(props[key])
    arn = p.client("pipes").create_pipe(**request)["Arn"]
    return Resource(logical_id, "AWS::Pipes::Pipe", props, name, {"Arn": arn, "Name": name})


def _numbers(node: Any) -> Any:
    """CloudFormation passes numbers of nested structures as strings when they come from parameters."""
    if isinstance(node, dict):
        return {key: _numbers(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_numbers(item) for item in node]
    if isinstance(node, str) and re.fullmatch(r"-?[0-9]+", node) and len(node) < 10:
        return int(node)
    return node


CREATORS: Final[dict[str, Creator]] = {
    "AWS::Events::EventBus": _bus,
    "AWS::Events::Rule": _rule,
    "AWS::Events::Archive": _archive,
    "AWS::Events::Connection": _connection,
    "AWS::Events::ApiDestination": _api_destination,
    "AWS::Kinesis::Stream": _stream,
    "AWS::SQS::Queue": _queue,
    "AWS::S3::Bucket": _bucket,
    "AWS::DynamoDB::Table": _table,
    "AWS::DynamoDB::GlobalTable": _global_table,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Glue::Database": _glue_database,
    "AWS::Glue::Table": _glue_table,
    "AWS::SSM::Parameter": _ssm_parameter,
    "AWS::SNS::Topic": _topic,
    "AWS::Pipes::Pipe": _pipe,
}
