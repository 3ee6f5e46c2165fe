"""Loading template.yaml: parameters from samconfig, intrinsic functions, conditions, provisioning order,
and the project's own template provisioned in moto with nothing unexplained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud.intrinsics import Intrinsics, pseudo_parameters
from localcloud.provision import Provisioner, dependency_order
from localcloud.template import TemplateError, load, parameter_values, parse_overrides, read_config_env
from tests.localcloud.conftest import Recorder, running, write_template
from validator import api

ROOT = Path(__file__).resolve().parents[2]


def _intrinsics(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> Intrinsics:
    resources = {
        "Bus": ("signals-bus", {"Arn": "arn:aws:events:us-west-2:123456789012:event-bus/signals-bus"})
    }

    def lookup(logical_id: str, attribute: str | None) -> Any:
        ref, attributes = resources[logical_id]
        return ref if attribute is None else attributes[attribute]

    return Intrinsics(
        template, parameters or {}, pseudo_parameters("us-west-2", "123456789012", "my-stack"), lookup
    )


# ---------------------------------------------------------------------------- parameters
def test_overrides_come_as_a_list_or_a_shell_quoted_string() -> None:
    assert parse_overrides(["A=1", "B=two words"]) == {"A": "1", "B": "two words"}
    assert parse_overrides('A=1 B="two words" C=') == {"A": "1", "B": "two words", "C": ""}


def test_config_env_overrides_defaults_and_explicit_values_override_both(tmp_path: Path) -> None:
    (tmp_path / "samconfig.toml").write_text(
        'version = 0.1\n[default.deploy.parameters]\nstack_name = "s"\nregion = "eu-west-1"\n'
        'parameter_overrides = ["Color=blue", "Size=2"]\n'
    )
    template = {
        "Parameters": {
            "Color": {"Type": "String", "Default": "red"},
            "Size": {"Type": "Number", "Default": 1},
            "Shape": {"Type": "String", "Default": "round", "AllowedValues": ["round", "square"]},
        }
    }
    env = read_config_env(tmp_path / "samconfig.toml")
    assert (env.region, env.stack_name) == ("eu-west-1", "s")
    assert parameter_values(template, {**env.parameter_overrides, "Size": "3"}) == {
        "Color": "blue",
        "Size": "3",
        "Shape": "round",
    }
    with pytest.raises(TemplateError, match="not one of"):
        parameter_values(template, {"Shape": "hexagon"})
    with pytest.raises(TemplateError, match="does not declare"):
        parameter_values(template, {"Colour": "x"})


# ---------------------------------------------------------------------------- intrinsics
def test_ref_getatt_and_sub_resolve_parameters_pseudo_parameters_and_resources() -> None:
    resolve = _intrinsics({}, {"Env": "dev"}).resolve
    assert resolve({"Ref": "Env"}) == "dev"
    assert resolve({"Ref": "AWS::Region"}) == "us-west-2"
    assert resolve({"Ref": "Bus"}) == "signals-bus"
    assert resolve({"Fn::GetAtt": ["Bus", "Arn"]}).endswith(":event-bus/signals-bus")
    assert resolve({"Fn::GetAtt": "Bus.Arn"}).endswith(":event-bus/signals-bus")
    assert (
        resolve({"Fn::Sub": "${AWS::StackName}-${Env}-${Bus}-${!Literal}"})
        == "my-stack-dev-signals-bus-${Literal}"
    )
    assert resolve({"Fn::Sub": ["${Name}/${Bus.Arn}", {"Name": {"Ref": "Env"}}]}).startswith(
        "dev/arn:aws:events:"
    )
    assert resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::x.${AWS::URLSuffix}/${AWS::AccountId}"}) == (
        "arn:aws:s3:::x.amazonaws.com/123456789012"
    )


def test_join_select_split_findinmap_base64() -> None:
    resolve = _intrinsics({"Mappings": {"Sizes": {"dev": {"shards": 2}}}}, {"Env": "dev"}).resolve
    assert resolve({"Fn::Join": ["-", ["a", {"Ref": "Env"}, "c"]]}) == "a-dev-c"
    assert resolve({"Fn::Select": [1, ["x", "y", "z"]]}) == "y"
    assert resolve({"Fn::Select": ["0", {"Fn::Split": [",", "p,q"]}]}) == "p"
    assert resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "shards"]}) == 2
    assert resolve({"Fn::Base64": "hi"}) == "aGk="


def test_conditions_and_if_with_no_value_drop_entries() -> None:
    template = {
        "Conditions": {
            "IsDev": {"Fn::Equals": [{"Ref": "Env"}, "dev"]},
            "IsProd": {"Fn::Not": [{"Condition": "IsDev"}]},
            "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Fn::Equals": ["a", "a"]}]},
            "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "Both"}]},
        }
    }
    intrinsics = _intrinsics(template, {"Env": "dev"})
    assert [intrinsics.condition(name) for name in ("IsDev", "IsProd", "Both", "Either")] == [
        True,
        False,
        True,
        True,
    ]
    node = {
        "List": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}],
        "Key": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]},
    }
    assert intrinsics.resolve(node) == {"List": ["a"]}


def test_unsupported_functions_fail_loudly() -> None:
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        _intrinsics({}).resolve({"Fn::ImportValue": "shared-vpc"})


def test_resources_are_provisioned_after_what_they_reference_and_cycles_are_refused() -> None:
    resources = {
        "Rule": {"Properties": {"Bus": {"Ref": "Bus"}, "Target": {"Fn::Sub": "${Queue.Arn}"}}},
        "Queue": {"Properties": {}},
        "Bus": {"Properties": {}, "DependsOn": "Queue"},
    }
    order = dependency_order(resources)
    assert order.index("Queue") < order.index("Bus") < order.index("Rule")
    with pytest.raises(TemplateError, match="circular"):
        dependency_order({"A": {"Properties": {"x": {"Ref": "B"}}}, "B": {"Properties": {"y": {"Ref": "A"}}}})


def test_resources_with_a_false_condition_are_skipped(tmp_path: Path) -> None:
    resources = {
        "Kept": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "Skipped": {"Type": "AWS::SQS::Queue", "Condition": "Never", "Properties": {}},
    }
    template = write_template(tmp_path, resources, Conditions={"Never": {"Fn::Equals": ["a", "b"]}})
    from localcloud.cloud import CloudOptions, LocalCloud

    with LocalCloud(CloudOptions(template=template, region="us-west-2", partner=False)) as cloud:
        assert set(cloud.stack.resources) == {"Kept"}
        assert cloud.stack.skipped == {"Skipped": "condition Never is false"}


# ---------------------------------------------------------------------------- the project's template
@pytest.fixture(scope="module")
def project() -> Any:
    loaded, env = load(ROOT / "template.yaml")
    return loaded, env


def test_project_template_translates_with_the_default_config_env(project: Any) -> None:
    loaded, env = project
    assert (env.name, env.region) == ("default", "us-west-2")
    assert (
        loaded.parameters["IngressBusName"] == "signals-ingress-dev"
    )  # from samconfig.toml, not the default
    assert {route.path for route in loaded.http_routes} == {api.EVENTS_PATH, *api.SEGMENT_ROUTES}
    types = {resource["Type"] for resource in loaded.resources.values()}
    assert "AWS::Serverless::Function" not in types and "AWS::Lambda::Function" in types


def test_project_template_provisions_every_resource_with_the_exact_rules_and_function_environments(
    tmp_path: Path,
) -> None:
    from localcloud.cloud import CloudOptions, LocalCloud

    with LocalCloud(CloudOptions(template=ROOT / "template.yaml")) as cloud:
        events = cloud.services.client("events")
        for rule in cloud.stack.of_type("AWS::Events::Rule"):
            bus = rule.properties["EventBusName"]
            described = events.describe_rule(Name=rule.attributes["Name"], EventBusName=bus)
            assert json.loads(described["EventPattern"]) == rule.properties["EventPattern"]
            targets = events.list_targets_by_rule(Rule=rule.attributes["Name"], EventBusName=bus)["Targets"]
            assert [t["Id"] for t in targets] == [t["Id"] for t in rule.properties["Targets"]]
        validator = cloud.functions["ValidatorFunction"]
        assert validator.environment["INGRESS_BUS_NAME"] == "signals-ingress-dev"
        assert (
            validator.environment["POWERTOOLS_SERVICE_NAME"] == "validator"
        )  # the function wins over Globals
        assert validator.environment["POWERTOOLS_METRICS_NAMESPACE"] == "CustomerSignals"  # from Globals
        assert validator.environment["SOURCES_TABLE_NAME"] == cloud.stack.get("SourcesGlobalTable").ref
        table = cloud.services.client("dynamodb").describe_time_to_live(
            TableName=cloud.stack.get("IdempotencyTable").ref
        )
        assert table["TimeToLiveDescription"]["AttributeName"] == "expiration"
        assert cloud.stack.not_emulated == []
        assert validator.layer_dirs and validator.layer_dirs[0].name == "python"


def test_handler_overrides_replace_the_code_but_keep_the_environment(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    def capture(event: Any, context: Any) -> Any:
        import os

        seen.append({key: os.environ[key] for key in ("GREETING", "AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION")})
        return {"remaining": context.get_remaining_time_in_millis()}

    resources = {
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "FunctionName": "fn",
                "Handler": "x.y",
                "Role": "r",
                "Code": {"ZipFile": "z"},
                "Timeout": 5,
                "Environment": {"Variables": {"GREETING": {"Fn::Sub": "hello ${AWS::Region}"}}},
            },
        }
    }
    with running(tmp_path, resources, handlers={"Fn": Recorder()}) as cloud:
        cloud.runtime.override("Fn", capture)
        result = cloud.runtime.invoke("Fn", {})
    assert seen == [
        {"GREETING": "hello us-west-2", "AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_REGION": "us-west-2"}
    ]
    assert 0 < result.payload["remaining"] <= 5000


def test_template_rules_are_checked_before_anything_is_created(tmp_path: Path) -> None:
    from localcloud.cloud import CloudOptions, LocalCloud

    template = write_template(
        tmp_path,
        {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {}}},
        Parameters={
            "Url": {"Type": "String", "Default": "https://x"},
            "Key": {"Type": "String", "Default": ""},
        },
        Rules={
            "NeedsKey": {
                "RuleCondition": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Url"}, ""]}]},
                "Assertions": [
                    {
                        "Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Key"}, ""]}]},
                        "AssertDescription": "set Key",
                    }
                ],
            }
        },
    )
    with pytest.raises(TemplateError, match="NeedsKey: set Key"):
        LocalCloud(CloudOptions(template=template, region="us-west-2", partner=False)).start()
    with LocalCloud(
        CloudOptions(template=template, region="us-west-2", partner=False, overrides={"Key": "k"})
    ) as cloud:
        assert "Queue" in cloud.stack.resources


def test_stack_update_adds_what_new_parameters_enable_and_refuses_what_it_cannot_emulate(
    tmp_path: Path,
) -> None:
    # GIVEN a stack whose bucket replicates, with an alarm on it, only once a key parameter is set
    replicates = {"Fn::Not": [{"Fn::Equals": [{"Ref": "Key"}, ""]}]}
    resources = {
        "Bucket": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "ReplicationConfiguration": {
                    "Fn::If": ["Replicates", {"Rules": [{"Id": {"Ref": "Key"}}]}, {"Ref": "AWS::NoValue"}]
                }
            },
        },
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": {"Ref": "Timeout"}}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Condition": "Replicates", "Properties": {}},
    }
    template = write_template(
        tmp_path,
        resources,
        Parameters={"Key": {"Type": "String", "Default": ""}, "Timeout": {"Type": "String", "Default": "30"}},
        Conditions={"Replicates": replicates},
    )
    with mock_aws():
        provisioner = Provisioner(boto3.session.Session(), region="us-west-2", stack_name="lc-update")
        stack = provisioner.provision(load(template, region="us-west-2")[0])
        bucket = stack.get("Bucket")
        assert "ReplicationConfiguration" not in bucket.properties and "Alarm" in stack.skipped

        # WHEN it is updated with the key (make deploy's later step)
        changed = provisioner.update(load(template, region="us-west-2", overrides={"Key": "k"})[0])

        # THEN the alarm exists and the bucket's replication rules are recorded, the bucket the same
        assert sorted(changed) == ["Alarm", "Bucket"]
        assert stack.get("Bucket") is bucket and bucket.properties["ReplicationConfiguration"] == {
            "Rules": [{"Id": "k"}]
        }
        assert "Alarm" not in stack.skipped

        # AND an update moto would have to apply, or a deletion, is refused rather than pretended
        with pytest.raises(TemplateError, match="VisibilityTimeout of Queue"):
            provisioner.update(load(template, region="us-west-2", overrides={"Key": "k", "Timeout": "60"})[0])
        with pytest.raises(TemplateError, match="deleting Alarm"):
            provisioner.update(load(template, region="us-west-2")[0])
