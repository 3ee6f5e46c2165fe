"""What the template keeps of personal data, and how it guards it: TLS-only queues, access logs
without user agents or full addresses, and the keys that encrypt personal data (docs/data-map.md)."""

from __future__ import annotations

import json
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


def test_api_access_log_keeps_no_client_address_or_user_agent(resources):
    # GIVEN the HTTP API's access-log format
    log_format = resources["IngestApi"]["Properties"]["AccessLogSettings"]["Format"]
    # WHEN its fields are read
    fields = json.loads(log_format)
    # THEN no variable of the caller's identity is logged (IP, User-Agent, any $context.identity.*),
    # while the request id (the join to the validator's log) and the answer's status stay
    assert "$context.identity" not in log_format
    assert not {"sourceIp", "userAgent"} & fields.keys()
    assert {"requestId": "$context.requestId", "status": "$context.status"}.items() <= fields.items()
