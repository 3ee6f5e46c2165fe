"""EventBridge: buses, rules with their exact patterns and targets, archives, connections,
API destinations."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def bus(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props["Name"]
    arn = p.client("events").create_event_bus(Name=name)["EventBusArn"]
    return Resource(logical_id, "AWS::Events::EventBus", props, name, {"Arn": arn, "Name": name})


def rule(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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


def archive(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("ArchiveName") or p.names.name(logical_id, max_length=48)
    request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
    if "RetentionDays" in props:
        request["RetentionDays"] = int(props["RetentionDays"])
    if "EventPattern" in props:
        pattern = props["EventPattern"]
        request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
    arn = p.client("events").create_archive(**request)["ArchiveArn"]
    return Resource(logical_id, "AWS::Events::Archive", props, name, {"Arn": arn, "ArchiveName": name})


def connection(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("Name") or p.names.name(logical_id)
    answer = p.client("events").create_connection(
        Name=name,
        AuthorizationType=props["AuthorizationType"],
        AuthParameters=props.get("AuthParameters", {}),
    )
    arn = answer["ConnectionArn"]
    secret_arn = p.arn("secretsmanager", f"secret:events!connection/{name}")
    return Resource(logical_id, "AWS::Events::Connection", props, name, {"Arn": arn, "SecretArn": secret_arn})


def api_destination(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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
