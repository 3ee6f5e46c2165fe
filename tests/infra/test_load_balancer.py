"""The optional Application Load Balancer front door (FrontDoor, docs/adr/0007), as each setting
renders it: nothing without it; with it, HTTPS only, a Lambda target group for the validator with
its permission, 443 only, access logs, and the custom domain following the load balancer."""

from __future__ import annotations

from typing import Any, Final

import pytest

from tests.infra.rendering import PRIMARY, SECONDARY, Role, getatt_token, ref_token, render, template
from validator.edge import CORS

NETWORK: Final = {
    "LoadBalancerVpcId": "vpc-0123456789abcdef0",
    "LoadBalancerSubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "ApiCertificateArn": f"arn:aws:acm:{PRIMARY}:123456789012:certificate/abc-123",
}
DOMAIN: Final = {"ApiDomainName": "signals.example.com", "ApiHostedZoneId": "Z0123456789ABC"}
LOAD_BALANCER: Final = {
    "LoadBalancerSecurityGroup",
    "LoadBalancerLogsBucket",
    "LoadBalancerLogsBucketPolicy",
    "LoadBalancer",
    "LoadBalancerHttpsListener",
    "ValidatorTargetGroup",
    "ValidatorLoadBalancerPermission",
    "LoadBalancer5xxAlarm",
}


def _attributes(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


def test_default_front_door_creates_nothing_of_the_load_balancer() -> None:
    # GIVEN the default FrontDoor (HttpApi)
    rendering = render(Role(PRIMARY, {}))
    # THEN no load balancer resource exists, and the validator keeps the HTTP API only
    assert rendering.refused is None
    assert not {name for name in rendering.resources if "LoadBalancer" in name or "TargetGroup" in name}
    env = rendering.resources["ValidatorFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FRONT_DOOR"] == "HttpApi"


@pytest.mark.parametrize("missing", sorted(NETWORK))
def test_load_balancer_without_its_network_or_certificate_is_refused(missing: str) -> None:
    # GIVEN FrontDoor Alb with one of its settings left empty
    overrides = {"FrontDoor": "Alb", **{k: v for k, v in NETWORK.items() if k != missing}}
    # WHEN the stack is rendered
    rendering = render(Role(PRIMARY, overrides))
    # THEN the Rules refuse it, naming what is missing
    assert rendering.refused is not None
    assert missing in rendering.refused


@pytest.mark.parametrize("front_door", ["Alb", "Both"])
def test_load_balancer_is_https_only_to_the_validator(front_door: str) -> None:
    # GIVEN a load balancer front door
    rendering = render(Role(PRIMARY, {"FrontDoor": front_door, **NETWORK}))
    assert rendering.refused is None, rendering.refused
    resources = rendering.resources
    # THEN every part exists, and the validator is told which doors are open
    assert set(resources) >= LOAD_BALANCER
    env = resources["ValidatorFunction"]["Properties"]["Environment"]["Variables"]
    assert env["FRONT_DOOR"] == front_door
    # AND its only listener is HTTPS on 443 with a TLS 1.3/1.2 policy, forwarding to the validator
    [listener] = rendering.of_type("AWS::ElasticLoadBalancingV2::Listener").values()
    props = listener["Properties"]
    assert (props["Port"], props["Protocol"]) == (443, "HTTPS")
    assert props["SslPolicy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert props["Certificates"] == [{"CertificateArn": NETWORK["ApiCertificateArn"]}]
    assert props["DefaultActions"] == [
        {"Type": "forward", "TargetGroupArn": ref_token("ValidatorTargetGroup")}
    ]
    # AND the target group is the validator, single-value headers, the permission scoped to the group
    group = resources["ValidatorTargetGroup"]["Properties"]
    assert group["TargetType"] == "lambda"
    assert group["Targets"] == [{"Id": getatt_token("ValidatorFunction", "Arn")}]
    assert _attributes(group["TargetGroupAttributes"])["lambda.multi_value_headers.enabled"] == "false"
    permission = resources["ValidatorLoadBalancerPermission"]["Properties"]
    assert permission["Principal"] == "elasticloadbalancing.amazonaws.com"
    assert permission["SourceArn"].endswith(f":targetgroup/{group['Name']}/*")
    assert len(group["Name"]) <= 32
    # AND the security group lets in 443 only
    ingress = resources["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert [(rule["IpProtocol"], rule["FromPort"], rule["ToPort"]) for rule in ingress] == [("tcp", 443, 443)]


def test_load_balancer_logs_drops_invalid_headers_and_keeps_the_forwarded_address() -> None:
    # GIVEN a load balancer front door in a Region opened before 2022 and in a newer one
    old = render(Role(PRIMARY, {"FrontDoor": "Alb", **NETWORK}))
    # THEN its attributes: deletion protection, access logs to its bucket, invalid headers dropped,
    # X-Forwarded-For appended (the validator reads the last entry)
    attributes = _attributes(old.resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"])
    assert attributes["deletion_protection.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == ref_token("LoadBalancerLogsBucket")
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["routing.http.xff_header_processing.mode"] == "append"
    # AND the log bucket lets Elastic Load Balancing deliver under the prefix, as that Region requires
    statements = old.resources["LoadBalancerLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [delivery] = [s for s in statements if s["Sid"] == "LoadBalancerAccessLogDelivery"]
    assert delivery["Principal"] == {"AWS": "arn:aws:iam::797873946194:root"}
    assert delivery["Resource"].endswith(f"/{attributes['access_logs.s3.prefix']}/AWSLogs/123456789012/*")
    assert old.resources["LoadBalancerLogsBucket"]["Properties"]["BucketEncryption"]
    newer = render(
        Role(
            "ap-southeast-5",
            {
                "PrimaryRegion": "ap-southeast-5",
                "SecondaryRegion": "ap-southeast-5",
                "FrontDoor": "Alb",
                **NETWORK,
            },
        )
    )
    assert newer.refused is None, newer.refused
    statements = newer.resources["LoadBalancerLogsBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    [delivery] = [s for s in statements if s["Sid"] == "LoadBalancerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"}


def test_web_acl_is_attached_only_when_given() -> None:
    acl = f"arn:aws:wafv2:{PRIMARY}:123456789012:regional/webacl/signals/0a1b2c3d"
    # GIVEN a load balancer with and without a web ACL
    without = render(Role(PRIMARY, {"FrontDoor": "Alb", **NETWORK}))
    with_acl = render(Role(PRIMARY, {"FrontDoor": "Alb", **NETWORK, "LoadBalancerWebAclArn": acl}))
    # THEN the association exists only with one, on the load balancer
    assert "LoadBalancerWebAclAssociation" not in without.resources
    association = with_acl.resources["LoadBalancerWebAclAssociation"]["Properties"]
    assert association == {"ResourceArn": ref_token("LoadBalancer"), "WebACLArn": acl}


@pytest.mark.parametrize("region", [PRIMARY, SECONDARY])
def test_custom_domain_follows_the_load_balancer_with_its_own_health(region: str) -> None:
    # GIVEN a custom domain in a Region with a load balancer front door
    overrides = {
        "FrontDoor": "Both",
        **NETWORK,
        **DOMAIN,
        "ApiCertificateArn": f"arn:aws:acm:{region}:123456789012:certificate/abc-123",
    }
    rendering = render(Role(region, overrides))
    assert rendering.refused is None, rendering.refused
    # THEN the latency record aliases the load balancer, its health check follows the load balancer's
    # 5xx alarm, and API Gateway gets no custom domain
    record = rendering.resources["ApiLatencyRecord"]["Properties"]
    assert record["AliasTarget"]["DNSName"] == getatt_token("LoadBalancer", "DNSName")
    assert record["AliasTarget"]["HostedZoneId"] == getatt_token("LoadBalancer", "CanonicalHostedZoneID")
    check = rendering.resources["ApiHealthCheck"]["Properties"]["HealthCheckConfig"]
    assert check["AlarmIdentifier"] == {"Name": ref_token("LoadBalancer5xxAlarm"), "Region": region}
    assert "ApiDomain" not in rendering.resources
    assert "ApiDomainMapping" not in rendering.resources


def _cors_configuration() -> dict[str, Any]:
    cors: dict[str, Any] = template()["Resources"]["IngestApi"]["Properties"]["CorsConfiguration"]
    return cors


def test_validators_cors_for_the_load_balancer_is_the_http_apis() -> None:
    # GIVEN the HTTP API's CorsConfiguration and the policy the validator applies behind a load balancer
    cors = _cors_configuration()
    # THEN they say the same (a browser sees the same answers through either door)
    assert CORS.allow_origins == tuple(cors["AllowOrigins"])
    assert CORS.allow_methods == tuple(method.upper() for method in cors["AllowMethods"])
    assert CORS.allow_headers == tuple(header.lower() for header in cors["AllowHeaders"])
    assert CORS.expose_headers == tuple(header.lower() for header in cors["ExposeHeaders"])
    assert CORS.max_age == cors["MaxAge"]
