"""What the template keeps of personal data, and how it guards it: TLS-only queues, access logs
without user agents or full addresses, and the keys that encrypt personal data (docs/data-map.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.rendering import sam_translated, template

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


# -------------------- keys (docs/data-map.md#keys)

PERSONAL_DATA_TAG = "customer-signals-personal-data"
KEY_USE = {"kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey"}
# The roles that write (or replicate) the stores under the personal-data key.
PERSONAL_DATA_ROLES = {
    "EnrichmentFunctionRole",
    "S3WriterFunctionRole",
    "DlqHydrateFunctionRole",
    "BucketReplicationRole",
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_personal_data_key_administered_but_used_only_by_tagged_principals(resources):
    # GIVEN the personal-data key's policy
    key = resources["PersonalDataKey"]["Properties"]
    statements = key["KeyPolicy"]["Statement"]
    assert key["EnableKeyRotation"] is True

    for statement in statements:
        actions = set(_as_list(statement["Action"]))
        # WHEN a statement is read
        # THEN it names actions (no kms:* nor kms:Create*) and never allows creating grants,
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in actions), statement["Sid"]
        assert "kms:CreateGrant" not in actions, statement["Sid"]
        # AND any use of the key (encrypt, decrypt, data keys) needs the environment's principal tag
        if actions & KEY_USE:
            assert statement["Condition"] == {
                "StringEquals": {f"aws:PrincipalTag/{PERSONAL_DATA_TAG}": {"Ref": "EnvironmentName"}}
            }, statement["Sid"]
    # AND the account can still administer it (CloudFormation's lockout check needs PutKeyPolicy)
    administration = {a for s in statements if "Condition" not in s for a in _as_list(s["Action"])}
    assert {"kms:PutKeyPolicy", "kms:DescribeKey", "kms:ScheduleKeyDeletion"} <= administration
    assert not administration & KEY_USE


def test_personal_data_key_tag_only_on_the_roles_that_write_those_stores():
    # GIVEN the roles SAM would deploy and the IAM grants on the personal-data key
    translated = sam_translated()["Resources"]
    roles = {name: r["Properties"] for name, r in translated.items() if r["Type"] == "AWS::IAM::Role"}
    tagged = {
        name for name, role in roles.items() if PERSONAL_DATA_TAG in {t["Key"] for t in role.get("Tags", [])}
    }
    documents = [
        (name, p["PolicyDocument"]) for name, role in roles.items() for p in role.get("Policies", [])
    ]
    documents += [
        (attached["Ref"], r["Properties"]["PolicyDocument"])
        for r in translated.values()
        if r["Type"] == "AWS::IAM::Policy"
        for attached in r["Properties"]["Roles"]
    ]
    using = {
        name
        for name, document in documents
        for statement in _as_list(document.get("Statement", []))
        if {"Fn::GetAtt": ["PersonalDataKey", "Arn"]} in _as_list(statement.get("Resource"))
    }
    # WHEN / THEN exactly the roles that write or replicate the lake, DLQ store and quarantine carry
    # the tag, each with the environment's name, and those are the roles granted the key
    assert tagged == PERSONAL_DATA_ROLES
    assert using == PERSONAL_DATA_ROLES
    for name in tagged:
        (tag,) = [t for t in roles[name]["Tags"] if t["Key"] == PERSONAL_DATA_TAG]
        assert tag["Value"] == {"Ref": "EnvironmentName"}, name


def test_personal_data_key_encrypts_every_bucket_but_the_access_logs(resources):
    # GIVEN every bucket
    for name, bucket in _of_type(resources, "AWS::S3::Bucket").items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        # WHEN / THEN the stores of events (lake, DLQ store, quarantine, replicas) use the personal-data
        # key; the access-log buckets have SSE-S3, the only encryption S3 and load balancer log delivery
        # support
        if name in ("AccessLogsBucket", "LoadBalancerLogsBucket"):
            assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        else:
            assert rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
                "Fn::GetAtt": ["PersonalDataKey", "Arn"]
            }, name
