"""Assertions on template.yaml, samconfig.toml and the build inputs, read without AWS or Docker.

The template is parsed with cfn-lint's YAML decoder (it understands !Ref, !Sub, !GetAtt, !If) and, for
what SAM generates (stage, role), translated offline with the SAM translator that `sam` itself uses.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.decode import cfn_yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
SAMCONFIG_PATH = ROOT / "samconfig.toml"
LAYER_REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"
DEV_REQUIREMENTS = ROOT / "requirements" / "dev.txt"
CHECKOV_CONFIG = ROOT / ".checkov.yaml"

VALIDATOR_ENV_VARS = {
    "INGRESS_BUS_NAME",
    "GLOBAL_ENDPOINT_ID",
    "SOURCES_TABLE_NAME",
    "SIGNING_KEY_SECRET_ARN",
    "MAX_SIGNALS_PER_ENTRY",
    "MAX_EVENT_BYTES",
    "MAX_FUTURE_SKEW_SECONDS",
    "MAX_EVENT_AGE_SECONDS",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_BODY_BYTES",
}
POWERTOOLS_ENV_VARS = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
EXPECTED_OUTPUTS = {"ApiUrl", "IngressBusArn", "SourcesTableName", "SigningKeySecretArn", "SharedLayerArn"}
SECRET_LIKE = re.compile(r"secret|password|token|apikey|credential", re.IGNORECASE)
CONFIG_ENV_REGIONS = {"default": "us-west-2", "primary": "us-west-2", "secondary": "us-east-1"}


# -------------------- helpers


def _plain(node: Any) -> Any:
    """cfn-lint's nodes subclass dict/str/list; a JSON round trip gives plain, comparable values."""
    return json.loads(json.dumps(node))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return _plain(cfn_yaml.load(str(TEMPLATE_PATH)))


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with SAMCONFIG_PATH.open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def translated(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation SAM would deploy: code locations replaced by S3 URIs, as `sam package` does."""
    sam_template = copy.deepcopy(template)
    for resource in sam_template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key]}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-west-2"))
    return translator.translate(sam_template, parameter_values={}, get_managed_policy_map=dict)


def _of_type(resources: dict[str, Any], resource_type: str) -> dict[str, Any]:
    return {name: res for name, res in resources.items() if res["Type"] == resource_type}


def _effective_function(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A function's properties with Globals.Function applied (maps merge, the resource wins)."""
    merged: dict[str, Any] = copy.deepcopy(template.get("Globals", {}).get("Function", {}))
    for key, value in template["Resources"][name]["Properties"].items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            inner = {**merged[key], **value}
            if key == "Environment":
                inner["Variables"] = {**merged[key].get("Variables", {}), **value.get("Variables", {})}
            merged[key] = inner
        else:
            merged[key] = value
    return merged


def _statements(function: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for policy in function.get("Policies", []):
        if isinstance(policy, dict) and "Statement" in policy:
            yield from policy["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statement_for(function: dict[str, Any], action: str) -> dict[str, Any]:
    matches = [s for s in _statements(function) if action in _as_list(s["Action"])]
    assert len(matches) == 1, f"expected exactly one statement granting {action}, found {len(matches)}"
    return matches[0]


def _makefile_targets(makefile: Path) -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", makefile.read_text(encoding="utf-8"), flags=re.MULTILINE))


def _module_level_names(module_file: Path) -> set[str]:
    """Names a module defines at top level (def, assignment, from-import), read without importing it."""
    names: set[str] = set()
    for node in ast.parse(module_file.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line and "==" in line:
            name, version = line.split("==", 1)
            pins[_canonical(name.split("[", 1)[0])] = version.strip()
    return pins


# -------------------- globals


def test_globals_function_defaults_python313_arm64_traced(template):
    # GIVEN the template (SAM transform)
    # WHEN reading the Globals every function inherits
    globals_function = template["Globals"]["Function"]

    # THEN functions run python3.13 on arm64 with active tracing and the platform key on their env
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert globals_function["Runtime"] == "python3.13"
    assert globals_function["Architectures"] == ["arm64"]
    assert globals_function["Tracing"] == "Active"
    assert 128 <= globals_function["MemorySize"] <= 1024
    assert globals_function["Timeout"] <= 29  # below the API Gateway integration limit
    assert globals_function["KmsKeyArn"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}


def test_globals_powertools_env_one_metrics_namespace(template):
    # GIVEN the template's global environment
    variables = template["Globals"]["Function"]["Environment"]["Variables"]

    # WHEN / THEN the Powertools variables are set once for all functions, with one namespace
    assert variables.keys() >= POWERTOOLS_ENV_VARS
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "CustomerSignals"
    assert variables["POWERTOOLS_LOG_LEVEL"] == {"Ref": "LogLevel"}


# -------------------- functions


def test_functions_every_function_uses_shared_layer(template, resources):
    # GIVEN every serverless function
    functions = _of_type(resources, "AWS::Serverless::Function")
    assert functions

    for name in functions:
        # WHEN its layers are resolved with the Globals applied
        layers = _effective_function(template, name)["Layers"]

        # THEN the shared layer is among them
        assert {"Ref": "SharedLayer"} in layers, name


def test_functions_handler_module_exists_as_file_in_code_uri(resources):
    # GIVEN every serverless function with its CodeUri and Handler
    functions = _of_type(resources, "AWS::Serverless::Function")
    top_level_packages = []

    for name, function in functions.items():
        properties = function["Properties"]
        module, _, attribute = properties["Handler"].rpartition(".")

        # WHEN the handler's module is located the way Lambda imports it (/var/task = CodeUri)
        module_file = ROOT / properties["CodeUri"] / Path(*module.split(".")).with_suffix(".py")

        # THEN the file exists and defines the handler attribute at module level
        assert module_file.is_file(), f"{name}: {module_file.relative_to(ROOT)} does not exist"
        assert attribute in _module_level_names(module_file), f"{name}: {module} defines no {attribute}"
        top_level_packages.append(module.split(".")[0])

    # AND no two functions share a top-level package name (they are imported in one pytest process)
    assert len(top_level_packages) == len(set(top_level_packages))


def test_functions_makefile_build_has_matching_make_target(resources):
    # GIVEN every function and layer built with BuildMethod: makefile
    built = {
        name: res
        for name, res in resources.items()
        if res.get("Metadata", {}).get("BuildMethod") == "makefile"
    }
    assert {"SharedLayer", "ValidatorFunction"} <= built.keys()

    for name, resource in built.items():
        properties = resource["Properties"]
        code_dir = properties.get("CodeUri") or properties["ContentUri"]

        # WHEN SAM looks for the Makefile (ContextPath, else the code folder)
        makefile = ROOT / resource["Metadata"].get("ContextPath", code_dir) / "Makefile"

        # THEN it exists and has the build-<LogicalId> target SAM calls
        assert makefile.is_file(), f"{name}: {makefile.relative_to(ROOT)} missing"
        assert f"build-{name}" in _makefile_targets(makefile), name


def test_validator_environment_all_setting_names_present(template):
    # GIVEN the validator with the Globals applied
    variables = _effective_function(template, "ValidatorFunction")["Environment"]["Variables"]

    # WHEN / THEN every variable the code reads is set, the resource names by reference
    assert variables.keys() >= VALIDATOR_ENV_VARS | POWERTOOLS_ENV_VARS
    assert variables["INGRESS_BUS_NAME"] == {"Ref": "IngressBusName"}
    assert variables["GLOBAL_ENDPOINT_ID"] == {"Ref": "GlobalEndpointId"}
    assert variables["SOURCES_TABLE_NAME"] == {"Ref": "SourcesTable"}
    assert variables["SIGNING_KEY_SECRET_ARN"] == {"Ref": "SigningKeySecret"}
    assert variables["MAX_EVENTS_PER_REQUEST"] == "500"
    assert variables["MAX_BODY_BYTES"] == "1048576"


def test_validator_log_group_explicit_encrypted_with_retention(resources):
    # GIVEN the validator's logging configuration
    log_group_ref = resources["ValidatorFunction"]["Properties"]["LoggingConfig"]["LogGroup"]

    # WHEN the log group it names is looked up
    log_group = resources[log_group_ref["Ref"]]

    # THEN it is a template-owned log group with retention and the platform key
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}


def test_validator_no_reserved_concurrency_throttle(resources):
    # GIVEN the validator behind a synchronous API
    properties = resources["ValidatorFunction"]["Properties"]

    # WHEN / THEN nothing caps its concurrency below what the API admits, and no async DLQ is pretended
    assert "ReservedConcurrentExecutions" not in properties
    assert "DeadLetterQueue" not in properties


# -------------------- IAM


def test_validator_policies_no_wildcard_action_or_resource(template):
    # GIVEN every inline statement of the validator's policies
    statements = list(_statements(_effective_function(template, "ValidatorFunction")))
    assert statements

    for statement in statements:
        # WHEN its actions and resources are read
        actions = _as_list(statement["Action"])
        resource_list = _as_list(statement["Resource"])

        # THEN each action is one named API call and no resource is "*"
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in actions), statement["Sid"]
        assert "*" not in resource_list, statement["Sid"]
        assert not any(isinstance(r, str) and r.endswith("*") for r in resource_list), statement["Sid"]


@pytest.mark.parametrize(
    ("action", "expected_resource"),
    [
        ("dynamodb:GetItem", {"Fn::GetAtt": ["SourcesTable", "Arn"]}),
        ("secretsmanager:GetSecretValue", {"Ref": "SigningKeySecret"}),
        ("kms:Decrypt", {"Fn::GetAtt": ["PlatformKey", "Arn"]}),
    ],
)
def test_validator_read_permissions_scoped_to_single_resource(template, action, expected_resource):
    # GIVEN the validator's policies
    function = _effective_function(template, "ValidatorFunction")

    # WHEN the statement granting the action is found
    statement = _statement_for(function, action)

    # THEN it grants that action alone on exactly the template's resource
    assert _as_list(statement["Action"]) == [action]
    assert _as_list(statement["Resource"]) == [expected_resource]


def test_validator_put_events_without_endpoint_only_ingress_bus(template):
    # GIVEN the validator's PutEvents statement
    statement = _statement_for(_effective_function(template, "ValidatorFunction"), "events:PutEvents")
    resource_list = _as_list(statement["Resource"])

    # WHEN the global endpoint is not configured (the !If branches give AWS::NoValue)
    unconditional = [r for r in resource_list if "Fn::If" not in r]
    conditional = [r["Fn::If"] for r in resource_list if "Fn::If" in r]

    # THEN only the ingress bus is allowed; with an endpoint, the same-named bus in both Regions
    assert _as_list(statement["Action"]) == ["events:PutEvents"]
    assert unconditional == [{"Fn::GetAtt": ["IngressBus", "Arn"]}]
    assert {c[0] for c in conditional} == {"HasGlobalEndpoint"}
    assert all(c[2] == {"Ref": "AWS::NoValue"} for c in conditional)
    endpoint_buses = sorted(c[1]["Fn::Sub"] for c in conditional)
    assert endpoint_buses == [
        "arn:${AWS::Partition}:events:${PrimaryRegion}:${AWS::AccountId}:event-bus/${IngressBusName}",
        "arn:${AWS::Partition}:events:${SecondaryRegion}:${AWS::AccountId}:event-bus/${IngressBusName}",
    ]


def test_condition_global_endpoint_driven_by_empty_parameter(template):
    # GIVEN the GlobalEndpointId parameter and the condition on it
    parameter = template["Parameters"]["GlobalEndpointId"]
    condition = template["Conditions"]["HasGlobalEndpoint"]

    # WHEN / THEN empty by default means "no endpoint": put straight to the bus
    assert parameter["Default"] == ""
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "GlobalEndpointId"}, ""]}]}


def test_translated_role_only_expected_managed_policies(translated):
    # GIVEN the role SAM generates for the validator
    role = translated["Resources"]["ValidatorFunctionRole"]["Properties"]

    # WHEN its managed policies are listed
    managed = sorted(arn.rsplit("/", 1)[-1] for arn in role["ManagedPolicyArns"])

    # THEN only basic logging and X-Ray writing come from AWS managed policies
    assert managed == ["AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess"]


# -------------------- API


def test_ingest_api_post_events_route_payload_v2(resources):
    # GIVEN the validator's events
    events = resources["ValidatorFunction"]["Properties"]["Events"]

    # WHEN the HTTP API events are selected
    http_events = [e["Properties"] for e in events.values() if e["Type"] == "HttpApi"]

    # THEN exactly POST /v1/events on IngestApi, payload format 2.0
    assert http_events == [
        {
            "ApiId": {"Ref": "IngestApi"},
            "Method": "POST",
            "Path": "/v1/events",
            "PayloadFormatVersion": "2.0",
            "TimeoutInMillis": http_events[0]["TimeoutInMillis"],
        }
    ]
    assert resources["IngestApi"]["Type"] == "AWS::Serverless::HttpApi"


def test_translated_stage_throttled_and_access_logged(translated):
    # GIVEN the stage SAM generates for the HTTP API
    stages = _of_type(translated["Resources"], "AWS::ApiGatewayV2::Stage")

    # WHEN its settings are read
    (stage,) = stages.values()
    properties = stage["Properties"]

    # THEN default route throttling comes from parameters and access logs go to the encrypted log group
    assert properties["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert properties["DefaultRouteSettings"]["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert properties["AccessLogSettings"]["DestinationArn"] == {"Fn::GetAtt": ["IngestApiAccessLogs", "Arn"]}
    access_log_format = json.loads(properties["AccessLogSettings"]["Format"])
    assert {"requestId", "status", "integrationError"} <= access_log_format.keys()


# -------------------- data + encryption


def test_sources_table_on_demand_pitr_cmk_encrypted(resources):
    # GIVEN the sources table
    table = resources["SourcesTable"]
    properties = table["Properties"]

    # WHEN / THEN it is keyed on source_id, on demand, recoverable and encrypted with the platform key
    assert properties["KeySchema"] == [{"AttributeName": "source_id", "KeyType": "HASH"}]
    assert properties["AttributeDefinitions"] == [{"AttributeName": "source_id", "AttributeType": "S"}]
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert properties["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Fn::GetAtt": ["PlatformKey", "Arn"]},
    }
    assert table["DeletionPolicy"] == "Retain"


def test_signing_secret_generated_64_chars_cmk_encrypted(resources):
    # GIVEN the signing key secret
    properties = resources["SigningKeySecret"]["Properties"]

    # WHEN / THEN it is generated (never in the template), 64 chars without punctuation, on the CMK
    assert "SecretString" not in properties
    assert properties["GenerateSecretString"]["PasswordLength"] == 64
    assert properties["GenerateSecretString"]["ExcludePunctuation"] is True
    assert properties["KmsKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}
    # AND it outlives the stack: archived batches replayed later are verified with it
    assert resources["SigningKeySecret"]["DeletionPolicy"] == "Retain"
    assert resources["SigningKeySecret"]["UpdateReplacePolicy"] == "Retain"


def test_log_groups_all_encrypted_with_retention(resources):
    # GIVEN every log group of the template
    log_groups = _of_type(resources, "AWS::Logs::LogGroup")
    assert len(log_groups) >= 2

    for name, log_group in log_groups.items():
        # WHEN / THEN each has the retention parameter and the platform key
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert log_group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["PlatformKey", "Arn"]}, name


def test_platform_key_rotated_policy_root_and_logs_only(resources):
    # GIVEN the platform key
    properties = resources["PlatformKey"]["Properties"]
    statements = properties["KeyPolicy"]["Statement"]

    # WHEN the principals of its key policy are collected
    principals = [s["Principal"] for s in statements]

    # THEN rotation is on and only the account root and this Region's CloudWatch Logs are trusted
    assert properties["EnableKeyRotation"] is True
    assert principals == [
        {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
        {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
    ]
    logs_statement = statements[1]
    assert "kms:*" not in _as_list(logs_statement["Action"])
    assert "kms:EncryptionContext:aws:logs:arn" in logs_statement["Condition"]["ArnLike"]
    assert _of_type(resources, "AWS::KMS::Alias")


# -------------------- layer


def test_shared_layer_makefile_build_python313_arm64(resources):
    # GIVEN the shared layer
    layer = resources["SharedLayer"]

    # WHEN / THEN it is built by its Makefile for python3.13 on arm64
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/shared"
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert layer["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}


def test_layer_requirements_every_line_pinned_exactly():
    # GIVEN the layer's runtime requirements
    lines = [
        line.split("#", 1)[0].strip() for line in LAYER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    ]
    requirements = [line for line in lines if line]
    assert requirements

    # WHEN / THEN every requirement is pinned with == to one version, and boto3/botocore are not shipped
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z0-9_.-]+==[A-Za-z0-9_.!+-]+", requirement), requirement
    names = {_canonical(r.split("==", 1)[0]) for r in requirements}
    assert not names & {"boto3", "botocore"}
    assert {"aws-lambda-powertools", "orjson", "jsonschema-rs", "awscrt"} <= names


def test_layer_requirements_same_versions_as_dev_lock():
    # GIVEN the layer pins and the lock the tests run against
    layer_pins = _pins(LAYER_REQUIREMENTS)
    dev_pins = _pins(DEV_REQUIREMENTS)

    # WHEN each layer pin is looked up in the lock
    mismatched = {name: (v, dev_pins.get(name)) for name, v in layer_pins.items() if dev_pins.get(name) != v}

    # THEN production imports exactly the versions the tests ran against
    assert mismatched == {}


# -------------------- parameters + outputs


def test_parameters_defaults_limits_and_regions(template):
    # GIVEN the template parameters
    parameters = template["Parameters"]

    # WHEN / THEN the per-environment knobs exist with the agreed defaults and bounds
    assert parameters["PrimaryRegion"]["Default"] == "us-west-2"
    assert parameters["SecondaryRegion"]["Default"] == "us-east-1"
    assert parameters["MaxSignalsPerEntry"]["Default"] == 50
    signals_per_entry = parameters["MaxSignalsPerEntry"]
    assert (signals_per_entry["MinValue"], signals_per_entry["MaxValue"]) == (1, 500)
    assert parameters["MaxEventBytes"]["Default"] == 32768
    assert parameters["MaxFutureSkewSeconds"]["Default"] == 3600
    assert parameters["MaxEventAgeSeconds"]["Default"] == 604800
    assert {
        "EnvironmentName",
        "IngressBusName",
        "ApiThrottlingRateLimit",
        "ApiThrottlingBurstLimit",
        "LogRetentionDays",
    } <= parameters.keys()


def test_parameters_secret_like_names_no_default(template):
    # GIVEN parameters whose names suggest credentials
    secret_like = [name for name in template["Parameters"] if SECRET_LIKE.search(name)]

    # WHEN / THEN none carries a default value (secrets are generated or referenced, never templated)
    assert [name for name in secret_like if template["Parameters"][name].get("Default")] == []


def test_outputs_expected_names_present(template):
    # GIVEN / WHEN the outputs
    outputs = template["Outputs"]

    # THEN the names other stacks, tools and the docs rely on exist
    assert outputs.keys() >= EXPECTED_OUTPUTS
    assert outputs["SharedLayerArn"]["Value"] == {"Ref": "SharedLayer"}


# -------------------- samconfig + checkov


@pytest.mark.parametrize(("config_env", "region"), sorted(CONFIG_ENV_REGIONS.items()))
def test_samconfig_config_env_region_and_deploy_settings(samconfig, config_env, region):
    # GIVEN samconfig.toml
    assert samconfig["version"] == 0.1

    # WHEN one config-env is read
    env = samconfig[config_env]
    deploy = env["deploy"]["parameters"]

    # THEN it targets its Region and deploys safely
    assert env["global"]["parameters"]["region"] == region
    assert env["build"]["parameters"] == {"cached": True, "parallel": True}
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is True
    assert deploy["stack_name"]


def test_samconfig_parameter_overrides_known_parameters_only(samconfig, template):
    for config_env in CONFIG_ENV_REGIONS:
        # GIVEN one config-env's parameter overrides
        overrides = samconfig[config_env]["deploy"]["parameters"]["parameter_overrides"]

        # WHEN their keys are extracted
        keys = {item.split("=", 1)[0] for item in _as_list(overrides)}

        # THEN each names a template parameter (a typo would silently fall back to the default)
        assert keys <= template["Parameters"].keys(), config_env


def test_samconfig_primary_secondary_same_bus_name_and_region_roles(samconfig):
    # GIVEN the primary and secondary overrides
    def overrides(config_env: str) -> dict[str, str]:
        items = _as_list(samconfig[config_env]["deploy"]["parameters"]["parameter_overrides"])
        return dict(item.split("=", 1) for item in items)

    primary, secondary = overrides("primary"), overrides("secondary")

    # WHEN / THEN both name the same bus (a global endpoint pairs same-named buses) and the same roles
    assert primary["IngressBusName"] == secondary["IngressBusName"]
    assert primary["PrimaryRegion"] == secondary["PrimaryRegion"] == CONFIG_ENV_REGIONS["primary"]
    assert primary["SecondaryRegion"] == secondary["SecondaryRegion"] == CONFIG_ENV_REGIONS["secondary"]


def test_samconfig_validate_lints_by_default(samconfig):
    # GIVEN / WHEN the default validate settings
    validate = samconfig["default"]["validate"]["parameters"]

    # THEN `sam validate` runs cfn-lint
    assert validate["lint"] is True


def test_checkov_every_skip_has_reason_comment():
    # GIVEN the checkov configuration
    lines = CHECKOV_CONFIG.read_text(encoding="utf-8").splitlines()

    # WHEN each skipped check is paired with the line above it
    skips = [(index, line.strip()[2:]) for index, line in enumerate(lines) if re.match(r"\s*- CKV", line)]

    # THEN each skip is preceded by a comment naming that check and giving a reason
    assert skips
    for index, check_id in skips:
        reason_block = []
        cursor = index - 1
        while cursor >= 0 and lines[cursor].strip().startswith("#"):
            reason_block.insert(0, lines[cursor].strip())
            cursor -= 1
        reason = " ".join(reason_block)
        assert check_id in reason, f"{check_id} has no comment naming it"
        assert len(reason) > len(check_id) + 40, f"{check_id} has no real reason"
