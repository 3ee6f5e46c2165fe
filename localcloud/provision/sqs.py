"""SQS queues with their attributes and redrive policies."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


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


def queue(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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
