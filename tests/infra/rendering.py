"""template.yaml rendered for one Region role: the Rules checked, the Conditions decided, the resources
that role creates with every Fn::If resolved, and references to other resources kept as readable tokens.

CloudFormation decides a stack's shape from its parameters and Region alone; so does this renderer, with
the local cloud's intrinsic functions (the same code that provisions the template locally).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import boto3
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from localcloud.intrinsics import Intrinsics, pseudo_parameters
from localcloud.provision import check_rules
from localcloud.template import TemplateError, decode, parameter_values

TEMPLATE_PATH: Final = Path(__file__).parents[2] / "template.yaml"
PRIMARY: Final = "us-west-2"
SECONDARY: Final = "us-east-1"
ACCOUNT: Final = "123456789012"
STACK: Final = "customer-signals-prod"
ENDPOINT_ID: Final = "abcde.veo"
SECONDARY_KEY_ARN: Final = f"arn:aws:kms:{SECONDARY}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
PRIMARY_KEY_ARN: Final = f"arn:aws:kms:{PRIMARY}:{ACCOUNT}:key/5678abcd-12ab-34cd-56ef-1234567890ab"
# The edge: deployed in every Region. Everything else is the processing pipeline (docs/adr/0002).
EDGE_RESOURCES: Final = {
    "PlatformKey",
    "PlatformKeyAlias",
    "PersonalDataKey",
    "PersonalDataKeyAlias",
    "SharedLayer",
    "IngressBus",
    "IngestApiAccessLogs",
    "IngestApi",
    "ValidatorLogGroup",
    "ValidatorFunction",
    "RateLeasesTable",
    "AlarmTopic",
    "ValidatorErrorsAlarm",
    "IngestApi5xxAlarm",
    "ApiLatencyAlarm",
    "ValidatorRequests500Alarm",
    "ValidatorRequests503Alarm",
    "ValidatorEventsRetryAlarm",
    "FlowDashboard",  # its widgets follow the role (tests/infra/test_dashboard.py)
}
# What decides a Region's role and what it keeps; every other parameter keeps its default.
ROLE_PARAMETERS: Final[dict[str, tuple[str, ...]]] = {
    "ProcessingMode": ("active-archive", "active-active"),
    "IngressArchive": ("enabled", "disabled"),
    "CreateGlobalEndpoint": ("true", "false"),
    "GlobalEndpointId": ("", ENDPOINT_ID),
    "BucketReplication": ("enabled", "disabled"),
    "SourcesTableInStack": ("true", "false"),
}
# A deployment's Regions: a pair, or one Region for a developer stack.
REGION_PAIRS: Final = ((PRIMARY, SECONDARY), (PRIMARY, PRIMARY))


def ref_token(logical_id: str) -> str:
    return f"<Ref {logical_id}>"


def getatt_token(logical_id: str, attribute: str) -> str:
    return f"<GetAtt {logical_id}.{attribute}>"


@dataclass(frozen=True, slots=True)
class Role:
    """Where a stack is deployed and with which parameter overrides."""

    region: str
    overrides: Mapping[str, str]

    @property
    def label(self) -> str:
        values = ",".join(f"{key}={value}" for key, value in sorted(self.overrides.items()))
        return f"{self.region}[{values}]"


@dataclass(slots=True)
class Rendering:
    """What one role's stack would be: ``refused`` holds the failed Rules' descriptions, if any."""

    role: Role
    refused: str | None = None
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    references: set[str] = field(default_factory=set)
    output_references: set[str] = field(default_factory=set)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == resource_type}


_TEMPLATE_CACHE: dict[Path, dict[str, Any]] = {}


def template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    if path not in _TEMPLATE_CACHE:
        _TEMPLATE_CACHE[path] = decode(path)
    return _TEMPLATE_CACHE[path]


def render(role: Role, cfn: Mapping[str, Any] | None = None) -> Rendering:
    """The stack ``role`` gets: refused by the Rules, or its resources and outputs, fully resolved."""
    cfn = cfn if cfn is not None else template()
    rendering = Rendering(role)

    seen = rendering.references

    def lookup(logical_id: str, attribute: str | None) -> str:
        seen.add(logical_id)
        return ref_token(logical_id) if attribute is None else getatt_token(logical_id, attribute)

    intrinsics = Intrinsics(
        cfn, parameter_values(cfn, role.overrides), pseudo_parameters(role.region, ACCOUNT, STACK), lookup
    )
    try:
        check_rules(cfn, intrinsics)
    except TemplateError as refused:
        rendering.refused = str(refused)
        return rendering
    rendering.conditions = {name: intrinsics.condition(name) for name in cfn.get("Conditions", {})}
    for name, resource in cfn["Resources"].items():
        if rendering.conditions.get(resource.get("Condition", ""), True):
            rendering.resources[name] = {
                "Type": resource["Type"],
                "Properties": intrinsics.resolve(resource.get("Properties", {})),
                "Metadata": resource.get("Metadata", {}),
            }
    seen = rendering.output_references
    for name, output in cfn.get("Outputs", {}).items():
        if rendering.conditions.get(output.get("Condition", ""), True):
            rendering.outputs[name] = intrinsics.resolve(output["Value"])
    return rendering


def every_role() -> Iterator[Role]:
    """Every combination of the role-deciding parameters, in every Region of every deployment shape."""
    names = list(ROLE_PARAMETERS)
    for primary, secondary in REGION_PAIRS:
        for values in itertools.product(*(ROLE_PARAMETERS[name] for name in names)):
            overrides = {
                "PrimaryRegion": primary,
                "SecondaryRegion": secondary,
                **dict(zip(names, values, strict=True)),
            }
            for region in sorted({primary, secondary, "eu-west-1"}):
                yield Role(region, {**overrides, **replica_key(region, overrides)})


def replica_key(region: str, overrides: Mapping[str, str]) -> dict[str, str]:
    """``ReplicaKmsKeyArn`` where make deploy passes it: the secondary's key to the primary with
    BucketReplication, the primary's to a secondary that processes too (active-active)."""
    if overrides["BucketReplication"] != "enabled":
        return {}
    if region == overrides["PrimaryRegion"]:
        return {"ReplicaKmsKeyArn": SECONDARY_KEY_ARN}
    if overrides["ProcessingMode"] == "active-active":
        return {"ReplicaKmsKeyArn": PRIMARY_KEY_ARN}
    return {}


_TRANSLATED_CACHE: dict[Path, dict[str, Any]] = {}


def sam_translated(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The CloudFormation SAM would deploy (offline, as `sam` translates it): generated roles included."""
    if path not in _TRANSLATED_CACHE:
        sam_template = copy.deepcopy(template(path))
        for resource in sam_template["Resources"].values():
            properties = resource.get("Properties", {})
            for key in ("CodeUri", "ContentUri"):
                if isinstance(properties.get(key), str):
                    properties[key] = f"s3://artifacts/{properties[key]}"
        translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=PRIMARY))
        _TRANSLATED_CACHE[path] = translator.translate(
            sam_template, parameter_values={}, get_managed_policy_map=dict
        )
    return _TRANSLATED_CACHE[path]
