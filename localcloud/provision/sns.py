"""SNS topics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def topic(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    name = props.get("TopicName") or p.names.name(logical_id, max_length=256)
    arn = p.client("sns").create_topic(Name=name)["TopicArn"]
    return Resource(logical_id, "AWS::SNS::Topic", props, arn, {"TopicArn": arn, "TopicName": name})
