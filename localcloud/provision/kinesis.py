"""Kinesis data streams."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def stream(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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
