"""The validator behind an Application Load Balancer answers as it does behind the HTTP API: the same
request in both event shapes gets the same answer; what the load balancer lacks (CORS, a request id,
a trusted source IP field) the function settles itself (validator/edge.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from signal_platform import codec
from signal_platform.errors import ConfigurationError
from signal_platform.timeutil import format_rfc3339, utc_now
from tests.fuzz.harness import ORIGIN, SOURCE_ID, WRITE_KEY, Harness, basic, handler_behind
from tests.http_events import as_load_balancer_event, http_api_event, page_view, with_multi_value_headers
from validator import dependencies, edge
from validator.handler import lambda_handler

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
VOLATILE = ("request_id", "received_at")


@pytest.fixture
def harness() -> Iterator[Harness]:
    # Events are sent as each test builds them (either shape): the HTTP API's shape is passed as is.
    with handler_behind("http-api") as fake:
        yield fake


def _event(path: str, body: bytes | None, **options: Any) -> dict[str, Any]:
    event = http_api_event(body, **options)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = f"POST {path}"
    return event


def _stable(body: Any) -> Any:
    """The answer without what differs per request (its id and receive time)."""
    if isinstance(body, dict):
        return {key: _stable(value) for key, value in body.items() if key not in VOLATILE}
    if isinstance(body, list):
        return [_stable(item) for item in body]
    return body


def _requests() -> list[tuple[str, dict[str, Any]]]:
    good, bad = page_view(SOURCE_ID), page_view(SOURCE_ID, event_type="no_such_type")
    now = format_rfc3339(utc_now())
    call = {
        "type": "track",
        "event": "Video Played",
        "messageId": "m-1",
        "anonymousId": "a-1",
        "timestamp": now,
    }
    return [
        (
            "native batch, one rejected",
            _event("/v1/events", codec.dumps({"events": [good, bad]}), write_key=WRITE_KEY),
        ),
        (
            "gzip, base64",
            _event("/v1/events", codec.dumps(page_view(SOURCE_ID)), write_key=WRITE_KEY, gzip_body=True),
        ),
        ("no key", _event("/v1/events", codec.dumps(good))),
        ("malformed", _event("/v1/events", b"{not json", write_key=WRITE_KEY)),
        (
            "wrong media type",
            _event("/v1/events", b"<x/>", write_key=WRITE_KEY, content_type="application/xml"),
        ),
        (
            "segment beacon",
            _event("/v1/t", codec.dumps({**call, "writeKey": WRITE_KEY}), content_type="text/plain"),
        ),
        (
            "foreign origin",
            _event(
                "/v1/track", codec.dumps(call), write_key=WRITE_KEY, headers={"origin": "https://x.example"}
            ),
        ),
        ("no such path", _event("/v1/nothing", b"{}", write_key=WRITE_KEY)),
    ]


@pytest.mark.parametrize(("name", "event"), _requests(), ids=[name for name, _ in _requests()])
def test_same_request_through_both_doors_gets_the_same_answer(
    harness: Harness, name: str, event: dict[str, Any]
) -> None:
    # GIVEN one request as the HTTP API and as a load balancer deliver it
    balanced = as_load_balancer_event(event)
    # WHEN the handler answers both
    status, headers, body = harness.invoke(event)
    headers = {**headers, **edge.CORS.answer_headers(event["headers"])}  # what API Gateway adds
    forwarded = [signal.event for signal in harness.forwarded()]
    lb_status, lb_headers, lb_body = harness.invoke(balanced)
    lb_forwarded = [signal.event for signal in harness.forwarded()]
    # THEN status, headers (with the CORS headers API Gateway adds), body (but for its id and time)
    # and what reached the bus are the same
    assert (lb_status, lb_headers, _stable(lb_body)) == (status, headers, _stable(body)), name
    assert lb_forwarded == forwarded


def _invoke_raw(harness: Harness, event: dict[str, Any]) -> dict[str, Any]:
    """The handler's answer as the load balancer receives it (the bus emptied first)."""
    harness.bus.entries.clear()
    response: dict[str, Any] = lambda_handler(event, harness.context)
    return response


@pytest.mark.parametrize(("name", "event"), _requests(), ids=[name for name, _ in _requests()])
def test_same_request_with_multi_value_headers_gets_the_same_answer(
    harness: Harness, name: str, event: dict[str, Any]
) -> None:
    # GIVEN one request through a load balancer, with the target group's multi-value headers off (as
    # the template sets them) and on (was: every request 401, the write key unseen, CORS headers
    # written where the load balancer does not read them)
    single = as_load_balancer_event(event)
    answer = _invoke_raw(harness, single)
    forwarded = [signal.event for signal in harness.forwarded()]
    # WHEN the handler answers the multi-value shape
    multi = _invoke_raw(harness, with_multi_value_headers(single))
    # THEN the same status, body (but for its time; its request id is the same trace root) and bus
    # entries, the headers as lists
    assert multi["statusCode"] == answer["statusCode"], name
    assert _stable(codec.loads(multi["body"])) == _stable(codec.loads(answer["body"]))
    assert codec.loads(multi["body"])["request_id"] == codec.loads(answer["body"])["request_id"]
    assert multi["multiValueHeaders"] == {name: [value] for name, value in answer["headers"].items()}
    assert "headers" not in multi
    assert [signal.event for signal in harness.forwarded()] == forwarded


def test_preflight_with_multi_value_headers_is_answered_in_them(harness: Harness) -> None:
    # GIVEN a browser's preflight through a load balancer with multi-value headers on
    # WHEN the handler answers
    answer = _invoke_raw(harness, with_multi_value_headers(_preflight(ORIGIN)))
    # THEN 204, the CORS headers where that load balancer reads them
    assert answer["statusCode"] == 204
    assert answer["multiValueHeaders"]["access-control-allow-origin"] == ["*"]
    assert "headers" not in answer


def test_request_id_behind_the_load_balancer_is_its_trace_root(harness: Harness) -> None:
    # GIVEN a request through the load balancer, with its trace header
    event = as_load_balancer_event(
        _event("/v1/events", codec.dumps(page_view(SOURCE_ID)), write_key=WRITE_KEY)
    )
    event["headers"]["x-amzn-trace-id"] = "Root=1-67891233-abcdef012345678912345678;Sampled=1"
    # WHEN the handler answers
    _, _, body = harness.invoke(event)
    # THEN the answer names the trace's root as the request id (the access log has it too)
    assert body["request_id"] == "1-67891233-abcdef012345678912345678"


def test_source_ip_behind_the_load_balancer_is_the_address_it_appended(harness: Harness) -> None:
    # GIVEN a client that sent its own X-Forwarded-For (anyone can), through the load balancer
    native = page_view(SOURCE_ID)
    native["context"] = {"session_id": "s-1"}
    request = _event(
        "/v1/events", codec.dumps(native), write_key=WRITE_KEY, headers={"x-forwarded-for": "10.9.9.9"}
    )
    # WHEN the handler answers
    status, _, _ = harness.invoke(as_load_balancer_event(request))
    # THEN the context gets the address the load balancer saw (the last entry), not the client's claim,
    # kept as its network (docs/data-map.md)
    assert status == 200
    [signal] = harness.forwarded()
    assert signal.event["context"]["ip"] == "203.0.113.0"


def _preflight(origin: str, method: str = "POST") -> dict[str, Any]:
    event = as_load_balancer_event(_event("/v1/batch", None, content_type=None))
    event["httpMethod"] = "OPTIONS"
    event["headers"].update(
        {
            "origin": origin,
            "access-control-request-method": method,
            "access-control-request-headers": "authorization",
        }
    )
    return event


def test_preflight_through_the_load_balancer_is_answered_as_api_gateway_does(harness: Harness) -> None:
    # GIVEN a browser's preflight through the load balancer (which has no CORS settings)
    # WHEN the handler answers
    status, headers, body = harness.invoke(_preflight(ORIGIN))
    # THEN 204 with the template's CORS settings, cached 2 h, and no request reached the ingestor
    assert (status, body) == (204, None)
    assert headers == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "POST",
        "access-control-allow-headers": "authorization,content-type,content-encoding,x-api-key,x-retry-count",
        "access-control-max-age": "7200",
    }
    assert harness.bus.entries == []


def test_preflight_for_another_method_gets_no_cors_headers(harness: Harness) -> None:
    # GIVEN a preflight asking for DELETE
    # WHEN the handler answers
    status, headers, _ = harness.invoke(_preflight(ORIGIN, "DELETE"))
    # THEN 204 without CORS headers: the browser refuses the request
    assert (status, headers) == (204, {})


def test_answer_to_a_browser_through_the_load_balancer_carries_the_cors_headers(harness: Harness) -> None:
    # GIVEN a fetch from a registered origin, through the load balancer
    call = {"type": "track", "event": "Video Played", "messageId": "m-2", "anonymousId": "a-1"}
    request = _event(
        "/v1/batch",
        codec.dumps({"batch": [call]}),
        headers={"origin": ORIGIN, "authorization": basic(WRITE_KEY)},
    )
    # WHEN the handler answers
    status, headers, _ = harness.invoke(as_load_balancer_event(request))
    # THEN the browser may read it, and Retry-After is exposed to its script
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-expose-headers"] == "retry-after"


def test_load_balancer_event_is_told_from_an_http_api_event() -> None:
    # GIVEN the same request in both shapes
    event = _event("/v1/events", b"{}", write_key=WRITE_KEY)
    # THEN only the load balancer's is taken for one
    assert not edge.is_load_balancer_event(event)
    assert edge.is_load_balancer_event(as_load_balancer_event(event))


@pytest.mark.parametrize(
    ("front_door", "through_load_balancer", "open_"),
    [
        ("HttpApi", False, True),
        ("HttpApi", True, False),
        ("Alb", False, False),
        ("Alb", True, True),
        ("Both", False, True),
        ("Both", True, True),
    ],
)
def test_front_door_setting_refuses_requests_through_the_closed_door(
    harness: Harness, front_door: str, through_load_balancer: bool, open_: bool
) -> None:
    # GIVEN a stack whose FrontDoor opens one door or both, and a request through one of them
    event = _event("/v1/events", codec.dumps(page_view(SOURCE_ID)), write_key=WRITE_KEY)
    if through_load_balancer:
        event = as_load_balancer_event(event)
    # WHEN the handler answers
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dependencies, "front_door", lambda: front_door)
        status, _, body = harness.invoke(event)
    # THEN a closed door is a 403 that says which door is open (nothing forwarded), an open one a 200
    if open_:
        assert status == 200, body
    else:
        assert (status, body["error"]["code"]) == (403, "front_door_closed")
        assert harness.bus.entries == []


def test_front_door_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the template's FrontDoor in the function's environment, then a value it does not have
    dependencies.front_door.cache_clear()
    monkeypatch.setenv("FRONT_DOOR", "Alb")
    assert dependencies.front_door() == "Alb"
    dependencies.front_door.cache_clear()
    monkeypatch.setenv("FRONT_DOOR", "Nlb")
    # THEN an unknown one is a configuration error, not a silently open door
    with pytest.raises(ConfigurationError):
        dependencies.front_door()
    dependencies.front_door.cache_clear()
