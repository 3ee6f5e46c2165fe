"""ArchiveReplayForwardRule and its role: replays from the secondary's archive reach the primary.

A replay delivers only to the archive's own bus, and AWS documents no replication of replayed
events by the global endpoint's managed rules (docs/archive-replay.md): in the secondary's edge-only
stack this rule forwards them to the primary's ingress bus, and `python -m tools.replay` replays to
it alone. Patterns are checked with moto's EventBridge pattern matcher.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from moto.events.models import EventPattern

from tools.replay_core import FORWARD_RULE_SUFFIX

TEMPLATE_PATH = Path(__file__).parents[2] / "template.yaml"
PRIMARY, SECONDARY = "us-west-2", "us-east-1"
ACCOUNT = "123456789012"
STACK = "customer-signals-secondary"
BUS = "signals-ingress"
# What one deployment of the secondary's stack resolves to.
DEPLOYED = {
    "AWS::Partition": "aws",
    "AWS::Region": SECONDARY,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK,
    "PrimaryRegion": PRIMARY,
    "IngressBusName": BUS,
}
PRIMARY_BUS_ARN = f"arn:aws:events:{PRIMARY}:{ACCOUNT}:event-bus/{BUS}"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE_PATH))))
    return loaded


@pytest.fixture(scope="module")
def rule(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]["ArchiveReplayForwardRule"]
    return found


@pytest.fixture(scope="module")
def role(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]["ArchiveReplayForwardRole"]
    return found


def _resolve(node: Any, values: dict[str, str]) -> Any:
    """``Ref`` and ``Fn::Sub`` (string form) with the deployment's values; other nodes as they are."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], node["Fn::Sub"])
        return {key: _resolve(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, values) for item in node]
    return node


def _condition(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    """Evaluates one of the template's Conditions for a Region and parameter values."""

    def value(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        (function, argument), *_ = node.items()
        functions = {
            "Ref": lambda: parameters[argument],
            "Condition": lambda: value(template["Conditions"][argument]),
            "Fn::Equals": lambda: value(argument[0]) == value(argument[1]),
            "Fn::Not": lambda: not value(argument[0]),
            "Fn::And": lambda: all(value(item) for item in argument),
            "Fn::Or": lambda: any(value(item) for item in argument),
        }
        return functions[function]()

    return bool(value(template["Conditions"][name]))


def _event(*, region: str = SECONDARY, replay: bool = True, source: str = "signals.ingest") -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "0",
        "id": "a908baa3-65e5-ab77-367e-527c0e71bbc2",
        "detail-type": "page_view",
        "source": source,
        "account": ACCOUNT,
        "time": "2026-11-26T10:00:00Z",
        "region": region,
        "resources": [f"arn:aws:events:{PRIMARY}:{ACCOUNT}:endpoint/signals"],
        "detail": {"batch_id": "b1", "signals": []},
    }
    if replay:
        event["replay-name"] = "signals-ingress-archive-20261126T1000-20261126T1100-beef"
    return event


def _matches(rule: dict[str, Any], event: dict[str, Any]) -> bool:
    pattern = _resolve(rule["Properties"]["EventPattern"], DEPLOYED)
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))


# -------------------- where it exists


@pytest.mark.parametrize(
    ("region", "secondary", "mode", "expected"),
    [
        (SECONDARY, SECONDARY, "active-archive", True),  # the secondary's edge-only stack
        (PRIMARY, SECONDARY, "active-archive", False),  # the primary processes itself
        (SECONDARY, SECONDARY, "active-active", False),  # the secondary processes its own events
        (PRIMARY, PRIMARY, "active-archive", False),  # one Region: nowhere to forward to
    ],
)
def test_forward_rule_exists_only_in_secondary_edge_only_stack(
    template, rule, role, region, secondary, mode, expected
):
    # GIVEN a Region's role
    parameters = {
        "AWS::Region": region,
        "PrimaryRegion": PRIMARY,
        "SecondaryRegion": secondary,
        "ProcessingMode": mode,
    }

    # WHEN the condition of the rule and of its role is evaluated
    condition = rule["Condition"]

    # THEN both exist exactly where the stack neither processes nor is the only Region
    assert role["Condition"] == condition == "ForwardsReplaysToPrimary"
    assert _condition(template, condition, parameters) is expected


# -------------------- what it forwards


def test_forward_rule_matches_replayed_platform_batch(rule):
    assert _matches(rule, _event())


def test_forward_rule_ignores_live_batch(rule):
    # Live batches reach the primary through the endpoint's replication, not this rule.
    assert not _matches(rule, _event(replay=False))


def test_forward_rule_ignores_copy_from_primary_so_no_loop(rule):
    # A copy replicated from (or echoed back by) the primary carries the primary's Region.
    assert not _matches(rule, _event(region=PRIMARY))


def test_forward_rule_ignores_other_sources(rule):
    assert not _matches(rule, _event(source="signals.heartbeat"))


def test_forward_rule_on_ingress_bus_named_for_replay_tool(rule):
    # GIVEN the rule's properties
    properties = rule["Properties"]

    # WHEN / THEN it sits on the ingress bus, and its name is the one the replay tool looks for
    assert properties["EventBusName"] == {"Ref": "IngressBus"}
    assert properties["State"] == "ENABLED"
    assert _resolve(properties["Name"], DEPLOYED) == f"{STACK}{FORWARD_RULE_SUFFIX}"


def test_forward_rule_target_primary_ingress_bus_with_its_role(rule):
    # GIVEN the rule's only target
    (target,) = rule["Properties"]["Targets"]

    # WHEN / THEN it is the primary Region's ingress bus (same name), reached with the rule's role
    assert _resolve(target["Arn"], DEPLOYED) == PRIMARY_BUS_ARN
    assert target["RoleArn"] == {"Fn::GetAtt": ["ArchiveReplayForwardRole", "Arn"]}
    # AND it retries like every rule target of the template (24 h); what still fails stays archived
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": {"Ref": "RuleTargetMaximumRetryAttempts"},
        "MaximumEventAgeInSeconds": {"Ref": "RuleTargetMaximumEventAgeSeconds"},
    }


# -------------------- the role: least privilege


def test_forward_role_allows_only_put_events_on_primary_bus(role):
    # GIVEN every statement of the role's policies
    statements = [
        statement
        for policy in role["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]

    # WHEN / THEN there is one: events:PutEvents on the primary's ingress bus, nothing else
    (statement,) = statements
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "events:PutEvents"
    assert _resolve(statement["Resource"], DEPLOYED) == PRIMARY_BUS_ARN
    assert "ManagedPolicyArns" not in role["Properties"]


def test_forward_role_trusted_only_by_this_rule(role, rule):
    # GIVEN the role's trust policy
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    # WHEN / THEN only EventBridge may assume it, for this account and this rule's ARN
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert _resolve(trust["Condition"]["StringEquals"], DEPLOYED) == {"aws:SourceAccount": ACCOUNT}
    rule_name = _resolve(rule["Properties"]["Name"], DEPLOYED)
    assert _resolve(trust["Condition"]["ArnEquals"], DEPLOYED) == {
        "aws:SourceArn": f"arn:aws:events:{SECONDARY}:{ACCOUNT}:rule/{BUS}/{rule_name}"
    }
