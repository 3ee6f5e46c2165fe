"""Least privilege over every role the stack creates, proven on the template SAM would deploy.

The walk covers what SAM generates too: each function's role with its inline policy (SAM policy
templates expand into it) and the AWS managed policies SAM attaches. A managed policy's document is not
in the template, so the ones allowed are written out below as AWS publishes them; any other managed
policy fails the test until it is read and listed here.

The rules: no action with a wildcard; Resource "*" only for actions that AWS authorizes on "*" alone
(the Service Authorization Reference lists no resource type for them) or that a Deny in the same role
narrows to named resources; any other wildcard in a resource only as the last part of one named
resource (objects under a prefix of one bucket, names AWS generates under one bus), with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest

from tests.infra.rendering import sam_translated

IAM_TYPES: Final = {"AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}
LOGS_WRITE: Final = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
XRAY_WRITE: Final = [
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
]
# The AWS managed policies a role may carry: why, and their documents as AWS publishes them.
MANAGED_POLICIES: Final[dict[str, tuple[str, list[dict[str, Any]]]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": (
        "SAM attaches it to every function role it generates; each function's LogOnlyToItsOwnLogGroup "
        "Deny narrows its Resource '*' to the function's own log group",
        [{"Effect": "Allow", "Action": LOGS_WRITE, "Resource": "*"}],
    ),
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": (
        "SAM attaches it for Tracing: Active; write-only, and X-Ray has no resource-level permissions",
        [{"Effect": "Allow", "Action": XRAY_WRITE, "Resource": ["*"]}],
    ),
}
# Actions AWS authorizes on Resource "*" only (no resource type in the Service Authorization Reference).
RESOURCE_STAR_ACTIONS: Final = {
    "kinesis:ListStreams": "a Pipe lists the account's streams; the action has no resource type",
    **dict.fromkeys(XRAY_WRITE, "X-Ray has no resource-level permissions (AWSXrayWriteOnlyAccess)"),
}
SECRET_SUFFIX: Final = (
    "the signing key by name: Secrets Manager appends six random characters to a secret's ARN ('-??????')"
)
# (owner, statement Sid) -> why a wildcard stays in its resource ARNs.
SCOPED_WILDCARDS: Final = {
    ("EndpointReplicationRole", "ManageTheEndpointsManagedRules"): (
        "EventBridge names the global endpoint's managed rules GlobalEndpointManagedRule-<random>, "
        "always on the one ingress bus"
    ),
    (
        "LakePipeRole",
        "WriteThePipesLogs",
    ): "the log streams of the lake Pipe's own log group (GetAtt Arn ends ':*')",
    ("PartnerPipeRole", "WriteThePipesLogs"): "the log streams of the partner Pipe's own log group",
    ("BucketReplicationPolicy", "ReadTheSourceVersions"): "every object of the two replicated buckets",
    ("BucketReplicationPolicy", "WriteTheReplicas"): "every object of the two replica buckets",
    (
        "EnrichmentFunctionRole",
        "QuarantineRejectedBatches",
    ): "objects under quarantine/ of the quarantine bucket",
    ("S3WriterFunctionRole", "WriteLakeAndBadRecordObjects"): "objects under events/ and bad/ of the lake",
    ("DlqHydrateFunctionRole", "WriteTheDlqStoreAreas"): "objects under dlq/, unrecoverable/, unparsed/",
    ("ValidatorFunctionRole", "ReadTheSigningKey"): SECRET_SUFFIX,
    ("EnrichmentFunctionRole", "ReadTheSigningKey"): SECRET_SUFFIX,
    ("BatcherFunctionRole", "ReadTheSigningKey"): SECRET_SUFFIX,
}


def _branches(value: Any) -> list[Any]:
    """Both outcomes of an Fn::If (AWS::NoValue dropped); any other value as a one-item list."""
    if isinstance(value, dict) and "Fn::If" in value:
        _, when_true, when_false = value["Fn::If"]
        return [*_branches(when_true), *_branches(when_false)]
    if value == {"Ref": "AWS::NoValue"}:
        return []
    return [value]


def _flat(value: Any) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    return [branch for item in items for branch in _branches(item)]


def _text(value: Any) -> str:
    """A resource as the text IAM sees: a Sub's template, a GetAtt of a log group's Arn (ends in ':*')."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][0].endswith("LogGroup"):
        return f"<{value['Fn::GetAtt'][0]}>:*"
    return f"<{value}>"


def _documents(name: str, resource: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, policy document) of an IAM resource: a role's inline policies, a policy's own document
    (an AWS::IAM::RolePolicy counts as its role's: a Deny there narrows the role's grants)."""
    properties = resource["Properties"]
    if resource["Type"] == "AWS::IAM::Role":
        for policy in properties.get("Policies", []):
            for document in _branches(policy["PolicyDocument"]):
                yield name, document
    elif resource["Type"] == "AWS::IAM::RolePolicy":
        yield properties["RoleName"]["Ref"], properties["PolicyDocument"]
    else:
        yield name, properties["PolicyDocument"]


def _statements(translated: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, statement) for every identity statement of the stack, managed policies' included."""
    for name, resource in translated["Resources"].items():
        if resource["Type"] not in IAM_TYPES:
            continue
        for owner, document in _documents(name, resource):
            for statement in _flat(document["Statement"]):
                yield owner, statement
        for arn in _flat(resource["Properties"].get("ManagedPolicyArns", [])):
            assert arn in MANAGED_POLICIES, f"{name}: managed policy {arn} is not read and listed"
            for statement in MANAGED_POLICIES[arn][1]:
                yield name, statement


def _narrowed_by_deny(statements: list[dict[str, Any]], action: str) -> bool:
    """A Deny of the action on everything but named resources (NotResource without a bare '*')."""
    return any(
        statement["Effect"] == "Deny"
        and action in _flat(statement["Action"])
        and "Resource" not in statement
        and "*" not in _flat(statement["NotResource"])
        for statement in statements
    )


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return sam_translated()


@pytest.fixture(scope="module")
def statements(translated: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(_statements(translated))


def test_iam_walk_reaches_every_role_sam_generates(translated, statements):
    # GIVEN every role of the deployed template, the functions' generated ones included
    roles = {name for name, r in translated["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    # WHEN the owners of the walked statements are collected
    owners = {owner for owner, _ in statements}
    # THEN each role is walked (directly or through an AWS::IAM::Policy attached to it)
    attached = {
        role["Ref"]
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for role in _flat(r["Properties"]["Roles"])
    }
    assert {"ValidatorFunctionRole", "EnrichmentFunctionRole", "S3WriterFunctionRole"} <= roles
    assert roles <= owners | attached


def test_iam_no_action_with_a_wildcard(statements):
    for owner, statement in statements:
        # GIVEN / WHEN an identity statement's actions / THEN each names one API call
        assert "NotAction" not in statement, owner
        wild = [a for a in _flat(statement["Action"]) if "*" in a]
        assert not wild, (owner, statement.get("Sid"), wild)


def test_iam_resource_star_only_for_actions_without_resource_types_or_narrowed(statements):
    by_owner: dict[str, list[dict[str, Any]]] = {}
    for owner, statement in statements:
        by_owner.setdefault(owner, []).append(statement)

    for owner, statement in statements:
        # GIVEN an Allow statement on Resource "*"
        if statement["Effect"] != "Allow" or "*" not in _flat(statement["Resource"]):
            continue
        assert "NotResource" not in statement, owner
        for action in _flat(statement["Action"]):
            # WHEN / THEN the action has no resource type, or a Deny of the same role names its resources
            assert action in RESOURCE_STAR_ACTIONS or _narrowed_by_deny(by_owner[owner], action), (
                owner,
                action,
            )


def test_iam_other_wildcard_resources_only_the_allowed_scoped_ones(statements):
    seen: set[tuple[str, str]] = set()
    for owner, statement in statements:
        # GIVEN an Allow statement's resources other than a bare "*"
        if statement["Effect"] != "Allow":
            continue
        resources = [_text(r) for r in _flat(statement["Resource"]) if r != "*"]
        # WHEN one of them holds a wildcard
        wild = [r for r in resources if "*" in r or "?" in r]
        if not wild:
            continue
        key = (owner, statement.get("Sid", ""))
        seen.add(key)
        # THEN the statement is on the list, and the wildcard only ends one named resource
        assert key in SCOPED_WILDCARDS, (key, wild)
        for resource in wild:
            stem = resource.removesuffix("-??????")
            if stem != resource:
                assert "*" not in stem and "?" not in stem, (key, resource)
                continue
            assert resource.count("*") == 1 and "?" not in resource, (key, resource)
            assert resource.endswith(("/*", ":*", "-*")), (key, resource)
    # AND the list names nothing that no longer exists
    assert seen == SCOPED_WILDCARDS.keys()


def test_iam_every_deny_narrows_and_never_widens(statements):
    for owner, statement in statements:
        # GIVEN a Deny statement / WHEN its shape is read / THEN it only takes permissions away
        if statement["Effect"] != "Deny":
            continue
        assert "NotAction" not in statement, owner
        assert "Principal" not in statement, owner


def test_iam_trust_policies_name_one_aws_service(translated):
    for name, resource in translated["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        # GIVEN a role's trust policy / WHEN its principals are read
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            # THEN only an AWS service of this stack's kind may assume it: no account, no "*"
            assert statement["Effect"] == "Allow", name
            assert set(statement["Principal"]) == {"Service"}, name
            services = _flat(statement["Principal"]["Service"])
            assert all(isinstance(s, str) and s.endswith(".amazonaws.com") for s in services), name


def test_iam_every_allowed_managed_policy_is_in_use(translated):
    # GIVEN the managed policies the stack's roles carry
    used = {
        arn
        for r in translated["Resources"].values()
        if r["Type"] == "AWS::IAM::Role"
        for arn in _flat(r["Properties"].get("ManagedPolicyArns", []))
    }
    # WHEN / THEN the allowed list holds no stale entry (each has its reason)
    assert used == MANAGED_POLICIES.keys()
    assert all(reason for reason, _ in MANAGED_POLICIES.values())
