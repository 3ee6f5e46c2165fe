"""Emulator tests: small synthetic templates and synthetic handlers, run by the real local cloud.

Each test writes a plain CloudFormation template (JSON is YAML) to its tmp_path, starts a
``LocalCloud`` from it with handler overrides, drives it, and reads the outcome back through the AWS
APIs (moto). The cloud's clock is virtual, so waits (retry delays, batching windows, record ages)
cost nothing and nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.faults import Fault

ROLE = "arn:aws:iam::123456789012:role/localcloud-test"


def function(name: str, **properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Handler": "synthetic.handler",
            "Runtime": "python3.13",
            "Role": ROLE,
            "Code": {"ZipFile": "synthetic"},
            "Timeout": 10,
            **properties,
        },
    }


def queue(**properties: Any) -> dict[str, Any]:
    return {"Type": "AWS::SQS::Queue", "Properties": properties}


def arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def write_template(folder: Path, resources: dict[str, Any], **sections: Any) -> Path:
    path = folder / "template.yaml"
    path.write_text(
        json.dumps({"AWSTemplateFormatVersion": "2010-09-09", **sections, "Resources": resources})
    )
    return path


@dataclass
class Recorder:
    """A synthetic handler: records every event; ``answer(event, call_number)`` decides what it returns
    (raise to fail the invocation)."""

    answer: Callable[[Any, int], Any] = lambda event, call: None
    events: list[Any] = field(default_factory=list)

    def __call__(self, event: Any, _context: Any) -> Any:
        self.events.append(event)
        return self.answer(event, len(self.events))


@contextmanager
def running(
    folder: Path,
    resources: dict[str, Any],
    *,
    handlers: dict[str, Recorder],
    faults: tuple[Fault, ...] = (),
    parameters: dict[str, Any] | None = None,
    overrides: dict[str, str] | None = None,
) -> Iterator[LocalCloud]:
    sections = {"Parameters": parameters} if parameters else {}
    template = write_template(folder, resources, **sections)
    options = CloudOptions(
        template=template,
        region="us-west-2",
        stack_name="lc-test",
        handlers=dict(handlers),
        faults=list(faults),
        overrides=dict(overrides or {}),
        partner=False,
    )
    with LocalCloud(options) as cloud:
        yield cloud


def queue_messages(cloud: LocalCloud, logical_id: str) -> list[dict[str, Any]]:
    """Every message of a queue, consumed (tests read DLQs once)."""
    sqs = cloud.services.client("sqs")
    url = cloud.stack.get(logical_id).ref
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def attributes(message: dict[str, Any]) -> dict[str, str]:
    return {name: value["StringValue"] for name, value in message.get("MessageAttributes", {}).items()}
