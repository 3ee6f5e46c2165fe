"""The provisioning engine: the translated template's resources in dependency order, conditions and
``Rules`` checked, intrinsics and dynamic references resolved, and each resource handed to the creator
the registry (``localcloud.provision.registry``) names for its type; types without one get placeholder
attributes so references resolve.
"""

from __future__ import annotations

import json
import logging
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from localcloud.intrinsics import Intrinsics, pseudo_parameters, references
from localcloud.names import PhysicalNames
from localcloud.provision.registry import CREATORS
from localcloud.provision.stack import Resource, Stack
from localcloud.template import ACCOUNT_ID, LoadedTemplate, TemplateError

log = logging.getLogger("localcloud")

RUN_LOCALLY: Final = frozenset(
    {
        "AWS::CloudWatch::Dashboard",  # drawn from the local CloudWatch's metrics (tools.dashboard)
        "AWS::Lambda::Function",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Version",
        "AWS::Lambda::Alias",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Scheduler::Schedule",  # rate() schedules that put events on a bus (localcloud.scheduler)
        # The optional load balancer front door: its Lambda target group (localcloud.http_api.LoadBalancer)
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
    }
)
NO_LOCAL_EFFECT: Final = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::SQS::QueuePolicy",
        "AWS::S3::BucketPolicy",
        "AWS::Events::EventBusPolicy",
        "AWS::CloudWatch::Alarm",
        "AWS::Route53::HealthCheck",
        "AWS::Route53::RecordSet",
        "AWS::Route53::RecordSetGroup",
        "AWS::ApiGatewayV2::DomainName",
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::EC2::SecurityGroup",
        "AWS::WAFv2::WebACLAssociation",
    }
)
# What a stack update may change in a resource the local cloud created or runs (``update``): the
# properties it reads from the stack only after provisioning. S3 replication rules
# (``localcloud.bucket_replication``), the dashboard (drawn from the local CloudWatch's metrics).
UPDATED_IN_PLACE: Final[Mapping[str, frozenset[str]]] = {
    "AWS::S3::Bucket": frozenset({"ReplicationConfiguration"}),
    "AWS::CloudWatch::Dashboard": frozenset({"DashboardBody"}),
}
_DYNAMIC_REFERENCE: Final = re.compile(r"\{\{resolve:(secretsmanager|ssm|ssm-secure):([^}]+)\}\}")


@dataclass(frozen=True, slots=True)
class ProvisionSettings:
    on_demand_shards: int = 4
    seed: int = 0


def dependency_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids so that every resource comes after those it references (Ref, GetAtt, Sub, DependsOn)."""
    needs: dict[str, set[str]] = {}
    for logical_id, resource in resources.items():
        depends = resource.get("DependsOn", [])
        wanted = set(references(resource.get("Properties", {}))) | set(
            [depends] if isinstance(depends, str) else depends
        )
        needs[logical_id] = {name for name in wanted if name in resources and name != logical_id}
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(logical_id: str, path: tuple[str, ...]) -> None:
        if state.get(logical_id) == 2:
            return
        if state.get(logical_id) == 1:
            raise TemplateError(f"circular references: {' -> '.join((*path, logical_id))}")
        state[logical_id] = 1
        for needed in sorted(needs[logical_id]):
            visit(needed, (*path, logical_id))
        state[logical_id] = 2
        order.append(logical_id)

    for logical_id in resources:
        visit(logical_id, ())
    return order


class Provisioner:
    def __init__(
        self,
        session: Any,
        *,
        region: str,
        stack_name: str,
        settings: ProvisionSettings | None = None,
        account_id: str = ACCOUNT_ID,
    ) -> None:
        self.session = session
        self.region = region
        self.account_id = account_id
        self.names = PhysicalNames(stack_name, region)
        self.settings = settings or ProvisionSettings()
        self.rng = random.Random(self.settings.seed)
        self.stack = Stack(region, account_id, stack_name)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, region_name=self.region)
        return self._clients[service]

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{resource}"

    def provision(self, template: LoadedTemplate) -> Stack:
        resources = template.resources
        intrinsics = self._intrinsics(template)
        check_rules(template.cfn, intrinsics)
        for logical_id in dependency_order(resources):
            declared = resources[logical_id]
            condition = declared.get("Condition")
            if condition and not intrinsics.condition(condition):
                self.stack.skipped[logical_id] = f"condition {condition} is false"
                continue
            properties = self._dynamic_references(intrinsics.resolve(declared.get("Properties") or {}))
            self._add(logical_id, declared["Type"], properties)
        if self.stack.no_local_effect:
            log.info("accepted without local effect: %s", ", ".join(self.stack.no_local_effect))
        return self.stack

    def update(self, template: LoadedTemplate) -> list[str]:
        """The stack updated to ``template`` (the same one with new parameter values, as make deploy's
        later steps pass values that exist only once the other stack does): resources whose Condition
        now holds are created; an existing resource's changed properties are recorded where nothing
        applied them yet (``NO_LOCAL_EFFECT`` types, ``UPDATED_IN_PLACE``). Anything else (a deletion,
        a change moto or the local runtime would have to apply) is refused. The logical ids created
        or changed."""
        intrinsics = self._intrinsics(template)
        check_rules(template.cfn, intrinsics)
        changed = []
        for logical_id in dependency_order(template.resources):
            declared = template.resources[logical_id]
            condition = declared.get("Condition")
            existing = self.stack.resources.get(logical_id)
            if condition and not intrinsics.condition(condition):
                if existing is not None:
                    raise TemplateError(f"update: deleting {logical_id} is not emulated")
                continue
            properties = self._dynamic_references(intrinsics.resolve(declared.get("Properties") or {}))
            if existing is None:
                self.stack.skipped.pop(logical_id, None)
                self._add(logical_id, declared["Type"], properties)
            elif existing.properties != properties:
                keys = {
                    key
                    for key in {*properties, *existing.properties}
                    if properties.get(key) != existing.properties.get(key)
                }
                in_place = UPDATED_IN_PLACE.get(existing.type, frozenset())
                if existing.type not in NO_LOCAL_EFFECT and not keys <= in_place:
                    raise TemplateError(
                        f"update: changing {', '.join(sorted(keys))} of {logical_id} is not emulated"
                    )
                existing.properties = properties
            else:
                continue
            changed.append(logical_id)
        return changed

    def _intrinsics(self, template: LoadedTemplate) -> Intrinsics:
        return Intrinsics(
            template.cfn,
            template.parameters,
            pseudo_parameters(self.region, self.account_id, self.stack.stack_name),
            self.stack.value,
        )

    def _add(self, logical_id: str, resource_type: str, properties: dict[str, Any]) -> None:
        if resource_type in CREATORS:
            resource = self.create(resource_type, logical_id, properties)
        else:
            resource = self._placeholder(logical_id, resource_type, properties)
            if resource_type in NO_LOCAL_EFFECT:
                self.stack.no_local_effect.append(f"{logical_id} ({resource_type})")
            elif resource_type not in RUN_LOCALLY:
                self.stack.not_emulated.append(f"{logical_id} ({resource_type})")
        self.stack.resources[logical_id] = resource

    def create(self, resource_type: str, logical_id: str, properties: dict[str, Any]) -> Resource:
        """Create one resource of a type the registry knows, from its resolved properties."""
        return CREATORS[resource_type](self, logical_id, properties)

    def recreate(self, resource: Resource) -> Resource:
        """The same resource again (same names and ARNs), after it was deleted."""
        return self.create(resource.type, resource.logical_id, resource.properties)

    # ---------------------------------------------------------------- helpers
    def _dynamic_references(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self._dynamic_references(item) for item in node]
        if isinstance(node, dict):
            return {key: self._dynamic_references(value) for key, value in node.items()}
        if isinstance(node, str) and "{{resolve:" in node:
            return _DYNAMIC_REFERENCE.sub(lambda match: self._resolve_reference(match[1], match[2]), node)
        return node

    def _resolve_reference(self, service: str, spec: str) -> str:
        if service.startswith("ssm"):
            name = spec.split(":", maxsplit=1)[0]
            return str(self.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        # secret-id:SecretString:json-key:version-stage:version-id (the secret id may itself be an ARN)
        if spec.startswith("arn:"):
            parts = spec.split(":")
            secret_id, rest = ":".join(parts[:7]), parts[7:]
        else:
            secret_id, *rest = spec.split(":")
        value = str(self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
        json_key = rest[1] if len(rest) > 1 else ""
        return str(json.loads(value)[json_key]) if json_key else value

    def _placeholder(self, logical_id: str, resource_type: str, properties: dict[str, Any]) -> Resource:
        """Resources the local cloud runs itself or only records: stable names and ARNs."""
        service = resource_type.split("::")[1].lower()
        name = str(
            properties.get("FunctionName")
            or properties.get("RoleName")
            or properties.get("Name")
            or self.names.name(logical_id)
        )
        arn = self.arn(service, f"{logical_id.lower()}/{name}")
        attributes: dict[str, Any] = {"Arn": arn, "Name": name}
        ref: Any = name
        if resource_type == "AWS::Lambda::Function":
            arn = self.arn("lambda", f"function:{name}")
            attributes = {"Arn": arn, "Name": name}
        elif resource_type == "AWS::Lambda::LayerVersion":
            ref = self.arn("lambda", f"layer:{properties.get('LayerName', name)}:1")
            attributes = {"LayerVersionArn": ref}
        elif resource_type == "AWS::IAM::Role":
            attributes = {
                "Arn": f"arn:aws:iam::{self.account_id}:role/{name}",
                "RoleId": self.names.suffix(name),
            }
        elif resource_type == "AWS::ApiGatewayV2::Api":
            ref = self.names.suffix(logical_id)[:10].lower()
            attributes = {
                "ApiId": ref,
                "ApiEndpoint": f"https://{ref}.execute-api.{self.region}.amazonaws.com",
            }
        elif resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
            full_name = f"app/{name[:32]}/{self.names.suffix(logical_id)[:16].lower()}"
            ref = self.arn("elasticloadbalancing", f"loadbalancer/{full_name}")
            attributes = {
                "LoadBalancerArn": ref,
                "LoadBalancerFullName": full_name,
                "LoadBalancerName": name[:32],
                "DNSName": f"{name[:32]}.{self.region}.elb.localhost",
                "CanonicalHostedZoneID": "Z0LOCALCLOUDELB",
            }
        elif resource_type == "AWS::ElasticLoadBalancingV2::TargetGroup":
            group = str(properties.get("Name") or name)
            ref = self.arn(
                "elasticloadbalancing", f"targetgroup/{group}/{self.names.suffix(logical_id)[:16].lower()}"
            )
            attributes = {"TargetGroupArn": ref, "TargetGroupName": group}
        elif resource_type == "AWS::Lambda::EventSourceMapping":
            ref = f"{self.names.suffix(logical_id).lower()}-esm"
            attributes = {
                "Id": ref,
                "EventSourceMappingArn": self.arn("lambda", f"event-source-mapping:{ref}"),
            }
        elif resource_type == "AWS::Events::Endpoint":
            endpoint = endpoint_id(self.names, logical_id)
            attributes = {
                "Arn": self.arn("events", f"endpoint/{name}"),
                "EndpointId": endpoint,
                "EndpointUrl": f"https://{endpoint}.endpoint.events.amazonaws.com",
                "State": "ACTIVE",
            }
        return Resource(logical_id, resource_type, properties, ref, attributes)


def endpoint_id(names: PhysicalNames, logical_id: str) -> str:
    """The EndpointId of a global endpoint, stable, so both Regions' validators get it before it
    exists (as make deploy passes the primary's IngressEndpointId output)."""
    return f"{names.suffix(logical_id)[:5].lower()}.veo"


def check_rules(template: Mapping[str, Any], intrinsics: Intrinsics) -> None:
    """The template's ``Rules`` (parameter assertions), checked as CloudFormation does before creating."""
    for name, rule in (template.get("Rules") or {}).items():
        try:
            failed = _failed_assertion(rule, intrinsics)
        except TemplateError as exc:
            log.warning("template rule %s not checked locally: %s", name, exc)
            continue
        if failed is not None:
            raise TemplateError(f"template rule {name}: {failed}")


def _failed_assertion(rule: Mapping[str, Any], intrinsics: Intrinsics) -> str | None:
    if "RuleCondition" in rule and not intrinsics.condition_value(rule["RuleCondition"]):
        return None
    for assertion in rule.get("Assertions", []):
        if not intrinsics.condition_value(assertion["Assert"]):
            return str(assertion.get("AssertDescription", "an assertion failed"))
    return None
