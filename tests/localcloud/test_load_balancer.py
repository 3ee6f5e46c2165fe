"""The local load balancer front door's event and answer rules (localcloud.http_api.LoadBalancer),
in the shape the target group's ``lambda.multi_value_headers.enabled`` selects, and what each front
door makes of a header a client sends more than once."""

from __future__ import annotations

import base64
import gzip
import http.client
from typing import Any
from urllib.parse import urlsplit

from localcloud.http_api import (
    MULTI_VALUE_HEADERS,
    ApiServer,
    Headers,
    HttpResponse,
    header_fields,
    http_api_event,
    load_balancer_event,
    load_balancer_response,
    multi_value_headers,
)
from localcloud.runtime import Invocation


def _event(body: bytes | None, headers: dict[str, str]) -> dict[str, object]:
    return load_balancer_event(
        "POST",
        "/v1/t",
        body,
        headers,
        query="a=1",
        trace_id="1-00000001-000000000000000000000002",
        target_group_arn="arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/cs-dev-validator/0a",
    )


def test_event_has_the_lambda_target_shape_with_the_client_appended_to_x_forwarded_for() -> None:
    # GIVEN a text request from a client that sent its own X-Forwarded-For
    event = _event(b'{"a":1}', {"Content-Type": "text/plain", "X-Forwarded-For": "10.0.0.9"})
    # THEN the load balancer's shape: method, path, query, lower-case single-value headers, the
    # connecting address appended last, the trace id, the target group
    assert (event["httpMethod"], event["path"], event["queryStringParameters"]) == (
        "POST",
        "/v1/t",
        {"a": "1"},
    )
    headers = event["headers"]
    assert isinstance(headers, dict)
    assert headers["x-forwarded-for"] == "10.0.0.9, 127.0.0.1"
    assert headers["x-amzn-trace-id"] == "Root=1-00000001-000000000000000000000002"
    assert (event["body"], event["isBase64Encoded"]) == ('{"a":1}', False)
    assert "elb" in event["requestContext"]  # type: ignore[operator]


def test_compressed_body_is_base64_encoded() -> None:
    # GIVEN a gzip body
    raw = gzip.compress(b'{"a":1}')
    event = _event(raw, {"Content-Type": "text/plain", "Content-Encoding": "gzip"})
    # THEN it is delivered base64-encoded
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(str(event["body"])) == raw


def test_a_failed_or_malformed_function_answer_is_a_502() -> None:
    # GIVEN a function that failed, and one that answered without a status
    failed = Invocation("r-1", error_type="Runtime.Error", error_message="boom")
    malformed = Invocation("r-2", payload={"body": "x"})
    # THEN the load balancer answers 502 for both
    assert load_balancer_response(failed).status == 502
    assert load_balancer_response(malformed).status == 502
    # AND a good answer passes with its headers lower-cased
    good = load_balancer_response(
        Invocation("r-3", payload={"statusCode": 200, "headers": {"Retry-After": "5"}, "body": "{}"})
    )
    assert (good.status, good.headers, good.body) == (200, {"retry-after": "5"}, b"{}")


def _repeated_query_event(fields: list[tuple[str, str]], *, multi_value: bool) -> dict[str, Any]:
    """The load balancer's event of a POST with these header fields and a query key given twice."""
    return load_balancer_event(
        "POST",
        "/v1/t",
        b"{}",
        fields,
        query="k=one&k=t%20wo",
        trace_id="1-00000001-000000000000000000000002",
        target_group_arn="arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/cs-dev-validator/0a",
        multi_value=multi_value,
    )


def test_a_header_sent_twice_is_its_last_value_with_multi_value_headers_off() -> None:
    # GIVEN a request with two Authorization headers, two cookies and a repeated, URL-encoded query key
    fields = [
        ("Authorization", "Basic b25l"),
        ("Cookie", "a=1"),
        ("Cookie", "b=2"),
        ("authorization", "Basic dHdv"),
    ]
    event = _repeated_query_event(fields, multi_value=False)
    # THEN the load balancer's default shape: the last value of each (AWS docs, "Multi-value
    # headers"), the query value as sent, still URL-encoded
    headers = event["headers"]
    assert (headers["authorization"], headers["cookie"]) == ("Basic dHdv", "b=2")
    assert event["queryStringParameters"] == {"k": "t%20wo"}
    assert "multiValueHeaders" not in event


def test_a_header_sent_twice_keeps_every_value_with_multi_value_headers_on() -> None:
    # GIVEN the same request to a target group with multi-value headers on
    fields = [
        ("Authorization", "Basic b25l"),
        ("X-Forwarded-For", "10.0.0.9"),
        ("authorization", "Basic dHdv"),
    ]
    event = _repeated_query_event(fields, multi_value=True)
    # THEN every value of each, in the order sent, under the multi-value fields only
    multi = event["multiValueHeaders"]
    assert multi["authorization"] == ["Basic b25l", "Basic dHdv"]
    assert multi["x-forwarded-for"] == ["10.0.0.9, 127.0.0.1"]
    assert multi["x-amzn-trace-id"] == ["Root=1-00000001-000000000000000000000002"]
    assert event["multiValueQueryStringParameters"] == {"k": ["one", "t%20wo"]}
    assert "headers" not in event and "queryStringParameters" not in event


def test_the_answer_headers_are_read_from_the_field_the_target_group_selects() -> None:
    # GIVEN one answer with its headers in each field
    answer = {
        "statusCode": 429,
        "headers": {"Retry-After": "5"},
        "multiValueHeaders": {"Retry-After": ["30"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "{}",
    }
    # THEN multi-value headers off reads `headers`, on reads `multiValueHeaders` (AWS docs: the
    # function must use the one its target group selects)
    assert load_balancer_response(Invocation("r", payload=answer)).headers == {"retry-after": "5"}
    assert load_balancer_response(Invocation("r", payload=answer), multi_value=True).headers == {
        "retry-after": "30",
        "set-cookie": "a=1,b=2",
    }


def test_the_http_api_joins_a_header_sent_twice_with_commas() -> None:
    # GIVEN a request with two Authorization headers
    event = http_api_event(
        "POST",
        "/v1/events",
        b"{}",
        [("Authorization", "Basic b25l"), ("authorization", "Basic dHdv")],
        request_id="r",
    )
    # THEN payload 2.0's one field, the values joined with commas (it has no multi-value fields)
    assert event["headers"]["authorization"] == "Basic b25l,Basic dHdv"


def test_the_local_server_passes_a_header_sent_twice_to_its_front_door() -> None:
    # GIVEN the local server in front of a front door that records what it gets
    seen: list[list[tuple[str, str]]] = []

    class Door:
        def request(self, _method: str, _target: str, _body: bytes | None, headers: Headers) -> HttpResponse:
            seen.append(header_fields(headers))
            return HttpResponse(204, {}, b"")

    server = ApiServer(Door()).start()  # type: ignore[arg-type]
    try:
        # WHEN a client sends one header twice
        connection = http.client.HTTPConnection(urlsplit(server.url).netloc, timeout=10)
        connection.putrequest("POST", "/v1/t")
        for value in ("Basic b25l", "Basic dHdv"):
            connection.putheader("Authorization", value)
        connection.putheader("Content-Length", "0")
        connection.endheaders()
        assert connection.getresponse().status == 204
        connection.close()
    finally:
        server.stop()
    # THEN the front door gets both fields, in order, for its own rule
    assert [value for name, value in seen[0] if name == "authorization"] == ["Basic b25l", "Basic dHdv"]


def test_the_target_group_attribute_selects_the_shape() -> None:
    # GIVEN target groups with and without the attribute
    def group(*attributes: tuple[str, str]) -> dict[str, Any]:
        return {"TargetGroupAttributes": [{"Key": key, "Value": value} for key, value in attributes]}

    # THEN multi-value headers are on only with the attribute "true"
    assert multi_value_headers(group((MULTI_VALUE_HEADERS, "true")))
    assert not multi_value_headers(group((MULTI_VALUE_HEADERS, "false")))
    assert not multi_value_headers(group(("deregistration_delay.timeout_seconds", "0")))
    assert not multi_value_headers({})


def test_a_client_trace_header_with_a_root_is_kept_and_gets_the_load_balancer_self() -> None:
    # GIVEN requests without a trace header, with one of a Root (and a custom field, and a Self of
    # its own), and with one without a Root
    def forwarded(sent: str | None) -> str:
        event = _event(b"{}", {"Content-Type": "text/plain"} | ({"X-Amzn-Trace-Id": sent} if sent else {}))
        headers = event["headers"]
        assert isinstance(headers, dict)
        return str(headers["x-amzn-trace-id"])

    own = "1-00000001-000000000000000000000002"
    # THEN the load balancer's request tracing: its Root; the client's Root kept with its Self
    # inserted (a Self of the client's replaced); a header without a Root, its Root (a guess)
    assert forwarded(None) == f"Root={own}"
    assert forwarded("Root=1-5759e988-bd862e3fe1be46a994272793;App=x") == (
        f"Root=1-5759e988-bd862e3fe1be46a994272793;App=x;Self={own}"
    )
    assert forwarded("Root=anything;Self=mine") == f"Root=anything;Self={own}"
    assert forwarded("App=x") == f"Root={own}"
