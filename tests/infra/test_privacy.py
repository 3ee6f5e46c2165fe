"""What the template keeps of personal data, and how it guards it: TLS-only queues, access logs
without user agents or full addresses, and the keys that encrypt personal data (docs/data-map.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.rendering import template

TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return template()["Resources"]


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in resources.items() if r["Type"] == resource_type}


def _target(value: dict[str, Any]) -> str:
    return str(value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value["Ref"])


def test_queues_every_queue_policy_denies_requests_without_tls(resources):
    # GIVEN every queue policy, by the queues it applies to
    policies: dict[str, dict[str, Any]] = {}
    for policy in _of_type(resources, "AWS::SQS::QueuePolicy").values():
        for queue in policy["Properties"]["Queues"]:
            policies[_target(queue)] = policy

    for name, queue in _of_type(resources, "AWS::SQS::Queue").items():
        # WHEN the queue's policy is looked up
        assert name in policies, f"{name} has no queue policy"
        policy = policies[name]

        # THEN it exists wherever the queue does, and it refuses every request that is not over TLS
        assert policy.get("Condition") == queue.get("Condition"), name
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": {"Fn::GetAtt": [name, "Arn"]},
            "Condition": TLS_ONLY,
        } in denies, name
