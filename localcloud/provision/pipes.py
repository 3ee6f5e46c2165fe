"""EventBridge Pipes."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from localcloud.provision.stack import Resource

if TYPE_CHECKING:
    from localcloud.provision.engine import Provisioner


def pipe(p: Provisioner, logical_id: str, props: dict[str, Any]) -> Resource:
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
