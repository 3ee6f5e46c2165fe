"""CloudWatch Logs log groups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def log_group(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
    logs = p.client("logs")
    name = props.get("LogGroupName") or p.names.name(logical_id, max_length=512)
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    arn = p.arn("logs", f"log-group:{name}:*")
    return Resource(logical_id, "AWS::Logs::LogGroup", props, name, {"Arn": arn})
