"""End to end through the load balancer front door (FrontDoor Both, docs/adr/0007): traffic in the
Application Load Balancer's event shape reaches the lake exactly once with the no-loss accounting;
a browser's preflight gets the answer API Gateway gives; FrontDoor Alb closes the HTTP API."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest

from localcloud import scenario
from localcloud.cloud import CloudOptions, LocalCloud
from localcloud.faults import SdkFault, TargetFault
from localcloud.http_api import HttpApi, HttpResponse, LoadBalancer
from localcloud.scenario import Scenario
from signal_platform import codec
from tests.e2e.test_alarms import _let_time_pass
from tests.e2e.test_pipeline import _no_loss
from tests.fuzz.harness import basic
from tests.http_events import page_view

ROOT: Final = Path(__file__).resolve().parents[2]
NETWORK: Final = {
    "LoadBalancerVpcId": "vpc-0123456789abcdef0",
    "LoadBalancerSubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
}
TRAFFIC: Final = Scenario(
    events=120, per_request=1, invalid_share=0.1, resend_share=0.1, seed=5, sources=("web-shop", "ios-app")
)
SHOP: Final = "https://shop.example.com"


def _one_region_stack(region: str, front_door: str, *, partner: bool = True) -> CloudOptions:
    """A one-Region stack of its own Region and name: moto is shared with the package's cloud."""
    certificate = f"arn:aws:acm:{region}:123456789012:certificate/abc-123"
    overrides = {"PrimaryRegion": region, "SecondaryRegion": region, "FrontDoor": front_door}
    return CloudOptions(
        template=ROOT / "template.yaml",
        region=region,
        stack_name=f"lc-{front_door.lower()}",
        overrides={**overrides, **NETWORK, "ApiCertificateArn": certificate},
        partner=partner,
    )


@pytest.fixture(scope="module")
def both_doors() -> Iterator[LocalCloud]:
    with LocalCloud(_one_region_stack("eu-west-1", "Both")) as cloud:
        yield cloud


@pytest.fixture
def cloud(both_doors: LocalCloud) -> LocalCloud:
    both_doors.reset()
    return both_doors


def test_single_event_requests_through_the_load_balancer_reach_the_lake_exactly_once(
    cloud: LocalCloud,
) -> None:
    # GIVEN the stack with a load balancer, and one-event requests (10 % invalid, 10 % resent)
    # WHEN they are sent through it in the load balancer's event shape
    outcome = scenario.run(cloud, TRAFFIC, front_door="load-balancer")
    # THEN nothing is lost or stored twice, every rejection has its reason
    assert outcome.settled
    _no_loss(outcome)
    report = outcome.report
    assert len(report.ledger.accepted) > 90
    assert report.ledger.rejected
    lake = next(balance for balance in report.balances if balance.sink == "lake")
    assert lake.in_sink == len(report.ledger.accepted)
    assert lake.duplicated == ()


def test_throttled_bus_behind_the_load_balancer_makes_clients_resend_and_nothing_is_lost(
    cloud: LocalCloud,
) -> None:
    # GIVEN PutEvents throttled for the first calls
    cloud.faults.add(SdkFault("events", "put_events", times=16, function="ValidatorFunction"))
    # WHEN one-event requests go through the load balancer (the client resends 429s after Retry-After)
    outcome = scenario.run(cloud, TRAFFIC, front_door="load-balancer")
    # THEN every accepted event is in the lake once
    assert outcome.settled
    _no_loss(outcome)


def _preflight(door: object) -> HttpResponse:
    headers = {
        "Origin": SHOP,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    response: HttpResponse = door.request("OPTIONS", "/v1/batch", None, headers)  # type: ignore[attr-defined]
    return response


def test_preflight_through_the_load_balancer_is_answered_as_api_gateway_answers_it(cloud: LocalCloud) -> None:
    # GIVEN a browser's preflight
    # WHEN it goes to the HTTP API (API Gateway answers it) and to the load balancer (the function does)
    through_api, through_balancer = _preflight(cloud.api), _preflight(cloud.load_balancer)
    # THEN the answers are the same
    assert through_balancer.status == through_api.status == 204
    assert through_balancer.headers == through_api.headers
    assert through_balancer.headers["access-control-max-age"] == "7200"


def test_a_beacon_through_the_load_balancer_is_refused_for_an_unregistered_origin(cloud: LocalCloud) -> None:
    # GIVEN a source that registered its shop only
    key = cloud.register_source("web-shop", origins=frozenset({SHOP}))
    call = {
        "type": "track",
        "event": "Video Played",
        "messageId": "b-1",
        "anonymousId": "a-1",
        "writeKey": key,
    }
    # WHEN a page of the shop and a page elsewhere send the same beacon through the load balancer
    ok = cloud.load_balancer.request(
        "POST", "/v1/t", codec.dumps(call), {"Origin": SHOP, "Content-Type": "text/plain"}
    )
    other = cloud.load_balancer.request(
        "POST",
        "/v1/t",
        codec.dumps(call),
        {"Origin": "https://copycat.example.net", "Content-Type": "text/plain"},
    )
    # THEN the shop's is accepted with the CORS headers, the other refused as through the HTTP API
    assert ok.status == 200, ok.body
    assert ok.headers["access-control-allow-origin"] == "*"
    assert (other.status, other.json()["code"]) == (403, "forbidden")


def test_front_door_alb_closes_the_http_api() -> None:
    # GIVEN the stack with FrontDoor Alb
    options = _one_region_stack("eu-central-1", "Alb", partner=False)
    with LocalCloud(options) as cloud:
        key = cloud.register_source("web-shop")
        call = {
            "type": "track",
            "event": "Video Played",
            "messageId": "c-1",
            "anonymousId": "a-1",
            "writeKey": key,
        }
        # WHEN the same call goes through the HTTP API and through the load balancer
        refused = cloud.api.request("POST", "/v1/track", codec.dumps(call), {"Content-Type": "text/plain"})
        taken = cloud.load_balancer.request(
            "POST", "/v1/track", codec.dumps(call), {"Content-Type": "text/plain"}
        )
    # THEN only the load balancer takes it
    assert (refused.status, refused.json()["code"]) == (403, "front_door_closed")
    assert taken.status == 200, taken.body


def test_load_balancer_reports_its_requests_and_whose_5xx_they_were(cloud: LocalCloud) -> None:
    # GIVEN the validator failing its next invocation (the load balancer then answers 502 itself)
    key = cloud.register_source("web-shop")
    call = {
        "type": "track",
        "event": "Video Played",
        "messageId": "m-1",
        "anonymousId": "a-1",
        "writeKey": key,
    }
    cloud.faults.add(TargetFault("ValidatorFunction", times=1))
    # WHEN two requests go through the load balancer
    failed = cloud.load_balancer.request(
        "POST", "/v1/track", codec.dumps(call), {"Content-Type": "text/plain"}
    )
    taken = cloud.load_balancer.request(
        "POST", "/v1/track", codec.dumps(call), {"Content-Type": "text/plain"}
    )
    # THEN the first is the load balancer's own 502, the second the validator's 200
    assert (failed.status, taken.status) == (502, 200)
    # AND its metrics, which LoadBalancer5xxAlarm reads, count both requests and the 502 as its own
    watch = cloud.primary.cloudwatch
    name = cloud.stack.get("LoadBalancer").attributes["LoadBalancerFullName"]
    dimensions = {"LoadBalancer": name}
    assert sum(watch.values("AWS/ApplicationELB", "RequestCount", dimensions)) == 2
    assert sum(watch.values("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", dimensions)) == 1
    assert sum(watch.values("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", dimensions)) == 0
    assert "LoadBalancer5xxAlarm" in watch.alarms


# The alarm drill of the load balancer front door (tests/regions/test_alarm_drills.py counts it).
LOAD_BALANCER_DRILLS: Final = {"load balancer answers 5xx": ("LoadBalancer5xxAlarm",)}


def test_load_balancer_answering_5xx_sends_its_alarm_to_alarm(cloud: LocalCloud) -> None:
    # GIVEN the load balancer's 5xx alarm, not in ALARM
    watch = cloud.primary.cloudwatch
    started = cloud.clock.now()
    assert watch.state("LoadBalancer5xxAlarm") != "ALARM"
    key = cloud.register_source("alarm-drill")
    call = {
        "type": "track",
        "event": "Video Played",
        "messageId": "d-1",
        "anonymousId": "a-1",
        "writeKey": key,
    }
    # WHEN the validator fails every invocation for four minutes (the load balancer answers 502)
    cloud.faults.add(TargetFault("ValidatorFunction"))
    for _ in range(4):
        answer = cloud.load_balancer.request(
            "POST", "/v1/track", codec.dumps(call), {"Content-Type": "text/plain"}
        )
        assert answer.status == 502
        cloud.settle()
        cloud.wait(60.0)
    _let_time_pass(cloud, 30 * 60.0)
    # THEN the alarm Route 53's health check follows went to ALARM after the failures began
    went = watch.first_alarm("LoadBalancer5xxAlarm")
    assert went is not None, watch.changes("LoadBalancer5xxAlarm")
    assert went > started


# What each front door does with a header a client sends twice (localcloud/http_api.py). The HTTP
# API joins the values with commas (the joined value is no write key, no media type: 401, 415); the
# load balancer keeps the last one, and with multi-value headers on the validator keeps the last one
# too (validator/edge.py), so the attribute never changes an answer.
Fields = list[tuple[str, str]]
JSON: Final = ("Content-Type", "application/json")


def _key(write_key: str) -> tuple[str, str]:
    return "Authorization", basic(write_key)


WRONG: Final = _key("web-shop.not-its-secret")
# case: (the header fields, given the source's write key; status through the HTTP API, the load balancer)
REPEATED: Final[dict[str, tuple[Callable[[str], Fields], int, int]]] = {
    "two write keys, the right one last": (lambda key: [JSON, WRONG, _key(key)], 401, 200),
    "two write keys, the right one first": (lambda key: [JSON, _key(key), WRONG], 401, 401),
    "two media types, JSON last": (lambda key: [_key(key), ("Content-Type", "text/xml"), JSON], 415, 200),
    "two cookies": (lambda key: [JSON, _key(key), ("Cookie", "a=1"), ("Cookie", "b=2")], 200, 200),
}


@pytest.fixture(params=["http-api", "load-balancer", "load-balancer, multi-value headers on"])
def door(request: pytest.FixtureRequest, cloud: LocalCloud) -> Iterator[tuple[str, HttpApi | LoadBalancer]]:
    """A front door of the stack; the load balancer also as a target group with multi-value headers
    on would deliver (the template turns them off: tests/infra/test_load_balancer.py)."""
    if request.param == "http-api":
        yield request.param, cloud.api
        return
    balancer = cloud.load_balancer
    assert not balancer.multi_value_headers  # as the template's target group sets it
    balancer.multi_value_headers = request.param.endswith("on")
    try:
        yield request.param, balancer
    finally:
        balancer.multi_value_headers = False


@pytest.mark.parametrize("case", list(REPEATED))
def test_a_header_sent_twice_is_answered_by_the_door_rule_never_with_a_5xx(
    cloud: LocalCloud, door: tuple[str, HttpApi | LoadBalancer], case: str
) -> None:
    # GIVEN a one-event request with a header sent twice
    name, front_door = door
    fields, through_api, through_balancer = REPEATED[case]
    event = page_view("web-shop")
    headers = fields(cloud.register_source("web-shop"))
    # WHEN it goes through the door
    answer = front_door.request("POST", "/v1/events", codec.dumps({"events": [event]}), headers)
    # THEN the door's rule decides: the event accepted, or a 4xx that says why, with the answer's
    # headers where the door reads them
    expected = through_api if name == "http-api" else through_balancer
    assert answer.status == expected, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/json"
    if expected != 200:
        assert answer.json()["error"]["code"] in ("unauthenticated", "unsupported_media_type")
    if expected == 401:
        assert answer.headers["www-authenticate"] == 'Basic realm="signals"'
    # AND an accepted event is in the lake once, a refused one nowhere
    assert cloud.settle(timeout=60.0)
    assert cloud.census().lake == ({event["event_id"]: 1} if expected == 200 else {})


def test_the_request_id_behind_the_load_balancer_is_a_well_formed_trace_root(cloud: LocalCloud) -> None:
    # GIVEN requests with a trace header of the client's: a well-formed Root, and any other text
    key = cloud.register_source("web-shop")
    client_root = "1-5759e988-bd862e3fe1be46a994272793"

    def request_id(trace: str) -> str:
        headers = {"Content-Type": "application/json", "Authorization": basic(key), "X-Amzn-Trace-Id": trace}
        answer = cloud.load_balancer.request(
            "POST", "/v1/events", codec.dumps(page_view("web-shop")), headers
        )
        assert answer.status == 200, answer.body
        return str(answer.json()["request_id"])

    # WHEN each goes through the load balancer (which keeps the client's Root and inserts a Self)
    # THEN the request id is the client's Root when it is a trace id, else the load balancer's Self
    assert request_id(f"Root={client_root};App=x") == client_root
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", request_id("Root=" + "x" * 300))
