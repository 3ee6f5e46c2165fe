"""DynamoDB tables (with TTL and streams) and global tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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


def global_table(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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
